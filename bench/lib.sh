# shellcheck shell=bash
# bench/lib.sh: the pieces every benchmark script needs, written once. Each script sources it
# first, after `set -euo pipefail`:
#
#   # shellcheck source=SCRIPTDIR/lib.sh
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"      # from bench/ (../lib.sh from bench/*/)
#
# Why: the benchmarks are separate scripts, each run alone (CI runs them all at a tiny size), and
# each used to carry its own copy of the argument parsing, the binary checks, the venv setup and
# the timing wrappers. The copies had begun to drift (a venv check here, a log name there); one
# copy keeps the scripts alike. Everything a script does differently stays in that script.
# bench/common.py is the same for the Python helpers.
#
# On sourcing, it sets
#   bench_dir     this folder (bench/), absolute
#   repo          the repository's root
#   target_dir    the folder cargo builds into, as scripts/target-dir says ($CARGO_TARGET_DIR,
#                 else ./target): one build serves the tests and the benchmarks
#   default_bin   $target_dir/debug/lakeforge, what `cargo build` / `cargo test` leave there
#   venvs         the folder of the peers' Python venvs (outside the checkout; see below)
#   bin           $LAKEFORGE_BIN when set, else default_bin (--bin overrides it, see bench_arg)
# and offers the functions below, each documented where it is defined:
#   say, die, usage                     step headers, fatal errors, the script's help
#   bench_arg                           the flags the scripts share: --bin, --tiny,
#                                       --timeout-min, --mem-limit-gb, -h
#   bench_check_bin, bench_copy_bin     the binary under test: checked, named, copied
#   bench_cargo_profile                 PROFILE and its folder, for the scripts that build
#   bench_venv, bench_apt_install,      the peers: a Python venv, a Debian package, GNU time
#   bench_gnu_time
#   bench_meta_machine, bench_loadavg,  the lines of meta.txt that every report starts with
#   bench_meta_lakeforge
#   measure, measure_or_fail            one command timed by bench/measure.py
#
# Their results are variables of the script: bin and profile (bench_check_bin), lf
# (bench_copy_bin), PROFILE and profile_dir (bench_cargo_profile), py (bench_venv), rss_source
# (bench_gnu_time), meta_lakeforge (bench_meta_lakeforge), measure_log (measure), bench_nargs
# (bench_arg). They read these of the script when they need them: out (the output folder),
# results (results.tsv), py (a python, e.g. bench_venv's), lf (the copied binary), timeout_min,
# mem_limit_gb, failures (a count of failed steps).

# Set here for the sourcing script; checked alone, shellcheck sees neither their use nor the
# script's variables the functions read.
# shellcheck disable=SC2034,SC2154

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$bench_dir/.." && pwd)"
target_dir="$("$repo"/scripts/target-dir)"
default_bin="$target_dir/debug/lakeforge"
# The peers' Python venvs live outside the checkout, as the cargo build does, so that a fresh
# clone on the same machine (CI's) reuses them rather than installing dbt, Great Expectations,
# LightGBM, XGBoost and MLflow again: $LAKEFORGE_BENCH_VENVS, default ~/.cache/lakeforge-bench-venvs
# (dbt/: dbt-core, dbt-duckdb, GX; ingest/; ml/; serve/).
venvs="${LAKEFORGE_BENCH_VENVS:-$HOME/.cache/lakeforge-bench-venvs}"
bin="${LAKEFORGE_BIN:-$default_bin}"

say() { printf '\n==> %s\n' "$*"; }
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

# usage: the script's leading comment block (after the #! line), without the "# ".
usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }

