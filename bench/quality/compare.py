#!/usr/bin/env python3
"""Check that Lakeforge, dbt-duckdb and Great Expectations found the same failing tests with the
planted counts, and write the data-quality benchmark's report.

    compare.py --data DIR --runs DIR --results RESULTS_TSV --meta META_TXT --reps R
               [--header TEXT] > report.md

DIR/expected.json comes from gen_data.py. RUNS holds one result file per timed run:
lakeforge-<i>.json and dbt-<i>.json (their target/run_results.json), ge_pandas-<i>.json and
ge_sqlite-<i>.json (ge_validate.py's). Every run of every tool is checked, not only the last.
Counts are compared in each tool's own unit (expected.json has both): dbt and Lakeforge count
duplicated keys for unique / unique_combination_of_columns and distinct bad values for
accepted_values, Great Expectations counts unexpected rows.

Prints the markdown report on stdout, the agreement verdict on stderr, and exits 1 when any
tool disagrees with the plan (a missing or errored test, a wrong status or count).
"""
import argparse
import glob
import json
import os
import re
import statistics
import sys

sys.dont_write_bytecode = True  # no __pycache__ in bench/ from importing report.py
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from report import fmt_cpu, fmt_rss, fmt_time, load, ratio  # noqa: E402  bench/report.py

CHECKS = {
    "q01_order_id_not_null": "not_null(order_id)",
    "q02_email_not_null": "not_null(email)",
    "q03_order_id_unique": "unique(order_id)",
    "q04_status_accepted_values": "accepted_values(status, 4 values)",
    "q05_customer_id_relationships": "relationships(customer_id → customers)",
    "q06_amount_accepted_range": "accepted_range(amount, 0..10000)",
    "q07_shipped_after_created": "expression_is_true(shipped_at >= created_at)",
    "q08_customer_created_unique": "unique_combination_of_columns(customer_id, created_at)",
    "q09_email_regex": "match_regex(email)",
    "q10_country_not_null_proportion": "not_null_proportion(country) ≥ 0.95",
    "q11_row_count": "row count between N and N",
}
# tool key -> (label in the report, unit of its counts in expected.json)
TOOLS = {
    "lakeforge": ("Lakeforge", "groups"),
    "dbt": ("dbt-duckdb", "groups"),
    "ge_pandas": ("GX pandas", "rows"),
    "ge_sqlite": ("GX SQLite", "rows"),
}


def read_run_results(path):
    """dbt's or Lakeforge's run_results.json as test name -> {status, count}."""
    with open(path) as f:
        data = json.load(f)
    out = {}
    for r in data.get("results", []):
        uid = r.get("unique_id", "")
        if not uid.startswith("test."):
            continue
        name = uid.split(".")[2]
        out[name] = {"status": r.get("status"), "count": r.get("failures"),
                     "error": r.get("message") if r.get("status") == "error" else None}
    return out


def read_ge(path):
    with open(path) as f:
        data = json.load(f)
    return data["tests"], data.get("phases", {})


def check(tool, unit, got, expected):
    """Mismatch messages for one run of one tool."""
    problems = []
    for name, exp in expected.items():
        r = got.get(name)
        if r is None:
            problems.append(f"{tool}: {name} has no result")
            continue
        want = "fail" if exp["fail"] else "pass"
        if r["status"] != want:
            extra = f" ({r['error']})" if r.get("error") else ""
            problems.append(f"{tool}: {name} is {r['status']}{extra}, expected {want}")
        elif exp["fail"] and r["count"] != exp[unit]:
            problems.append(f"{tool}: {name} reports {r['count']}, expected {exp[unit]} ({unit})")
    for name in got:
        if name not in expected:
            problems.append(f"{tool}: unexpected test {name}")
    return problems


