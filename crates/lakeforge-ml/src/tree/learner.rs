//! Leaf-wise (best-first) tree growth, LightGBM style: repeatedly split the
//! leaf with the largest gain until `num_leaves` is reached. Only the smaller
//! child's histogram is built from rows; the larger one is derived by
//! subtraction. Called once per boosting round and class by `gbdt::train`.
//!
//! Rows live in one index buffer; every leaf owns a contiguous range of it
//! (kept in increasing row order), and a split partitions its range in place.

use std::sync::Mutex;

use rayon::prelude::*;

use crate::binning::{BinColumn, BinnedData};
use crate::tree::histogram::{HistBin, Histogram, feature_offsets};
use crate::tree::split::{SplitCandidate, SplitConfig, SplitKind, Stats, leaf_output};
use crate::tree::{Node, SplitRule, Tree, bitset_from};

/// Growth limits on top of the split constraints.
#[derive(Debug, Clone, Copy)]
pub struct TreeConfig {
    pub num_leaves: usize,
    pub max_depth: i32,
    pub split: SplitConfig,
}

/// A grown tree plus the training rows that ended in each leaf (used to update
/// training scores without re-predicting, and for L1 leaf renewal).
pub struct GrownTree {
    pub tree: Tree,
    /// Row indices grouped by leaf: leaf `l` owns `indices[ranges[l].0..ranges[l].1]`.
    pub indices: Vec<u32>,
    pub ranges: Vec<(usize, usize)>,
}

impl GrownTree {
    /// Training rows (increasing) that ended in `leaf`.
    pub fn leaf_rows(&self, leaf: usize) -> &[u32] {
        let (a, b) = self.ranges[leaf];
        &self.indices[a..b]
    }

    /// Rows of every leaf, in leaf order.
    pub fn all_leaf_rows(&self) -> Vec<&[u32]> {
        (0..self.ranges.len()).map(|l| self.leaf_rows(l)).collect()
    }
}

struct Leaf {
    /// This leaf's rows are `indices[start..end]`.
    start: usize,
    end: usize,
    hist: Histogram,
    stats: Stats,
    depth: usize,
    output: f64,
    best: Option<SplitCandidate>,
    /// Node whose child pointer refers to this leaf, and which side.
    parent: Option<(usize, bool)>,
}

/// Reusable learner state for one training run (offsets are computed once).
pub struct TreeLearner<'a> {
    data: &'a BinnedData,
    offsets: Vec<usize>,
    cfg: TreeConfig,
    /// Histogram buffers of the last tree's leaves, reused by the next tree.
    spare: Mutex<Vec<Vec<HistBin>>>,
}

/// Rows per parallel partition chunk; ranges shorter than two chunks are
/// partitioned on the calling thread.
const PARTITION_CHUNK: usize = 1 << 15;

impl<'a> TreeLearner<'a> {
    pub fn new(data: &'a BinnedData, cfg: TreeConfig) -> Self {
        TreeLearner {
            data,
            offsets: feature_offsets(data),
            cfg,
            spare: Mutex::new(Vec::new()),
        }
    }

