#!/usr/bin/env bash
# Lakeforge vs dbt-core + dbt-duckdb on the same project and data.
#
#   bench/build_vs_dbt.sh [--bin PATH] [--tiny] [--sizes N,N,...] [--models N]
#                         [--dbt-seed-timeout-min M] [--timeout-min M] [--mem-limit-gb G]
#                         [--skip-compile] [--skip-build]
#
# 1. `lakeforge init` the demo project `shop` with N generated orders (default 1,000,000 and
#    10,000,000), copy the very same files to a dbt-duckdb project, and time, with wall clock
#    and peak RSS (GNU time): (a) the seeds, (b) models + tests, and the total of one `build`
#    from empty, both tools at --threads 2. Then check that both built the same data.
# 2. Generate a project of 2,000 models and time `lakeforge compile` against `dbt parse` and
#    `dbt compile`.
# --tiny: 2,000 orders and 50 models (a few minutes; CI runs it to keep the benchmark alive).
#
# Output under bench/out/ (bench/out/tiny/ with --tiny; cleaned per run): one folder per size,
# compile<N>/, logs/, results.tsv, meta.txt and report.md (the markdown tables, also printed at
# the end). dbt-core (pinned below 1.12: 1.12 downloads a parser wheel at install time from
# outside the package registries) and dbt-duckdb go into $venvs/dbt (see bench/lib.sh); later runs reuse it.
#
# Exits 0 when every step ran and the results of both tools matched. A dbt seed that passes
# its timeout or the memory cap is reported as such (not a failure); then dbt's raw tables are
# loaded with DuckDB's read_csv so that step (b) can still be measured.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sizes="1000000,10000000"
models=2000
dbt_seed_timeout_min=20
timeout_min=30
mem_limit_gb=12
tiny=0
do_build=1
do_compile=1
threads=2

while [ $# -gt 0 ]; do
  case "$1" in
    --tiny) tiny=1; sizes=2000; models=50; shift ;;
    --sizes) sizes="$2"; shift 2 ;;
    --sizes=*) sizes="${1#*=}"; shift ;;
    --models) models="$2"; shift 2 ;;
    --dbt-seed-timeout-min) dbt_seed_timeout_min="$2"; shift 2 ;;
    --skip-compile) do_compile=0; shift ;;
    --skip-build) do_build=0; shift ;;
    *) bench_arg "$@"; shift "$bench_nargs" ;;
  esac
done

bench_check_bin

# --tiny keeps its own folder, so that CI's tiny run leaves a full run's results in place.
if [ "$tiny" = 1 ]; then out="$bench_dir/out/tiny"; else out="$bench_dir/out"; fi
mkdir -p "$out"
rm -rf "$out/logs"
results="$out/results.tsv"
meta="$out/meta.txt"
: > "$results"
failures=0
bench_copy_bin "$out/bin"

# ---------------------------------------------------------------- tools
say "Python venv with dbt-core + dbt-duckdb ($venvs/dbt)"
bench_venv "$venvs/dbt" "dbt.version, dbt.adapters.duckdb, duckdb" \
  'dbt-core>=1.10,<1.12' 'dbt-duckdb>=1.10,<1.12'
dbt="$venvs/dbt/bin/dbt"
export DBT_SEND_ANONYMOUS_USAGE_STATS=False DBT_USE_COLORS=False DBT_VERSION_CHECK=False
"$py" -c 'import importlib.metadata as m; print("dbt-core", m.version("dbt-core"), "| dbt-duckdb", m.version("dbt-duckdb"), "| duckdb", m.version("duckdb"))'

bench_gnu_time
skipped() { printf '%s\tskipped\t0\t0\t-\t%s\n' "$1" "$2" >> "$results"; echo "    $1: skipped ($2)"; }

