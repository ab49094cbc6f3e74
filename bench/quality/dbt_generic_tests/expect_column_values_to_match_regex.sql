-- dbt_expectations.expect_column_values_to_match_regex (no row_condition, no flags), for
-- dbt-duckdb without packages: the rows whose non-NULL value does not match.
{% test expect_column_values_to_match_regex(model, column_name, regex) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and not regexp_matches({{ column_name }}, '{{ regex }}')
{% endtest %}
