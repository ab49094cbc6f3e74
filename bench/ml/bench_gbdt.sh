#!/usr/bin/env bash
# GBDT benchmark: lakeforge vs LightGBM vs XGBoost vs scikit-learn HGB on
# synthetic binary data (default 1M rows x 50 features, 200 trees, 31 leaves,
# 255 bins, 2 threads). Prints fit time, predict rows/s and test AUC.
#
#   bench/ml/bench_gbdt.sh                 # 1M rows
#   bench/ml/bench_gbdt.sh --rows 10000    # CI smoke size
#   (extra flags are passed to bench_gbdt.py: --threads, --trees, --skip xgboost, ...)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/bench/.venv-ml"
cd "$ROOT"

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet lightgbm xgboost scikit-learn pyarrow pandas
fi

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LAKEFORGE_ARGS=()
# Prefer the real CLI (`lakeforge ml fit/predict`); fall back to the in-process
# example when the CLI does not build or has no `ml` subcommand yet.
if cargo build --release -p lakeforge-cli >/dev/null 2>&1 \
   && "$TARGET_DIR/release/lakeforge" ml --help >/dev/null 2>&1; then
  LAKEFORGE_ARGS+=(--lakeforge-bin "$TARGET_DIR/release/lakeforge")
fi
cargo build --release -p lakeforge-ml --example bench_fit
LAKEFORGE_ARGS+=(--lakeforge-example "$TARGET_DIR/release/examples/bench_fit")

exec "$VENV/bin/python" "$ROOT/bench/ml/bench_gbdt.py" "${LAKEFORGE_ARGS[@]}" "$@"
