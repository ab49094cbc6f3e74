#!/usr/bin/env bash
# Web UI page speed (issue 18): every page's and API route's server time on a generated
# project, and the lineage page drawn in headless Chromium. Goals: each under 100 ms, the
# lineage page drawn within 2 s.
#
#   bench/ui_pages.sh [--bin PATH] [--tiny] [--models N] [--built B] [--reps R] [--draws D]
#
# 1. bench/gen_compile_project.py writes a project of N models (default 2,000: views, marts as
#    tables, a not_null test on every tenth), and `lakeforge build` builds its first B models
#    (default 100, m_0000 to m_0099, which read only each other) and their tests, recording a
#    run, so runs and column lineage have data; the graph is all N. (All 2,000 are not built:
#    the generated views nest hundreds deep and each is planned through all below it, so a
#    full build takes hours: 70 s a view by the 400th on 2 cores.)
# 2. `lakeforge ui` starts on a free port; each entry of PAGES below is requested R times
#    (default 10) after one warm-up request, over one kept-alive connection; the time is
#    request written to body read (python3's http.client), so it is the server's time plus a
#    loopback round trip. Median and max per entry.
# 3. tests/browser/lineage_draw.mjs opens the lineage page D times (default 3) in headless
#    Chromium (Debian's `chromium` and tests/browser's playwright-core, which
#    scripts/setup-test-env installs) and times navigation start to the graph painted.
# --tiny: 50 models, all built, 3 requests each, 1 draw (well under a minute; CI runs it).
#
# Output under bench/out/ui_pages/ (bench/out/tiny-ui_pages/ with --tiny; cleaned per run):
# the project, logs/, results.tsv, meta.txt and report.md (also printed at the end).
# Exits 0 when every request answered 200 and the page drew; slow numbers never fail it.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

models=2000 models_set=0 built=100 reps=10 reps_set=0 draws=3 draws_set=0 tiny=0
while [ $# -gt 0 ]; do
  case "$1" in
    --models) models="$2"; models_set=1; shift 2 ;;
    --built) built="$2"; shift 2 ;;
    --reps) reps="$2"; reps_set=1; shift 2 ;;
    --draws) draws="$2"; draws_set=1; shift 2 ;;
    *) bench_arg "$@"; shift "$bench_nargs" ;;
  esac
done
if [ "$tiny" = 1 ]; then
  [ "$models_set" = 1 ] || models=50
  [ "$reps_set" = 1 ] || reps=3
  [ "$draws_set" = 1 ] || draws=1
fi

# What is measured: NAME PATH, one a line. {run} is the build's run id, {model} the unique id
# of the last model built (halfway down the graph with --tiny), {name} its name. A page or route added to the UI is one
# more line here.
PAGES="
overview /
runs /runs
run /runs/{run}
models /models
lineage /lineage
api/overview /api/overview
api/runs /api/runs
api/run /api/runs/{run}
api/models /api/models
api/lineage /api/lineage
api/lineage?select /api/lineage?select=%2B{name}
api/lineage/columns /api/lineage/{model}/columns
"

bench_check_bin
py="$(command -v python3)" || die "python3 is needed"
if [ "$tiny" = 1 ]; then out="$bench_dir/out/tiny-ui_pages"; else out="$bench_dir/out/ui_pages"; fi
rm -rf "$out" && mkdir -p "$out/logs"
results="$out/results.tsv"
meta="$out/meta.txt"
failures=0
bench_copy_bin "$out/bin"
bench_meta_lakeforge
{
  bench_meta_machine
  echo "load average at start: $(bench_loadavg)"
  echo "$meta_lakeforge"
  echo "lakeforge profile: $profile"
  echo "models: $models ($built built); requests per entry: $reps (after one warm-up); lineage draws: $draws"
} > "$meta"
say "setup"; sed 's/^/    /' "$meta"

proj="$out/project"
[ "$built" -le "$models" ] || built="$models"
say "project: $models models, the first $built built"
"$py" "$bench_dir/gen_compile_project.py" "$models" "$proj" | sed 's/^/    /'
started=$(date +%s)
select=()
if [ "$built" -lt "$models" ]; then
  select=(-s "$(seq -f 'm_%04g' 0 $((built - 1)) | tr '\n' ' ')")
fi
(cd "$proj" && "$lf" build --threads "$(nproc)" "${select[@]}" > "$out/logs/build.log" 2>&1) \
  || die "lakeforge build failed; see $out/logs/build.log"