    /// Grows one tree on gradients `g`/`h` (indexed by row). `bag` restricts
    /// training to a sorted subset of rows; `active` masks features.
    pub fn grow(&self, g: &[f32], h: &[f32], bag: Option<&[u32]>, active: &[bool]) -> GrownTree {
        let mut indices: Vec<u32> = match bag {
            Some(b) => b.to_vec(),
            None => (0..self.data.n_rows as u32).collect(),
        };
        let mut scratch = vec![0u32; indices.len()];
        let mut spare = std::mem::take(&mut *self.spare.lock().unwrap_or_else(|e| e.into_inner()));
        let hist = Histogram::build(
            spare.pop().unwrap_or_default(),
            self.data,
            &self.offsets,
            active,
            bag,
            g,
            h,
        );
        let stats = sum_stats(&indices, g, h, bag.is_none());
        let l = &self.cfg.split;
        let output = leaf_output(stats.g, stats.h, l.lambda_l1, l.lambda_l2, l.max_delta_step);
        let mut root = Leaf {
            start: 0,
            end: indices.len(),
            hist,
            stats,
            depth: 0,
            output,
            best: None,
            parent: None,
        };
        root.best = self.find_best(&root, active);
        let mut leaves = vec![root];
        let mut nodes: Vec<Node> = Vec::new();

        while leaves.len() < self.cfg.num_leaves {
            // Highest gain wins; ties go to the lowest leaf index (deterministic).
            let mut pick: Option<(usize, f64)> = None;
            for (i, leaf) in leaves.iter().enumerate() {
                if let Some(b) = &leaf.best
                    && b.gain > 0.0
                    && pick.is_none_or(|(_, g)| b.gain > g)
                {
                    pick = Some((i, b.gain));
                }
            }
            // No leaf left with a split that gains: the tree is done.
            let Some((li, split)) =
                pick.and_then(|(li, _)| leaves[li].best.take().map(|split| (li, split)))
            else {
                break;
            };
            let node_idx = nodes.len();
            let new_leaf = leaves.len();
            let parent = leaves[li].parent;
            let (start, end) = (leaves[li].start, leaves[li].end);
            let n_left = self.partition(&mut indices[start..end], &mut scratch[start..end], &split);
            let mid = start + n_left;
            let rule = self.rule_of(&split);
            nodes.push(Node {
                feature: split.feature as u32,
                rule,
                left: !(li as i32),
                right: !(new_leaf as i32),
                gain: split.gain,
            });
            if let Some((p, is_left)) = parent {
                if is_left {
                    nodes[p].left = node_idx as i32;
                } else {
                    nodes[p].right = node_idx as i32;
                }
            }

            let depth = leaves[li].depth + 1;
            let left_smaller = n_left <= end - mid;
            let small_rows = if left_smaller {
                &indices[start..mid]
            } else {
                &indices[mid..end]
            };
            let small_hist = Histogram::build(
                spare.pop().unwrap_or_default(),
                self.data,
                &self.offsets,
                active,
                Some(small_rows),
                g,
                h,
            );
            let mut large_hist = std::mem::replace(&mut leaves[li].hist, Histogram::zeros(0));
            large_hist.subtract(&small_hist);
            let (left_hist, right_hist) = if left_smaller {
                (small_hist, large_hist)
            } else {
                (large_hist, small_hist)
            };
            let mut left = Leaf {
                start,
                end: mid,
                hist: left_hist,
                stats: split.left,
                depth,
                output: split.left_output,
                best: None,
                parent: Some((node_idx, true)),
            };
            let mut right = Leaf {
                start: mid,
                end,
                hist: right_hist,
                stats: split.right,
                depth,
                output: split.right_output,
                best: None,
                parent: Some((node_idx, false)),
            };
            let can_grow = leaves.len() + 1 < self.cfg.num_leaves;
            if can_grow {
                let (bl, br) = rayon::join(
                    || self.find_best(&left, active),
                    || self.find_best(&right, active),
                );
                left.best = bl;
                right.best = br;
            }
            leaves[li] = left;
            leaves.push(right);
        }

        let leaf_values = leaves.iter().map(|l| l.output).collect();
        let ranges = leaves.iter().map(|l| (l.start, l.end)).collect();
        spare.extend(leaves.into_iter().map(|l| l.hist.bins));
        *self.spare.lock().unwrap_or_else(|e| e.into_inner()) = spare;
        GrownTree {
            tree: Tree { nodes, leaf_values },
            indices,
            ranges,
        }
    }

    fn find_best(&self, leaf: &Leaf, active: &[bool]) -> Option<SplitCandidate> {
        let l = &self.cfg.split;
        if self.cfg.max_depth > 0 && leaf.depth >= self.cfg.max_depth as usize {
            return None;
        }
        if leaf.stats.n < 2 * l.min_data_in_leaf || leaf.stats.h < 2.0 * l.min_sum_hessian_in_leaf {
            return None;
        }
        let candidates: Vec<Option<SplitCandidate>> = (0..self.data.mappers.len())
            .into_par_iter()
            .with_min_len(8)
            .map(|f| {
                if !active[f] {
                    return None;
                }
                l.best_split(
                    f,
                    &self.data.mappers[f],
                    leaf.hist.feature(&self.offsets, f),
                    &leaf.stats,
                )
            })
            .collect();
        let mut best: Option<SplitCandidate> = None;
        for c in candidates.into_iter().flatten() {
            if best.as_ref().is_none_or(|b| c.gain > b.gain) {
                best = Some(c);
            }
        }
        best
    }

    fn rule_of(&self, split: &SplitCandidate) -> SplitRule {
        let mapper = &self.data.mappers[split.feature];
        match &split.kind {
            SplitKind::Numeric {
                threshold_bin,
                default_left,
            } => {
                // The last value bin's bound is +inf ("all values left, missing
                // right"); store the largest finite value so model files only
                // ever hold finite numbers.
                let t = mapper.threshold(*threshold_bin);
                SplitRule::Numeric {
                    threshold: if t.is_finite() { t } else { f64::MAX },
                    default_left: *default_left,
                }
            }
            SplitKind::Categorical { left_bins } => SplitRule::Categorical {
                bitset: bitset_from(left_bins),
            },
        }
    }

