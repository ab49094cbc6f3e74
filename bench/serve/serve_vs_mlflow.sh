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
# Installs its own peers: wrk (apt-get, when missing) and a venv bench/.venv-serve with mlflow,
# lightgbm, pandas and pyarrow.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/bench/.venv-serve"
cd "$ROOT"

if ! command -v wrk >/dev/null; then
  echo "installing wrk ..." >&2
  sudo=""
  [[ $(id -u) == 0 ]] || sudo="sudo"
  $sudo apt-get install -y -q wrk >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q wrk >/dev/null; } \
    || { echo "wrk is not installed and apt-get could not install it; hint: install wrk (https://github.com/wg/wrk)" >&2; exit 1; }
fi
if ! "$VENV/bin/python" -c "import mlflow, lightgbm, pandas, pyarrow" 2>/dev/null; then
  echo "installing mlflow, lightgbm, pandas into $VENV ..." >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "mlflow>=2.9,<4" lightgbm pandas pyarrow
fi

TARGET_DIR="$("$(dirname "$0")"/../../scripts/target-dir)"
PROFILE="${PROFILE:-release}"
OUT_DIR="$TARGET_DIR/$([[ $PROFILE == dev ]] && echo debug || echo "$PROFILE")"
# The binary as the other benchmarks build it; the workspace-hack crate gives every build the
# same dependency features, so this reuses the test build. The echo example is lakeforge-serve's
# own (no DataFusion).
# LAKEFORGE_BIN=/path/to/lakeforge measures that binary instead and skips the workspace build.
if [[ -z ${LAKEFORGE_BIN:-} ]]; then
  cargo build --profile "$PROFILE" --workspace --bins
fi
cargo build --profile "$PROFILE" -p lakeforge-serve --example echo
exec "$VENV/bin/python" "$ROOT/bench/serve/bench_serve.py" \
  --lakeforge-bin "${LAKEFORGE_BIN:-$OUT_DIR/lakeforge}" --echo-bin "$OUT_DIR/examples/echo" \
  --profile "$PROFILE" "$@"