bench_meta_lakeforge
"$dbt" --version > "$out/dbt-version.txt" 2>&1 || true
dbt_version="$("$py" -c 'import importlib.metadata as m; print(", ".join(p + " " + m.version(p) for p in ("dbt-core", "dbt-duckdb", "duckdb")))')"
{
  bench_meta_machine
  echo "load average at start: $(bench_loadavg)"
  echo "$meta_lakeforge"
  echo "lakeforge profile: $profile"
  echo "dbt: $dbt_version"
  echo "python: $("$py" --version 2>&1)"
  echo "peak memory: $rss_source"
  echo "threads: $threads for both tools; dbt seed timeout ${dbt_seed_timeout_min} min, other steps ${timeout_min} min; memory cap ${mem_limit_gb} GiB per command"
} > "$meta"
say "setup"; sed 's/^/    /' "$meta"

# ---------------------------------------------------------------- build benchmark
write_profile() { # DIR PROFILE_NAME DB_FILE
  cat > "$1/profiles.yml" <<EOF
$2:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "$3"
      threads: $threads
EOF
}

run_size() {
  local n="$1" dir="$out/$1"
  local lfp="$dir/lakeforge" dbp="$dir/dbt" db="$dir/dbt/shop.duckdb"
  local seed_tmo=$((dbt_seed_timeout_min * 60))
  say "build benchmark: $n orders ($dir)"
  rm -rf "$dir"; mkdir -p "$dir"
  "$lf" init "$lfp" --orders "$n" > "$dir/init.log"
  head -n 1 "$dir/init.log" | sed 's/^/    /'
  # The demo's ML model and the SQL model scoring with predict() have no dbt equivalent: both
  # tools build the same SQL project without them.
  rm -f "$lfp/models/ml.yml" "$lfp/models/marts/customer_value_scores.sql"
  mkdir -p "$dbp"
  cp -r "$lfp/dbt_project.yml" "$lfp/models" "$lfp/macros" "$lfp/seeds" "$lfp/tests" "$dbp/"
  write_profile "$dbp" shop "$db"
  du -sh "$lfp/seeds" | awk '{print "    seed CSVs: " $1}'

  echo "  lakeforge: (a) seed, (b) models + tests"
  rm -rf "$lfp/lake" "$lfp/target"
  measure_or_fail "$n/lakeforge/seed" "$lfp" -- "$lf" seed --threads "$threads" || return 0
  measure_or_fail "$n/lakeforge/models" "$lfp" -- "$lf" build --threads "$threads" --exclude resource_type:seed || return 0
  echo "  lakeforge: total (build from empty)"
  rm -rf "$lfp/lake" "$lfp/target"
  measure_or_fail "$n/lakeforge/total" "$lfp" -- "$lf" build --threads "$threads" || return 0

  echo "  dbt-duckdb: (a) seed, (b) models + tests"
  rm -rf "$db" "$db.wal" "$dbp/target" "$dbp/logs"
  local seed_rc=0
  measure "$n/dbt/seed" "$dbp" --timeout "$seed_tmo" -- "$dbt" seed --threads "$threads" --profiles-dir . || seed_rc=$?
  if [ "$seed_rc" -eq 124 ] || [ "$seed_rc" -eq 137 ]; then
    echo "    dbt seed did not finish (exit $seed_rc): loading its raw tables with DuckDB's read_csv instead"
    rm -rf "$db" "$db.wal"
    measure_or_fail "$n/dbt/duckdb_load" "$dbp" -- "$py" "$bench_dir/load_raw_duckdb.py" "$db" "$dbp/seeds" || return 0
  elif [ "$seed_rc" -ne 0 ]; then
    failures=$((failures + 1))
    echo "    !!! dbt seed failed (exit $seed_rc):"; tail -n 25 "$measure_log" | sed 's/^/    | /'
    return 0
  fi
  measure_or_fail "$n/dbt/models" "$dbp" -- "$dbt" build --threads "$threads" --profiles-dir . --exclude resource_type:seed || return 0
  echo "  dbt-duckdb: total (build from empty)"
  if [ "$seed_rc" -eq 0 ]; then
    rm -rf "$db" "$db.wal" "$dbp/target" "$dbp/logs"
    local total_rc=0
    measure "$n/dbt/total" "$dbp" -- "$dbt" build --threads "$threads" --profiles-dir . || total_rc=$?
    if [ "$total_rc" -ne 0 ] && [ "$total_rc" -ne 124 ] && [ "$total_rc" -ne 137 ]; then
      failures=$((failures + 1)); echo "    !!! dbt build failed (exit $total_rc)"
      tail -n 25 "$measure_log" | sed 's/^/    | /'
      return 0
    fi
    if [ "$total_rc" -ne 0 ]; then
      echo "    dbt build did not finish; restoring the step (b) state for the result check"
      rm -rf "$db" "$db.wal"
      "$py" "$bench_dir/load_raw_duckdb.py" "$db" "$dbp/seeds" >/dev/null
      (cd "$dbp" && "$dbt" build --threads "$threads" --profiles-dir . --exclude resource_type:seed >/dev/null)
    fi
  else
    skipped "$n/dbt/total" "not run: its seed step alone passed the limit"
  fi

  echo "  checking that both tools built the same data"
  if ! "$py" "$bench_dir/verify.py" "$lf" "$lfp" "$db"; then
    failures=$((failures + 1))
  fi
}

