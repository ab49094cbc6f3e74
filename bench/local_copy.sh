#!/usr/bin/env bash
# The local lake's file copy vs object_store's local file system: the measurement behind
# keeping a local lake a folder (crates/lakeforge-engine/src/lake/files.rs) rather than one more
# object store. The pass-through ingest copies Parquet files into a table with std::fs::copy;
# through object_store's LocalFileSystem the same copy is a `put` (each file read into memory)
# or a streamed `put_multipart`.
#
#   bench/local_copy.sh [--tiny] [--files N] [--mb M] [--rounds R]
#
# Writes N files of M MB of random bytes (default 8 × 20 MB, about the ingest benchmark's
# 146 MB of Parquet; a copy does not look at the bytes) under bench/out/local_copy/, then
# copies them each way, R rounds (default 5), round-robin, and prints the medians.
# --tiny: 2 files of 1 MB, 1 round. Builds the example with the workspace's dev profile.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

files=8 mb=20 rounds=5
while [ $# -gt 0 ]; do
  case "$1" in
    --tiny) files=2 mb=1 rounds=1; shift ;;
    --files) files="$2"; shift 2 ;;
    --mb) mb="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

out="$bench_dir/out/local_copy"
rm -rf "$out" && mkdir -p "$out/src"
for i in $(seq 1 "$files"); do
  head -c "$((mb * 1000000))" /dev/urandom > "$out/src/part-$i.parquet"
done
say "building the example (dev profile)"
(cd "$repo" && cargo build --quiet --example local_copy -p lakeforge-engine)
say "copying $files × $mb MB, $rounds rounds"
"$target_dir/debug/examples/local_copy" "$out/src" "$out/dst" "$rounds" | tee "$out/results.tsv"
python3 - "$out/results.tsv" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]) if not l.startswith("mode")]
by = {}
for mode, _, s, _ in rows:
    by.setdefault(mode, []).append(float(s))
base = statistics.median(by["std_fs_copy"])
print("\n| copy | median s | × std::fs::copy |\n|---|---|---|")
for mode, ts in by.items():
    m = statistics.median(ts)
    print(f"| {mode} | {m:.3f} | {m / base:.2f} |")
PY
