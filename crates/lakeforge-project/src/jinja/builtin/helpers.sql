{#- Helpers of dbt's global project that packages call while compiling, in Lakeforge's words. -#}

{% macro get_where_subquery(relation) -%}
  {{ return(adapter.dispatch('get_where_subquery', 'dbt')(relation)) }}
{%- endmacro %}
{% macro default__get_where_subquery(relation) -%}
  {#- Lakeforge applies a test's `where:` config before the test's macro sees `model`. -#}
  {{ return(relation) }}
{%- endmacro %}

{% macro get_select_subquery(sql) -%}
  select * from ({{ sql }}) as lakeforge_subquery
{%- endmacro %}

{% macro get_empty_subquery_sql(select_sql, select_sql_header=none) -%}
  select * from ({{ select_sql }}) as lakeforge_subquery where false limit 0
{%- endmacro %}

{% macro get_limit_subquery_sql(sql, limit) -%}
  select * from ({{ sql }}) as lakeforge_limit_subq limit {{ limit }}
{%- endmacro %}

{% macro get_test_sql(main_sql, fail_calc, warn_if, error_if, limit) -%}
  select
    {{ fail_calc }} as failures,
    {{ fail_calc }} {{ warn_if }} as should_warn,
    {{ fail_calc }} {{ error_if }} as should_error
  from ({{ main_sql }}{% if limit != none %} limit {{ limit }}{% endif %}) as lakeforge_internal_test
{%- endmacro %}

{% macro should_store_failures() -%}
  {{ return(config.get('store_failures', false) if config is mapping else false) }}
{%- endmacro %}

{% macro get_relation_last_modified(information_schema, relations) -%}
  {{ exceptions.raise_compiler_error("get_relation_last_modified is not supported by Lakeforge") }}
{%- endmacro %}
