#!/usr/bin/env bash
# GBDT benchmark: lakeforge vs LightGBM vs XGBoost vs scikit-learn HGB on
# synthetic binary data (default 1M rows x 50 features, 200 trees, 31 leaves,
# 255 bins, 2 threads). Prints fit time, predict rows/s and test AUC.
#
#   bench/ml/bench_gbdt.sh                 # 1M rows
#   PROFILE=dev bench/ml/bench_gbdt.sh --rows 10000    # CI smoke size, reusing the test build
#   bench/ml/bench_gbdt.sh --data mixed --rows 300000  # missing values and categorical columns
#   (extra flags are passed to bench_gbdt.py: --threads, --trees, --skip xgboost, ...)
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

cd "$repo"
bench_venv "$venvs/ml" "lightgbm, xgboost, sklearn, pyarrow, pandas" \
  lightgbm xgboost scikit-learn pyarrow pandas
bench_cargo_profile
cargo build --profile "$PROFILE" --workspace --bins --examples
exec "$py" "$bench_dir/ml/bench_gbdt.py" --lakeforge-bin "$bin" \
  --lakeforge-example "$profile_dir/examples/bench_fit" "$@"
