"""Online serving: `lakeforge serve` vs `mlflow models serve` vs a JSON echo server (see
serve_vs_mlflow.sh, which installs the peers and builds the binaries).

One dataset (10 numeric features, a binary label) trains a GBDT of --trees trees twice: in a
Lakeforge project (`lakeforge train`) and with LightGBM (same parameters), the latter saved with
mlflow.lightgbm. Each server then runs alone on 127.0.0.1 and wrk sends it the same one-row
prediction request from many connections; we report requests/s and the p50/p99 latency.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import run  # noqa: E402

FEATURES = 10
HERE = os.path.dirname(os.path.abspath(__file__))


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES))
    z = 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.5 * x[:, 2] * x[:, 3] + np.sin(2 * x[:, 4]) + 0.3 * rng.normal(size=n)
    cols = {f"f{j}": x[:, j] for j in range(FEATURES)}
    cols["label"] = (z > 0).astype(np.int64)
    return pa.table(cols)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, body=None, timeout=5):
    data = None if body is None else body.encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read().decode()


class Server:
    """A server process started in its own process group, stopped with SIGTERM."""

    def __init__(self, name, cmd, log, env=None, cwd=None):
        self.name, self.log_path = name, log
        self.log = open(log, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                     start_new_session=True)

    def wait_ready(self, url, body=None, timeout=120):
        start = time.time()
        while time.time() - start < timeout:
            if self.proc.poll() is not None:
                self.fail(f"exited with {self.proc.returncode}")
            try:
                status, text = request(url, body)
                if status == 200:
                    return text
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        self.fail(f"not ready after {timeout}s")

    def fail(self, why):
        self.stop()
        with open(self.log_path) as f:
            sys.exit(f"{self.name} {why}:\n{f.read()[-4000:]}")

    def stop(self):
        if self.proc.poll() is None:
            # The whole group: gunicorn/uvicorn workers of mlflow too.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(text):
    def ms(label):
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")

    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: (.*)", text)
    return {
        "rps": float(rps.group(1)) if rps else float("nan"),
        "p50": ms("50"),
        "p99": ms("99"),
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": sock.group(1).strip() if sock else "",
    }


def wrk(url, body_file, a, seconds):
    env = dict(os.environ, BENCH_BODY=body_file)
    cmd = ["wrk", f"-t{a.threads}", f"-c{a.connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
           "-s", os.path.join(HERE, "post.lua"), url]
    return run(cmd, env=env)


def bench(name, url, body, a, work):
    body_file = os.path.join(work, f"{name}.json")
    with open(body_file, "w") as f:
        f.write(body)
    wrk(url, body_file, a, a.warmup)  # warm caches, connection pools, JIT-less but lazy inits
    out = wrk(url, body_file, a, a.duration)
    r = parse_wrk(out)
    r["name"], r["raw"] = name, out
    print(f"{name}: {r['rps']:,.0f} req/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms"
          + (f", {r['non2xx']} non-2xx" if r["non2xx"] else "")
          + (f", socket errors: {r['socket_errors']}" if r["socket_errors"] else ""), flush=True)
    if r["non2xx"]:
        print(out, file=sys.stderr)
        sys.exit(f"{name} answered {r['non2xx']} requests with an error status; its numbers mean nothing")
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true", help="CI size: small data, a few seconds per server")
    ap.add_argument("--rows", type=int, default=None, help="training rows (default 100000, tiny 2000)")
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--duration", type=int, default=None, help="seconds of wrk per server (default 30, tiny 2)")
    ap.add_argument("--warmup", type=int, default=None, help="seconds of wrk before measuring (default 5, tiny 1)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections")
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="server workers (default: cores)")
    ap.add_argument("--skip-mlflow", action="store_true")
    ap.add_argument("--lakeforge-bin", required=True)
    ap.add_argument("--echo-bin", required=True)
    ap.add_argument("--profile", default="release")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder")
    a = ap.parse_args()
    a.rows = a.rows or (2000 if a.tiny else 100_000)
    a.duration = a.duration or (2 if a.tiny else 30)
    a.warmup = a.warmup or (1 if a.tiny else 5)

    work = tempfile.mkdtemp(prefix="lf-serve-bench-")
    try:
        results = run_all(a, work)
    finally:
        if a.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(a, results)


def run_all(a, work):
    feats = [f"f{j}" for j in range(FEATURES)]
    train_path = os.path.join(work, "train.parquet")
    table = make_data(a.rows, 1)
    pq.write_table(table, train_path)
    row = {c: float(table[c][0].as_py()) for c in feats}
    params = {
        "objective": "binary",
        "num_iterations": a.trees,
        "num_leaves": a.leaves,
        "learning_rate": 0.1,
        "min_data_in_leaf": 20,
        "seed": 1,
    }

    # --- Lakeforge: an ML model node trained by `lakeforge train`, promoted to production ----
    proj = os.path.join(work, "proj")
    os.makedirs(os.path.join(proj, "models"))
    with open(os.path.join(proj, "dbt_project.yml"), "w") as f:
        f.write("name: serving\nmodels:\n  serving:\n    +materialized: table\n")
    lf_params = "\n".join(f"      {k}: {v}" for k, v in params.items() if k != "objective")
    with open(os.path.join(proj, "models", "schema.yml"), "w") as f:
        f.write(f"""version: 2
