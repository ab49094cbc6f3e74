//! The boosting loop: bin the data once, then each round compute gradients,
//! optionally bag rows / sample features, grow one tree per class, update
//! train and validation scores, and check early stopping.

use rayon::prelude::*;

use crate::binning::{BinnedData, BinningConfig};
use crate::dataset::Dataset;
use crate::error::{MlError, Result};
use crate::gbdt::GbdtModel;
use crate::metrics;
use crate::objective::{Loss, transform_row};
use crate::params::{GbdtParams, Objective, with_threads};
use crate::rng::Rng;
use crate::tree::Tree;
use crate::tree::learner::{TreeConfig, TreeLearner};
use crate::tree::split::SplitConfig;

/// Training result: the model and the validation metric per round (empty
/// without a validation set).
#[derive(Debug, Clone)]
pub struct TrainOutput {
    pub model: GbdtModel,
    pub valid_scores: Vec<f64>,
}

/// Trains boosted trees on `data`/`labels` (class index for classification),
/// using `valid` for early stopping when given. `target` names the label
/// column in error messages.
pub fn train(
    data: &Dataset,
    labels: &[f64],
    params: &GbdtParams,
    valid: Option<(&Dataset, &[f64])>,
    target: &str,
) -> Result<TrainOutput> {
    if data.n_rows() == 0 {
        return Err(MlError::EmptyData("the training set has no rows".into()));
    }
    if data.n_rows() != labels.len() {
        return Err(MlError::InvalidInput(format!(
            "{} feature rows but {} labels",
            data.n_rows(),
            labels.len()
        )));
    }
    with_threads(params.num_threads, || {
        train_inner(data, labels, params, valid, target)
    })?
}