def cell(r, exp):
    if r is None:
        return "missing"
    s = r["status"]
    if r["status"] == "fail" or (r["count"] not in (None, 0)):
        s += f" {r['count']}"
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--runs", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--reps", type=int, required=True)
    ap.add_argument("--header", default="")
    args = ap.parse_args()

    with open(os.path.join(args.data, "expected.json")) as f:
        plan = json.load(f)
    expected = plan["tests"]
    rows = plan["rows"]

    runs = {}    # tool -> list of {name: result}
    phases = {}  # tool -> list of phase dicts
    for tool in TOOLS:
        files = sorted(glob.glob(os.path.join(args.runs, f"{tool}-*.json")),
                       key=lambda p: int(re.search(r"-(\d+)\.json$", p).group(1)))
        for p in files:
            if tool.startswith("ge_"):
                tests, ph = read_ge(p)
                phases.setdefault(tool, []).append(ph)
            else:
                tests = read_run_results(p)
            runs.setdefault(tool, []).append(tests)

    problems = []
    bad_tools = set()
    for tool, (label, unit) in TOOLS.items():
        for i, got in enumerate(runs.get(tool, []), 1):
            found = check(label, unit, got, expected)
            if found:
                bad_tools.add(tool)
            problems += [f"run {i}: {p}" for p in found]
    res = load(args.results)
    for name, r in res.items():
        if r["status"] != "ok":
            problems.append(f"{name}: {r['status']} (exit {r['rc']})")
    # Every tool whose command was measured must have left results.
    for tool, (label, _) in TOOLS.items():
        if f"quality/{tool}/test" in res and not runs.get(tool):
            problems.append(f"{label}: no result files in {args.runs}")

    n_fail = sum(e["fail"] for e in expected.values())
    out = []
    if args.header:
        out += [args.header, ""]
    with open(args.meta) as f:
        out += ["- " + line.rstrip("\n") for line in f if line.strip()]
    out.append("")
    out.append(f"### {len(expected)} data tests on {rows:,} orders ({n_fail} fail by design)\n")
    out.append("Timed: the test run alone, on data already loaded into each tool's own storage "
               "(see the loading table below). "
               + ("Median of " + str(args.reps) + " runs per tool; peak RSS is the largest of them."
                  if args.reps > 1 else "One run per tool.") + "\n")
    out.append("| tool | command | tests | failing tests found | wall | CPU | peak RSS | time / Lakeforge time |")
    out.append("|---|---|---|---|---|---|---|---|")
    lf = res.get("quality/lakeforge/test")
    commands = {
        "lakeforge": "`lakeforge test --threads 2`",
        "dbt": "`dbt test --threads 2` (warm partial-parse cache)",
        "ge_pandas": "`ge_validate.py --engine pandas`: Python process with imports, "
                     "`read_parquet` and validation",
        "ge_sqlite": "`ge_validate.py --engine sqlite`: Python process with imports and validation",
    }
    for tool, (label, unit) in TOOLS.items():
        r = res.get(f"quality/{tool}/test")
        if r is None:
            continue
        tool_runs = runs.get(tool, [])
        if tool_runs:
            last = tool_runs[-1]
            found = sum(1 for t in last.values() if t["status"] == "fail")
            found_s = f"{found} of {len(last)}" + (
                " (**MISMATCH**)" if tool in bad_tools else " (all as planted)")
            ntests = len(last)
        else:
            found_s, ntests = "–", "–"
        rt = "–" if tool == "lakeforge" else ratio(lf, r)
        out.append(f"| {label} | {commands[tool]} | {ntests} | {found_s} | {fmt_time(r)} | {fmt_cpu(r)} "
                   f"| {fmt_rss(r)} | {rt} |")
        if tool in phases:
            ph = phases[tool]
            med = {k: statistics.median(p[k] for p in ph) for k in ("setup_s", "load_s", "validate_s")}
            v = {"status": "ok", "wall": med["validate_s"], "n": len(ph)}
            rt = ratio(lf, v) if lf else "–"
            extra = f"; `read_parquet` {med['load_s']:.2f} s" if tool == "ge_pandas" else ""
            out.append(f"| {label}, validation only | in-process timer around `ValidationDefinition.run` "
                       f"(not counted: imports + context {med['setup_s']:.2f} s{extra}) | | | "
                       f"{fmt_time(v)} | – | – | {rt} |")
    out.append("")
    load_rows = [
        ("quality/lakeforge/seed", "Lakeforge", "`lakeforge seed --threads 2` (CSV → Delta)"),
        ("quality/dbt/load", "dbt-duckdb", "`load_raw_duckdb.py`: DuckDB `read_csv` into the dbt database"),
        ("quality/ge_sqlite/load", "GX SQLite", "`ge_validate.py --prepare-sqlite`: Parquet → SQLite via pandas `to_sql`"),
    ]
    if any(k in res for k, _, _ in load_rows):
        out.append("Loading, not part of the comparison (GX pandas reads its Parquet file inside "
                   "its timed run, see above):\n")
        out.append("| tool | command | wall | CPU | peak RSS |")
        out.append("|---|---|---|---|---|")
        for key, label, cmd in load_rows:
            r = res.get(key)
            if r is not None:
                out.append(f"| {label} | {cmd} | {fmt_time(r)} | {fmt_cpu(r)} | {fmt_rss(r)} |")
        out.append("")
    present = [t for t in TOOLS if runs.get(t)]
    out.append("Results per test (last run of each tool): status and count. dbt and Lakeforge count "
               "duplicated keys (unique tests) and distinct bad values (accepted_values); GX counts "
               "rows.\n")
    out.append("| test | check | planned: keys / rows | " + " | ".join(TOOLS[t][0] for t in present) + " |")
    out.append("|---|---|---|" + "---|" * len(present))
    for name, exp in expected.items():
        plan_s = (f"fail {exp['groups']} / {exp['rows']}" if exp["fail"] else "pass")
        cells = [cell(runs[t][-1].get(name), exp) for t in present]
        out.append(f"| {name} | {CHECKS.get(name, '')} | {plan_s} | " + " | ".join(cells) + " |")
    out.append("")
    if problems:
        out.append("**The tools did not all report the planted results:**\n")
        out += [f"- {p}" for p in problems]
    else:
        out.append(f"All tools ({', '.join(TOOLS[t][0] for t in present)}) reported the planted "
                   f"results in every run.")
    print("\n".join(out))
    if problems:
        print("MISMATCH:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"agreement: {', '.join(TOOLS[t][0] for t in present)} found the same "
          f"{n_fail} failing tests with the planted counts", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
