{#- Lakeforge's versions of dbt's core runtime macros: statements, queries, and the helpers
    packages call around them. Written for Lakeforge; any of them can be overridden by a macro
    of the same name in the project. -#}

{% macro statement(name=None, fetch_result=False, auto_begin=True, language='sql') -%}
  {#- The SQL is the body of the call block; it only runs when there is a database. -#}
  {%- if execute -%}
    {%- set sql_text = caller() -%}
    {%- set outcome = adapter.execute(sql_text, auto_begin=auto_begin, fetch=fetch_result) -%}
    {%- if name is not none -%}
      {{- store_result(name, response=outcome[0], agate_table=outcome[1]) -}}
    {%- endif -%}
  {%- endif -%}
{%- endmacro %}

{% macro run_query(sql) -%}
  {%- call statement("run_query_statement", fetch_result=true, auto_begin=false) -%}
    {{ sql }}
  {%- endcall -%}
  {{- return(load_result("run_query_statement").table) -}}
{%- endmacro %}

{% macro noop_statement(name=None, message=None, code=None, rows_affected=None, res=None) -%}
  {%- if name is not none -%}
    {{- store_result(name, response={'_message': message, 'code': code, 'rows_affected': rows_affected}, agate_table=res) -}}
  {%- endif -%}
{%- endmacro %}

{% macro get_columns_in_query(select_sql) -%}
  {{ return(adapter.dispatch('get_columns_in_query', 'dbt')(select_sql)) }}
{%- endmacro %}

{% macro default__get_columns_in_query(select_sql) -%}
  {%- if not execute -%}
    {{ return([]) }}
  {%- endif -%}
  {%- set probe = run_query('select * from (' ~ select_sql ~ ') as lakeforge_probe where 1 = 0') -%}
  {{ return(probe.column_names) }}
{%- endmacro %}

{% macro get_columns_in_relation(relation) -%}
  {{ return(adapter.get_columns_in_relation(relation)) }}
{%- endmacro %}

{% macro generate_schema_name(custom_schema_name, node) -%}
  {{ return(adapter.dispatch('generate_schema_name', 'dbt')(custom_schema_name, node)) }}
{%- endmacro %}

{% macro default__generate_schema_name(custom_schema_name, node) -%}
  {%- if custom_schema_name is none -%}
    {{ target.schema }}
  {%- else -%}
    {{ target.schema }}_{{ custom_schema_name | trim }}
  {%- endif -%}
{%- endmacro %}

{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
  {{ return(adapter.dispatch('generate_alias_name', 'dbt')(custom_alias_name, node)) }}
{%- endmacro %}

{% macro default__generate_alias_name(custom_alias_name=none, node=none) -%}
  {%- if custom_alias_name -%}
    {{ custom_alias_name | trim }}
  {%- elif node.version -%}
    {{ node.name ~ "_v" ~ (node.version | replace(".", "_")) }}
  {%- else -%}
    {{ node.name }}
  {%- endif -%}
{%- endmacro %}

{% macro generate_database_name(custom_database_name=none, node=none) -%}
  {{ return(adapter.dispatch('generate_database_name', 'dbt')(custom_database_name, node)) }}
{%- endmacro %}

{% macro default__generate_database_name(custom_database_name=none, node=none) -%}
  {%- if custom_database_name is none -%}
    {{ target.database }}
  {%- else -%}
    {{ custom_database_name | trim }}
  {%- endif -%}
{%- endmacro %}

{% macro should_full_refresh() -%}
  {{ return(flags.FULL_REFRESH) }}
{%- endmacro %}

{% macro make_temp_relation(base_relation, suffix='__dbt_tmp') -%}
  {{ return(base_relation.incorporate(path={"identifier": base_relation.identifier ~ suffix})) }}
{%- endmacro %}

{% macro drop_relation_if_exists(relation) -%}
  {%- if relation is not none -%}
    {%- call statement('drop_relation_if_exists') -%}
      drop {{ relation.type or 'table' }} if exists {{ relation }}
    {%- endcall -%}
  {%- endif -%}
{%- endmacro %}