fn train_inner(
    data: &Dataset,
    labels: &[f64],
    params: &GbdtParams,
    valid: Option<(&Dataset, &[f64])>,
    target: &str,
) -> Result<TrainOutput> {
    let loss = Loss::new(params, labels, target)?;
    let k = loss.num_class;
    let n = data.n_rows();
    let binned = BinnedData::build(
        data,
        &BinningConfig {
            max_bin: params.max_bin,
            min_data_in_bin: params.min_data_in_bin,
            sample_cnt: params.bin_construct_sample_cnt,
            seed: params.seed,
        },
    )?;
    let learner = TreeLearner::new(
        &binned,
        TreeConfig {
            num_leaves: params.num_leaves,
            max_depth: params.max_depth,
            split: SplitConfig {
                lambda_l1: params.lambda_l1,
                lambda_l2: params.lambda_l2,
                max_delta_step: params.max_delta_step,
                min_data_in_leaf: params.min_data_in_leaf,
                min_sum_hessian_in_leaf: params.min_sum_hessian_in_leaf,
                min_gain_to_split: params.min_gain_to_split,
                max_cat_threshold: params.max_cat_threshold,
                max_cat_to_onehot: params.max_cat_to_onehot,
                cat_l2: params.cat_l2,
                cat_smooth: params.cat_smooth,
                min_data_per_group: params.min_data_per_group,
            },
        },
    );
    let init_scores = if params.boost_from_average {
        loss.init_scores(labels)
    } else {
        vec![0.0; k]
    };
    // Class-major score matrices: class c of row i at c * n + i.
    let mut scores: Vec<f64> = init_scores
        .iter()
        .flat_map(|&s| std::iter::repeat_n(s, n))
        .collect();
    let nv = valid.map_or(0, |(d, _)| d.n_rows());
    let mut vscores: Vec<f64> = init_scores
        .iter()
        .flat_map(|&s| std::iter::repeat_n(s, nv))
        .collect();
    let mut g = vec![0f32; n * k];
    let mut h = vec![0f32; n * k];
    let mut bag_rng = Rng::derive(params.seed, 2);
    let mut feat_rng = Rng::derive(params.seed, 3);
    let mut bag: Option<Vec<u32>> = None;
    let metric = params.metric();
    let mut trees: Vec<Tree> = Vec::new();
    let mut valid_scores = Vec::new();
    let mut best: Option<(usize, f64)> = None;
    let n_feat = data.n_features();

    for iter in 0..params.num_iterations {
        loss.gradients(labels, &scores, &mut g, &mut h);
        if params.bagging_freq > 0
            && params.bagging_fraction < 1.0
            && iter % params.bagging_freq == 0
        {
            let keep = ((n as f64 * params.bagging_fraction).round() as usize).max(1);
            bag = Some(
                bag_rng
                    .sample_indices(n, keep)
                    .into_iter()
                    .map(|i| i as u32)
                    .collect(),
            );
        }
        let active: Vec<bool> = if params.feature_fraction < 1.0 {
            let m = ((n_feat as f64 * params.feature_fraction).round() as usize).max(1);
            let chosen = feat_rng.sample_indices(n_feat, m);
            let mut a = vec![false; n_feat];
            chosen.into_iter().for_each(|f| a[f] = true);
            a
        } else {
            vec![true; n_feat]
        };

        let mut round: Vec<Tree> = Vec::with_capacity(k);
        for c in 0..k {
            let (gc, hc) = (&g[c * n..(c + 1) * n], &h[c * n..(c + 1) * n]);
            let grown = learner.grow(gc, hc, bag.as_deref(), &active);
            let mut tree = grown.tree.clone();
            let cls_scores = &mut scores[c * n..(c + 1) * n];
            let leaf_rows = grown.all_leaf_rows();
            loss.renew_leaf_outputs(&mut tree.leaf_values, &leaf_rows, labels, cls_scores);
            tree.leaf_values
                .iter_mut()
                .for_each(|v| *v *= params.learning_rate);
            for (leaf, rows) in leaf_rows.iter().enumerate() {
                let v = tree.leaf_values[leaf];
                for &r in rows.iter() {
                    cls_scores[r as usize] += v;
                }
            }
            if let Some(b) = &bag {
                // Out-of-bag rows were not routed by the learner; predict them.
                let mut in_bag = vec![false; n];
                b.iter().for_each(|&r| in_bag[r as usize] = true);
                cls_scores
                    .par_iter_mut()
                    .enumerate()
                    .filter(|(i, _)| !in_bag[*i])
                    .for_each(|(i, s)| {
                        *s += tree.leaf_values[tree.leaf_index(|f| data.value(i, f))]
                    });
            }
            if let Some((vd, _)) = valid {
                vscores[c * nv..(c + 1) * nv]
                    .par_iter_mut()
                    .enumerate()
                    .for_each(|(i, s)| *s += tree.leaf_values[tree.leaf_index(|f| vd.value(i, f))]);
            }
            round.push(tree);
        }
        // LightGBM stops once no tree in a round can split any more.
        let all_stumps = round.iter().all(|t| t.nodes.is_empty());
        if all_stumps && iter > 0 {
            break;
        }
        trees.extend(round);

        if let Some((_, vl)) = valid {
            let pred = transformed(&vscores, nv, k, loss.objective);
            let score = metrics::compute(metric, vl, &pred, k, params.alpha);
            valid_scores.push(score);
            let improved = best.is_none_or(|(_, b)| {
                if metric.higher_is_better() {
                    score > b
                } else {
                    score < b
                }
            });
            if improved {
                best = Some((iter, score));
            }
            if params.early_stopping_round > 0
                && let Some((bi, _)) = best
                && iter - bi >= params.early_stopping_round
            {
                break;
            }
        }
    }

    let mut best_iteration = None;
    if params.early_stopping_round > 0
        && let Some((bi, _)) = best
    {
        trees.truncate((bi + 1) * k);
        best_iteration = Some(bi + 1);
    }
    Ok(TrainOutput {
        model: GbdtModel {
            params: params.clone(),
            num_tree_per_iteration: k,
            init_scores,
            trees,
            best_iteration,
            num_features: n_feat,
            forest: Default::default(),
        },
        valid_scores,
    })
}

