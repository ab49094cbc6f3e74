#!/usr/bin/env python3
"""The data-quality benchmark's 11 checks as a Great Expectations (GX 1.x) suite.

    ge_validate.py --engine pandas --data DIR --rows N --result FILE [--threads T]
    ge_validate.py --engine sqlite --data DIR --rows N --result FILE
    ge_validate.py --prepare-sqlite --data DIR      (untimed: DIR/quality.sqlite from the Parquet files)

pandas: what a GX user does with a local file. The Parquet copy of the data
(orders.parquet, customers.parquet from gen_data.py) is read with pandas.read_parquet, then
validated through a dataframe asset. sqlite: GX's SQL engine on a SQLite file. (GX's generic
SQL datasource on DuckDB, through duckdb_engine, fails on every expectation with DuckDB 2.0,
so SQLite is the SQL engine measured here.)

The checks, named like the dbt/Lakeforge tests (q01..q11):
- relationships (q05) has no GX expectation. On pandas it is expect_column_values_to_be_in_set
  with the ids of customers as the set, on SQL an UnexpectedRowsExpectation with the
  anti-join, which is how GX documents cross-table checks.
- expression_is_true `shipped_at >= created_at` (q07) is
  expect_column_pair_values_a_to_be_greater_than_b(or_equal, ignore_row_if either missing).
- not_null_proportion >= 0.95 (q10) is expect_column_values_to_not_be_null(mostly=0.95).
- GX counts unexpected rows, not duplicated keys or distinct bad values (see gen_data.py).
Results use result_format BASIC (counts plus 20 sample values; GX's default, SUMMARY, does
more work).

Writes FILE as JSON: {"engine", "versions", "phases": {setup_s (imports, context), load_s, validate_s},
"tests": {name: {"status": pass|fail|error, "count": unexpected rows or null, "error"}}}.
Exits 0 when every expectation was evaluated (failing or not), 1 when one raised an error.
"""
import argparse
import json
import os
import sys
import time

T_START = time.perf_counter()
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

ACCEPTED_STATUSES = ["placed", "shipped", "completed", "returned"]


def expectations(gxe, engine, rows, regex, customer_ids):
    if engine == "pandas":
        relationships = gxe.ExpectColumnValuesToBeInSet(column="customer_id", value_set=customer_ids)
    else:
        relationships = gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "select o.customer_id from {batch} o left join customers c "
                "on o.customer_id = c.customer_id "
                "where o.customer_id is not null and c.customer_id is null"))
    return {
        "q01_order_id_not_null": gxe.ExpectColumnValuesToNotBeNull(column="order_id"),
        "q02_email_not_null": gxe.ExpectColumnValuesToNotBeNull(column="email"),
        "q03_order_id_unique": gxe.ExpectColumnValuesToBeUnique(column="order_id"),
        "q04_status_accepted_values": gxe.ExpectColumnValuesToBeInSet(
            column="status", value_set=ACCEPTED_STATUSES),
        "q05_customer_id_relationships": relationships,
        "q06_amount_accepted_range": gxe.ExpectColumnValuesToBeBetween(
            column="amount", min_value=0, max_value=10000),
        "q07_shipped_after_created": gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="shipped_at", column_B="created_at", or_equal=True,
            ignore_row_if="either_value_is_missing"),
        "q08_customer_created_unique": gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["customer_id", "created_at"]),
        "q09_email_regex": gxe.ExpectColumnValuesToMatchRegex(column="email", regex=regex),
        "q10_country_not_null_proportion": gxe.ExpectColumnValuesToNotBeNull(
            column="country", mostly=0.95),
        "q11_row_count": gxe.ExpectTableRowCountToBeBetween(min_value=rows, max_value=rows),
    }


