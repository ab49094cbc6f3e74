"""Ingest throughput: Lakeforge (files and PostgreSQL → Delta) vs DuckDB and pandas.

See bench/ingest_vs_duckdb.sh for what is measured. Prints a table and writes it to
bench/out/ingest/report.md.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import run  # noqa: E402

PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
PG_TABLE = "bench_ingest_events"


def make_events(n, seed=1):
    rng = np.random.default_rng(seed)
    base = np.datetime64("2024-01-01T00:00:00", "us")
    return pa.table(
        {
            "event_id": np.arange(n, dtype=np.int64),
            "user_id": rng.integers(1, 1_000_000, n, dtype=np.int64),
            "amount": np.round(rng.gamma(2.0, 30.0, n), 2),
            "score": rng.random(n),
            "quantity": rng.integers(1, 20, n, dtype=np.int32),
            "ts": base + rng.integers(0, 365 * 86400 * 1_000_000, n).astype("timedelta64[us]"),
            "country": pa.array(np.array(["DE", "FR", "US", "GB", "ES", "IT", "NL", "JP"])[rng.integers(0, 8, n)]),
            "status": pa.array(np.array(["new", "paid", "shipped", "returned"])[rng.integers(0, 4, n)]),
        }
    )


def timed(fn, reps):
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def psql(sql):
    subprocess.run(["psql", PG_URL, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--pg-rows", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--lakeforge-bin", required=True)
    a = ap.parse_args()
    if a.tiny:
        a.rows, a.pg_rows, a.reps = 20_000, 10_000, 1

    import duckdb
    import pandas as pd

    # pandas.read_sql with a psycopg2 connection works; it only warns that it prefers SQLAlchemy.
    warnings.filterwarnings("ignore", message="pandas only supports SQLAlchemy")
    import psycopg2

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, "out", "tiny-ingest" if a.tiny else "ingest")
    shutil.rmtree(out, ignore_errors=True)
    data = os.path.join(out, "data")
    os.makedirs(data)
    csv_path = os.path.join(data, "events.csv")
    parquet_path = os.path.join(data, "events.parquet")
    print(f"generating {a.rows:,} rows ...", flush=True)
    events = make_events(a.rows)
    pacsv.write_csv(events, csv_path)
    pq.write_table(events, parquet_path, row_group_size=1 << 20)
    del events

    print(f"loading {a.pg_rows:,} rows into PostgreSQL {PG_TABLE} ...", flush=True)
    pg_csv = os.path.join(data, "pg.csv")
    pacsv.write_csv(make_events(a.pg_rows, seed=2), pg_csv)
    psql(f"DROP TABLE IF EXISTS {PG_TABLE}")
    psql(
        f"CREATE TABLE {PG_TABLE} (event_id bigint primary key, user_id bigint, amount double precision, "
        "score double precision, quantity integer, ts timestamp, country text, status text)"
    )
    with open(pg_csv) as f:
        subprocess.run(["psql", PG_URL, "-q", "-c", f"\\copy {PG_TABLE} FROM STDIN WITH (FORMAT csv, HEADER true)"], stdin=f, check=True)
    psql(f"VACUUM ANALYZE {PG_TABLE}")
    conn = psycopg2.connect(PG_URL.replace("postgres://", "postgresql://"))
    cur = conn.cursor()
    cur.execute(f"select pg_total_relation_size('{PG_TABLE}')")
    pg_bytes = cur.fetchone()[0]

    # --- Lakeforge -------------------------------------------------------------------------
    proj = os.path.join(out, "lakeforge")
    os.makedirs(os.path.join(proj, "models"))
    with open(os.path.join(proj, "dbt_project.yml"), "w") as f:
        f.write("name: ingest\nmodels:\n  ingest:\n    +materialized: table\n")
    with open(os.path.join(proj, "lakeforge.yml"), "w") as f:
        f.write(f"threads: 2\nconnections:\n  pg: {PG_URL}\n")
    with open(os.path.join(proj, "models", "sources.yml"), "w") as f:
        f.write(
            f"""version: 2
