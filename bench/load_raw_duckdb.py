#!/usr/bin/env python3
"""Load the shop project's seed CSVs into a DuckDB file with DuckDB's own CSV reader.

    load_raw_duckdb.py DUCKDB_FILE SEEDS_DIR [DBT_PROJECT_YML]

Used only when `dbt seed` could not finish (timeout or memory cap), so that the models+tests
phase of dbt-duckdb can still be measured on the same data. The column types are the ones
`dbt seed` gives these files (checked at 1M rows): INTEGER ids, DATE dates, VARCHAR text, and
BIGINT for raw_payments.amount (set by +column_types in dbt_project.yml).

With DBT_PROJECT_YML, the tables and their column types are instead every seed that has
`+column_types` under `seeds: <project name>:` in that file (the data-quality benchmark uses
this, bench/quality_vs_dbt_ge.sh).
"""
import os
import sys

import duckdb

TABLES = {
    "raw_customers": {"id": "INTEGER", "first_name": "VARCHAR", "last_name": "VARCHAR",
                      "email": "VARCHAR", "country": "VARCHAR", "signup_date": "DATE"},
    "raw_orders": {"id": "INTEGER", "user_id": "INTEGER", "order_date": "DATE",
                   "status": "VARCHAR"},
    "raw_payments": {"id": "INTEGER", "order_id": "INTEGER", "payment_method": "VARCHAR",
                     "amount": "BIGINT"},
}


def tables_from_project(path):
    import yaml  # PyYAML comes with dbt-core

    with open(path) as f:
        project = yaml.safe_load(f)
    seeds = (project.get("seeds") or {}).get(project["name"]) or {}
    return {name: {c: t.upper() for c, t in cfg["+column_types"].items()}
            for name, cfg in seeds.items() if isinstance(cfg, dict) and "+column_types" in cfg}


def main():
    db, seeds = sys.argv[1:3]
    tables = tables_from_project(sys.argv[3]) if len(sys.argv) > 3 else TABLES
    con = duckdb.connect(db)
    con.execute("set threads = 2")
    for table, cols in tables.items():
        path = os.path.join(seeds, table + ".csv")
        spec = "{" + ", ".join(f"'{c}': '{t}'" for c, t in cols.items()) + "}"
        con.execute(f"create or replace table main.{table} as "
                    f"select * from read_csv('{path}', header = true, columns = {spec})")
        n = con.execute(f"select count(*) from main.{table}").fetchone()[0]
        print(f"    loaded {table}: {n} rows")
    con.close()


if __name__ == "__main__":
    main()
