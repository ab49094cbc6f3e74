-- Batch scoring: the production version of the `customer_value` ML model applied to every
-- customer. predict() matches its arguments to the model's input columns by name.
with scored as (
    select
        customer_id,
        lifetime_value,
        predict('customer_value', number_of_orders, country, signup_date) as predicted_value
    from {{ ref('customers') }}
)

select
    customer_id,
    lifetime_value,
    round(predicted_value, 2) as predicted_value,
    round(lifetime_value - predicted_value, 2) as value_gap
from scored
