//! Prediction layout of a trained ensemble: every tree flattened into one
//! contiguous node array, with leaves stored as nodes that point to
//! themselves. A tree is then evaluated by exactly `depth` branch-free steps
//! (`node = children[goes_left]`), which lets many independent traversals run
//! interleaved: a block of rows through one tree for batch prediction, a group
//! of trees for one row in [`FlatForest::predict_row_raw`]. Rows without NaN
//! (checked per block) take a step without the default-direction test. The
//! routing rules
//! are exactly those of [`Tree`](crate::tree::Tree) (`value <= threshold`,
//! NaN follows `default_left`, categorical bitsets), and scores are summed in
//! tree order, so results are bit-identical to walking the trees one by one.
//!
//! The forest is derived from [`GbdtModel::trees`](super::GbdtModel) when first
//! needed and is never serialised.

use crate::tree::{SplitRule, Tree, bitset_contains};

const DEFAULT_LEFT: u32 = 1;
const CATEGORICAL: u32 = 2;

/// Rows evaluated together per tree in batch prediction (their row-major
/// features stay in L1 while all trees run over them). A block steps until
/// its deepest row lands, so smaller blocks waste fewer steps on rows already
/// in leaves; 16 measured faster than 8, 32 and 64 (BENCHMARKS.md).
pub(crate) const ROW_BLOCK: usize = 16;
/// Trees evaluated together for a single row (16 measured faster than 8 and 32).
const TREE_GROUP: usize = 16;

#[derive(Debug, Clone, Copy)]
struct FlatNode {
    /// Numeric threshold; for categorical nodes the bitset range, packed as
    /// `offset << 32 | len` in the bits.
    threshold: f64,
    feature: u32,
    flags: u32,
    /// `children[1]` when the row goes left, `children[0]` when it goes right.
    children: [u32; 2],
}

#[derive(Debug, Clone, Default)]
pub(crate) struct FlatForest {
    nodes: Vec<FlatNode>,
    /// Leaf value per node (0 for internal nodes).
    values: Vec<f64>,
    roots: Vec<u32>,
    /// Steps from the root to the deepest leaf, per tree.
    depths: Vec<u32>,
    bitsets: Vec<u32>,
    num_features: usize,
    /// Any categorical node at all (otherwise the cheaper numeric-only
    /// step is used).
    has_categorical: bool,
}

impl FlatForest {
    pub(crate) fn new(trees: &[Tree], num_features: usize) -> FlatForest {
        let mut f = FlatForest {
            num_features,
            ..Default::default()
        };
        for tree in trees {
            let base = f.nodes.len() as u32;
            let n_internal = tree.nodes.len() as u32;
            let child = |c: i32| -> u32 {
                if c >= 0 {
                    base + c as u32
                } else {
                    base + n_internal + (!c) as u32
                }
            };
            for node in &tree.nodes {
                assert!(
                    (node.feature as usize) < num_features,
                    "split feature {} out of range ({num_features} features)",
                    node.feature
                );
                let (threshold, flags) = match &node.rule {
                    SplitRule::Numeric {
                        threshold,
                        default_left,
                    } => (*threshold, if *default_left { DEFAULT_LEFT } else { 0 }),
                    SplitRule::Categorical { bitset } => {
                        f.has_categorical = true;
                        let packed = ((f.bitsets.len() as u64) << 32) | bitset.len() as u64;
                        f.bitsets.extend_from_slice(bitset);
                        (f64::from_bits(packed), CATEGORICAL)
                    }
                };
                f.nodes.push(FlatNode {
                    threshold,
                    feature: node.feature,
                    flags,
                    children: [child(node.right), child(node.left)],
                });
                f.values.push(0.0);
            }
            for (l, &v) in tree.leaf_values.iter().enumerate() {
                let me = base + n_internal + l as u32;
                f.nodes.push(FlatNode {
                    threshold: 0.0,
                    feature: 0,
                    flags: 0,
                    children: [me, me],
                });
                f.values.push(v);
            }
            f.roots.push(if n_internal > 0 {
                base
            } else {
                base + n_internal
            });
            f.depths.push(tree_depth(tree));
        }
        // Invariants the unchecked indexing in `step` relies on.
        let n_nodes = f.nodes.len();
        for n in &f.nodes {
            assert!(n.children.iter().all(|&c| (c as usize) < n_nodes));
        }
        assert!(f.roots.iter().all(|&r| (r as usize) < n_nodes));
        f
    }

    pub(crate) fn num_trees(&self) -> usize {
        self.roots.len()
    }

