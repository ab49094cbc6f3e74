"""GBDT benchmark: lakeforge vs LightGBM vs XGBoost vs scikit-learn HGB.

Generates synthetic binary data (same splitmix64 generator as
crates/lakeforge-ml/examples/bench_fit.rs, so every engine sees identical
rows), then times fit / predict and reports test AUC. Called by
bench_gbdt.sh; usable directly:

    python bench/ml/bench_gbdt.py --rows 200000 --lakeforge-example target/release/examples/bench_fit
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ARGS = argparse.ArgumentParser()
ARGS.add_argument("--rows", type=int, default=1_000_000)
ARGS.add_argument("--test-rows", type=int, default=0, help="default rows/4 (min 1000)")
ARGS.add_argument("--features", type=int, default=50)
ARGS.add_argument("--trees", type=int, default=200)
ARGS.add_argument("--leaves", type=int, default=31)
ARGS.add_argument("--bins", type=int, default=255)
ARGS.add_argument("--threads", type=int, default=2)
ARGS.add_argument("--seed", type=int, default=42)
ARGS.add_argument("--lakeforge-bin", help="lakeforge CLI binary (uses `ml fit/predict/eval`)")
ARGS.add_argument("--lakeforge-example", help="bench_fit example binary (fallback without the CLI)")
ARGS.add_argument("--skip", default="", help="comma list of engines to skip")
ARGS.add_argument("--data", choices=("numeric", "mixed"), default="numeric",
                  help="numeric: all-float features; mixed: numeric with missing values plus "
                       "categorical columns, each engine told which columns are categorical")
opts = ARGS.parse_args()
MIXED_TRAIN = MIXED_TEST = None  # (numeric matrix, category codes) of --data mixed

# Thread counts must be fixed before numpy/sklearn load their OpenMP runtimes.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(opts.threads)

import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

G = np.uint64(0x9E3779B97F4A7C15)
C1 = np.uint64(0xBF58476D1CE4E5B9)
C2 = np.uint64(0x94D049BB133111EB)


def unif(seed, idx):
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + idx.astype(np.uint64) * G
        z = (z ^ (z >> np.uint64(30))) * C1
        z = (z ^ (z >> np.uint64(27))) * C2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def generate(seed, start, end, p):
    rows = np.arange(start, end, dtype=np.uint64)
    idx = rows[:, None] * np.uint64(p) + np.arange(p, dtype=np.uint64)[None, :]
    x = unif(seed, idx) * 2.0 - 1.0
    r3 = rows * np.uint64(3)
    noise = (unif(seed + 1, r3) + unif(seed + 1, r3 + np.uint64(1)) + unif(seed + 1, r3 + np.uint64(2)) - 1.5) * 2.0
    logit = (1.5 * x[:, 0] - 2.0 * x[:, 1] * x[:, 2] + 2.0 * x[:, 3] * x[:, 3] - 0.7
             + 0.8 * (x[:, 4] > 0.0) - 0.7 * x[:, 5] + 0.5 * x[:, 6] * x[:, 7])
    y = (logit + noise > 0.0).astype(np.int64)
    return x, y


# Mixed data: the last len(CARDS) columns are categorical with these many categories (at most
# 250, so scikit-learn's HGB, which needs fewer categories than bins, takes them natively).
CARDS = (4, 12, 40, 120, 250)
MISSING_NUMERIC = 10  # numeric columns 0..9 have 15% missing values
CAT_NULLS = 0.05


def generate_mixed(seed, start, end, p):
    """Numeric features with missing values and categorical ones with and without nulls.

    Returns (numeric float matrix with NaN, list of int category arrays with -1 for null, y).
    The label depends on numeric values, on whether some are missing, and on per-category
    effects, so an engine has to split categories and route missing values well to score.
    """
    n_num = p - len(CARDS)
    rows = np.arange(start, end, dtype=np.uint64)
    x, _ = generate(seed, start, end, n_num)
    miss_idx = rows[:, None] * np.uint64(MISSING_NUMERIC) + np.arange(MISSING_NUMERIC, dtype=np.uint64)[None, :]
    missing = unif(seed + 3, miss_idx) < 0.15
    x_obs = x.copy()
    x_obs[:, :MISSING_NUMERIC][missing] = np.nan
    r3 = rows * np.uint64(3)
    noise = (unif(seed + 1, r3) + unif(seed + 1, r3 + np.uint64(1)) + unif(seed + 1, r3 + np.uint64(2)) - 1.5) * 2.0
    # Missing values carry signal of their own (missing-not-at-random), as in real data.
    x0 = np.where(missing[:, 0], 0.0, x[:, 0])
    logit = (1.5 * x0 + 0.9 * missing[:, 0] - 2.0 * x[:, 1] * x[:, 2] + 2.0 * x[:, 3] * x[:, 3]
             - 0.6 * missing[:, 3] - 0.7 + 0.8 * (x[:, 11] > 0.0) - 0.7 * x[:, 12])
    cats = []
    for k, card in enumerate(CARDS):
        c = np.floor(unif(seed + 20 + k, rows) * card).astype(np.int64)
        effect = (unif(seed + 40 + k, np.arange(card, dtype=np.uint64)) * 2.0 - 1.0) * 1.2
        null = unif(seed + 60 + k, rows) < CAT_NULLS
        logit = logit + np.where(null, 0.5, effect[c])
        cats.append(np.where(null, -1, c))
    y = (logit + noise > 0.0).astype(np.int64)
    return x_obs, cats, y


def mixed_frame(x, cats, strings):
    """A pandas frame of the mixed data: categorical columns as pandas categoricals (with the
    same categories in train and test), as text ('c17') when `strings`, nulls as missing."""
    import pandas as pd
    cols = {f"f{j}": x[:, j] for j in range(x.shape[1])}
    for k, (card, c) in enumerate(zip(CARDS, cats)):
        codes = c.astype(np.int32)
        names = [f"c{v}" for v in range(card)] if strings else list(range(card))
        cols[f"cat{k}"] = pd.Categorical.from_codes(codes, categories=names)
    return pd.DataFrame(cols)


def timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def single_row_us(predict_one, xte, n=2000):
    """Median latency (µs) of predicting one row at a time, after warm-up."""
    rows = [xte[i:i + 1] for i in range(min(n, len(xte)))]
    for r in rows[:200]:
        predict_one(r)
    times = []
    for r in rows:
        t = time.perf_counter()
        predict_one(r)
        times.append((time.perf_counter() - t) * 1e6)
    times.sort()
    return times[len(times) // 2]


def bench_lightgbm(xtr, ytr, xte, yte):
    import lightgbm as lgb
    params = dict(objective="binary", num_leaves=opts.leaves, max_bin=opts.bins, learning_rate=0.1,
                  num_threads=opts.threads, verbosity=-1, seed=opts.seed)
    # pandas categorical columns are LightGBM categoricals (categorical_feature="auto").
    model, fit_s = timed(lambda: lgb.train(params, lgb.Dataset(xtr, ytr), num_boost_round=opts.trees))
    pred, pred_s = timed(lambda: model.predict(xte))
    one = single_row_us(lambda r: model.predict(r, num_threads=1), xte)
    return fit_s, pred_s, roc_auc_score(yte, pred), one


def bench_xgboost(xtr, ytr, xte, yte):
    import xgboost as xgb
    params = dict(objective="binary:logistic", tree_method="hist", grow_policy="lossguide",
                  max_leaves=opts.leaves, max_depth=0, max_bin=opts.bins, eta=0.1,
                  nthread=opts.threads, seed=opts.seed)

    cat = opts.data == "mixed"

    def fit():
        dm = xgb.DMatrix(xtr, ytr, nthread=opts.threads, enable_categorical=cat)
        return xgb.train(params, dm, num_boost_round=opts.trees)

    model, fit_s = timed(fit)
    pred, pred_s = timed(lambda: model.predict(xgb.DMatrix(xte, nthread=opts.threads, enable_categorical=cat)))
    one = single_row_us(lambda r: model.inplace_predict(r), xte)
    return fit_s, pred_s, roc_auc_score(yte, pred), one


def bench_sklearn(xtr, ytr, xte, yte):
    from sklearn.ensemble import HistGradientBoostingClassifier
    m = HistGradientBoostingClassifier(max_iter=opts.trees, max_leaf_nodes=opts.leaves, max_bins=opts.bins,
                                       learning_rate=0.1, early_stopping=False, random_state=opts.seed,
                                       categorical_features="from_dtype")
    _, fit_s = timed(lambda: m.fit(xtr, ytr))
    pred, pred_s = timed(lambda: m.predict_proba(xte)[:, 1])
    one = single_row_us(lambda r: m.predict_proba(r), xte, n=500)
    return fit_s, pred_s, roc_auc_score(yte, pred), one


def bench_lakeforge_cli(xtr, ytr, xte, yte):
    import pandas as pd
    with tempfile.TemporaryDirectory() as d:
        if opts.data == "mixed":
            # Text categories, written as Parquet dictionary columns: lakeforge reads string
            # columns as categoricals, nulls as missing.
            tr, te = mixed_frame(*MIXED_TRAIN, strings=True), mixed_frame(*MIXED_TEST, strings=True)
        else:
            cols = [f"f{j}" for j in range(xtr.shape[1])]
            tr = pd.DataFrame(xtr, columns=cols)
            te = pd.DataFrame(xte, columns=cols)
        tr["label"] = ytr
        te["label"] = yte
        tr.to_parquet(f"{d}/train.parquet")
        te.to_parquet(f"{d}/test.parquet")
        b = opts.lakeforge_bin
        fit_cmd = [b, "ml", "fit", "--input", f"{d}/train.parquet", "--target", "label", "--task", "binary",
                   "--param", f"num_iterations={opts.trees}", "--param", f"num_leaves={opts.leaves}",
                   "--param", f"max_bin={opts.bins}", "--param", f"num_threads={opts.threads}",
                   "--param", "learning_rate=0.1", "--output", f"{d}/m.lfm"]
        _, fit_s = timed(lambda: subprocess.run(fit_cmd, check=True, capture_output=True))
        pred_cmd = [b, "ml", "predict", "--model", f"{d}/m.lfm", "--input", f"{d}/test.parquet",
                    "--output", f"{d}/pred.parquet"]
        env = dict(os.environ, RAYON_NUM_THREADS=str(opts.threads))
        _, pred_s = timed(lambda: subprocess.run(pred_cmd, check=True, capture_output=True, env=env))
        pred = pd.read_parquet(f"{d}/pred.parquet")["prediction"].to_numpy()
        return fit_s, pred_s, roc_auc_score(yte, pred), float("nan")


def bench_lakeforge_example(n_test):
    cmd = [opts.lakeforge_example, "--rows", str(opts.rows), "--test-rows", str(n_test),
           "--features", str(opts.features), "--trees", str(opts.trees), "--leaves", str(opts.leaves),
           "--bins", str(opts.bins), "--threads", str(opts.threads), "--seed", str(opts.seed)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    print(f"lakeforge single row: one-row RecordBatch {r['row_batch_us_p50']:.2f} µs (p50), "
          f"predict_row {r['predict_row_us_p50']:.2f} µs (p50), {r['predict_row_us_p99']:.2f} µs (p99)",
          file=sys.stderr)
    return r["fit_s"], r["predict_s"], r["auc"], r["predict_row_us_p50"]


def main():
    global MIXED_TRAIN, MIXED_TEST
    n_test = opts.test_rows or max(opts.rows // 4, 1000)
    if opts.data == "mixed":
        if opts.features < len(CARDS) + 13:
            sys.exit(f"--data mixed needs --features >= {len(CARDS) + 13}")
        t = time.perf_counter()
        xn, cats, ytr = generate_mixed(opts.seed, 0, opts.rows, opts.features)
        MIXED_TRAIN = (xn, cats)
        xn_te, cats_te, yte = generate_mixed(opts.seed, opts.rows, opts.rows + n_test, opts.features)
        MIXED_TEST = (xn_te, cats_te)
        gen_s = time.perf_counter() - t
        xtr, xte = mixed_frame(xn, cats, strings=False), mixed_frame(xn_te, cats_te, strings=False)
        print(f"data: mixed, {opts.features - len(CARDS)} numeric ({MISSING_NUMERIC} with 15% missing) + "
              f"{len(CARDS)} categorical columns ({', '.join(map(str, CARDS))} categories, "
              f"{CAT_NULLS:.0%} null)", file=sys.stderr)
    else:
        (xtr, ytr), gen_s = timed(lambda: generate(opts.seed, 0, opts.rows, opts.features))
        xte, yte = generate(opts.seed, opts.rows, opts.rows + n_test, opts.features)
    print(f"data: {opts.rows} train / {n_test} test rows x {opts.features} features "
          f"(positives {ytr.mean():.3f}), generated in {gen_s:.1f}s", file=sys.stderr)
    print(f"settings: {opts.trees} trees, {opts.leaves} leaves, {opts.bins} bins, {opts.threads} threads",
          file=sys.stderr)

    skip = set(filter(None, opts.skip.split(",")))
    engines = []
    if opts.lakeforge_bin and "lakeforge" not in skip:
        engines.append(("lakeforge (cli, incl. parquet io)", lambda: bench_lakeforge_cli(xtr, ytr, xte, yte)))
    # The in-process example generates the numeric data itself; it has no mixed data.
    if opts.lakeforge_example and "lakeforge" not in skip:
        if opts.data == "numeric":
            engines.append(("lakeforge (in-process)", lambda: bench_lakeforge_example(n_test)))
        else:
            print("lakeforge (in-process) skipped: the example has numeric data only", file=sys.stderr)
    engines += [("lightgbm", lambda: bench_lightgbm(xtr, ytr, xte, yte)),
                ("xgboost", lambda: bench_xgboost(xtr, ytr, xte, yte)),
                ("sklearn-hgb", lambda: bench_sklearn(xtr, ytr, xte, yte))]

    rows = []
    for name, run in engines:
        if name.split(" ")[0] in skip:
            continue
        try:
            fit_s, pred_s, auc, one_us = run()
            rows.append((name, fit_s, n_test / pred_s, auc, one_us))
        except Exception as e:  # keep benchmarking the other engines
            print(f"{name}: failed: {e}", file=sys.stderr)
            rows.append((name, float("nan"), float("nan"), float("nan"), float("nan")))
        print(f"  done {name}", file=sys.stderr)

    print(f"\n{'engine':<34} {'fit s':>9} {'predict rows/s':>15} {'1-row µs':>9} {'test AUC':>9}")
    for name, fit_s, rps, auc, one_us in rows:
        print(f"{name:<34} {fit_s:>9.2f} {rps:>15,.0f} {one_us:>9.1f} {auc:>9.4f}")


if __name__ == "__main__":
    main()