# bench_arg "$@": parses the flag at $1 if it is one the scripts share, and sets bench_nargs to
# the number of words it took; the script's parsing loop ends in
#
#     *) bench_arg "$@"; shift "$bench_nargs" ;;
#
# after its own flags. A flag is accepted by the scripts that set its variable before parsing
# (its default), so each script keeps exactly its own set of flags:
#   --bin PATH          bin=PATH             (every script that parses with bench_arg)
#   --tiny              tiny=1               (scripts that set tiny)
#   --timeout-min M     timeout_min=M        (scripts that set timeout_min)
#   --mem-limit-gb G    mem_limit_gb=G       (scripts that set mem_limit_gb)
#   -h, --help          prints usage, exits 0
# A value may also follow an `=` (--bin=PATH). Anything else prints the usage and exits 2.
bench_arg() {
  local name="${1%%=*}" var=""
  case "$name" in
    -h | --help)
      if [ "$1" = "$name" ]; then usage; exit 0; fi ;;
    --tiny)
      if [ "$1" = "$name" ] && [ -n "${tiny+set}" ]; then tiny=1; bench_nargs=1; return 0; fi ;;
    --bin) var=bin ;;
    --timeout-min) var=timeout_min ;;
    --mem-limit-gb) var=mem_limit_gb ;;
  esac
  if [ -n "$var" ] && [ -n "${!var+set}" ]; then
    if [ "$1" != "$name" ]; then
      printf -v "$var" '%s' "${1#*=}"; bench_nargs=1
    elif [ $# -ge 2 ]; then
      printf -v "$var" '%s' "$2"; bench_nargs=2
    else
      echo "$name needs a value" >&2; usage >&2; exit 2
    fi
    return 0
  fi
  echo "unknown argument: $1" >&2
  usage >&2
  exit 2
}

