#!/usr/bin/env bash
# The README's first command, as a new user runs it, N times: a fresh `lakeforge init` and
# `lakeforge build` in a new temporary folder each time. Checks that every build succeeds
# (the demo's ML model `customer_value` passes its quality gate, takes the `production` alias
# and `customer_value_scores` scores with it), and that every run trained the same model
# bytes: the demo's data is the same each time, so its model must be too.
#
#   bench/demo_gate.sh [N]                 # default 100 runs
#   LAKEFORGE_BIN=/path/to/lakeforge bench/demo_gate.sh 20
#
# Prints each run's r2 on the held-out rows, its build time and the model's SHA-256 prefix,
# then a summary (runs passed, min/max r2 against the gate, distinct models, total time).
# Exits 1 if any run failed or two runs trained different models. The folder of a failed run
# is kept (its path is printed); the others are removed.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs="${1:-100}"
case "$runs" in
  '' | *[!0-9]* | 0) echo "usage: bench/demo_gate.sh [N]  (N: a number of runs, at least 1)" >&2; exit 2 ;;
esac

if [ -z "${LAKEFORGE_BIN:-}" ] && [ ! -x "$bin" ]; then
  (cd "$repo" && cargo build -p lakeforge-cli)
fi
[ -x "$bin" ] || { echo "no lakeforge binary at $bin (set LAKEFORGE_BIN)" >&2; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/lakeforge-demo-gate.XXXXXX")"
bench_copy_bin "$work"
bin="$lf"

# The gate as the demo declares it, e.g. `r2 >= 0.5`.
gate="$("$bin" init "$work/probe" >/dev/null && sed -n 's/^ *gate: *"\(.*\)"$/\1/p' "$work/probe/models/ml.yml")"
rm -rf "$work/probe"
[ -n "$gate" ] || { echo "the demo's models/ml.yml declares no gate" >&2; exit 1; }

results="$work/results.tsv"
: > "$results"
failed=0
started=$(date +%s.%N)
printf '%5s  %-8s  %8s  %7s  %s\n' run status r2 seconds model
for i in $(seq 1 "$runs"); do
  dir="$(mktemp -d "${TMPDIR:-/tmp}/lakeforge-demo.XXXXXX")"
  t0=$(date +%s.%N)
  status=ok
  if ! "$bin" init "$dir/shop" >"$dir/init.log" 2>&1; then
    status=init-failed
  elif ! (cd "$dir/shop" && "$bin" build >"$dir/build.log" 2>&1); then
    status=build-failed
  fi
  t1=$(date +%s.%N)
  r2=-
  sha=-
  if [ "$status" != init-failed ]; then
    # The version `production` names (none if the gate failed), else the latest one.
    read -r r2 sha passed < <(cd "$dir/shop" && "$bin" models show customer_value --json 2>/dev/null |
      python3 -c '
import json, sys
versions = json.load(sys.stdin)
chosen = [v for v in versions if "production" in v["aliases"]] or versions[-1:]
if not chosen:
    print("- - no")
else:
    v = chosen[0]
    r2 = dict(v["metrics"]).get("r2")
    print(f"{r2:.4f}" if r2 is not None else "-", v["artifact_sha256"][:16],
          "yes" if v["status"] == "passed" and "production" in v["aliases"] else "no")
' || echo "- - no")
    if [ "$status" = ok ] && [ "$passed" != yes ]; then status="gate-failed"; fi
  fi
  secs=$(python3 -c "print(f'{$t1 - $t0:.1f}')")
  printf '%5d  %-8s  %8s  %7s  %s\n' "$i" "$status" "$r2" "$secs" "$sha"
  printf '%s\t%s\t%s\t%s\t%s\n' "$i" "$status" "$r2" "$secs" "$sha" >> "$results"
  if [ "$status" = ok ]; then
    rm -rf "$dir"
  else
    failed=$((failed + 1))
    echo "       kept $dir (see build.log there)"
  fi
done
ended=$(date +%s.%N)

status=0
python3 - "$results" "$gate" "$runs" "$started" "$ended" <<'EOF' || status=$?
import sys
path, gate, runs, started, ended = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
rows = [line.rstrip("\n").split("\t") for line in open(path)]
ok = [r for r in rows if r[1] == "ok"]
r2 = [float(r[2]) for r in rows if r[2] != "-"]
secs = [float(r[3]) for r in rows]
models = sorted({r[4] for r in rows if r[4] != "-"})
print()
print(f"runs passed   {len(ok)} of {runs} (gate: {gate})")
if r2:
    print(f"r2            min {min(r2):.4f}  max {max(r2):.4f}  mean {sum(r2) / len(r2):.4f}")
print(f"models        {len(models)} distinct ({', '.join(models[:5])}{', ...' if len(models) > 5 else ''})")
print(f"time          {ended - started:.0f} s in all; per run min {min(secs):.1f} s, max {max(secs):.1f} s")
bad = len(ok) < runs or len(models) > 1
if bad:
    print("FAILED: " + "; ".join(
        ([f"{runs - len(ok)} run(s) did not pass"] if len(ok) < runs else [])
        + ([f"{len(models)} different models from the same data"] if len(models) > 1 else [])))
sys.exit(1 if bad else 0)
EOF
rm -rf "$work"
exit "$status"
