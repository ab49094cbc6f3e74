-- dbt_utils.unique_combination_of_columns, for dbt-duckdb without packages.
{% test unique_combination_of_columns(model, combination_of_columns) %}
{%- set columns_csv = combination_of_columns | join(', ') %}
with validation_errors as (
    select {{ columns_csv }}
    from {{ model }}
    group by {{ columns_csv }}
    having count(*) > 1
)
select * from validation_errors
{% endtest %}
