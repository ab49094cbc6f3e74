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
# meta.txt and report.md (also printed at the end). Python packages go into bench/.venv.
#
# Exits 0 when every step ran and all tools reported exactly the planted failing tests and
# counts; 1 otherwise.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
target_dir="$("$repo"/scripts/target-dir)"
bin="${LAKEFORGE_BIN:-$target_dir/debug/lakeforge}"
rows=10000000
reps=3
reps_set=0
tiny=0
ge_sqlite=1
timeout_min=30
mem_limit_gb=12
threads=2

usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --bin=*) bin="${1#*=}"; shift ;;
    --tiny) tiny=1; shift ;;
    --rows) rows="$2"; shift 2 ;;
    --rows=*) rows="${1#*=}"; shift ;;
    --reps) reps="$2"; reps_set=1; shift 2 ;;
    --reps=*) reps="${1#*=}"; reps_set=1; shift ;;
    --no-ge-sqlite) ge_sqlite=0; shift ;;
    --timeout-min) timeout_min="$2"; shift 2 ;;
    --mem-limit-gb) mem_limit_gb="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [ "$tiny" = 1 ]; then
  rows=20000
  [ "$reps_set" = 1 ] || reps=1
fi

say() { printf '\n==> %s\n' "$*"; }
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

[ -x "$bin" ] || die "no lakeforge binary at $bin (build it with: cargo build -p lakeforge-cli, or pass --bin PATH)"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
case "$bin" in
  */release/*) profile="release profile" ;;
  */debug/*) profile="dev profile (workspace crates at opt-level 1, dependencies at opt-level 2)" ;;
  *) profile="unknown profile (binary outside a cargo target/{debug,release} folder)" ;;
esac

if [ "$tiny" = 1 ]; then out="$here/out/tiny-quality"; else out="$here/out/quality"; fi
rm -rf "$out"
mkdir -p "$out/logs" "$out/runs" "$out/bin"
results="$out/results.tsv"
meta="$out/meta.txt"
: > "$results"
failures=0

# The binary under test is copied, so a rebuild during the run cannot swap it between steps.
lf="$out/bin/lakeforge"
cp "$bin" "$lf.tmp" && mv "$lf.tmp" "$lf"

# ---------------------------------------------------------------- tools
say "Python venv with dbt-core + dbt-duckdb + Great Expectations ($here/.venv)"
venv="$here/.venv"
if ! "$venv/bin/python" -c 'import dbt.version, dbt.adapters.duckdb, duckdb, great_expectations, sqlalchemy, pyarrow, numpy' 2>/dev/null; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  # dbt-core below 1.12: 1.12's install downloads a parser wheel from outside the registries.
  # SQLAlchemy below 2.1, which GX 1.x's SQL engine is written for.
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    'dbt-core>=1.10,<1.12' 'dbt-duckdb>=1.10,<1.12' 'great_expectations>=1.0,<2' \
    'sqlalchemy>=2.0,<2.1' pyarrow numpy
fi
py="$venv/bin/python"
dbt="$venv/bin/dbt"
export DBT_SEND_ANONYMOUS_USAGE_STATS=False DBT_USE_COLORS=False DBT_VERSION_CHECK=False
export GX_ANALYTICS_ENABLED=false

if [ ! -x /usr/bin/time ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  say "installing GNU time (Debian package 'time')"
  (apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq time >/dev/null 2>&1; }) || true
fi
if [ -x /usr/bin/time ]; then rss_source="GNU time (/usr/bin/time -v), maximum resident set size"
else rss_source="resource.getrusage(RUSAGE_CHILDREN).ru_maxrss (GNU time not installed)"; fi

# measure NAME CWD [--ok-exit CODES] -- CMD...: bench/measure.py, one line in results.tsv.
measure() {
  local name="$1" cwd="$2"; shift 2
  local extra=()
  if [ "$1" = "--ok-exit" ]; then extra=(--ok-exit "$2"); shift 2; fi
  shift # --
  local log="$out/logs/${name//\//_}.log"
  [ -e "$log" ] && log="$out/logs/${name//\//_}.$(date +%s%N).log"
  "$py" "$here/measure.py" --name "$name" --results "$results" --log "$log" --cwd "$cwd" \
    --timeout "$((timeout_min * 60))" --mem-limit-gb "$mem_limit_gb" "${extra[@]}" -- "$@" || {
    local rc=$?
    failures=$((failures + 1))
    echo "    !!! $name failed (exit $rc); last lines of $log:"
    tail -n 25 "$log" | sed 's/^/    | /'
    return "$rc"
  }
}

lf_version="$("$lf" --version)"
git_rev="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$repo" diff --quiet HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null || git_rev="$git_rev + uncommitted changes"
versions="$("$py" -c 'import importlib.metadata as m; print(", ".join(p + " " + m.version(p) for p in ("dbt-core", "dbt-duckdb", "duckdb", "great_expectations", "pandas", "pyarrow", "sqlalchemy")))')"
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GiB RAM ($(uname -sr))"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "lakeforge: $lf_version, binary $bin ($(du -m "$bin" | cut -f1) MiB, built $(date -u -r "$bin" '+%Y-%m-%d %H:%M UTC'), source $git_rev), $profile"
  echo "python packages: $versions; $("$py" --version 2>&1)"
  echo "peak memory: $rss_source"
  echo "threads: $threads (lakeforge --threads, dbt --threads and DuckDB's threads setting, pyarrow's thread pools for GX pandas; GX validation itself and SQLite run on one thread)"
  echo "runs: $reps per tool, round-robin; limits ${timeout_min} min and ${mem_limit_gb} GiB per command"
} > "$meta"
say "setup"; sed 's/^/    /' "$meta"

# ---------------------------------------------------------------- data and projects
data="$out/data"
say "data: $rows orders ($data)"
"$py" "$here/quality/gen_data.py" --rows "$rows" --out "$data"

make_project() { # DIR
  mkdir -p "$1/seeds"
  cp "$here/quality/project/dbt_project.yml" "$1/"
  sed "s/@ROWS@/$rows/g" "$here/quality/project/seeds/properties.yml" > "$1/seeds/properties.yml"
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
cp "$here/quality/dbt_generic_tests/"*.sql "$dbp/tests/generic/"
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
measure "quality/lakeforge/seed" "$lfp" -- "$lf" seed --threads "$threads" || die "lakeforge seed failed"
measure "quality/dbt/load" "$dbp" -- "$py" "$here/load_raw_duckdb.py" "$dbp/quality.duckdb" "$dbp/seeds" "$dbp/dbt_project.yml" \
  || die "loading the DuckDB database failed"
if [ "$ge_sqlite" = 1 ]; then
  measure "quality/ge_sqlite/load" "$out" -- "$py" "$here/quality/ge_validate.py" --prepare-sqlite --data "$data" \
    || die "loading the SQLite file failed"
fi
# dbt users re-running tests have a partial-parse cache; fill it (untimed).
(cd "$dbp" && "$dbt" parse --profiles-dir . > "$out/logs/dbt_parse_warmup.log" 2>&1) \
  || { tail -n 25 "$out/logs/dbt_parse_warmup.log"; die "dbt parse failed"; }

# ---------------------------------------------------------------- timed test runs
for i in $(seq 1 "$reps"); do
  say "test runs, round $i of $reps"
  rm -f "$lfp/target/run_results.json"
  if measure "quality/lakeforge/test" "$lfp" --ok-exit 0,1 -- "$lf" test --threads "$threads"; then
    cp "$lfp/target/run_results.json" "$out/runs/lakeforge-$i.json" || failures=$((failures + 1))
  fi
  rm -f "$dbp/target/run_results.json"
  if measure "quality/dbt/test" "$dbp" --ok-exit 0,1 -- "$dbt" test --threads "$threads" --profiles-dir .; then
    cp "$dbp/target/run_results.json" "$out/runs/dbt-$i.json" || failures=$((failures + 1))
  fi
  measure "quality/ge_pandas/test" "$out" -- "$py" "$here/quality/ge_validate.py" --engine pandas \
    --data "$data" --rows "$rows" --threads "$threads" --result "$out/runs/ge_pandas-$i.json" || true
  if [ "$ge_sqlite" = 1 ]; then
    measure "quality/ge_sqlite/test" "$out" -- "$py" "$here/quality/ge_validate.py" --engine sqlite \
      --data "$data" --rows "$rows" --threads "$threads" --result "$out/runs/ge_sqlite-$i.json" || true
  fi
done

# ---------------------------------------------------------------- check and report
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$meta"
cmdline="bench/quality_vs_dbt_ge.sh"
[ "$tiny" = 1 ] && cmdline="$cmdline --tiny"
[ "$tiny" = 0 ] && [ "$rows" != 10000000 ] && cmdline="$cmdline --rows $rows"
[ "$reps_set" = 1 ] && cmdline="$cmdline --reps $reps"
[ "$ge_sqlite" = 0 ] && cmdline="$cmdline --no-ge-sqlite"
[ "$bin" != "$target_dir/debug/lakeforge" ] && cmdline="$cmdline --bin $bin"
say "checking every run against the planted defects"
compare_rc=0
"$py" "$here/quality/compare.py" --data "$data" --runs "$out/runs" --results "$results" \
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