def prepare_sqlite(data):
    """Copy the Parquet files into DATA/quality.sqlite (timestamps as ISO text, as pandas writes them)."""
    import sqlite3

    import pyarrow.parquet as pq

    path = os.path.join(data, "quality.sqlite")
    if os.path.exists(path):
        os.remove(path)
    con = sqlite3.connect(path)
    for name in ("orders", "customers"):
        pf = pq.ParquetFile(os.path.join(data, name + ".parquet"))
        first = True
        for batch in pf.iter_batches(batch_size=500_000):
            batch.to_pandas().to_sql(name, con, index=False, if_exists="replace" if first else "append")
            first = False
        n = con.execute(f"select count(*) from {name}").fetchone()[0]
        print(f"    loaded {name}: {n} rows into {path}")
    con.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", choices=["pandas", "sqlite"], default="pandas")
    ap.add_argument("--data", required=True)
    ap.add_argument("--rows", type=int)
    ap.add_argument("--result")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prepare-sqlite", action="store_true")
    args = ap.parse_args()
    if args.prepare_sqlite:
        prepare_sqlite(args.data)
        return 0
    if args.rows is None or args.result is None:
        ap.error("--rows and --result are needed")
    with open(os.path.join(args.data, "expected.json")) as f:
        regex = json.load(f)["email_regex"]

    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd
    import pyarrow as pa
    from great_expectations.data_context.types.base import ProgressBarsConfig

    pa.set_cpu_count(args.threads)
    pa.set_io_thread_count(args.threads)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    t_imported = time.perf_counter()

    batch_parameters = None
    customer_ids = None
    if args.engine == "pandas":
        orders = pd.read_parquet(os.path.join(args.data, "orders.parquet"))
        customer_ids = pd.read_parquet(os.path.join(args.data, "customers.parquet"),
                                       columns=["customer_id"])["customer_id"].tolist()
        asset = context.data_sources.add_pandas("local").add_dataframe_asset("orders")
        batch_definition = asset.add_batch_definition_whole_dataframe("all")
        batch_parameters = {"dataframe": orders}
    else:
        source = context.data_sources.add_sqlite(
            "local", connection_string="sqlite:///" + os.path.abspath(os.path.join(args.data, "quality.sqlite")))
        batch_definition = source.add_table_asset("orders", table_name="orders") \
            .add_batch_definition_whole_table("all")
    t_loaded = time.perf_counter()

    suite = context.suites.add(gx.ExpectationSuite(name="orders_quality"))
    for name, e in expectations(gxe, args.engine, args.rows, regex, customer_ids).items():
        e.meta = {"test": name}
        suite.add_expectation(e)
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name="orders_quality", data=batch_definition, suite=suite))
    result = validation.run(batch_parameters=batch_parameters, result_format="BASIC")
    t_validated = time.perf_counter()

    tests = {}
    errors = 0
    for r in result.results:
        name = r.expectation_config.meta["test"]
        info = r.exception_info or {}
        raised = info.get("raised_exception") or any(
            isinstance(v, dict) and v.get("raised_exception") for v in info.values())
        if raised:
            errors += 1
            msg = info.get("exception_message") or next(
                (v.get("exception_message") for v in info.values() if isinstance(v, dict)), "")
            tests[name] = {"status": "error", "count": None, "error": str(msg)}
            continue
        res = r.result or {}
        count = res.get("unexpected_count")
        if count is None and name == "q05_customer_id_relationships":
            count = res.get("observed_value")  # UnexpectedRowsExpectation: the query's row count
        tests[name] = {"status": "pass" if r.success else "fail", "count": count}
    import importlib.metadata as md
    out = {
        "engine": args.engine,
        "versions": {p: md.version(p) for p in ("great_expectations", "pandas", "pyarrow")
                     + (("sqlalchemy",) if args.engine == "sqlite" else ())},
        "phases": {"setup_s": round(t_imported - T_START, 3),
                   "load_s": round(t_loaded - t_imported, 3),
                   "validate_s": round(t_validated - t_loaded, 3)},
        "tests": tests,
    }
    with open(args.result, "w") as f:
        json.dump(out, f, indent=1)
    fails = sum(t["status"] == "fail" for t in tests.values())
    print(f"GX {args.engine}: {len(tests)} expectations, {fails} failed, {errors} errors; "
          f"setup {out['phases']['setup_s']} s, load {out['phases']['load_s']} s, "
          f"validate {out['phases']['validate_s']} s")
    for name in sorted(tests):
        print(f"  {name}: {tests[name]}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