echo "    built in $(($(date +%s) - started)) s"

port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
say "lakeforge ui on 127.0.0.1:$port"
(cd "$proj" && exec "$lf" ui --port "$port" > "$out/logs/ui.log" 2>&1) &
ui_pid=$!
trap 'kill "$ui_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  grep -q "Lakeforge UI on" "$out/logs/ui.log" 2>/dev/null && break
  kill -0 "$ui_pid" 2>/dev/null || die "lakeforge ui stopped; see $out/logs/ui.log"
  sleep 0.1
done
grep -q "Lakeforge UI on" "$out/logs/ui.log" || die "lakeforge ui did not start in 30 s; see $out/logs/ui.log"

say "server time: $reps requests per entry"
"$py" - "$port" "$reps" "$((built < models ? built - 1 : models / 2))" "$results" "$PAGES" <<'PY' || failures=$((failures + 1))
import http.client, json, statistics, sys, time
port, reps, traced, results, pages = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

def get(path):
    started = time.perf_counter()
    conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
    response = conn.getresponse()
    body = response.read()
    return response.status, body, (time.perf_counter() - started) * 1000

status, body, _ = get("/api/runs")
run = json.loads(body)["runs"][0]["run_id"]
name = f"m_{traced:04d}"
graph = json.loads(get("/api/lineage")[1])
model = next(n["unique_id"] for n in graph["nodes"] if n["name"] == name)
failed = 0
with open(results, "w") as out:
    out.write("entry\tpath\tstatus\tbytes\tmedian_ms\tmax_ms\n")
    for line in pages.strip().splitlines():
        entry, path = line.split()
        path = path.replace("{run}", run).replace("{model}", model).replace("{name}", name)
        status, body, _ = get(path)  # warm-up
        times = []
        for _ in range(reps):
            status, body, ms = get(path)
            times.append(ms)
        if status != 200:
            failed += 1
            print(f"    !!! {entry}: {path} answered {status}: {body[:300]!r}")
        out.write(f"{entry}\t{path}\t{status}\t{len(body)}\t{statistics.median(times):.1f}\t{max(times):.1f}\n")
sys.exit(1 if failed else 0)
PY

say "lineage page drawn in headless Chromium: $draws times"
draw_log="$out/logs/lineage_draw.log"
script="$repo/tests/browser/lineage_draw.mjs"
if ! command -v node > /dev/null || [ ! -x /usr/bin/chromium ] \
  || [ ! -f "$repo/tests/browser/node_modules/playwright-core/package.json" ]; then
  echo "    !!! needs node, /usr/bin/chromium and tests/browser's playwright-core (scripts/setup-test-env installs them)"
  failures=$((failures + 1))
  : > "$draw_log"
elif ! node "$script" --base-url "http://127.0.0.1:$port" --runs "$draws" > "$draw_log" 2> "$out/logs/lineage_draw.err"; then
  echo "    !!! the lineage page did not draw; see $out/logs/lineage_draw.err"
  failures=$((failures + 1))
fi
kill "$ui_pid" 2>/dev/null || true
wait "$ui_pid" 2>/dev/null || true
trap - EXIT

"$py" - "$results" "$draw_log" "$meta" > "$out/report.md" <<'PY'
import json, statistics, sys
results, draws, meta = sys.argv[1:]
print("# Web UI page speed\n")
print("".join(f"    {l}" for l in open(meta)))
print("\n| page or route | path | status | bytes | median ms | max ms | < 100 ms |")
print("|---|---|---|---|---|---|---|")
for line in list(open(results))[1:]:
    entry, path, status, size, median, top = line.rstrip("\n").split("\t")
    ok = "yes" if float(median) < 100 else "**no**"
    print(f"| {entry} | `{path}` | {status} | {int(size):,} | {median} | {top} | {ok} |")
runs = [json.loads(l) for l in open(draws) if l.startswith("{")]
if runs:
    ms = [r["ms"] for r in runs]
    print(f"\nLineage page drawn in headless Chromium ({runs[0]['nodes']:,} nodes): median "
          f"{statistics.median(ms):.0f} ms, max {max(ms)} ms over {len(ms)} loads "
          f"({'within' if max(ms) < 2000 else '**over**'} 2 s).")
PY
say "report ($out/report.md)"
cat "$out/report.md"
if [ "$failures" -gt 0 ]; then
  echo "$failures step(s) failed"
  exit 1
fi
