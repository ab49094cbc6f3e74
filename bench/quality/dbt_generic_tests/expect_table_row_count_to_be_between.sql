-- dbt_expectations.expect_table_row_count_to_be_between (no group_by, no row_condition), for
-- dbt-duckdb without packages.
{% test expect_table_row_count_to_be_between(model, min_value=none, max_value=none) %}
with row_count as (select count(*) as expression from {{ model }})
select * from row_count
where 1 = 2
{%- if min_value is not none %} or expression < {{ min_value }}{% endif %}
{%- if max_value is not none %} or expression > {{ max_value }}{% endif %}
{% endtest %}
