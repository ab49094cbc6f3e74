#!/usr/bin/env bash
# Data quality: `lakeforge test` vs dbt-duckdb `dbt test` vs Great Expectations, same checks.
#
#   bench/quality_vs_dbt_ge.sh [--bin PATH] [--tiny] [--rows N] [--reps R] [--no-ge-sqlite]
#                              [--timeout-min M] [--mem-limit-gb G]
#
# 1. bench/quality/gen_data.py writes an `orders` table of N rows (default 10,000,000) with
#    planted defects, and a `customers` dimension, as CSV and Parquet, plus what every test
#    must report (expected.json).
# 2. 11 data tests (bench/quality/project/seeds/properties.yml: not_null x2, unique,
#    accepted_values, relationships, accepted_range, expression_is_true,
#    unique_combination_of_columns, regex, not_null_proportion, row count), 8 failing by design,
#    run in: Lakeforge (data loaded by `lakeforge seed`), dbt-duckdb (data loaded by DuckDB's
#    read_csv; dbt_utils/dbt_expectations tests as plain-SQL generic tests, since dbt packages
#    cannot be downloaded here), Great Expectations 1.x on pandas (reads the Parquet file) and
#    on SQLite (a copy of the data; --no-ge-sqlite skips it).
# 3. Loading is timed but not compared. Each tool's test run is timed R times (default 3,
#    round-robin over the tools; the report gives the median) with wall clock, CPU and peak RSS
#    (GNU time), 2 threads everywhere; then bench/quality/compare.py checks every run of every
#    tool against expected.json.
# --tiny: 20,000 rows, 1 run each (about a minute; for CI, to keep the benchmark alive).
#
# Output under bench/out/quality/ (bench/out/tiny-quality/ with --tiny; cleaned per run):
# data/, the lakeforge/ and dbt/ projects, runs/ (each run's results), logs/, results.tsv,
# meta.txt and report.md (also printed at the end). Python packages go into $venvs/dbt (see bench/lib.sh).
#
# Exits 0 when every step ran and all tools reported exactly the planted failing tests and
# counts; 1 otherwise.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rows=10000000
reps=3
reps_set=0
tiny=0
ge_sqlite=1
timeout_min=30
mem_limit_gb=12
threads=2

while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --rows=*) rows="${1#*=}"; shift ;;
    --reps) reps="$2"; reps_set=1; shift 2 ;;
    --reps=*) reps="${1#*=}"; reps_set=1; shift ;;
    --no-ge-sqlite) ge_sqlite=0; shift ;;
    *) bench_arg "$@"; shift "$bench_nargs" ;;
  esac
done
if [ "$tiny" = 1 ]; then
  rows=20000
  [ "$reps_set" = 1 ] || reps=1
fi

bench_check_bin

if [ "$tiny" = 1 ]; then out="$bench_dir/out/tiny-quality"; else out="$bench_dir/out/quality"; fi
rm -rf "$out"
mkdir -p "$out/logs" "$out/runs"
results="$out/results.tsv"
meta="$out/meta.txt"
: > "$results"
failures=0
bench_copy_bin "$out/bin"

# ---------------------------------------------------------------- tools
say "Python venv with dbt-core + dbt-duckdb + Great Expectations ($venvs/dbt)"
# dbt-core below 1.12: 1.12's install downloads a parser wheel from outside the registries.
# SQLAlchemy below 2.1, which GX 1.x's SQL engine is written for.
bench_venv "$venvs/dbt" \
  "dbt.version, dbt.adapters.duckdb, duckdb, great_expectations, sqlalchemy, pyarrow, numpy" \
  'dbt-core>=1.10,<1.12' 'dbt-duckdb>=1.10,<1.12' 'great_expectations>=1.0,<2' \
  'sqlalchemy>=2.0,<2.1' pyarrow numpy
dbt="$venvs/dbt/bin/dbt"
export DBT_SEND_ANONYMOUS_USAGE_STATS=False DBT_USE_COLORS=False DBT_VERSION_CHECK=False
export GX_ANALYTICS_ENABLED=false

bench_gnu_time
# Every run keeps its log (the test runs repeat their names once per round).
measure_keep_logs=1

bench_meta_lakeforge
versions="$("$py" -c 'import importlib.metadata as m; print(", ".join(p + " " + m.version(p) for p in ("dbt-core", "dbt-duckdb", "duckdb", "great_expectations", "pandas", "pyarrow", "sqlalchemy")))')"
{
  bench_meta_machine
  echo "load average at start: $(bench_loadavg)"
  echo "$meta_lakeforge, $profile"
  echo "python packages: $versions; $("$py" --version 2>&1)"
  echo "peak memory: $rss_source"
  echo "threads: $threads (lakeforge --threads, dbt --threads and DuckDB's threads setting, pyarrow's thread pools for GX pandas; GX validation itself and SQLite run on one thread)"
  echo "runs: $reps per tool, round-robin; limits ${timeout_min} min and ${mem_limit_gb} GiB per command"
} > "$meta"
say "setup"; sed 's/^/    /' "$meta"

