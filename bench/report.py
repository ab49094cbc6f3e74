#!/usr/bin/env python3
"""Turn bench/out/results.tsv (+ meta.txt) into markdown tables.

    report.py RESULTS_TSV META_TXT > report.md

Result names are `<bench>/<tool>/<step>` (tool: lakeforge or dbt). A name measured several
times is reported with its median wall and CPU time and its largest peak RSS. CPU is user +
system time; wall time much below CPU time means several cores were used, wall time well above
it (for a single-threaded tool) means the machine was busy with other work: the 1-minute load
averages before → after each run are shown for that reason.
"""
import statistics
import sys
from collections import OrderedDict


def fmt_time(r):
    if r is None:
        return "–"
    if r["status"] == "skipped":
        return r["note"]
    w = r["wall"]
    if w < 1:
        s = f"{w * 1000:.0f} ms"
    elif w < 60:
        s = f"{w:.2f} s"
    else:
        s = f"{w:.1f} s ({w / 60:.1f} min)"
    if r["status"] == "timeout":
        return f"> {w / 60:.0f} min (timed out)"
    if r["status"] == "memlimit":
        return f"killed at the memory cap after {s}, unfinished"
    if r["status"] == "failed":
        return f"{s} (FAILED, exit {r['rc']})"
    if r["n"] > 1:
        s += f" (median of {r['n']})"
    return s


def fmt_rss(r):
    if r is None or r["status"] == "skipped":
        return "–"
    mib = r["rss"] / 1024
    s = f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"
    return ("≥ " + s) if r["status"] in ("timeout", "memlimit") else s


def fmt_cpu(r):
    if r is None or r["status"] != "ok" or r.get("cpu") is None:
        return "–"
    c = r["cpu"]
    return f"{c * 1000:.0f} ms" if c < 1 else f"{c:.1f} s"


def fmt_load(lf, dbt):
    return "; ".join(r["load"] for r in (lf, dbt) if r is not None and r["status"] != "skipped")


def ratio(lf, dbt):
    if lf is None or dbt is None or lf["status"] != "ok" or dbt["status"] == "skipped":
        return "–"
    x = dbt["wall"] / lf["wall"] if lf["wall"] > 0 else float("inf")
    if dbt["status"] in ("timeout", "memlimit"):
        return f"> {x:.1f}×"
    if dbt["status"] != "ok":
        return "–"
    return f"{x:.1f}×"


def load(path):
    raw = OrderedDict()
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 5:
                continue
            name, status, wall, rss, rc = parts[:5]
            note = parts[5] if len(parts) > 5 else ""
            cpu = float(parts[6]) if len(parts) > 6 and parts[6] else None
            lb, la = (parts[7], parts[8]) if len(parts) > 8 else ("?", "?")
            raw.setdefault(name, []).append(
                {"status": status, "wall": float(wall), "rss": int(rss), "rc": rc, "note": note,
                 "cpu": cpu, "load": f"{lb}→{la}", "lb": lb, "la": la})
    out = {}
    for name, runs in raw.items():
        bad = [r for r in runs if r["status"] != "ok"]
        if bad:
            r = dict(bad[0])
            r["n"] = len(runs)
        else:
            cpus = [x["cpu"] for x in runs if x["cpu"] is not None]
            r = {"status": "ok", "wall": statistics.median(x["wall"] for x in runs),
                 "rss": max(x["rss"] for x in runs), "rc": "0", "note": "", "n": len(runs),
                 "cpu": statistics.median(cpus) if cpus else None,
                 "load": f"{runs[0]['lb']}→{runs[-1]['la']}"}
        out[name] = r
    return out


STEPS_BUILD = [
    ("seed", "(a) seeds", "`lakeforge seed`", "`dbt seed`"),
    ("models", "(b) models + tests",
     "`lakeforge build --exclude resource_type:seed`", "`dbt build --exclude resource_type:seed`"),
    ("total", "total (one build from empty)", "`lakeforge build`", "`dbt build`"),
]
STEPS_COMPILE = [
    ("compile", "cold parse + compile of every node",
     "`lakeforge compile`", "`dbt compile --no-partial-parse`"),
    ("parse", "cold parse only", "`lakeforge ls` (parses the project)", "`dbt parse --no-partial-parse`"),
    ("parse_warm", "dbt parse with a warm partial-parse cache", "–", "`dbt parse`"),
]


def main():
    res = load(sys.argv[1])
    benches = []
    for name in res:
        b = name.split("/")[0]
        if b not in benches:
            benches.append(b)
    lines = []
    for b in benches:
        if b.startswith("compile"):
            n = b[len("compile"):]
            lines.append(f"### Parse + compile, generated {n}-model project\n")
            steps = STEPS_COMPILE
        else:
            lines.append(f"### `build`, demo project `shop` at {int(b):,} orders\n")
            steps = STEPS_BUILD
        lines.append("| step | lakeforge command | lakeforge wall | lakeforge CPU | lakeforge peak RSS "
                     "| dbt-duckdb command | dbt wall | dbt CPU | dbt peak RSS "
                     "| dbt time / lakeforge time | load avg around the runs (lakeforge; dbt) |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for key, label, lcmd, dcmd in steps:
            lf, dbt = res.get(f"{b}/lakeforge/{key}"), res.get(f"{b}/dbt/{key}")
            if lf is None and dbt is None:
                continue
            lines.append(f"| {label} | {lcmd if lf else '–'} | {fmt_time(lf)} | {fmt_cpu(lf)} | {fmt_rss(lf)} "
                         f"| {dcmd if dbt else '–'} | {fmt_time(dbt)} | {fmt_cpu(dbt)} | {fmt_rss(dbt)} "
                         f"| {ratio(lf, dbt)} | {fmt_load(lf, dbt)} |")
        load_r = res.get(f"{b}/dbt/duckdb_load")
        if load_r is not None:
            lines.append("")
            lines.append(f"`dbt seed` did not finish, so for step (b) the dbt-duckdb database's raw "
                         f"tables were loaded with DuckDB's own `read_csv` "
                         f"(bench/load_raw_duckdb.py): {fmt_time(load_r)}, peak RSS {fmt_rss(load_r)}. "
                         f"That load is not counted in any dbt number above.")
        lines.append("")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