sources:
  - name: files
    tables:
      - name: events_csv
        external: {{location: {csv_path}}}
      - name: events_parquet
        external: {{location: {parquet_path}}}
  - name: app
    connection: pg
    schema: public
    tables:
      - name: events
        identifier: {PG_TABLE}
"""
        )
    for name, src in [("from_csv", "'files', 'events_csv'"), ("from_parquet", "'files', 'events_parquet'"), ("from_pg", "'app', 'events'")]:
        with open(os.path.join(proj, "models", f"{name}.sql"), "w") as f:
            f.write(f"select * from {{{{ source({src}) }}}}\n")
    lf = os.path.abspath(a.lakeforge_bin)
    results = []

    def lf_model(name):
        return lambda: run([lf, "run", "-s", name], proj)

    for name in ["from_csv", "from_parquet", "from_pg"]:
        t = timed(lf_model(name), a.reps)
        results.append(("lakeforge → Delta", name, t))
        print(f"lakeforge {name}: {t:.2f}s", flush=True)
    counts = run([lf, "sql", "--format", "csv", "select (select count(*) from from_csv) as c, (select count(*) from from_parquet) as p, (select count(*) from from_pg) as g"], proj)
    assert counts.strip().splitlines()[-1] == f"{a.rows},{a.rows},{a.pg_rows}", counts

    # --- DuckDB ------------------------------------------------------------------------------
    db_path = os.path.join(out, "duck.db")

    def duck(sql):
        def go():
            if os.path.exists(db_path):
                os.remove(db_path)
            con = duckdb.connect(db_path)
            con.execute("SET threads = 2")
            con.execute(sql)
            con.close()
        return go

    t = timed(duck(f"CREATE TABLE events AS SELECT * FROM read_csv('{csv_path}')"), a.reps)
    results.append(("duckdb → duckdb file", "from_csv", t))
    t = timed(duck(f"CREATE TABLE events AS SELECT * FROM read_parquet('{parquet_path}')"), a.reps)
    results.append(("duckdb → duckdb file", "from_parquet", t))

    def duck_pg():
        if os.path.exists(db_path):
            os.remove(db_path)
        c = psycopg2.connect(PG_URL.replace("postgres://", "postgresql://"))
        df = pd.read_sql(f"select * from {PG_TABLE}", c)
        c.close()
        con = duckdb.connect(db_path)
        con.execute("SET threads = 2")
        con.register("df", df)
        con.execute("CREATE TABLE events AS SELECT * FROM df")
        con.close()

    results.append(("duckdb (via pandas) → duckdb file", "from_pg", timed(duck_pg, a.reps)))

    def pandas_pg():
        c = psycopg2.connect(PG_URL.replace("postgres://", "postgresql://"))
        df = pd.read_sql(f"select * from {PG_TABLE}", c)
        c.close()
        df.to_parquet(os.path.join(out, "pg.parquet"))

    results.append(("pandas → Parquet", "from_pg", timed(pandas_pg, a.reps)))
    psql(f"DROP TABLE IF EXISTS {PG_TABLE}")

    sizes = {"from_csv": os.path.getsize(csv_path), "from_parquet": os.path.getsize(parquet_path), "from_pg": pg_bytes}
    rows = {"from_csv": a.rows, "from_parquet": a.rows, "from_pg": a.pg_rows}
    what = {"from_csv": "CSV file", "from_parquet": "Parquet file", "from_pg": "PostgreSQL table"}
    lines = [
        f"{a.rows:,} rows in files (CSV {sizes['from_csv'] / 1e6:.0f} MB, Parquet {sizes['from_parquet'] / 1e6:.0f} MB), "
        f"{a.pg_rows:,} rows in PostgreSQL ({pg_bytes / 1e6:.0f} MB), 2 threads, best of {a.reps}",
        "",
        "| input | tool | seconds | MB/s | rows/s |",
        "|---|---|---:|---:|---:|",
    ]
    for tool, name, t in sorted(results, key=lambda r: (r[1], r[0])):
        lines.append(f"| {what[name]} | {tool} | {t:.2f} | {sizes[name] / 1e6 / t:.0f} | {rows[name] / t:,.0f} |")
    report = "\n".join(lines)
    print()
    print(report)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(report + "\n")


if __name__ == "__main__":
    main()
