#!/usr/bin/env bash
# Orchestration overhead: `lakeforge run` of a generated DAG of N trivial models.
#
#   bench/dag_overhead.sh [--bin PATH] [--tiny] [--nodes N] [--reps R] [--skip-tmpfs]
#                         [--timeout-min M]
#
# 1. bench/gen_dag_project.py writes a project of N models (default 1,000) in 7 layers: roots
#    selecting a constant, then models that ref 1 to 3 parents and join them (fan-in), with a
#    few widely shared parents (fan-out); every model holds one row. The same DAG is written
#    twice: all views (almost no SQL work: planning, and a small SQL file in the lake) and all
#    tables (a one-row Delta write per node).
# 2. Start-up and parse: `lakeforge --version`, `lakeforge ls` and `lakeforge compile` on it.
# 3. For views and tables, at --threads 1 and 2: `lakeforge run` on an empty lake (first), then
#    again with the lake, target/ and run history in place (second). Each is timed as a whole
#    process (wall clock, CPU, peak RSS), and its target/run_results.json gives the sum of the
#    nodes' execution_time (each node's SQL rendering, planning and write, as the runner times
#    it), the runner's elapsed time and the gaps between nodes.
#    Overhead per node = (wall − Σ node time) / N at --threads 1: process start, parsing,
#    DAG planning, opening the engine and the metadata store, scheduling, the per-node writes
#    to the metadata store, progress output, writing manifest.json and run_results.json.
# 4. Unless --skip-tmpfs: the --threads 1 runs again with the metadata store (SQLite) on tmpfs
#    (/dev/shm), and with the whole lake there, to show what disk syncs cost.
# Every run is checked: all N nodes succeeded, and `lakeforge runs show last` holds them all.
# Measurements go round-robin, R times each (default 3; the report gives medians).
# --tiny: 50 models, 1 round (well under a minute; CI runs it to keep the benchmark alive).
#
# Output under bench/out/dag/ (bench/out/tiny-dag/ with --tiny; cleaned per run): the view/
# and table/ projects, runs/ (each run's run_results.json), logs/, results.tsv, meta.txt and
# report.md (also printed at the end). Needs only python3; installs nothing.
#
# Exits 0 when every run succeeded with all nodes recorded; slow numbers never fail it.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

nodes=1000
nodes_set=0
reps=3
reps_set=0
tiny=0
tmpfs=1
timeout_min=20

while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes="$2"; nodes_set=1; shift 2 ;;
    --nodes=*) nodes="${1#*=}"; nodes_set=1; shift ;;
    --reps) reps="$2"; reps_set=1; shift 2 ;;
    --reps=*) reps="${1#*=}"; reps_set=1; shift ;;
    --skip-tmpfs) tmpfs=0; shift ;;
    *) bench_arg "$@"; shift "$bench_nargs" ;;
  esac
done
if [ "$tiny" = 1 ]; then
  [ "$nodes_set" = 1 ] || nodes=50
  [ "$reps_set" = 1 ] || reps=1
fi

bench_check_bin
py="$(command -v python3)" || die "python3 is needed"

if [ "$tiny" = 1 ]; then out="$bench_dir/out/tiny-dag"; else out="$bench_dir/out/dag"; fi
# The previous output is deleted only at the end (see set_aside below for why).
old_out=""
if [ -e "$out" ]; then old_out="$out.old.$$"; mv "$out" "$old_out"; fi
shm=""
cleanup() { rm -rf ${old_out:+"$old_out"} ${shm:+"$shm"} ${trash:+"$trash"}; }
trap cleanup EXIT
mkdir -p "$out/logs" "$out/runs"
results="$out/results.tsv"
meta="$out/meta.txt"
: > "$results"
failures=0

bench_copy_bin "$out/bin"

