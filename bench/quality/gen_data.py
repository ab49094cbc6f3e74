#!/usr/bin/env python3
"""Write the data of the data-quality benchmark: an `orders` table with deliberate defects and
a `customers` dimension, as CSV (for `lakeforge seed` and DuckDB's read_csv) and as Parquet
(for Great Expectations on pandas), plus expected.json, what every test must report.

    gen_data.py --rows N --out DIR [--seed S]

orders (N rows): order_id bigint, customer_id bigint, status varchar, amount double,
created_at timestamp, shipped_at timestamp (NULL while status = 'placed'), email varchar,
country varchar (about 1% NULL), quantity integer.
customers (max(1000, N / 100) rows): customer_id bigint, name varchar, segment varchar,
signup_date date.

The data is clean by construction (order_id is a permutation of 1..N, created_at is strictly
increasing with the row number, every email matches the regex, ...), then a fixed number of
defects is planted in distinct random rows, so each test's result is known exactly. Counts
are given in two units, because the tools count differently:
- `groups`: what dbt's SQL and Lakeforge report (unique / unique_combination_of_columns count
  duplicated keys, accepted_values counts distinct bad values, the rest count rows);
- `rows`: what Great Expectations reports as unexpected_count (every row involved).
"""
import argparse
import json
import os
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

STATUSES = ["placed", "shipped", "completed", "returned"]
COUNTRIES = ["US", "DE", "FR", "GB", "NL", "SE", "ES", "IT", "JP", "BR"]
EMAIL_REGEX = r"^[a-z0-9._]+@[a-z0-9-]+\.[a-z]+$"
START = np.datetime64("2024-01-01T00:00:00", "s")

# Planted defects (test name -> how many). Pairs: one row takes the key of another row.
NULL_EMAILS = 3
BAD_EMAILS = 8
DUP_ORDER_IDS = 2          # 2 ids appear twice: 2 duplicated values, 4 rows
BAD_STATUSES = {"unknown": 3, "cancelled": 2}   # 2 distinct bad values, 5 rows
ORPHAN_CUSTOMERS = 7
BAD_AMOUNTS = [-10.0, -0.01, -250.5, 12000.5]   # outside [0, 10000]
SHIPPED_BEFORE_CREATED = 6
DUP_COMBOS = 3             # 3 (customer_id, created_at) pairs appear twice: 3 groups, 6 rows


