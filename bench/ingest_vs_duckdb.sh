#!/usr/bin/env bash
# Ingest throughput: files and PostgreSQL into the lake (Delta tables) with Lakeforge, vs
# DuckDB loading the same files into its own database, and DuckDB / pandas reading the same
# PostgreSQL table.
#
#   bench/ingest_vs_duckdb.sh [--rows N] [--pg-rows M] [--tiny]
#
# 1. bench/ingest/ingest.py writes an `events` table of N rows (default 5,000,000; 8 columns:
#    ints, floats, a timestamp, short strings) as one CSV file and one Parquet file, and a
#    PostgreSQL table of M rows (default 1,000,000) in the database `test` on 127.0.0.1:5432.
# 2. Lakeforge: a project whose sources are the two files (`external:`) and the PostgreSQL
#    table (`connection:`), and three table models `select * from {{ source(...) }}`, each
#    run alone (`lakeforge run -s ...`: read, convert, write one Delta commit).
#    DuckDB: `CREATE TABLE ... AS SELECT * FROM read_csv/read_parquet(...)` into a database
#    file; pandas: `read_sql` from PostgreSQL then `to_parquet`; DuckDB: the PostgreSQL table
#    read through psycopg2 into Arrow and stored (DuckDB's postgres extension needs a download
#    this machine cannot make).
# 3. Each is timed twice (best kept), 2 threads everywhere; MB/s counts the source file's size
#    (for PostgreSQL, the table's pg_total_relation_size).
# --tiny: 20,000 rows and 10,000 PostgreSQL rows, one run each (for CI).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$repo"
bench_venv "$venvs/ingest" "duckdb, pyarrow, pandas, psycopg2" duckdb pyarrow pandas psycopg2-binary
if [[ -z "${LAKEFORGE_BIN:-}" ]]; then
  cargo build -p lakeforge-cli
fi
exec "$py" "$bench_dir/ingest/ingest.py" --lakeforge-bin "$bin" "$@"
