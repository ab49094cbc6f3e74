-- A singular test: it returns the rows that break the rule, and passes when there are none.
select order_id, amount
from {{ ref('orders') }}
where amount < 0