def build(n, seed):
    rng = np.random.default_rng(seed)
    n_customers = max(1000, n // 100)
    order_id = rng.permutation(n).astype(np.int64) + 1
    customer_id = rng.integers(1, n_customers + 1, n, dtype=np.int64)
    status_idx = rng.choice(len(STATUSES), n, p=[0.1, 0.2, 0.6, 0.1])
    amount = np.round(rng.uniform(1.0, 5000.0, n), 2)
    # Strictly increasing, so (customer_id, created_at) is unique until defects are planted.
    created = START + (np.arange(n, dtype=np.int64) * 3 + rng.integers(0, 3, n)).astype("timedelta64[s]")
    shipped = created + rng.integers(3600, 7 * 86400, n).astype("timedelta64[s]")
    shipped_null = status_idx == 0
    country_idx = rng.integers(0, len(COUNTRIES), n)
    country_null = rng.random(n) < 0.01
    quantity = rng.integers(1, 10, n).astype(np.int32)
    email_null = np.zeros(n, dtype=bool)
    status = np.array(STATUSES, dtype=object)[status_idx]
    bad_email = {}

    # Distinct rows for every defect, so that no defect touches another test.
    n_pick = (NULL_EMAILS + BAD_EMAILS + 2 * DUP_ORDER_IDS + sum(BAD_STATUSES.values())
              + ORPHAN_CUSTOMERS + len(BAD_AMOUNTS) + SHIPPED_BEFORE_CREATED + 2 * DUP_COMBOS)
    rows = iter(rng.choice(n, n_pick, replace=False).tolist())
    take = lambda k: [next(rows) for _ in range(k)]  # noqa: E731

    for r in take(NULL_EMAILS):
        email_null[r] = True
    for i, r in enumerate(take(BAD_EMAILS)):
        bad_email[r] = ["no-at-sign.example.com", "Upper@Example.com", "a@b", "two@@example.com",
                        "space in@example.com", "trailing@example.com.", "@example.com",
                        "x@example.c0m"][i % 8]
    for _ in range(DUP_ORDER_IDS):
        a, b = take(2)
        order_id[a] = order_id[b]
    for value, k in BAD_STATUSES.items():
        for r in take(k):
            status[r] = value
    for i, r in enumerate(take(ORPHAN_CUSTOMERS)):
        customer_id[r] = n_customers + 1 + i
    for v, r in zip(BAD_AMOUNTS, take(len(BAD_AMOUNTS))):
        amount[r] = v
    for r in take(SHIPPED_BEFORE_CREATED):
        shipped[r] = created[r] - np.timedelta64(86400, "s")
        shipped_null[r] = False
    for _ in range(DUP_COMBOS):
        a, b = take(2)
        customer_id[a] = customer_id[b]
        created[a] = created[b]
        shipped[a] = created[a] + np.timedelta64(3600, "s")

    cid = pa.array(customer_id)
    email = pc.binary_join_element_wise("c", pc.cast(cid, pa.string()), "@example.com", "")
    email = email.to_numpy(zero_copy_only=False).astype(object)
    for r, v in bad_email.items():
        email[r] = v
    email[email_null] = None
    orders = pa.table({
        "order_id": pa.array(order_id),
        "customer_id": cid,
        "status": pa.array(status, pa.string()),
        "amount": pa.array(amount),
        "created_at": pa.array(created, pa.timestamp("s")),
        "shipped_at": pa.array(shipped, pa.timestamp("s"), mask=shipped_null),
        "email": pa.array(email, pa.string()),
        "country": pa.array(np.array(COUNTRIES, dtype=object)[country_idx], pa.string(), mask=country_null),
        "quantity": pa.array(quantity),
    })
    c_ids = np.arange(1, n_customers + 1, dtype=np.int64)
    customers = pa.table({
        "customer_id": pa.array(c_ids),
        "name": pc.binary_join_element_wise("customer ", pc.cast(pa.array(c_ids), pa.string()), ""),
        "segment": pa.array(np.array(["consumer", "business", "public"], dtype=object)[
            rng.integers(0, 3, n_customers)], pa.string()),
        "signup_date": pa.array((np.datetime64("2020-01-01") + rng.integers(0, 1460, n_customers)
                                 .astype("timedelta64[D]")), pa.date32()),
    })
    null_countries = int(country_null.sum())
    expected = {
        "rows": n,
        "customers": n_customers,
        "email_regex": EMAIL_REGEX,
        # test name -> {"fail": bool, "groups": dbt/Lakeforge count, "rows": GE unexpected_count}
        "tests": {
            "q01_order_id_not_null": {"fail": False, "groups": 0, "rows": 0},
            "q02_email_not_null": {"fail": True, "groups": NULL_EMAILS, "rows": NULL_EMAILS},
            "q03_order_id_unique": {"fail": True, "groups": DUP_ORDER_IDS, "rows": 2 * DUP_ORDER_IDS},
            "q04_status_accepted_values": {"fail": True, "groups": len(BAD_STATUSES),
                                           "rows": sum(BAD_STATUSES.values())},
            "q05_customer_id_relationships": {"fail": True, "groups": ORPHAN_CUSTOMERS,
                                              "rows": ORPHAN_CUSTOMERS},
            "q06_amount_accepted_range": {"fail": True, "groups": len(BAD_AMOUNTS), "rows": len(BAD_AMOUNTS)},
            "q07_shipped_after_created": {"fail": True, "groups": SHIPPED_BEFORE_CREATED,
                                          "rows": SHIPPED_BEFORE_CREATED},
            "q08_customer_created_unique": {"fail": True, "groups": DUP_COMBOS, "rows": 2 * DUP_COMBOS},
            "q09_email_regex": {"fail": True, "groups": BAD_EMAILS, "rows": BAD_EMAILS},
            # passes (≥ 95% not null); GE still reports the NULLs as unexpected rows
            "q10_country_not_null_proportion": {"fail": False, "groups": 0, "rows": null_countries},
            "q11_row_count": {"fail": False, "groups": 0, "rows": 0},
        },
    }
    return orders, customers, expected


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=20261124)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    orders, customers, expected = build(args.rows, args.seed)
    opts = pacsv.WriteOptions(quoting_style="none", batch_size=64 * 1024)
    for name, table in (("orders", orders), ("customers", customers)):
        pacsv.write_csv(table, os.path.join(args.out, name + ".csv"), opts)
        pq.write_table(table, os.path.join(args.out, name + ".parquet"))
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    size = os.path.getsize(os.path.join(args.out, "orders.csv")) / 1e6
    print(f"    wrote {args.rows:,} orders ({size:.0f} MB CSV) and {expected['customers']:,} customers"
          f" to {args.out} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
