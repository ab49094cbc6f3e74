#!/usr/bin/env python3
"""Check that Lakeforge and dbt-duckdb built the same data.

    verify.py LAKEFORGE_BIN LAKEFORGE_PROJECT_DIR DUCKDB_FILE

Runs the same aggregate query through `lakeforge sql --format csv` and through DuckDB on the
database dbt-duckdb wrote, prints both, and exits 1 (loudly) on any difference. Money is
compared in whole cents (sum of per-row rounded cents) so that float summation order, which
differs between engines, cannot make equal results look different.
"""
import csv
import io
import subprocess
import sys

import duckdb

QUERY = """
select
    (select count(*) from customers) as customers_rows,
    (select count(*) from orders) as orders_rows,
    (select count(*) from daily_revenue) as daily_revenue_rows,
    (select sum(cast(round(lifetime_value * 100) as bigint)) from customers) as lifetime_value_cents,
    (select count(*) from customers where is_high_value) as high_value_customers,
    (select sum(cast(round(amount * 100) as bigint)) from orders) as orders_amount_cents,
    (select sum(orders) from daily_revenue) as daily_revenue_orders,
    (select sum(cast(round(revenue * 100) as bigint)) from daily_revenue) as revenue_cents
"""
# Shown for the reader; compared with a tolerance of one cent (float sums differ in the last bits).
ROUNDED = "select round(sum(lifetime_value), 2) as lifetime_value_sum from customers"


def lakeforge(bin_path, project, sql):
    out = subprocess.run([bin_path, "sql", "--project-dir", project, "--format", "csv", sql],
                         check=True, capture_output=True, text=True).stdout
    rows = list(csv.reader(io.StringIO(out)))
    return dict(zip(rows[0], rows[1]))


def duck(path, sql):
    con = duckdb.connect(path, read_only=True)
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return dict(zip(names, cur.fetchone()))
    finally:
        con.close()


def norm(v):
    if v is None or v == "":
        return None
    return int(float(v)) if float(v) == int(float(v)) else float(v)


def main():
    bin_path, project, db = sys.argv[1:4]
    lf, dk = lakeforge(bin_path, project, QUERY), duck(db, QUERY)
    lf_r, dk_r = lakeforge(bin_path, project, ROUNDED), duck(db, ROUNDED)
    bad = []
    print(f"    {'aggregate':<24} {'lakeforge':>18} {'dbt-duckdb':>18}")
    for k in lf:
        a, b = norm(lf[k]), norm(dk[k])
        flag = "" if a == b else "   <-- MISMATCH"
        if flag:
            bad.append(k)
        print(f"    {k:<24} {a!s:>18} {b!s:>18}{flag}")
    a, b = float(lf_r["lifetime_value_sum"]), float(dk_r["lifetime_value_sum"])
    flag = "" if abs(a - b) <= 0.011 else "   <-- MISMATCH"
    if flag:
        bad.append("lifetime_value_sum")
    print(f"    {'lifetime_value_sum':<24} {a:>18.2f} {b:>18.2f}{flag}")
    if bad:
        print("!" * 72)
        print(f"!!! RESULTS DIFFER between lakeforge and dbt-duckdb: {', '.join(bad)}")
        print("!" * 72)
        sys.exit(1)
    print("    results match")


if __name__ == "__main__":
    main()