sources:
  - name: bench
    tables:
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
""")
    lf = os.path.abspath(a.lakeforge_bin)
    t = time.perf_counter()
    run([lf, "train", "-s", "m"], cwd=proj)
    print(f"lakeforge: trained {a.trees} trees on {a.rows:,} rows in {time.perf_counter() - t:.2f}s", flush=True)

    # --- LightGBM, saved as an MLflow model --------------------------------------------------
    mlflow_dir = os.path.join(work, "mlflow-model")
    if not a.skip_mlflow:
        import lightgbm as lgb
        import mlflow.lightgbm
        import pandas as pd
        from mlflow.models import infer_signature

        X = table.select(feats).to_pandas()
        y = table["label"].to_numpy()
        t = time.perf_counter()
        booster = lgb.train(dict(params, verbose=-1), lgb.Dataset(X, y))
        print(f"lightgbm: trained {a.trees} trees in {time.perf_counter() - t:.2f}s", flush=True)
        sample = pd.DataFrame([row])
        # pip_requirements given: MLflow would otherwise infer them by importing the model in
        # a subprocess, which says nothing about serving speed.
        mlflow.lightgbm.save_model(booster, mlflow_dir, signature=infer_signature(sample, booster.predict(sample)),
                                   pip_requirements=["lightgbm"])

    results = []
    lf_body = json.dumps({"rows": [row]})
    workers = str(a.workers)

    # (a) echo: the floor
    port = free_port()
    s = Server("echo", [os.path.abspath(a.echo_bin), "--port", str(port), "--workers", workers],
               os.path.join(work, "echo.log"))
    try:
        url = f"http://127.0.0.1:{port}/v1/models/m/predict"
        s.wait_ready(url, lf_body)
        results.append(bench("echo (axum)", url, lf_body, a, work))
    finally:
        s.stop()

    # (b) lakeforge serve
    port = free_port()
    s = Server("lakeforge serve", [lf, "serve", "--port", str(port), "--workers", workers],
               os.path.join(work, "lakeforge.log"), cwd=proj)
    try:
        s.wait_ready(f"http://127.0.0.1:{port}/readyz")
        url = f"http://127.0.0.1:{port}/v1/models/m/predict"
        print("lakeforge answers:", s.wait_ready(url, lf_body).strip(), flush=True)
        results.append(bench("lakeforge serve", url, lf_body, a, work))
    finally:
        s.stop()

    # (c) mlflow models serve
    if not a.skip_mlflow:
        port = free_port()
        bindir = os.path.dirname(sys.executable)
        env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", MLFLOW_TRACKING_URI=f"file://{work}/mlruns")
        s = Server("mlflow models serve",
                   [os.path.join(bindir, "mlflow"), "models", "serve", "-m", mlflow_dir, "--env-manager", "local",
                    "-h", "127.0.0.1", "-p", str(port), "--workers", workers],
                   os.path.join(work, "mlflow.log"), env=env)
        try:
            s.wait_ready(f"http://127.0.0.1:{port}/ping")
            url = f"http://127.0.0.1:{port}/invocations"
            body = json.dumps({"dataframe_records": [row]})
            print("mlflow answers:", s.wait_ready(url, body).strip(), flush=True)
            results.append(bench("mlflow models serve", url, body, a, work))
        finally:
            s.stop()
    return results


def report(a, results):
    by = {r["name"]: r for r in results}
    mlflow = by.get("mlflow models serve")
    echo = by.get("echo (axum)")
    print()
    print(f"{a.trees} trees x {a.leaves} leaves, {FEATURES} features, one row per request; "
          f"wrk -t{a.threads} -c{a.connections} -d{a.duration}s (after {a.warmup}s warm-up); "
          f"{a.workers} server workers; {os.cpu_count()} cores; lakeforge profile {a.profile}")
    print()
    print("| server | requests/s | p50 ms | p99 ms | req/s vs MLflow | req/s vs echo |")
    print("|---|---:|---:|---:|---:|---:|")
    def ratio(x, base):
        if not base:
            return "-"
        q = x / base["rps"]
        return f"{q:.2f}x" if q >= 0.1 else f"{q:.2g}x"

    for r in results:
        vs_mlflow, vs_echo = ratio(r["rps"], mlflow), ratio(r["rps"], echo)
        print(f"| {r['name']} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {vs_mlflow} | {vs_echo} |")


if __name__ == "__main__":
    main()