    /// One routing step from node `i` for the row whose features start at
    /// `x[base]` (`x.len() >= base + num_features`). `CAT`: the forest may
    /// hold categorical nodes; `NAN`: the row may hold NaN (rows without any
    /// skip the default-direction test, a fifth of a step's instructions).
    #[inline(always)]
    #[allow(unsafe_code)] // audited: see SAFETY below
    fn step<const CAT: bool, const NAN: bool>(&self, i: u32, x: &[f64], base: usize) -> u32 {
        debug_assert!((i as usize) < self.nodes.len() && x.len() >= base + self.num_features);
        // SAFETY: `new` asserts every child and root index is < nodes.len()
        // (so `i`, always a root or a child, is in range) and every split
        // feature is < num_features; callers pass `base` with
        // base + num_features <= x.len() (checked in `add_block_impl` /
        // `predict_row_raw`). Leaves use feature 0: they are only stepped in
        // trees of depth > 0, whose internal nodes prove num_features >= 1.
        let n = unsafe { self.nodes.get_unchecked(i as usize) };
        let v = unsafe { *x.get_unchecked(base + n.feature as usize) };
        let left = if !CAT || n.flags & CATEGORICAL == 0 {
            if NAN {
                (v <= n.threshold) | ((n.flags & DEFAULT_LEFT != 0) & v.is_nan())
            } else {
                v <= n.threshold
            }
        } else {
            let packed = n.threshold.to_bits();
            let (off, len) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
            !v.is_nan()
                && v >= 0.0
                && v.fract() == 0.0
                && bitset_contains(&self.bitsets[off..off + len], v as usize)
        };
        n.children[usize::from(left)]
    }

    /// Adds every tree's output to the raw scores of a block of rows.
    /// `x` is row-major (`rows × num_features`), `out` row-major
    /// (`rows × k`, pre-filled with the initial scores); tree `t` feeds
    /// output `t % k`.
    pub(crate) fn add_block(&self, x: &[f64], rows: usize, k: usize, out: &mut [f64]) {
        let x = &x[..rows * self.num_features];
        match (self.has_categorical, x.iter().any(|v| v.is_nan())) {
            (false, false) => self.add_block_impl::<false, false>(x, rows, k, out),
            (false, true) => self.add_block_impl::<false, true>(x, rows, k, out),
            (true, false) => self.add_block_impl::<true, false>(x, rows, k, out),
            (true, true) => self.add_block_impl::<true, true>(x, rows, k, out),
        }
    }

    fn add_block_impl<const CAT: bool, const NAN: bool>(
        &self,
        x: &[f64],
        rows: usize,
        k: usize,
        out: &mut [f64],
    ) {
        let p = self.num_features;
        assert!(rows <= ROW_BLOCK && x.len() >= rows * p && out.len() >= rows * k);
        let mut idx = [0u32; ROW_BLOCK];
        for (t, (&root, &depth)) in self.roots.iter().zip(&self.depths).enumerate() {
            let idx = &mut idx[..rows];
            idx.fill(root);
            for _ in 0..depth {
                // Leaves step to themselves: once no row moves, all are in leaves
                // (leaf-wise trees are deep on a few paths only).
                let mut moved = false;
                for (j, i) in idx.iter_mut().enumerate() {
                    let next = self.step::<CAT, NAN>(*i, x, j * p);
                    moved |= next != *i;
                    *i = next;
                }
                if !moved {
                    break;
                }
            }
            let c = t % k;
            for (j, &i) in idx.iter().enumerate() {
                out[j * k + c] += self.values[i as usize];
            }
        }
    }

    /// Raw scores of one row (`x` has `num_features` values) added to `out`
    /// (length `k`, pre-filled with the initial scores). Groups of trees are
    /// traversed interleaved; outputs are still added in tree order.
    pub(crate) fn predict_row_raw(&self, x: &[f64], k: usize, out: &mut [f64]) {
        assert!(x.len() >= self.num_features && out.len() >= k);
        match (self.has_categorical, x.iter().any(|v| v.is_nan())) {
            (false, false) => self.predict_row_impl::<false, false>(x, k, out),
            (false, true) => self.predict_row_impl::<false, true>(x, k, out),
            (true, false) => self.predict_row_impl::<true, false>(x, k, out),
            (true, true) => self.predict_row_impl::<true, true>(x, k, out),
        }
    }

    fn predict_row_impl<const CAT: bool, const NAN: bool>(
        &self,
        x: &[f64],
        k: usize,
        out: &mut [f64],
    ) {
        let n_trees = self.num_trees();
        let mut t0 = 0;
        while t0 < n_trees {
            let m = TREE_GROUP.min(n_trees - t0);
            let mut idx = [0u32; TREE_GROUP];
            idx[..m].copy_from_slice(&self.roots[t0..t0 + m]);
            let depth = self.depths[t0..t0 + m].iter().copied().max().unwrap_or(0);
            for _ in 0..depth {
                let mut moved = false;
                for i in idx[..m].iter_mut() {
                    let next = self.step::<CAT, NAN>(*i, x, 0);
                    moved |= next != *i;
                    *i = next;
                }
                if !moved {
                    break;
                }
            }
            for (j, &i) in idx[..m].iter().enumerate() {
                out[(t0 + j) % k] += self.values[i as usize];
            }
            t0 += m;
        }
    }
}

