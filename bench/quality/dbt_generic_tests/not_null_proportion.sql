-- dbt_utils.not_null_proportion (without group_by_columns), for dbt-duckdb without packages.
{% test not_null_proportion(model, column_name, at_least, at_most=1.0) %}
with validation as (
    select sum(case when {{ column_name }} is null then 0 else 1 end)
           / cast(count(*) as {{ dbt.type_numeric() }}) as not_null_proportion
    from {{ model }}
),
validation_errors as (
    select not_null_proportion from validation
    where not_null_proportion < {{ at_least }} or not_null_proportion > {{ at_most }}
)
select * from validation_errors
{% endtest %}
