#!/usr/bin/env python3
"""Generate a synthetic dbt-format project of N models for the parse+compile benchmark.

    gen_compile_project.py N OUT_DIR

Deterministic: the same N gives the same project. Layout:
  dbt_project.yml      project `bench_compile`, profile `bench_compile`, vars, folder configs
  macros/scaled.sql    a macro that uses var()
  models/<folder>/m_NNNN.sql in four folders (staging, intermediate, core, marts)
  models/<folder>/_<folder>__models.yml  descriptions, and a not_null test on every 10th model

The first models are roots that select constants; every later model refs 1 to 3 earlier ones
(joined on id). Every fourth model calls the macro, every fifth filters on var('min_value').
The SQL is plain enough for DataFusion and DuckDB alike.
"""
import os
import sys

FOLDERS = ["staging", "intermediate", "core", "marts"]


def lcg(x):
    return (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    roots = max(5, n // 100)
    os.makedirs(os.path.join(out, "macros"), exist_ok=True)
    with open(os.path.join(out, "dbt_project.yml"), "w") as f:
        f.write(f"""name: bench_compile
version: "1.0.0"
config-version: 2
profile: bench_compile

model-paths: ["models"]
macro-paths: ["macros"]

vars:
  scale_factor: 3
  min_value: 10

models:
  bench_compile:
    +materialized: view
    staging:
      +tags: ["staging"]
    marts:
      +materialized: table
""")
    with open(os.path.join(out, "macros", "scaled.sql"), "w") as f:
        f.write("{% macro scaled(expr) -%}\n"
                "    ({{ expr }} * {{ var('scale_factor', 1) }})\n"
                "{%- endmacro %}\n")

    folder_of = [FOLDERS[i * len(FOLDERS) // n] for i in range(n)]
    yml = {d: [] for d in FOLDERS}
    for d in FOLDERS:
        os.makedirs(os.path.join(out, "models", d), exist_ok=True)

    for i in range(n):
        name = f"m_{i:04d}"
        if i < roots:
            sql = f"select {i} as id, {i * 10} as value, 'root {i}' as label\n"
        else:
            k = 1 + i % 3
            h = lcg(i + 1)
            refs = []
            while len(refs) < k:
                h = lcg(h)
                j = i - 1 - (h >> 33) % min(i, 60)  # mostly near neighbours, always earlier
                if j not in refs:
                    refs.append(j)
            ctes = ",\n".join(f"r{a} as (\n    select id, value, label from {{{{ ref('m_{j:04d}') }}}}\n)"
                              for a, j in enumerate(refs))
            value = " + ".join(f"r{a}.value" for a in range(k))
            if i % 4 == 0:
                value = "{{ scaled('" + value + "') }}"
            joins = "".join(f"\njoin r{a} on r0.id = r{a}.id" for a in range(1, k))
            where = "\nwhere r0.value > {{ var('min_value') }}" if i % 5 == 0 else ""
            sql = (f"-- generated model {i}: refs {', '.join(f'm_{j:04d}' for j in refs)}\n"
                   f"with {ctes}\n\nselect\n    r0.id,\n    {value} as value,\n    r0.label\n"
                   f"from r0{joins}{where}\n")
        with open(os.path.join(out, "models", folder_of[i], name + ".sql"), "w") as f:
            f.write(sql)
        entry = f"  - name: {name}\n    description: Generated model number {i}.\n"
        if i % 10 == 0:
            entry += "    columns:\n      - name: id\n        data_tests: [not_null]\n"
        yml[folder_of[i]].append(entry)

    for d, entries in yml.items():
        with open(os.path.join(out, "models", d, f"_{d}__models.yml"), "w") as f:
            f.write("version: 2\n\nmodels:\n" + "".join(entries))
    print(f"generated {n} models ({roots} roots) in {out}")


if __name__ == "__main__":
    main()
