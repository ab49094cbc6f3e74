#!/usr/bin/env bash
# GBDT benchmark: lakeforge vs LightGBM vs XGBoost vs scikit-learn HGB on
# synthetic binary data (default 1M rows x 50 features, 200 trees, 31 leaves,
# 255 bins, 2 threads). Prints fit time, predict rows/s and test AUC.
#
#   bench/ml/bench_gbdt.sh                 # 1M rows
#   PROFILE=dev bench/ml/bench_gbdt.sh --rows 10000    # CI smoke size, reusing the test build
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

TARGET_DIR="$("$ROOT"/scripts/target-dir)"
# PROFILE=dev reuses the test build (CI runs this at a tiny size that way); timings worth
# reporting come from the default, release.
PROFILE="${PROFILE:-release}"
OUT_DIR="$TARGET_DIR/$([[ $PROFILE == dev ]] && echo debug || echo "$PROFILE")"
LAKEFORGE_ARGS=()
# The workspace-hack crate gives every build the same dependency features, so at PROFILE=dev
# this reuses the test build.
cargo build --profile "$PROFILE" --workspace --bins --examples
LAKEFORGE_ARGS+=(--lakeforge-bin "${LAKEFORGE_BIN:-$OUT_DIR/lakeforge}")
LAKEFORGE_ARGS+=(--lakeforge-example "$OUT_DIR/examples/bench_fit")

exec "$VENV/bin/python" "$ROOT/bench/ml/bench_gbdt.py" "${LAKEFORGE_ARGS[@]}" "$@"
