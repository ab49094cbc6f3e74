-- dbt_utils.expression_is_true (default__test_expression_is_true), for dbt-duckdb without packages.
{% test expression_is_true(model, expression, column_name=none) %}
{% set column_list = '*' if should_store_failures() else "1 as filler_column" %}
select {{ column_list }}
from {{ model }}
{% if column_name is none %}
where not({{ expression }})
{%- else %}
where not({{ column_name }} {{ expression }})
{%- endif %}
{% endtest %}
