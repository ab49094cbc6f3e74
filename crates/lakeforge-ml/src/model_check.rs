//! The consistency a loaded model must have before anything predicts with it. A model file's
//! checksum only proves the bytes are the ones written; a file written by hand (or by a
//! broken writer) can still decode into a model whose parts disagree: a tree pointing at a
//! node or leaf that is not there, or back at itself; a split on a feature the pipeline does
//! not produce; fewer scalers, coefficients or centroid values than features. Prediction
//! indexes by these numbers (the flattened forest without bounds checks), so
//! [`Model::from_bytes`](crate::Model::from_bytes) and [`Model::load`](crate::Model::load)
//! refuse such a model with the part at fault, and what `fit` produces always passes.

use crate::error::{MlError, Result};
use crate::model::{Estimator, Model, Task};
use crate::pipeline::{ColumnEncoding, PipelineMode, temporal_parts};
use crate::tree::Tree;

impl Model {
    /// Why this model cannot be used, if it cannot: an [`MlError::CorruptModel`] naming
    /// `path` (where the bytes came from) and the part at fault.
    pub(crate) fn check(&self, path: &str) -> Result<()> {
        let corrupt = |reason: String| MlError::corrupt_model(path, reason);
        let n_features = self.meta.feature_names.len();
        self.check_pipeline(n_features, corrupt)?;
        match (&self.estimator, self.meta.task) {
            (Estimator::KMeans(_), Task::Clustering) => {}
            (Estimator::KMeans(_), t) => {
                return Err(corrupt(format!(
                    "a k-means estimator for the {} task",
                    t.name()
                )));
            }
            (_, Task::Clustering) => {
                return Err(corrupt(
                    "the clustering task without a k-means estimator".into(),
                ));
            }
            _ => {}
        }
        match &self.estimator {
            Estimator::Gbdt(g) => {
                if g.num_features != n_features {
                    return Err(corrupt(format!(
                        "the trees read {} features, the pipeline makes {n_features}",
                        g.num_features
                    )));
                }
                let k = g.num_tree_per_iteration.max(1);
                if g.init_scores.len() < k {
                    return Err(corrupt(format!(
                        "{} initial scores for {k} trees per round",
                        g.init_scores.len()
                    )));
                }
                let mut bitset_words = 0usize;
                for (t, tree) in g.trees.iter().enumerate() {
                    check_tree(tree, n_features, |e| corrupt(format!("tree {t}: {e}")))?;
                    bitset_words += tree
                        .nodes
                        .iter()
                        .map(|n| match &n.rule {
                            crate::tree::SplitRule::Categorical { bitset } => bitset.len(),
                            crate::tree::SplitRule::Numeric { .. } => 0,
                        })
                        .sum::<usize>();
                }
                // The flattened forest packs bitset offsets and lengths into 32 bits each.
                if bitset_words > u32::MAX as usize {
                    return Err(corrupt("categorical splits too large".into()));
                }
            }
            Estimator::Linear(l) => {
                if l.coef.is_empty() {
                    return Err(corrupt("a linear estimator without coefficients".into()));
                }
                if l.intercept.len() != l.coef.len() {
                    return Err(corrupt(format!(
                        "{} intercepts for {} outputs",
                        l.intercept.len(),
                        l.coef.len()
                    )));
                }
                if let Some((c, w)) = l
                    .coef
                    .iter()
                    .enumerate()
                    .find(|(_, w)| w.len() != n_features)
                {
                    return Err(corrupt(format!(
                        "output {c} has {} coefficients for {n_features} features",
                        w.len()
                    )));
                }
            }
            Estimator::KMeans(km) => {
                if km.centroids.is_empty() {
                    return Err(corrupt("k-means without centroids".into()));
                }
                if let Some((c, x)) = km
                    .centroids
                    .iter()
                    .enumerate()
                    .find(|(_, x)| x.len() != n_features)
                {
                    return Err(corrupt(format!(
                        "centroid {c} has {} values for {n_features} features",
                        x.len()
                    )));
                }
            }
        }
        Ok(())
    }

    fn check_pipeline(&self, n_features: usize, corrupt: impl Fn(String) -> MlError) -> Result<()> {
        let p = &self.pipeline;
        if p.columns.is_empty() {
            return Err(corrupt("the pipeline reads no column".into()));
        }
        if self.meta.input_columns != p.input_columns() {
            return Err(corrupt(format!(
                "the model lists input columns [{}], its pipeline reads [{}]",
                self.meta.input_columns.join(", "),
                p.input_columns().join(", ")
            )));
        }
        let made = p.output_names().len();
        if made != n_features {
            return Err(corrupt(format!(
                "the pipeline makes {made} features, the model names {n_features}"
            )));
        }
        if p.mode == PipelineMode::Linear {
            for c in &p.columns {
                let needed = match &c.encoding {
                    ColumnEncoding::Numeric | ColumnEncoding::Codes => 1,
                    ColumnEncoding::Temporal { with_hour } => temporal_parts(*with_hour).len(),
                    ColumnEncoding::Categorical { .. } => {
                        usize::from(!p.categorical_encoding.is_one_hot())
                    }
                };
                if c.scalers.len() < needed {
                    return Err(corrupt(format!(
                        "column `{}` has {} scalers, needs {needed}",
                        c.name,
                        c.scalers.len()
                    )));
                }
            }
        }
        Ok(())
    }
}

/// A tree: every child reference in range, features in range, every internal node reached
/// from the root at most once (so no cycle), at least one leaf.
fn check_tree(tree: &Tree, n_features: usize, corrupt: impl Fn(String) -> MlError) -> Result<()> {
    let (n_nodes, n_leaves) = (tree.nodes.len(), tree.leaf_values.len());
    if n_leaves == 0 {
        return Err(corrupt("no leaf".into()));
    }
    if n_nodes == 0 {
        return Ok(());
    }
    // Every node, reachable or not: the flattened forest lays them all out.
    for (i, node) in tree.nodes.iter().enumerate() {
        if node.feature as usize >= n_features {
            return Err(corrupt(format!(
                "node {i} splits on feature {} of {n_features}",
                node.feature
            )));
        }
        for child in [node.left, node.right] {
            if child >= 0 && child as usize >= n_nodes {
                return Err(corrupt(format!(
                    "node {i} points at node {child} of {n_nodes}"
                )));
            }
            if child < 0 && (!child) as usize >= n_leaves {
                return Err(corrupt(format!(
                    "node {i} points at leaf {} of {n_leaves}",
                    !child
                )));
            }
        }
    }
    let mut seen = vec![false; n_nodes];
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            return Err(corrupt(format!(
                "node {i} is reached twice (the tree has a cycle)"
            )));
        }
        let node = &tree.nodes[i];
        stack.extend(
            [node.left, node.right]
                .into_iter()
                .filter(|c| *c >= 0)
                .map(|c| c as usize),
        );
    }
    Ok(())
}
