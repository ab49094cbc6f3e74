//! Gradient-boosted decision trees (LightGBM-style). [`train`] runs the
//! boosting loop over a [`Dataset`]; the resulting [`GbdtModel`] is what the
//! model file stores and what prediction evaluates, row block by row block.

mod forest;
mod train;

pub use train::{TrainOutput, train};

use std::sync::OnceLock;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::objective::transform_row;
use crate::params::{GbdtParams, Objective};
use crate::tree::Tree;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbdtModel {
    pub params: GbdtParams,
    /// Trees per boosting round (number of classes for multiclass, else 1).
    pub num_tree_per_iteration: usize,
    /// Starting raw score per class (boost_from_average).
    pub init_scores: Vec<f64>,
    /// Round-major: round `i`, class `k` is `trees[i * num_tree_per_iteration + k]`.
    pub trees: Vec<Tree>,
    /// Round chosen by early stopping (1-based count of rounds kept), if it ran.
    pub best_iteration: Option<usize>,
    pub num_features: usize,
    /// Flattened prediction layout, derived from `trees` on first use (not
    /// serialised, ignored by equality). Build models with [`train`] or
    /// load them; do not edit `trees` after predicting with a model.
    #[serde(skip)]
    pub(crate) forest: ForestCache,
}

/// Lazily built [`forest::FlatForest`]; compares equal to any other cache so
/// model equality only concerns the serialised fields.
#[derive(Clone, Default)]
pub(crate) struct ForestCache(OnceLock<forest::FlatForest>);

impl PartialEq for ForestCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for ForestCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "ForestCache(built)"
        } else {
            "ForestCache(empty)"
        })
    }
}

/// Which quantity feature importance sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportanceType {
    /// Number of times a feature is used to split.
    Split,
    /// Total loss reduction of the splits using a feature.
    Gain,
}

const PREDICT_BLOCK: usize = 1024;

impl GbdtModel {
    pub fn objective(&self) -> Objective {
        self.params.objective
    }

    pub fn num_iterations(&self) -> usize {
        self.trees.len() / self.num_tree_per_iteration.max(1)
    }

    fn forest(&self) -> &forest::FlatForest {
        let f = self
            .forest
            .0
            .get_or_init(|| forest::FlatForest::new(&self.trees, self.num_features));
        debug_assert_eq!(
            f.num_trees(),
            self.trees.len(),
            "trees edited after predicting"
        );
        f
    }

    /// Raw scores (before sigmoid/softmax/exp), row-major `n × k`.
    pub fn predict_raw(&self, data: &Dataset) -> Vec<f64> {
        let k = self.num_tree_per_iteration.max(1);
        let n = data.n_rows();
        let forest = self.forest();
        let mut out = vec![0.0; n * k];
        let predict_chunk = |(bi, chunk): (usize, &mut [f64])| {
            let start = bi * PREDICT_BLOCK;
            let end = (start + PREDICT_BLOCK).min(n);
            let p = data.n_features();
            let mut block = Vec::new();
            data.row_block(start, end, &mut block);
            for o in chunk.chunks_mut(k) {
                o.copy_from_slice(&self.init_scores[..k]);
            }
            let mut r0 = 0;
            while r0 < end - start {
                let rows = forest::ROW_BLOCK.min(end - start - r0);
                forest.add_block(
                    &block[r0 * p..(r0 + rows) * p],
                    rows,
                    k,
                    &mut chunk[r0 * k..(r0 + rows) * k],
                );
                r0 += rows;
            }
        };
        if n <= PREDICT_BLOCK {
            // One block: skip the thread-pool round trip (single-row latency).
            out.chunks_mut(PREDICT_BLOCK * k)
                .enumerate()
                .for_each(predict_chunk);
        } else {
            out.par_chunks_mut(PREDICT_BLOCK * k)
                .enumerate()
                .for_each(predict_chunk);
        }
        out
    }

    /// Raw scores of one row of features (`num_features` values in dataset
    /// order, NaN = missing) written to `out` (length k). Same result as
    /// [`GbdtModel::predict_raw`] on that row, without any allocation.
    pub fn predict_row_raw(&self, x: &[f64], out: &mut [f64]) {
        let k = self.num_tree_per_iteration.max(1);
        assert_eq!(x.len(), self.num_features, "feature count");
        out[..k].copy_from_slice(&self.init_scores[..k]);
        self.forest().predict_row_raw(x, k, &mut out[..k]);
    }

    /// Transformed prediction of one row (see [`GbdtModel::predict_row_raw`]).
    pub fn predict_row(&self, x: &[f64], out: &mut [f64]) {
        let k = self.num_tree_per_iteration.max(1);
        self.predict_row_raw(x, out);
        transform_row(self.objective(), &mut out[..k]);
    }

    /// Transformed predictions: probability of class 1 (binary), class
    /// probabilities (multiclass, row-major `n × k`) or the predicted value.
    pub fn predict(&self, data: &Dataset) -> Vec<f64> {
        let k = self.num_tree_per_iteration;
        let mut raw = self.predict_raw(data);
        let obj = self.objective();
        let transform = |c: &mut [f64]| c.chunks_mut(k).for_each(|r| transform_row(obj, r));
        if raw.len() <= k * PREDICT_BLOCK {
            transform(&mut raw);
        } else {
            raw.par_chunks_mut(k * PREDICT_BLOCK).for_each(transform);
        }
        raw
    }

    /// Per-feature importance summed over all trees.
    pub fn feature_importance(&self, kind: ImportanceType) -> Vec<f64> {
        let mut imp = vec![0.0; self.num_features];
        for t in &self.trees {
            for n in &t.nodes {
                imp[n.feature as usize] += match kind {
                    ImportanceType::Split => 1.0,
                    ImportanceType::Gain => n.gain,
                };
            }
        }
        imp
    }
}
