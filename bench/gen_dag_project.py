#!/usr/bin/env python3
"""Generate a dbt-format project of N trivial models in a layered DAG, for the orchestration
benchmark (bench/dag_overhead.sh).

    gen_dag_project.py N OUT_DIR [--materialized view|table]

Deterministic: the same N gives the same DAG. The models do almost no SQL work, so that what a
run spends beyond its nodes' own time shows up clearly:
  - 7 layers (models/layer_0 .. models/layer_6), shaped like a dbt project: 15% roots (stand-ins
    for sources: `select 1 as id, <i> as value, 'root <i>' as label`, one row), 25% staging
    models with one parent each, then intermediate, core and mart layers of 20%, 15%, 10%, 8%
    and 7% whose models ref 1 to 3 parents.
  - Parents come from the layer just above (3 in 4) or any earlier layer (1 in 4: skip
    connections), with a skew toward the first models of a layer, so a few models have many
    children (fan-out) as shared dimensions do.
  - A model with k parents joins them on `id`: every model holds exactly one row.
Every model is materialized as `--materialized` (default view), set once in dbt_project.yml.

The generator also prints the DAG's shape: edges, fan-in and fan-out, depth, and, for views,
how many view definitions planning the deepest model expands (a view over views is planned by
expanding every path to the roots).
"""
import argparse
import os

# Share of the models in each layer; layer 0 are the roots.
LAYERS = [0.15, 0.25, 0.20, 0.15, 0.10, 0.08, 0.07]


def lcg(x):
    return (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)


def layer_sizes(n):
    sizes = [max(1, int(n * f)) for f in LAYERS]
    sizes[1] += n - sum(sizes)  # rounding goes to staging
    if sizes[1] < 1:
        raise SystemExit(f"N={n} is too small for {len(LAYERS)} layers (need at least {len(LAYERS) + 6})")
    return sizes


def build_dag(n):
    """Return (layer of each model, parents of each model)."""
    sizes = layer_sizes(n)
    layer_of, start = [], []
    for l, s in enumerate(sizes):
        start.append(len(layer_of))
        layer_of.extend([l] * s)
    parents = []
    for i in range(n):
        l = layer_of[i]
        if l == 0:
            parents.append([])
            continue
        h = lcg(i * 7919 + 17)
        k = 1 if l == 1 else 1 + (h >> 40) % 3
        k = min(k, start[l])  # cannot have more parents than there are earlier models
        refs = []
        while len(refs) < k:
            h = lcg(h)
            skip = l > 1 and (h >> 60) % 4 == 0
            h = lcg(h)
            pl = (h >> 35) % (l - 1) if skip else l - 1  # parent layer
            h = lcg(h)
            u = ((h >> 11) & ((1 << 53) - 1)) / (1 << 53)
            j = start[pl] + int(sizes[pl] * u * u)  # skewed toward the layer's first models
            if j not in refs:
                refs.append(j)
        parents.append(refs)
    return layer_of, parents


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--materialized", choices=["view", "table"], default="view")
    args = ap.parse_args()
    n, out = args.n, args.out
    layer_of, parents = build_dag(n)

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "dbt_project.yml"), "w") as f:
        f.write(f"""name: dag_bench
version: "1.0.0"
config-version: 2
profile: dag_bench

model-paths: ["models"]

models:
  dag_bench:
    +materialized: {args.materialized}
""")
    for l in range(len(LAYERS)):
        os.makedirs(os.path.join(out, "models", f"layer_{l}"), exist_ok=True)
    for i in range(n):
        name = f"m_{i:04d}"
        refs = parents[i]
        if not refs:
            sql = f"select 1 as id, {i} as value, 'root {i}' as label\n"
        else:
            value = " + ".join(f"p{a}.value" for a in range(len(refs)))
            sql = (f"-- layer {layer_of[i]}: refs {', '.join(f'm_{j:04d}' for j in refs)}\n"
                   f"select p0.id, {value} as value, p0.label\n"
                   f"from {{{{ ref('m_{refs[0]:04d}') }}}} p0")
            for a, j in enumerate(refs[1:], start=1):
                sql += f"\njoin {{{{ ref('m_{j:04d}') }}}} p{a} on p0.id = p{a}.id"
            sql += "\n"
        with open(os.path.join(out, "models", f"layer_{layer_of[i]}", name + ".sql"), "w") as f:
            f.write(sql)

    # Shape of the DAG.
    edges = sum(len(p) for p in parents)
    children = [0] * n
    for p in parents:
        for j in p:
            children[j] += 1
    depth, paths = [0] * n, [1] * n
    for i in range(n):  # parents always come earlier
        if parents[i]:
            depth[i] = 1 + max(depth[j] for j in parents[i])
            paths[i] = sum(paths[j] for j in parents[i])
    non_roots = sum(1 for p in parents if p)
    print(f"generated {n} models ({args.materialized}) in {out}: layers "
          f"{'/'.join(str(layer_of.count(l)) for l in range(len(LAYERS)))}, {edges} refs, "
          f"fan-in {edges / max(1, non_roots):.2f} on average, fan-out up to {max(children)}, "
          f"depth {max(depth)}; a view expands up to {max(paths)} upstream view paths "
          f"({sum(paths) / n:.1f} on average)")


if __name__ == "__main__":
    main()