# ---------------------------------------------------------------- compile benchmark
run_compile() {
  local n="$1" dir="$out/compile$1"
  say "parse + compile benchmark: generated $n-model project ($dir)"
  rm -rf "$dir"
  "$py" "$bench_dir/gen_compile_project.py" "$n" "$dir" | sed 's/^/    /'
  write_profile "$dir" bench_compile "$dir/compile.duckdb"
  for _ in 1 2 3; do
    rm -rf "$dir/target"
    measure_or_fail "compile$n/lakeforge/compile" "$dir" -- "$lf" compile --threads "$threads" || return 0
  done
  local compiled
  compiled="$(find "$dir/target/compiled" -name '*.sql' | wc -l)"
  echo "    lakeforge wrote $compiled compiled SQL files"
  for _ in 1 2 3; do
    measure_or_fail "compile$n/lakeforge/parse" "$dir" -- "$lf" ls || return 0
  done
  rm -rf "$dir/target" "$dir/logs"
  measure_or_fail "compile$n/dbt/parse" "$dir" -- "$dbt" parse --no-partial-parse --profiles-dir . || return 0
  rm -rf "$dir/target" "$dir/logs"
  measure_or_fail "compile$n/dbt/compile" "$dir" -- "$dbt" compile --no-partial-parse --threads "$threads" --profiles-dir . || return 0
  compiled="$(find "$dir/target/compiled" -name '*.sql' | wc -l)"
  echo "    dbt wrote $compiled compiled SQL files"
  # What a dbt user sees on a re-run when nothing changed: the partial-parse cache is warm.
  rm -rf "$dir/target"
  (cd "$dir" && "$dbt" parse --profiles-dir . >/dev/null)
  measure_or_fail "compile$n/dbt/parse_warm" "$dir" -- "$dbt" parse --profiles-dir . || return 0
}

IFS=',' read -r -a size_list <<< "$sizes"
if [ "$do_build" = 1 ]; then
  for n in "${size_list[@]}"; do run_size "$n"; done
fi
if [ "$do_compile" = 1 ]; then run_compile "$models"; fi

# ---------------------------------------------------------------- report
echo "load average at end: $(bench_loadavg)" >> "$meta"
cmdline="bench/build_vs_dbt.sh"
[ "$tiny" = 1 ] && cmdline="$cmdline --tiny"
[ "$tiny" = 0 ] && [ "$sizes" != "1000000,10000000" ] && cmdline="$cmdline --sizes $sizes"
[ "$bin" != "$default_bin" ] && cmdline="$cmdline --bin $bin"
{
  echo "Command: \`$cmdline\`"
  echo
  sed 's/^/- /' "$meta"
  echo
  "$py" "$bench_dir/report.py" "$results"
} > "$out/report.md"
say "results (also in $out/report.md)"
cat "$out/report.md"
if [ "$failures" -ne 0 ]; then
  echo
  echo "FAILED: $failures step(s) failed or gave different results (see above and $out/logs/)"
  exit 1
fi
echo
echo "OK: every step ran and both tools built the same data"
