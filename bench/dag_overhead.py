#!/usr/bin/env python3
"""Helpers of bench/dag_overhead.sh: time one command precisely, and write the report.

    dag_overhead.py time --name NAME --rep R --results TSV --log LOG --cwd DIR [--timeout S]
                         [--run-results PATH --expect-nodes N --bin LAKEFORGE --keep FILE] -- CMD...
    dag_overhead.py report RESULTS_TSV META_TXT > report.md

`time` runs CMD with its output in LOG and appends one line to RESULTS_TSV. Wall time is a
monotonic clock from just before the process is spawned to the moment os.wait4 returns (a
blocking wait, so exit is seen at once: bench/measure.py polls and can see it up to ~25 ms late,
which matters at a few ms per node); CPU time (user + system) and peak RSS are the process's
own, from wait4's rusage. With --run-results, the run's target/run_results.json is read: the
number of nodes and of successful ones, the sum of the nodes' execution_time, the runner's
elapsed_time, the span from the first node's start to the last node's end, and the time between
nodes (span − Σ execution_time; exact bookkeeping only at --threads 1). Then `lakeforge runs
show last --format json` (not timed) must show the same run with every node recorded. A run
that exits non-zero, or with a node that did not succeed, or that the store does not hold, is
`failed` and makes this helper exit 1.

Columns of RESULTS_TSV:
    name rep status exit wall_s cpu_s maxrss_kb nodes ok_nodes sum_node_s runner_s span_s
    gaps_s recorded load_before load_after note
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from datetime import datetime

from common import loadavg

COLUMNS = ["name", "rep", "status", "exit", "wall_s", "cpu_s", "maxrss_kb", "nodes", "ok_nodes",
           "sum_node_s", "runner_s", "span_s", "gaps_s", "recorded", "load_before", "load_after",
           "note"]


def parse_ts(s):
    # RFC 3339 with milliseconds and `Z`, as the runner writes it.
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def analyse_run_results(path):
    with open(path) as f:
        rr = json.load(f)
    results = rr["results"]
    out = {"nodes": len(results),
           "ok_nodes": sum(1 for r in results if r["status"] == "success"),
           "sum_node_s": sum(r["execution_time"] for r in results),
           "runner_s": rr["elapsed_time"],
           "run_id": rr["metadata"]["invocation_id"]}
    if results:
        starts = [parse_ts(r["timing"][0]["started_at"]) for r in results]
        ends = [s + r["execution_time"] for s, r in zip(starts, results)]
        out["span_s"] = max(ends) - min(starts)
        out["gaps_s"] = out["span_s"] - out["sum_node_s"]
    return out


def recorded_nodes(lf, cwd, run_id):
    """Successful node executions the metadata store holds for the last run (None: not that run)."""
    p = subprocess.run([lf, "runs", "show", "last", "--format", "json"], cwd=cwd,
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        return None, f"`lakeforge runs show last` exited {p.returncode}: {p.stderr.strip()[:200]}"
    doc = json.loads(p.stdout)
    if doc["run"]["run_id"] != run_id:
        return None, f"the store's last run is {doc['run']['run_id']}, not {run_id}"
    return sum(1 for n in doc["nodes"] if n["status"] == "success"), ""


def cmd_time(args):
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    if args.run_results and os.path.exists(args.run_results):
        os.unlink(args.run_results)
    load_before = loadavg()
    timed_out = threading.Event()
    with open(args.log, "w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=args.cwd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

        def kill():
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(args.timeout, kill) if args.timeout else None
        if timer:
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if timer:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    load_after = loadavg()
    rc = proc.returncode
    row = {c: "" for c in COLUMNS}
    row.update(name=args.name, rep=args.rep, exit=rc, wall_s=f"{wall:.4f}",
               cpu_s=f"{usage.ru_utime + usage.ru_stime:.3f}", maxrss_kb=usage.ru_maxrss,
               load_before=load_before, load_after=load_after)
    notes = []
    if timed_out.is_set():
        notes.append(f"killed after the {args.timeout:.0f} s timeout")
    elif rc != 0:
        notes.append(f"exit {rc}")
    if args.run_results and not timed_out.is_set():
        try:
            a = analyse_run_results(args.run_results)
            for k in ("nodes", "ok_nodes"):
                row[k] = a[k]
            for k in ("sum_node_s", "runner_s", "span_s", "gaps_s"):
                if k in a:
                    row[k] = f"{a[k]:.4f}"
            if args.keep:
                with open(args.run_results) as src, open(args.keep, "w") as dst:
                    dst.write(src.read())
            if a["nodes"] != args.expect_nodes or a["ok_nodes"] != args.expect_nodes:
                notes.append(f"{a['ok_nodes']} of {a['nodes']} nodes succeeded, "
                             f"{args.expect_nodes} expected")
            if args.bin:
                rec, why = recorded_nodes(args.bin, args.cwd, a["run_id"])
                row["recorded"] = "" if rec is None else rec
                if why:
                    notes.append(why)
                elif rec != args.expect_nodes:
                    notes.append(f"the metadata store holds {rec} successful nodes of this run, "
                                 f"{args.expect_nodes} expected")
        except (OSError, ValueError, KeyError, subprocess.SubprocessError) as e:
            notes.append(f"no usable run_results.json: {e}")
    row["status"] = "timeout" if timed_out.is_set() else ("failed" if notes else "ok")
    row["note"] = "; ".join(notes).replace("\t", " ").replace("\n", " ")
    with open(args.results, "a") as f:
        f.write("\t".join(str(row[c]) for c in COLUMNS) + "\n")
    extra = ""
    if row["sum_node_s"] != "":
        extra = (f", {row['ok_nodes']} nodes, Σ node time {float(row['sum_node_s']):.3f} s, "
                 f"runner {float(row['runner_s']):.3f} s")
    print(f"    {args.name} #{args.rep}: {row['status']}, {wall:.3f} s wall, "
          f"{float(row['cpu_s']):.2f} s CPU{extra} (load {load_before} -> {load_after})"
          + (f" -- {row['note']}" if row["note"] else ""), flush=True)
    return 0 if row["status"] == "ok" else 1


# ---------------------------------------------------------------------------------- report

def load_results(path):
    runs = OrderedDict()
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < len(COLUMNS):
                parts += [""] * (len(COLUMNS) - len(parts))
            row = dict(zip(COLUMNS, parts))
            for k in ("wall_s", "cpu_s", "sum_node_s", "runner_s", "span_s", "gaps_s"):
                row[k] = float(row[k]) if row[k] not in ("", None) else None
            row["maxrss_kb"] = int(row["maxrss_kb"]) if row["maxrss_kb"] else None
            row["nodes"] = int(row["nodes"]) if row["nodes"] else None
            runs.setdefault(row["name"], []).append(row)
    return runs


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def med_of(rows, fn):
    vals = [fn(r) for r in rows]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def s(x):
    if x is None:
        return "–"
    if abs(x) < 1:
        return f"{x * 1000:.0f} ms"
    return f"{x:.2f} s"


def ms(x):
    return "–" if x is None else f"{x * 1000:.2f} ms"


def mib(kb):
    return "–" if kb is None else f"{kb / 1024:.0f} MiB"


def loads(rows):
    return f"{rows[0]['load_before']}→{rows[-1]['load_after']}"


def reps_note(rows):
    walls = " / ".join(f"{r['wall_s']:.2f}" for r in rows)
    return f"{len(rows)}: {walls} s" if len(rows) > 1 else "1"


def bad(rows):
    b = [r for r in rows if r["status"] != "ok"]
    return b[0] if b else None


MATS = [("view", "views"), ("table", "tables")]
RUNS = [("first", "first (empty lake)"), ("second", "second (state present)")]


def cmd_report(args):
    runs = load_results(args.results)
    meta = {}
    with open(args.meta) as f:
        for line in f:
            if ":" in line:
                k, v = line.split(":", 1)
                meta[k.strip()] = v.strip()
    n = int(meta.get("nodes", "0"))
    lines = []
    w = lines.append

    def rows(name):
        return runs.get(name, [])

    # --- startup and parse
    v, ls, comp = rows("startup/version"), rows("startup/ls"), rows("startup/compile")
    w(f"### Start-up and parse, {n:,}-model project\n")
    w("| command | what it does | wall (median) | CPU | peak RSS | runs | load |")
    w("|---|---|---|---|---|---|---|")
    for r, cmd, what in ((v, "`lakeforge --version`", "process start and exit only"),
                         (ls, "`lakeforge ls`", "+ read and parse the project, build the DAG"),
                         (comp, "`lakeforge compile --threads 1`",
                          "+ open the engine, render every model's SQL, write target/compiled/ and manifest.json")):
        if r:
            w(f"| {cmd} | {what} | {s(med(r, 'wall_s'))} | {s(med(r, 'cpu_s'))} | "
              f"{mib(max(x['maxrss_kb'] or 0 for x in r))} | {reps_note(r)} | {loads(r)} |")
    w("")

    # --- main table
    w(f"### `lakeforge run` of {n:,} trivial models (medians)\n")
    w("Overhead = wall − Σ node execution_time. At `--threads 2` nodes overlap, so Σ node time "
      "is not subtracted there; compare the wall times instead.\n")
    w("| models | run | threads | wall | wall per node | Σ node time | overhead (wall − Σ) "
      "| **overhead per node** | of it, between nodes (per node) | CPU | peak RSS | runs (wall) | load |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for mat, mlabel in MATS:
        for run, rlabel in RUNS:
            for t in (1, 2):
                r = rows(f"{mat}/t{t}/{run}")
                if not r:
                    continue
                b = bad(r)
                if b:
                    w(f"| {mlabel} | {rlabel} | {t} | FAILED ({b['note'] or b['status']}) "
                      f"| | | | | | | | | |")
                    continue
                wall = med(r, "wall_s")
                if t == 1:
                    over = med_of(r, lambda x: x["wall_s"] - x["sum_node_s"])
                    gaps = med(r, "gaps_s")
                    ocol = f"{s(over)} | **{ms(over / n)}** | {ms(gaps / max(1, n - 1))}"
                else:
                    ocol = "– | – | –"
                w(f"| {mlabel} | {rlabel} | {t} | {s(wall)} | {ms(wall / n)} | "
                  f"{s(med(r, 'sum_node_s'))} | {ocol} | {s(med(r, 'cpu_s'))} | "
                  f"{mib(max(x['maxrss_kb'] or 0 for x in r))} | {reps_note(r)} | {loads(r)} |")
    w("")

    # --- breakdown at threads 1
    vw, lsw = med(v, "wall_s"), med(ls, "wall_s")
    w(f"### Where the overhead goes, `--threads 1` (medians, per run and per node)\n")
    w("| models | run | process start (`--version`) | parse (`ls` − `--version`) "
      "| rest outside the runner | runner, before the first and after the last node "
      "| between nodes | total overhead | per node |")
    w("|---|---|---|---|---|---|---|---|---|")
    for mat, mlabel in MATS:
        for run, rlabel in RUNS:
            r = rows(f"{mat}/t1/{run}")
            if not r or bad(r) or vw is None or lsw is None:
                continue
            outside = med_of(r, lambda x: x["wall_s"] - x["runner_s"] - lsw)
            edges = med_of(r, lambda x: x["runner_s"] - x["span_s"])
            gaps = med(r, "gaps_s")
            over = med_of(r, lambda x: x["wall_s"] - x["sum_node_s"])
            w(f"| {mlabel} | {rlabel} | {s(vw)} | {s(lsw - vw)} | {s(outside)} | {s(edges)} | "
              f"{s(gaps)} ({ms(gaps / max(1, n - 1))}/node) | {s(over)} | {ms(over / n)} |")
    w("")

    # --- tmpfs variants
    if any(k.startswith(("view/t1-", "table/t1-")) for k in runs):
        w("### Same at `--threads 1` with the metadata store, or the whole lake, on tmpfs "
          "(medians)\n")
        w("| models | run | where | wall | Σ node time | overhead per node | between nodes, per node |")
        w("|---|---|---|---|---|---|---|")
        for mat, mlabel in MATS:
            for run, rlabel in RUNS:
                for variant, vlabel in (("t1", "lake and metadata store on disk (default)"),
                                        ("t1-meta-tmpfs", "metadata store (SQLite) on tmpfs"),
                                        ("t1-lake-tmpfs", "lake and metadata store on tmpfs")):
                    r = rows(f"{mat}/{variant}/{run}")
                    if not r:
                        continue
                    if bad(r):
                        w(f"| {mlabel} | {rlabel} | {vlabel} | FAILED | | | |")
                        continue
                    over = med_of(r, lambda x: x["wall_s"] - x["sum_node_s"])
                    w(f"| {mlabel} | {rlabel} | {vlabel} | {s(med(r, 'wall_s'))} | "
                      f"{s(med(r, 'sum_node_s'))} | {ms(over / n)} | "
                      f"{ms(med(r, 'gaps_s') / max(1, n - 1))} |")
        w("")
    failed = [(k, b) for k, r in runs.items() for b in r if b["status"] != "ok"]
    if failed:
        w("**Failed steps:** " + "; ".join(f"{k} #{b['rep']}: {b['note'] or b['status']}"
                                            for k, b in failed))
        w("")
    print("\n".join(lines))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    t = sub.add_parser("time")
    t.add_argument("--name", required=True)
    t.add_argument("--rep", default="1")
    t.add_argument("--results", required=True)
    t.add_argument("--log", required=True)
    t.add_argument("--cwd", default=None)
    t.add_argument("--timeout", type=float, default=0)
    t.add_argument("--run-results", default=None)
    t.add_argument("--expect-nodes", type=int, default=0)
    t.add_argument("--bin", default=None, help="lakeforge, to check the metadata store")
    t.add_argument("--keep", default=None, help="copy run_results.json here")
    t.add_argument("cmd", nargs=argparse.REMAINDER)
    r = sub.add_parser("report")
    r.add_argument("results")
    r.add_argument("meta")
    args = ap.parse_args()
    sys.exit(cmd_time(args) if args.what == "time" else cmd_report(args))


if __name__ == "__main__":
    main()