    /// Stable in-place partition of `rows` by `split`: left rows first, both
    /// sides keeping their order. Returns the number of left rows.
    fn partition(&self, rows: &mut [u32], scratch: &mut [u32], split: &SplitCandidate) -> usize {
        let col = &self.data.columns[split.feature];
        let missing = self.data.mappers[split.feature].missing_bin();
        let mut go_left = vec![false; self.data.mappers[split.feature].num_bins()];
        match &split.kind {
            SplitKind::Numeric {
                threshold_bin,
                default_left,
            } => {
                go_left[..=*threshold_bin]
                    .iter_mut()
                    .for_each(|x| *x = true);
                go_left[missing] = *default_left;
            }
            SplitKind::Categorical { left_bins } => {
                left_bins.iter().for_each(|&b| go_left[b] = true);
            }
        }
        // Left rows are compacted to the front of `rows`, right rows go to
        // `scratch`; both writes happen unconditionally (branch-free).
        let part = |rows: &mut [u32], scratch: &mut [u32]| -> usize {
            let (mut nl, mut nr) = (0usize, 0usize);
            for i in 0..rows.len() {
                let r = rows[i];
                let left = match col {
                    BinColumn::U8(c) => go_left[c[r as usize] as usize],
                    BinColumn::U16(c) => go_left[c[r as usize] as usize],
                };
                rows[nl] = r;
                scratch[nr] = r;
                nl += usize::from(left);
                nr += usize::from(!left);
            }
            nl
        };
        if rows.len() < 2 * PARTITION_CHUNK {
            let nl = part(rows, scratch);
            let nr = rows.len() - nl;
            rows[nl..].copy_from_slice(&scratch[..nr]);
            return nl;
        }
        // Chunks are partitioned in parallel, then concatenated in order
        // (all lefts, then all rights): identical to the sequential result.
        let lefts: Vec<usize> = rows
            .par_chunks_mut(PARTITION_CHUNK)
            .zip(scratch.par_chunks_mut(PARTITION_CHUNK))
            .map(|(r, s)| part(r, s))
            .collect();
        let mut nl = 0usize;
        for (c, &cl) in lefts.iter().enumerate() {
            let from = c * PARTITION_CHUNK;
            rows.copy_within(from..from + cl, nl);
            nl += cl;
        }
        // Right rows of chunk c sit at scratch[c * CHUNK..][..len_c - left_c].
        let mut at = nl;
        for (c, &cl) in lefts.iter().enumerate() {
            let from = c * PARTITION_CHUNK;
            let len = PARTITION_CHUNK.min(rows.len() - from);
            let nr = len - cl;
            rows[at..at + nr].copy_from_slice(&scratch[from..from + nr]);
            at += nr;
        }
        nl
    }
}

fn sum_stats(rows: &[u32], g: &[f32], h: &[f32], all: bool) -> Stats {
    let (sg, sh) = if all {
        (
            g.iter().map(|&x| x as f64).sum(),
            h.iter().map(|&x| x as f64).sum(),
        )
    } else {
        rows.iter().fold((0.0, 0.0), |(a, b), &r| {
            (a + g[r as usize] as f64, b + h[r as usize] as f64)
        })
    };
    Stats {
        g: sg,
        h: sh,
        n: rows.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binning::BinningConfig;
    use crate::dataset::Dataset;

    fn cfg(num_leaves: usize) -> TreeConfig {
        TreeConfig {
            num_leaves,
            max_depth: -1,
            split: SplitConfig {
                lambda_l1: 0.0,
                lambda_l2: 0.0,
                max_delta_step: 0.0,
                min_data_in_leaf: 1,
                min_sum_hessian_in_leaf: 0.0,
                min_gain_to_split: 0.0,
                max_cat_threshold: 32,
                max_cat_to_onehot: 4,
                cat_l2: 10.0,
                cat_smooth: 10.0,
                min_data_per_group: 1,
            },
        }
    }

    #[test]
    fn learns_step_function_and_leaf_rows_cover_all() {
        // y = 1 for x > 5 else -1; L2 gradient at score 0 is -y.
        let rows: Vec<Vec<f64>> = (0..20).map(|i| vec![i as f64, (i % 3) as f64]).collect();
        let ds = Dataset::from_rows(&rows);
        let binned = BinnedData::build(
            &ds,
            &BinningConfig {
                max_bin: 255,
                min_data_in_bin: 1,
                sample_cnt: 1000,
                seed: 0,
            },
        )
        .unwrap();
        let g: Vec<f32> = (0..20).map(|i| if i > 5 { -1.0 } else { 1.0 }).collect();
        let h = vec![1.0f32; 20];
        let learner = TreeLearner::new(&binned, cfg(4));
        let grown = learner.grow(&g, &h, None, &[true, true]);
        let t = &grown.tree;
        assert!(t.num_leaves() >= 2);
        for (i, r) in rows.iter().enumerate() {
            let p = t.predict_row(r);
            assert_eq!(p, if i > 5 { 1.0 } else { -1.0 }, "row {i}");
        }
        let mut all: Vec<u32> = grown.all_leaf_rows().concat();
        all.sort();
        assert_eq!(all, (0..20).collect::<Vec<u32>>());
        // Leaf rows agree with tree routing.
        for (leaf, rs) in grown.all_leaf_rows().into_iter().enumerate() {
            assert!(rs.windows(2).all(|w| w[0] < w[1]), "rows stay sorted");
            for &r in rs {
                assert_eq!(t.leaf_index(|f| rows[r as usize][f]), leaf);
            }
        }
    }
}
