#!/usr/bin/env bash
# Online serving benchmark: `lakeforge serve` vs `mlflow models serve` (LightGBM, --env-manager
# local) vs a trivial axum JSON echo server (the floor), each sent the same one-row prediction
# request by wrk (-t2 -c32, 30 s after a 5 s warm-up). The model: a 200-tree GBDT on 10 numeric
# features, trained once by Lakeforge (an ML model node) and once by LightGBM with the same
# parameters. Servers run one at a time with as many workers as cores. Prints a markdown table.
#
#   bench/serve/serve_vs_mlflow.sh                         # full size, release build
#   bench/serve/serve_vs_mlflow.sh --duration 60 --connections 64
#   PROFILE=dev bench/serve/serve_vs_mlflow.sh --tiny      # CI smoke size (seconds per server)
#   LAKEFORGE_BIN=path/to/lakeforge bench/serve/serve_vs_mlflow.sh   # another binary, no build
#
# Installs its own peers: wrk (apt-get, when missing) and a venv $venvs/serve (see bench/lib.sh) with mlflow,
# lightgbm, pandas and pyarrow.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

cd "$repo"
if ! command -v wrk >/dev/null; then
  echo "installing wrk ..." >&2
  bench_apt_install wrk \
    || { echo "wrk is not installed and apt-get could not install it; hint: install wrk (https://github.com/wg/wrk)" >&2; exit 1; }
fi
bench_venv "$venvs/serve" "mlflow, lightgbm, pandas, pyarrow" "mlflow>=2.9,<4" lightgbm pandas pyarrow

bench_cargo_profile
# The binary as the other benchmarks build it. The echo example is lakeforge-serve's own (no
# DataFusion). LAKEFORGE_BIN=/path/to/lakeforge measures that binary instead and skips the
# workspace build.
if [[ -z ${LAKEFORGE_BIN:-} ]]; then
  cargo build --profile "$PROFILE" --workspace --bins
fi
cargo build --profile "$PROFILE" -p lakeforge-serve --example echo
exec "$py" "$bench_dir/serve/bench_serve.py" \
  --lakeforge-bin "$bin" --echo-bin "$profile_dir/examples/echo" \
  --profile "$PROFILE" "$@"