/// Class-major raw scores → row-major transformed predictions.
fn transformed(scores: &[f64], n: usize, k: usize, objective: Objective) -> Vec<f64> {
    let mut out = vec![0.0; n * k];
    out.par_chunks_mut(k).enumerate().for_each(|(i, row)| {
        for (c, v) in row.iter_mut().enumerate() {
            *v = scores[c * n + i];
        }
        transform_row(objective, row);
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize, seed: u64) -> (Dataset, Vec<f64>) {
        let mut r = Rng::new(seed);
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|_| (0..4).map(|_| r.next_f64() * 2.0 - 1.0).collect())
            .collect();
        let y = rows
            .iter()
            .map(|x| {
                if x[0] + 0.5 * x[1] * x[1] - 0.3 > 0.0 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        (Dataset::from_rows(&rows), y)
    }

    #[test]
    fn binary_learns_and_is_deterministic() {
        let (d, y) = toy(2000, 1);
        let p = GbdtParams {
            objective: Objective::Binary,
            num_iterations: 30,
            bagging_fraction: 0.8,
            bagging_freq: 1,
            feature_fraction: 0.75,
            seed: 5,
            ..Default::default()
        };
        let a = train(&d, &y, &p, None, "y").unwrap().model;
        let b = train(&d, &y, &p, None, "y").unwrap().model;
        assert_eq!(a, b);
        let pred = a.predict(&d);
        assert!(metrics::auc(&y, &pred) > 0.97);
    }

    #[test]
    fn flat_prediction_equals_tree_walk() {
        // Multiclass with missing values: every tree, class slot and NaN
        // route must agree bit for bit with walking `Tree`s row by row.
        let (mut d, _) = toy(1500, 9);
        let mut cols: Vec<Vec<f64>> = (0..4).map(|j| d.column(j).to_vec()).collect();
        cols[1].iter_mut().step_by(7).for_each(|v| *v = f64::NAN);
        d = Dataset::from_columns(1500, d.names().to_vec(), d.kinds().to_vec(), cols);
        let y: Vec<f64> = (0..1500)
            .map(|i| {
                let s = d.value(i, 0) + d.value(i, 2);
                if s < -0.4 {
                    0.0
                } else if s < 0.4 {
                    1.0
                } else {
                    2.0
                }
            })
            .collect();
        let p = GbdtParams {
            objective: Objective::Multiclass,
            num_class: 3,
            num_iterations: 15,
            ..Default::default()
        };
        let m = train(&d, &y, &p, None, "y").unwrap().model;
        let raw = m.predict_raw(&d);
        let mut row = vec![0.0; 4];
        let mut one = [0.0; 3];
        for i in 0..d.n_rows() {
            row.iter_mut()
                .enumerate()
                .for_each(|(j, v)| *v = d.value(i, j));
            let mut want = m.init_scores.clone();
            for (t, tree) in m.trees.iter().enumerate() {
                want[t % 3] += tree.predict_row(&row);
            }
            assert_eq!(&raw[i * 3..i * 3 + 3], &want[..], "row {i}");
            m.predict_row_raw(&row, &mut one);
            assert_eq!(&one[..], &want[..], "row {i}");
        }
    }

    #[test]
    fn early_stopping_truncates() {
        let (d, y) = toy(1000, 2);
        let (vd, vy) = toy(500, 3);
        let p = GbdtParams {
            objective: Objective::Binary,
            num_iterations: 500,
            learning_rate: 0.5,
            num_leaves: 63,
            min_data_in_leaf: 2,
            early_stopping_round: 5,
            ..Default::default()
        };
        let out = train(&d, &y, &p, Some((&vd, &vy)), "y").unwrap();
        let bi = out.model.best_iteration.unwrap();
        assert!(bi < 500);
        assert_eq!(out.model.trees.len(), bi);
        assert!(out.valid_scores.len() >= bi);
    }

    #[test]
    fn regression_objectives_fit() {
        let (d, _) = toy(1500, 4);
        let y: Vec<f64> = (0..d.n_rows())
            .map(|i| 3.0 * d.value(i, 0) + d.value(i, 1).abs() + 4.0)
            .collect();
        for obj in [
            Objective::Regression,
            Objective::RegressionL1,
            Objective::Huber,
            Objective::Poisson,
        ] {
            let p = GbdtParams {
                objective: obj,
                num_iterations: 60,
                ..Default::default()
            };
            let m = train(&d, &y, &p, None, "y").unwrap().model;
            let pred = m.predict(&d);
            let r2 = metrics::r2(&y, &pred);
            assert!(r2 > 0.9, "{obj:?}: r2 {r2}");
        }
    }

    #[test]
    fn missing_values_learn_default_direction() {
        // Label is 1 exactly where x is missing; trees must route NaN alone.
        let mut r = Rng::new(8);
        let rows: Vec<Vec<f64>> = (0..1000)
            .map(|i| vec![if i % 4 == 0 { f64::NAN } else { r.next_f64() }])
            .collect();
        let y: Vec<f64> = (0..1000)
            .map(|i| if i % 4 == 0 { 1.0 } else { 0.0 })
            .collect();
        let d = Dataset::from_rows(&rows);
        let p = GbdtParams {
            objective: Objective::Binary,
            num_iterations: 20,
            ..Default::default()
        };
        let m = train(&d, &y, &p, None, "y").unwrap().model;
        let pred = m.predict(&d);
        assert_eq!(
            metrics::BinaryConfusion::new(&y, &pred, 0.5).accuracy(),
            1.0
        );
    }
}