# bench_check_bin: dies unless $bin is an executable; makes bin absolute, and sets profile to the
# cargo profile it was built with (from its folder), as the reports name it.
bench_check_bin() {
  [ -x "$bin" ] || die "no lakeforge binary at $bin (build it with: cargo build -p lakeforge-cli, or pass --bin PATH)"
  bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
  case "$bin" in
    */release/*) profile="release profile ([profile.release] in Cargo.toml: thin LTO, 16 codegen units)" ;;
    */debug/*) profile="dev profile ([profile.dev] in Cargo.toml: workspace crates at opt-level 1, dependencies at opt-level 2)" ;;
    *) profile="unknown profile (binary outside a cargo target/{debug,release} folder)" ;;
  esac
}

# bench_copy_bin DIR: copies $bin to DIR/lakeforge and sets lf to it. The benchmark runs the copy,
# so a rebuild in the cargo target folder during the run cannot swap the binary between steps.
bench_copy_bin() {
  mkdir -p "$1"
  lf="$1/lakeforge"
  cp "$bin" "$lf.tmp" && mv "$lf.tmp" "$lf"
}

# bench_cargo_profile: for the scripts that build what they measure (bench/ml, bench/serve).
# PROFILE is the cargo profile to build (default release: the timings worth reporting; dev
# reuses the test build, since the workspace-hack crate gives every build the same dependency
# features: CI runs them so at a tiny size). Sets profile_dir to the folder cargo builds it
# into, and bin to $LAKEFORGE_BIN, else that folder's lakeforge.
bench_cargo_profile() {
  PROFILE="${PROFILE:-release}"
  if [ "$PROFILE" = dev ]; then profile_dir="$target_dir/debug"; else profile_dir="$target_dir/$PROFILE"; fi
  bin="${LAKEFORGE_BIN:-$profile_dir/lakeforge}"
}

# bench_venv DIR IMPORTS PACKAGE...: a Python venv at DIR in which `import IMPORTS` works (e.g.
# IMPORTS="duckdb, pandas"). When it does not (the first run, or a package missing), creates the
# venv if there is none (with a current pip) and pip-installs the PACKAGEs (pip specifiers) into
# it. Later runs reuse it. Sets py to its python.
bench_venv() {
  local dir="$1" imports="$2"
  shift 2
  py="$dir/bin/python"
  if "$py" -c "import $imports" 2>/dev/null; then return 0; fi
  echo "installing $* into $dir ..." >&2
  if [ ! -x "$py" ]; then
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  fi
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
}

# bench_apt_install PACKAGE: apt-get install (through sudo unless root), after an apt-get update
# when the first try fails. Quiet; returns apt-get's status.
bench_apt_install() {
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get install -y -qq "$1" >/dev/null 2>&1 \
    || { "${sudo[@]}" apt-get update -qq >/dev/null 2>&1 && "${sudo[@]}" apt-get install -y -qq "$1" >/dev/null 2>&1; }
}

# bench_gnu_time: installs GNU time (Debian package `time`; as root only, a failure is not fatal),
# which bench/measure.py reads peak RSS from, and sets rss_source to the source the reports name.
bench_gnu_time() {
  if [ ! -x /usr/bin/time ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    say "installing GNU time (Debian package 'time')"
    bench_apt_install time || true
  fi
  if [ -x /usr/bin/time ]; then
    rss_source="GNU time (/usr/bin/time -v), maximum resident set size"
  else
    rss_source="resource.getrusage(RUSAGE_CHILDREN).ru_maxrss (GNU time not installed)"
  fi
}

# bench_meta_machine: meta.txt's date, machine and cpu lines.
bench_meta_machine() {
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GiB RAM ($(uname -sr))"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
}

# bench_loadavg: the 1, 5 and 15-minute load averages (for "load average at start/end").
bench_loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# bench_meta_lakeforge: sets meta_lakeforge to meta.txt's lakeforge line: the version $lf prints,
# $bin's size and build time, the source commit ("+ uncommitted changes" when crates/ or Cargo.*
# differ from it). Fails when $lf cannot print its version.
bench_meta_lakeforge() {
  local version rev
  version="$("$lf" --version)"
  rev="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  git -C "$repo" diff --quiet HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null || rev="$rev + uncommitted changes"
  meta_lakeforge="lakeforge: $version, binary $bin ($(du -m "$bin" | cut -f1) MiB, built $(date -u -r "$bin" '+%Y-%m-%d %H:%M UTC'), source $rev)"
}

# measure NAME CWD [--timeout S] [--ok-exit CODES] -- CMD...: runs CMD in CWD through
# bench/measure.py (wall clock, CPU and peak RSS; killed past S seconds, default $timeout_min
# minutes, or past $mem_limit_gb GiB; CODES: the exit codes that count as success, default 0),
# appends its line to $results and returns measure.py's exit code (124: timeout, 137: memory
# cap). CMD's output goes to $out/logs/NAME.log (NAME's slashes as _), whose path measure_log
# holds afterwards; a repeated NAME overwrites it, or, with measure_keep_logs=1, gets a new one.
measure() {
  local name="$1" cwd="$2" timeout_s=$((timeout_min * 60)) ok_exit=()
  shift 2
  while [ "$1" != "--" ]; do
    case "$1" in
      --timeout) timeout_s="$2" ;;
      --ok-exit) ok_exit=(--ok-exit "$2") ;;
      *) die "measure: unknown option $1" ;;
    esac
    shift 2
  done
  shift
  mkdir -p "$out/logs"
  measure_log="$out/logs/${name//\//_}.log"
  if [ "${measure_keep_logs:-0}" = 1 ] && [ -e "$measure_log" ]; then
    measure_log="$out/logs/${name//\//_}.$(date +%s%N).log"
  fi
  "$py" "$bench_dir/measure.py" --name "$name" --results "$results" --log "$measure_log" --cwd "$cwd" \
    --timeout "$timeout_s" --mem-limit-gb "$mem_limit_gb" "${ok_exit[@]}" -- "$@"
}

# measure_or_fail: measure, and when the command fails, counts it in failures and prints the last
# lines of its log instead of stopping the script. Returns the same code as measure.
measure_or_fail() {
  local rc=0
  measure "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then
    failures=$((failures + 1))
    echo "    !!! $1 failed (exit $rc); last lines of $measure_log:"
    tail -n 25 "$measure_log" | sed 's/^/    | /'
  fi
  return "$rc"
}
