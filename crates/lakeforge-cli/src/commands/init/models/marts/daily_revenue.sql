{{ config(materialized='incremental', unique_key='order_date', on_schema_change='append_new_columns') }}

-- Revenue per day. On incremental runs only days from the latest one already in the table
-- onwards are recomputed and merged, so late payments for that day are picked up.
select
    order_date,
    count(*) as orders,
    sum(amount) as revenue
from {{ ref('orders') }}
where status <> 'returned'
{% if is_incremental() %}
  and order_date >= (select max(order_date) from {{ this }})
{% endif %}
group by order_date