/// Longest root-to-leaf path (number of internal nodes on it).
fn tree_depth(tree: &Tree) -> u32 {
    if tree.nodes.is_empty() {
        return 0;
    }
    let mut best = 0;
    let mut stack = vec![(0usize, 1u32)];
    while let Some((i, d)) = stack.pop() {
        best = best.max(d);
        let node = &tree.nodes[i];
        for c in [node.left, node.right] {
            if c >= 0 {
                stack.push((c as usize, d + 1));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{Node, bitset_from};

    fn tree() -> Tree {
        // node0: f0 <= 1.5 (NaN left) → node1 | leaf2
        // node1: f1 in {2, 40} → leaf0 | leaf1
        Tree {
            nodes: vec![
                Node {
                    feature: 0,
                    rule: SplitRule::Numeric {
                        threshold: 1.5,
                        default_left: true,
                    },
                    left: 1,
                    right: !2,
                    gain: 1.0,
                },
                Node {
                    feature: 1,
                    rule: SplitRule::Categorical {
                        bitset: bitset_from(&[2, 40]),
                    },
                    left: !0,
                    right: !1,
                    gain: 1.0,
                },
            ],
            leaf_values: vec![10.0, 20.0, 30.0],
        }
    }

    #[test]
    fn flat_forest_matches_tree_walk() {
        // More trees than a group, so a row is walked in several groups.
        let mut trees = vec![tree(), Tree::constant(0.25), tree()];
        trees.extend(std::iter::repeat_n(tree(), TREE_GROUP));
        trees.push(Tree::constant(-1.0));
        let f = FlatForest::new(&trees, 2);
        assert_eq!(f.depths[..3], [2, 0, 2]);
        let rows = [
            [1.0, 2.0],
            [1.0, 3.0],
            [f64::NAN, 40.0],
            [2.0, 2.0],
            [f64::NAN, f64::NAN],
            [1.5, 2.5],
            [-1e300, 0.0],
        ];
        let x: Vec<f64> = rows.iter().flatten().copied().collect();
        let mut out = vec![0.5; rows.len()];
        f.add_block(&x, rows.len(), 1, &mut out);
        for (r, row) in rows.iter().enumerate() {
            let want = trees.iter().fold(0.5, |acc, t| acc + t.predict_row(row));
            assert_eq!(out[r], want, "row {r}");
            let mut single = [0.5];
            f.predict_row_raw(row, 1, &mut single);
            assert_eq!(single[0], want, "row {r}");
        }
        // A block without NaN takes the step without the missing-value test.
        let clean: Vec<[f64; 2]> = rows
            .iter()
            .copied()
            .filter(|r| !r[0].is_nan() && !r[1].is_nan())
            .collect();
        let x: Vec<f64> = clean.iter().flatten().copied().collect();
        let mut out = vec![0.5; clean.len()];
        f.add_block(&x, clean.len(), 1, &mut out);
        for (r, row) in clean.iter().enumerate() {
            let want = trees.iter().fold(0.5, |acc, t| acc + t.predict_row(row));
            assert_eq!(out[r], want, "NaN-free row {r}");
        }
    }

    #[test]
    fn numeric_forest_routes_nan_by_default_direction() {
        // Numeric-only forests take the step without bitsets; NaN rows and
        // clean rows in one block and apart.
        let numeric = |default_left: bool| Tree {
            nodes: vec![Node {
                feature: 1,
                rule: SplitRule::Numeric {
                    threshold: 0.0,
                    default_left,
                },
                left: !0,
                right: !1,
                gain: 1.0,
            }],
            leaf_values: vec![1.0, 2.0],
        };
        let trees: Vec<Tree> = (0..40).map(|t| numeric(t % 3 == 0)).collect();
        let f = FlatForest::new(&trees, 2);
        assert!(!f.has_categorical);
        let rows = [[0.0, -1.0], [0.0, f64::NAN], [0.0, 1.0], [0.0, 0.0]];
        for block in [&rows[..], &rows[2..]] {
            let x: Vec<f64> = block.iter().flatten().copied().collect();
            let mut out = vec![0.0; block.len()];
            f.add_block(&x, block.len(), 1, &mut out);
            for (r, row) in block.iter().enumerate() {
                let want = trees.iter().fold(0.0, |acc, t| acc + t.predict_row(row));
                assert_eq!(out[r], want, "row {r}");
                let mut single = [0.0];
                f.predict_row_raw(row, 1, &mut single);
                assert_eq!(single[0], want, "row {r}");
            }
        }
    }
}
