"""Batch scoring: Lakeforge predict() in SQL vs LightGBM Booster.predict (see bench_scoring.sh).

Writes a Lakeforge project to a temp folder whose source `bench.score` is the Parquet file to
score, an ML model `m` trained on `bench.train`, and a SQL model `scores` that applies it.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

FEATURES = 10


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES)).astype(np.float64)
    z = 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.5 * x[:, 2] * x[:, 3] + np.sin(2 * x[:, 4]) + 0.3 * rng.normal(size=n)
    y = (z > 0).astype(np.int64)
    cols = {"id": np.arange(n, dtype=np.int64)}
    for j in range(FEATURES):
        cols[f"f{j}"] = x[:, j]
    cols["label"] = y
    return pa.table(cols)


def write_parquet(table, path):
    # Row groups of 1M rows, as most writers produce.
    pq.write_table(table, path, row_group_size=1 << 20, compression="snappy")


def run(cmd, cwd, env=None):
    """common.run, timed: (seconds, stdout)."""
    t = time.perf_counter()
    out = common.run(cmd, cwd, env)
    return time.perf_counter() - t, out


def auc(y, p):
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    pos = y.sum()
    return (ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * (len(y) - pos))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--train-rows", type=int, default=200_000)
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lakeforge-bin", required=True)
    ap.add_argument("--profile", default="release")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder")
    a = ap.parse_args()

    import lightgbm as lgb

    work = tempfile.mkdtemp(prefix="lf-scoring-")
    data = os.path.join(work, "data")
    os.makedirs(data)
    score_path = os.path.join(data, "score.parquet")
    train_path = os.path.join(data, "train.parquet")
    print(f"generating {a.rows:,} rows x {FEATURES} features ...", flush=True)
    score = make_data(a.rows, 1)
    train = make_data(min(a.train_rows, a.rows), 2)
    write_parquet(score, score_path)
    write_parquet(train, train_path)
    mb = os.path.getsize(score_path) / 1e6
    del score

    feats = [f"f{j}" for j in range(FEATURES)]
    params = {
        "objective": "binary",
        "num_iterations": a.trees,
        "num_leaves": a.leaves,
        "learning_rate": 0.1,
        "min_data_in_leaf": 20,
        "num_threads": a.threads,
        "seed": 1,
        "verbose": -1,
    }

    # --- Lakeforge project -------------------------------------------------------------
    proj = os.path.join(work, "proj")
    os.makedirs(os.path.join(proj, "models"))
    with open(os.path.join(proj, "dbt_project.yml"), "w") as f:
        f.write("name: scoring\nmodels:\n  scoring:\n    +materialized: table\n")
    with open(os.path.join(proj, "lakeforge.yml"), "w") as f:
        f.write(f"threads: {a.threads}\n")
    lf_params = "\n".join(
        f"      {k}: {v}" for k, v in params.items() if k not in ("verbose", "num_threads")
    )
    with open(os.path.join(proj, "models", "schema.yml"), "w") as f:
        f.write(
            f"""version: 2
sources:
  - name: bench
    tables:
      - name: score
        external: {{location: {score_path}}}
      - name: train
        external: {{location: {train_path}}}
ml_models:
  - name: m
    training: source('bench', 'train')
    target: label
    task: binary
    features: [{", ".join(feats)}]
    params:
{lf_params}
    split: {{strategy: random, test_fraction: 0.1}}
"""
        )
    args = ", ".join(feats)
    with open(os.path.join(proj, "models", "scores.sql"), "w") as f:
        f.write(f"select id, predict('m', {args}) as p from {{{{ source('bench', 'score') }}}}\n")

    lf = os.path.abspath(a.lakeforge_bin)
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    t_train, _ = run([lf, "train", "-s", "m"], proj, env)
    print(f"lakeforge: trained {a.trees} trees in {t_train:.2f}s", flush=True)
    t_lf_sum, out = run(
        [lf, "sql", "--format", "csv", f"select count(*) as n, sum(predict('m', {args})) as s from bench.score"],
        proj,
        env,
    )
    # bench.score is a source: query it through a model-free statement by its relation.
    t_lf_e2e, _ = run([lf, "run", "-s", "scores"], proj, env)
    t_lf_e2e2, _ = run([lf, "run", "-s", "scores"], proj, env)
    t_lf_e2e = min(t_lf_e2e, t_lf_e2e2)
    _, sample = run(
        [lf, "sql", "--format", "csv", "select count(*) as n from scores"], proj, env
    )
    assert sample.strip().splitlines()[-1] == str(a.rows), sample

    # --- LightGBM -----------------------------------------------------------------------
    tr = pq.read_table(train_path)
    X = np.column_stack([tr[c].to_numpy() for c in feats])
    y = tr["label"].to_numpy()
    t = time.perf_counter()
    booster = lgb.train(params, lgb.Dataset(X, y))
    t_lgb_train = time.perf_counter() - t
    print(f"lightgbm: trained {a.trees} trees in {t_lgb_train:.2f}s", flush=True)
    del X, tr

    best_pred, best_e2e = float("inf"), float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        sc = pq.read_table(score_path, columns=["id"] + feats)
        Xs = np.column_stack([sc[c].to_numpy() for c in feats])
        t1 = time.perf_counter()
        p = booster.predict(Xs, num_threads=a.threads)
        t2 = time.perf_counter()
        pq.write_table(pa.table({"id": sc["id"], "p": p}), os.path.join(work, "lgb_scores.parquet"))
        t3 = time.perf_counter()
        best_pred = min(best_pred, t2 - t1)
        best_e2e = min(best_e2e, t3 - t0)
        best_read_pred = t2 - t0
        del Xs, sc
    labels = pq.read_table(score_path, columns=["label"])["label"].to_numpy()

    rows = a.rows
    print()
    print(f"{rows:,} rows ({mb:.0f} MB Parquet), {a.trees} trees x {a.leaves} leaves, {a.threads} threads, lakeforge profile {a.profile}")
    print(f"{'':44} {'seconds':>8} {'rows/s':>12}")
    def line(name, s):
        print(f"{name:44} {s:8.2f} {rows / s:12,.0f}")
    line("lakeforge: read + predict() + Delta write", t_lf_e2e)
    line("lakeforge: read + sum(predict())", t_lf_sum)
    line("lightgbm:  read + predict + Parquet write", best_e2e)
    line("lightgbm:  read + predict", best_read_pred)
    line("lightgbm:  predict only (numpy in memory)", best_pred)
    print(f"end-to-end ratio (lightgbm / lakeforge): {best_e2e / t_lf_e2e:.2f}x")
    print(f"lightgbm auc on scored rows: {auc(labels, p):.4f}")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}")


if __name__ == "__main__":
    main()
