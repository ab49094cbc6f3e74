#!/usr/bin/env bash
# dbt Labs' own dbt_utils integration suite, built by Lakeforge (and, with --with-dbt, by
# dbt-core + dbt-duckdb in the same run), counting the nodes that pass.
#
#   bench/dbt_utils_suite.sh SUITE [--bin PATH] [--with-dbt] [--timeout-min M]
#
# SUITE is the `integration_tests/` folder of a dbt-utils checkout (tag 1.3.3 is the one
# BENCHMARKS.md reports); the package itself is its parent folder, reached through the
# suite's own `packages.yml` (`local: ../`). Nothing of the suite is part of this repository:
# get it with `git clone --branch 1.3.3 https://github.com/dbt-labs/dbt-utils`.
#
# The checkout is copied to a scratch folder first, so the suite stays as dbt Labs ship it.
# Both tools get a dbt-duckdb profile of the user's in DBT_PROFILES_DIR (the suite's own
# profiles.yml, which reads POSTGRES_* variables, stays in place and is not used), then run
# `deps` and `build --full-refresh`. Counted from each tool's target/run_results.json:
# passed = success + pass + warn; the rest (error, fail, skipped) are listed by name.
# dbt-core 1.10 and dbt-duckdb 1.10 go into $venvs/dbt (see bench/lib.sh; shared with build_vs_dbt.sh).
#
# Output: bench/out/dbt_utils/{lakeforge,dbt}.{log,tsv} and report.md (also printed).
# Exits 0 when the suite ran to the end (whatever the count); non-zero when a tool could not
# run at all.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

with_dbt=0
timeout_min=30
suite=""

while [ $# -gt 0 ]; do
  case "$1" in
    --with-dbt) with_dbt=1; shift ;;
    -*) bench_arg "$@"; shift "$bench_nargs" ;;
    *) suite="$1"; shift ;;
  esac
done
[ -n "$suite" ] || { usage >&2; exit 2; }
[ -f "$suite/dbt_project.yml" ] || die "$suite has no dbt_project.yml: pass the integration_tests/ folder of a dbt-utils checkout"
bench_check_bin
suite="$(cd "$suite" && pwd)"
checkout="$(dirname "$suite")"
suite_name="$(basename "$suite")"

out="$bench_dir/out/dbt_utils"
rm -rf "$out"
mkdir -p "$out"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# One copy of the checkout per tool: each writes dbt_packages/, target/ and its data inside.
prepare() {
  local dir="$scratch/$1"
  mkdir -p "$dir"
  (cd "$checkout" && tar --exclude=./.git -cf - .) | (cd "$dir" && tar -xf -)
  mkdir -p "$dir/profiles"
  cat > "$dir/profiles/profiles.yml" <<EOF
integration_tests:
  target: duckdb
  outputs:
    duckdb:
      type: duckdb
      path: $dir/suite.duckdb
      schema: main
      threads: 2
EOF
  echo "$dir"
}

# passed/total and the names of the nodes that did not pass, from run_results.json.
count() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
path, tsv = sys.argv[1], sys.argv[2]
try:
    results = json.load(open(path))["results"]
except (OSError, ValueError, KeyError):
    results = []
ok = {"success", "pass", "warn"}
with open(tsv, "w") as f:
    for r in sorted(results, key=lambda r: r["unique_id"]):
        f.write(f'{r["unique_id"]}\t{r["status"]}\n')
passed = sum(r["status"] in ok for r in results)
print(f"{passed}\t{len(results)}")
EOF
}

run_tool() {
  local name="$1" dir="$2"; shift 2
  local log="$out/$name.log"
  echo "==> $name: deps" | tee "$log"
  (cd "$dir/$suite_name" && DBT_PROFILES_DIR="$dir/profiles" "$@" deps) >> "$log" 2>&1 || echo "(deps exited $?)" >> "$log"
  echo "==> $name: build --full-refresh" | tee -a "$log"
  local start end
  start=$(date +%s.%N)
  (cd "$dir/$suite_name" && DBT_PROFILES_DIR="$dir/profiles" timeout "${timeout_min}m" "$@" build --full-refresh) >> "$log" 2>&1 || echo "(build exited $?)" >> "$log"
  end=$(date +%s.%N)
  local counted
  counted=$(count "$dir/$suite_name/target/run_results.json" "$out/$name.tsv")
  printf '%s\t%s\t%s\n' "$name" "$counted" "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')" >> "$out/summary.tsv"
}

: > "$out/summary.tsv"
lf_dir="$(prepare lakeforge)"
run_tool lakeforge "$lf_dir" "$bin"

if [ "$with_dbt" = 1 ]; then
  bench_venv "$venvs/dbt" "dbt.version, dbt.adapters.duckdb" "dbt-core>=1.10,<1.11" "dbt-duckdb>=1.10,<1.11"
  dbt_dir="$(prepare dbt)"
  run_tool dbt "$dbt_dir" "$venvs/dbt/bin/dbt"
fi

{
  echo "| tool | passed | executed | build seconds |"
  echo "|---|---|---|---|"
  while IFS=$'\t' read -r tool passed total secs; do
    echo "| $tool | $passed | $total | $secs |"
  done < "$out/summary.tsv"
  for tool in lakeforge dbt; do
    [ -f "$out/$tool.tsv" ] || continue
    echo
    echo "Not passed by $tool:"
    awk -F'\t' '$2 != "success" && $2 != "pass" && $2 != "warn" { printf "- %s (%s)\n", $1, $2 }' "$out/$tool.tsv"
  done
} | tee "$out/report.md"