# ---------------------------------------------------------------- data and projects
data="$out/data"
say "data: $rows orders ($data)"
"$py" "$bench_dir/quality/gen_data.py" --rows "$rows" --out "$data"

make_project() { # DIR
  mkdir -p "$1/seeds"
  cp "$bench_dir/quality/project/dbt_project.yml" "$1/"
  sed "s/@ROWS@/$rows/g" "$bench_dir/quality/project/seeds/properties.yml" > "$1/seeds/properties.yml"
  # Hard links (a copy where they cannot be made): Lakeforge skips symlinked seed files.
  local f
  for f in orders customers; do
    ln "$data/$f.csv" "$1/seeds/$f.csv" 2>/dev/null || cp "$data/$f.csv" "$1/seeds/$f.csv"
  done
}
lfp="$out/lakeforge"
make_project "$lfp"
dbp="$out/dbt"
make_project "$dbp"
mkdir -p "$dbp/tests/generic"
cp "$bench_dir/quality/dbt_generic_tests/"*.sql "$dbp/tests/generic/"
cat > "$dbp/profiles.yml" <<EOF
quality_bench:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "$dbp/quality.duckdb"
      threads: $threads
      settings:
        threads: $threads
EOF

say "loading (timed, not compared)"
measure_or_fail "quality/lakeforge/seed" "$lfp" -- "$lf" seed --threads "$threads" || die "lakeforge seed failed"
measure_or_fail "quality/dbt/load" "$dbp" -- "$py" "$bench_dir/load_raw_duckdb.py" "$dbp/quality.duckdb" "$dbp/seeds" "$dbp/dbt_project.yml" \
  || die "loading the DuckDB database failed"
if [ "$ge_sqlite" = 1 ]; then
  measure_or_fail "quality/ge_sqlite/load" "$out" -- "$py" "$bench_dir/quality/ge_validate.py" --prepare-sqlite --data "$data" \
    || die "loading the SQLite file failed"
fi
# dbt users re-running tests have a partial-parse cache; fill it (untimed).
(cd "$dbp" && "$dbt" parse --profiles-dir . > "$out/logs/dbt_parse_warmup.log" 2>&1) \
  || { tail -n 25 "$out/logs/dbt_parse_warmup.log"; die "dbt parse failed"; }

# ---------------------------------------------------------------- timed test runs
for i in $(seq 1 "$reps"); do
  say "test runs, round $i of $reps"
  rm -f "$lfp/target/run_results.json"
  if measure_or_fail "quality/lakeforge/test" "$lfp" --ok-exit 0,1 -- "$lf" test --threads "$threads"; then
    cp "$lfp/target/run_results.json" "$out/runs/lakeforge-$i.json" || failures=$((failures + 1))
  fi
  rm -f "$dbp/target/run_results.json"
  if measure_or_fail "quality/dbt/test" "$dbp" --ok-exit 0,1 -- "$dbt" test --threads "$threads" --profiles-dir .; then
    cp "$dbp/target/run_results.json" "$out/runs/dbt-$i.json" || failures=$((failures + 1))
  fi
  measure_or_fail "quality/ge_pandas/test" "$out" -- "$py" "$bench_dir/quality/ge_validate.py" --engine pandas \
    --data "$data" --rows "$rows" --threads "$threads" --result "$out/runs/ge_pandas-$i.json" || true
  if [ "$ge_sqlite" = 1 ]; then
    measure_or_fail "quality/ge_sqlite/test" "$out" -- "$py" "$bench_dir/quality/ge_validate.py" --engine sqlite \
      --data "$data" --rows "$rows" --threads "$threads" --result "$out/runs/ge_sqlite-$i.json" || true
  fi
done

# ---------------------------------------------------------------- check and report
echo "load average at end: $(bench_loadavg)" >> "$meta"
cmdline="bench/quality_vs_dbt_ge.sh"
[ "$tiny" = 1 ] && cmdline="$cmdline --tiny"
[ "$tiny" = 0 ] && [ "$rows" != 10000000 ] && cmdline="$cmdline --rows $rows"
[ "$reps_set" = 1 ] && cmdline="$cmdline --reps $reps"
[ "$ge_sqlite" = 0 ] && cmdline="$cmdline --no-ge-sqlite"
[ "$bin" != "$default_bin" ] && cmdline="$cmdline --bin $bin"
say "checking every run against the planted defects"
compare_rc=0
"$py" "$bench_dir/quality/compare.py" --data "$data" --runs "$out/runs" --results "$results" \
  --meta "$meta" --reps "$reps" --header "Command: \`$cmdline\`" > "$out/report.md" || compare_rc=$?
say "results (also in $out/report.md)"
cat "$out/report.md"
if [ "$compare_rc" -ne 0 ] || [ "$failures" -ne 0 ]; then
  echo
  echo "FAILED: $failures step(s) failed$([ "$compare_rc" -ne 0 ] && echo ", and the tools' results differ from the plan") (see above and $out/logs/)"
  exit 1
fi
echo
echo "OK: every step ran and all tools reported the planted failing tests and counts"
