#!/usr/bin/env bash
# Batch scoring benchmark: Lakeforge's predict() inside SQL vs LightGBM's Booster.predict on
# the same rows (default 10M rows x 10 features, 200 trees, 31 leaves, 2 threads).
# Both models are trained on the same 200k-row sample with the same parameters; each then
# scores every row of one Parquet file. Timed: read + score + write (Lakeforge: a SQL model
# materialized as a Delta table; LightGBM: pyarrow read, predict, Parquet write) and read +
# score alone (Lakeforge: sum(predict(...)) in SQL; LightGBM: read, predict).
#
#   bench/ml/bench_scoring.sh                      # 10M rows, release build
#   PROFILE=dev bench/ml/bench_scoring.sh --rows 20000 --trees 20   # CI smoke size
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/bench/.venv-ml"
cd "$ROOT"

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet lightgbm xgboost scikit-learn pyarrow pandas
fi

TARGET_DIR="$("$ROOT"/scripts/target-dir)"
PROFILE="${PROFILE:-release}"
OUT_DIR="$TARGET_DIR/$([[ $PROFILE == dev ]] && echo debug || echo "$PROFILE")"
# The workspace-hack crate gives every build the same dependency features, so at PROFILE=dev
# this reuses the test build.
cargo build --profile "$PROFILE" --workspace --bins
exec "$VENV/bin/python" "$ROOT/bench/ml/bench_scoring.py" \
  --lakeforge-bin "${LAKEFORGE_BIN:-$OUT_DIR/lakeforge}" --profile "$PROFILE" "$@"
