{# Payments are stored in cents; marts report dollars as exact decimals, so sums of money are
   exact in any order (doubles would print 3646.2800000000007 and vary in the last digits). #}
{% macro cents_to_dollars(column_name, scale=2) -%}
    cast(cast({{ column_name }} as decimal(18, {{ scale }})) / 100 as decimal(18, {{ scale }}))
{%- endmacro %}
