//! Gradient-boosted decision trees (LightGBM-style). [`train`] runs the
//! boosting loop over a [`Dataset`]; the resulting [`GbdtModel`] is what the
//! model file stores and what prediction evaluates, row block by row block.

mod train;

pub use train::{TrainOutput, train};

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

    /// Raw scores (before sigmoid/softmax/exp), row-major `n × k`.
    pub fn predict_raw(&self, data: &Dataset) -> Vec<f64> {
        let k = self.num_tree_per_iteration;
        let n = data.n_rows();
        let mut out = vec![0.0; n * k];
        out.par_chunks_mut(PREDICT_BLOCK * k)
            .enumerate()
            .for_each(|(bi, chunk)| {
                let start = bi * PREDICT_BLOCK;
                let end = (start + PREDICT_BLOCK).min(n);
                let mut block = Vec::new();
                data.row_block(start, end, &mut block);
                let p = data.n_features();
                for (i, row) in block.chunks(p.max(1)).take(end - start).enumerate() {
                    let o = &mut chunk[i * k..(i + 1) * k];
                    o.copy_from_slice(&self.init_scores);
                    for (t, tree) in self.trees.iter().enumerate() {
                        o[t % k] += tree.predict_row(row);
                    }
                }
            });
        out
    }

    /// Transformed predictions: probability of class 1 (binary), class
    /// probabilities (multiclass, row-major `n × k`) or the predicted value.
    pub fn predict(&self, data: &Dataset) -> Vec<f64> {
        let k = self.num_tree_per_iteration;
        let mut raw = self.predict_raw(data);
        let obj = self.objective();
        raw.par_chunks_mut(k * PREDICT_BLOCK).for_each(|c| {
            c.chunks_mut(k).for_each(|r| transform_row(obj, r));
        });
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
