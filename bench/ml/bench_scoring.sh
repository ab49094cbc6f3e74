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
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

cd "$repo"
bench_venv "$venvs/ml" "lightgbm, xgboost, sklearn, pyarrow, pandas" \
  lightgbm xgboost scikit-learn pyarrow pandas
bench_cargo_profile
cargo build --profile "$PROFILE" --workspace --bins
exec "$py" "$bench_dir/ml/bench_scoring.py" --lakeforge-bin "$bin" --profile "$PROFILE" "$@"
