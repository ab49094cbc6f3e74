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
# dbt-core 1.10 and dbt-duckdb 1.10 go into bench/.venv (shared with build_vs_dbt.sh).
#
# Output: bench/out/dbt_utils/{lakeforge,dbt}.{log,tsv} and report.md (also printed).
# Exits 0 when the suite ran to the end (whatever the count); non-zero when a tool could not
# run at all.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
bin="${LAKEFORGE_BIN:-$("$repo"/scripts/target-dir)/debug/lakeforge}"
with_dbt=0
timeout_min=30
suite=""

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --with-dbt) with_dbt=1; shift ;;
    --timeout-min) timeout_min="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    *) suite="$1"; shift ;;
  esac
done
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }
[ -n "$suite" ] || { usage >&2; exit 2; }
[ -f "$suite/dbt_project.yml" ] || die "$suite has no dbt_project.yml: pass the integration_tests/ folder of a dbt-utils checkout"
[ -x "$bin" ] || die "no lakeforge binary at $bin (build it with: cargo build -p lakeforge-cli, or pass --bin PATH)"
suite="$(cd "$suite" && pwd)"
checkout="$(dirname "$suite")"
suite_name="$(basename "$suite")"

out="$here/out/dbt_utils"
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
  venv="$here/.venv"
  if ! "$venv/bin/python" -c 'import dbt.version, dbt.adapters.duckdb' 2>/dev/null; then
    echo "==> installing dbt-core 1.10 and dbt-duckdb 1.10 into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "dbt-core>=1.10,<1.11" "dbt-duckdb>=1.10,<1.11"
  fi
  dbt_dir="$(prepare dbt)"
  run_tool dbt "$dbt_dir" "$venv/bin/dbt"
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
