#!/usr/bin/env python3
"""Load the shop project's seed CSVs into a DuckDB file with DuckDB's own CSV reader.

    load_raw_duckdb.py DUCKDB_FILE SEEDS_DIR

Used only when `dbt seed` could not finish (timeout or memory cap), so that the models+tests
phase of dbt-duckdb can still be measured on the same data. The column types are the ones
`dbt seed` gives these files (checked at 1M rows): INTEGER ids, DATE dates, VARCHAR text, and
BIGINT for raw_payments.amount (set by +column_types in dbt_project.yml).
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


def main():
    db, seeds = sys.argv[1:3]
    con = duckdb.connect(db)
    con.execute("set threads = 2")
    for table, cols in TABLES.items():
        path = os.path.join(seeds, table + ".csv")
        spec = "{" + ", ".join(f"'{c}': '{t}'" for c, t in cols.items()) + "}"
        con.execute(f"create or replace table main.{table} as "
                    f"select * from read_csv('{path}', header = true, columns = {spec})")
        n = con.execute(f"select count(*) from main.{table}").fetchone()[0]
        print(f"    loaded {table}: {n} rows")
    con.close()


if __name__ == "__main__":
    main()