# tmpfs for the variants; removed at exit.
if [ "$tmpfs" = 1 ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
    shm="$(mktemp -d /dev/shm/lakeforge-dag-bench.XXXXXX)"
  else
    echo "no writable tmpfs at /dev/shm: the tmpfs variants are skipped"
    tmpfs=0
  fi
fi

# timed NAME REP CWD [--run] -- CMD...: one line in results.tsv; a failure is counted, not fatal.
timed() {
  local name="$1" rep="$2" cwd="$3"; shift 3
  local extra=()
  if [ "$1" = "--run" ]; then
    extra=(--run-results "$cwd/target/run_results.json" --expect-nodes "$nodes" --bin "$lf"
           --keep "$out/runs/${name//\//_}-$rep.json")
    shift
  fi
  shift # --
  local log="$out/logs/${name//\//_}-$rep.log"
  "$py" "$bench_dir/dag_overhead.py" time --name "$name" --rep "$rep" --results "$results" \
    --log "$log" --cwd "$cwd" --timeout "$((timeout_min * 60))" "${extra[@]}" -- "$@" || {
    failures=$((failures + 1))
    echo "    !!! $name #$rep failed; last lines of $log:"
    tail -n 25 "$log" | sed 's/^/    | /'
    return 0
  }
}

bench_meta_lakeforge
{
  bench_meta_machine
  dev="$(df -P "$out" | awk 'NR==2{print $1}')"
  fstype="$(df -PT "$out" | awk 'NR==2{print $2}')"
  if [ "$fstype" = ext4 ] && [ "$(cat "/sys/fs/ext4/$(basename "$dev")/journal_task" 2>/dev/null)" = "<none>" ]; then
    fstype="ext4 without a journal"
  fi
  echo "disk: $dev ($fstype) holds the projects and lakes; tmpfs variants in ${shm:-(skipped)}"
  echo "load average at start: $(bench_loadavg)"
  echo "$meta_lakeforge"
  echo "lakeforge profile: $profile"
  echo "nodes: $nodes"
  echo "rounds: $reps (round-robin over all measurements; medians reported)"
  echo "timing: wall clock from spawn to wait4 (python3 $("$py" -c 'import platform; print(platform.python_version())')), CPU and peak RSS from wait4's rusage"
} > "$meta"
say "setup"; sed 's/^/    /' "$meta"

# ---------------------------------------------------------------- projects
say "projects: $nodes models"
for mat in view table; do
  "$py" "$bench_dir/gen_dag_project.py" "$nodes" "$out/$mat" --materialized "$mat" | sed 's/^/    /'
done

# use_store MAT VARIANT: write (or remove) the project's lakeforge.yml for a variant.
use_store() {
  local dir="$out/$1"
  case "$2" in
    t1|t2) rm -f "$dir/lakeforge.yml" ;;
    t1-meta-tmpfs) printf 'metadata: %s\n' "$shm/$1/meta.db" > "$dir/lakeforge.yml" ;;
    t1-lake-tmpfs) printf 'lake: %s\nmetadata: %s\n' "$shm/$1/lake" "$shm/$1/lake/_lakeforge.db" > "$dir/lakeforge.yml" ;;
  esac
}
# Files are moved aside, not deleted, until the end: on ext4 without a journal (as on the
# machine of the first measurements), creating files within a minute of deleting thousands
# makes the kernel step over every recently freed inode, which doubled the CPU time of a
# 1,000-view run right after `rm -rf lake`. A run should not pay for the benchmark's cleanup.
trash="$out/trash"
set_aside() { # PATH...: move into $trash (deleted at the end)
  local p
  for p in "$@"; do
    [ -e "$p" ] || continue
    mkdir -p "$trash"
    mv "$p" "$(mktemp -d "$trash/XXXXXX")/"
  done
}
clean() { # MAT: an empty lake, no target/, no run history
  set_aside "$out/$1/lake" "$out/$1/target"
  [ -z "$shm" ] || rm -rf "${shm:?}/$1"
}

variants=(t1 t2)
[ "$tmpfs" = 1 ] && variants+=(t1-meta-tmpfs t1-lake-tmpfs)
for rep in $(seq 1 "$reps"); do
  say "round $rep of $reps"
  echo "  start-up and parse (view project)"
  timed startup/version "$rep" "$out/view" -- "$lf" --version
  timed startup/ls "$rep" "$out/view" -- "$lf" ls
  set_aside "$out/view/target"
  timed startup/compile "$rep" "$out/view" -- "$lf" compile --threads 1
  for mat in view table; do
    for variant in "${variants[@]}"; do
      echo "  ${mat}s, $variant: first run (empty lake), then a second run"
      use_store "$mat" "$variant"
      clean "$mat"
      threads="${variant:1:1}"
      timed "$mat/$variant/first" "$rep" "$out/$mat" --run -- "$lf" run --threads "$threads"
      timed "$mat/$variant/second" "$rep" "$out/$mat" --run -- "$lf" run --threads "$threads"
    done
    use_store "$mat" t1
  done
done

rm -rf "$trash"

# ---------------------------------------------------------------- report
echo "load average at end: $(bench_loadavg)" >> "$meta"
cmdline="bench/dag_overhead.sh"
[ "$tiny" = 1 ] && cmdline="$cmdline --tiny"
if [ "$tiny" = 1 ]; then
  [ "$nodes_set" = 1 ] && cmdline="$cmdline --nodes $nodes"
  [ "$reps_set" = 1 ] && cmdline="$cmdline --reps $reps"
else
  [ "$nodes" != 1000 ] && cmdline="$cmdline --nodes $nodes"
  [ "$reps" != 3 ] && cmdline="$cmdline --reps $reps"
fi
[ "$tmpfs" = 0 ] && cmdline="$cmdline --skip-tmpfs"
[ "$bin" != "$default_bin" ] && cmdline="$cmdline --bin $bin"
{
  echo "Command: \`$cmdline\`"
  echo
  sed 's/^/- /' "$meta"
  echo
  "$py" "$bench_dir/dag_overhead.py" report "$results" "$meta"
} > "$out/report.md"
say "results (also in $out/report.md)"
cat "$out/report.md"
if [ "$failures" -ne 0 ]; then
  echo
  echo "FAILED: $failures measured command(s) failed (see above and $out/logs/)"
  exit 1
fi
echo
echo "OK: every run succeeded and the metadata store recorded every node"
