{#- dbt's portable type names, spelled as Lakeforge's SQL (DataFusion) spells them. Each is
    dispatched in namespace `dbt`, so a project can define `default__type_string` to change it. -#}

{% macro type_string() -%}{{ return(adapter.dispatch('type_string', 'dbt')()) }}{%- endmacro %}
{% macro default__type_string() -%}{{ return('varchar') }}{%- endmacro %}

{% macro type_timestamp() -%}{{ return(adapter.dispatch('type_timestamp', 'dbt')()) }}{%- endmacro %}
{% macro default__type_timestamp() -%}{{ return('timestamp') }}{%- endmacro %}

{% macro type_float() -%}{{ return(adapter.dispatch('type_float', 'dbt')()) }}{%- endmacro %}
{% macro default__type_float() -%}{{ return('double') }}{%- endmacro %}

{% macro type_numeric() -%}{{ return(adapter.dispatch('type_numeric', 'dbt')()) }}{%- endmacro %}
{% macro default__type_numeric() -%}{{ return('numeric(28,6)') }}{%- endmacro %}

{% macro type_bigint() -%}{{ return(adapter.dispatch('type_bigint', 'dbt')()) }}{%- endmacro %}
{% macro default__type_bigint() -%}{{ return('bigint') }}{%- endmacro %}

{% macro type_int() -%}{{ return(adapter.dispatch('type_int', 'dbt')()) }}{%- endmacro %}
{% macro default__type_int() -%}{{ return('integer') }}{%- endmacro %}

{% macro type_boolean() -%}{{ return(adapter.dispatch('type_boolean', 'dbt')()) }}{%- endmacro %}
{% macro default__type_boolean() -%}{{ return('boolean') }}{%- endmacro %}
