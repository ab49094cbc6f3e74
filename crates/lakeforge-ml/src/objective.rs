//! Boosting objectives: initial score, per-row gradients/hessians of the loss
//! for the current raw scores, and the raw→prediction transform. Used by
//! `gbdt::train` each round and by prediction for the output transform.

use rayon::prelude::*;

use crate::error::{MlError, Result};
use crate::params::{GbdtParams, Objective};

/// Objective with its fitted per-class weights.
#[derive(Debug, Clone)]
pub struct Loss {
    pub objective: Objective,
    pub num_class: usize,
    /// Binary only: weight of label 0 and label 1 (is_unbalance / scale_pos_weight).
    pub label_weights: [f64; 2],
    pub huber_alpha: f64,
    pub poisson_max_delta_step: f64,
}

const CHUNK: usize = 16_384;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Softmax of one row of raw scores, in place.
pub fn softmax(row: &mut [f64]) {
    let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for v in row.iter_mut() {
        *v = (*v - m).exp();
        s += *v;
    }
    row.iter_mut().for_each(|v| *v /= s);
}

/// Raw score → user-facing prediction (probability, mean count, value).
pub fn transform_row(objective: Objective, row: &mut [f64]) {
    match objective {
        Objective::Binary => row[0] = sigmoid(row[0]),
        Objective::Multiclass => softmax(row),
        Objective::Poisson => row[0] = row[0].exp(),
        Objective::Regression | Objective::RegressionL1 | Objective::Huber => {}
    }
}

fn weighted_median(mut pairs: Vec<f64>) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    pairs.sort_unstable_by(|a, b| a.total_cmp(b));
    let n = pairs.len();
    if n % 2 == 1 {
        pairs[n / 2]
    } else {
        (pairs[n / 2 - 1] + pairs[n / 2]) / 2.0
    }
}

impl Loss {
    /// Validates labels for the objective and fits class weights.
    pub fn new(params: &GbdtParams, labels: &[f64], target: &str) -> Result<Loss> {
        let bad = |reason: String| MlError::InvalidTarget {
            column: target.to_string(),
            reason,
        };
        let num_class = if params.objective == Objective::Multiclass {
            params.num_class
        } else {
            1
        };
        if labels.iter().any(|y| !y.is_finite()) {
            return Err(bad(
                "contains NaN/infinite values; filter or fill them first".into(),
            ));
        }
        let mut label_weights = [1.0, 1.0];
        match params.objective {
            Objective::Binary => {
                if labels.iter().any(|&y| y != 0.0 && y != 1.0) {
                    return Err(bad("binary objective needs labels 0/1".into()));
                }
                let pos = labels.iter().filter(|&&y| y == 1.0).count() as f64;
                let neg = labels.len() as f64 - pos;
                if params.is_unbalance && pos > 0.0 && neg > 0.0 {
                    // Up-weight the rarer class so both contribute equally.
                    if pos > neg {
                        label_weights[0] = pos / neg;
                    } else {
                        label_weights[1] = neg / pos;
                    }
                }
                label_weights[1] *= params.scale_pos_weight;
            }
            Objective::Multiclass => {
                if num_class < 2 {
                    return Err(MlError::invalid_param(
                        "num_class",
                        num_class.to_string(),
                        "multiclass needs num_class >= 2",
                    ));
                }
                if labels
                    .iter()
                    .any(|&y| y < 0.0 || y.fract() != 0.0 || y as usize >= num_class)
                {
                    return Err(bad(format!(
                        "multiclass labels must be integers in 0..{num_class}"
                    )));
                }
            }
            Objective::Poisson if labels.iter().any(|&y| y < 0.0) => {
                return Err(bad("poisson objective needs non-negative labels".into()));
            }
            _ => {}
        }
        Ok(Loss {
            objective: params.objective,
            num_class,
            label_weights,
            huber_alpha: params.alpha,
            poisson_max_delta_step: params.poisson_max_delta_step,
        })
    }

    /// Constant starting score per class (LightGBM's boost_from_average).
    pub fn init_scores(&self, labels: &[f64]) -> Vec<f64> {
        let n = labels.len().max(1) as f64;
        match self.objective {
            Objective::Binary => {
                let (mut wp, mut w) = (0.0, 0.0);
                for &y in labels {
                    let wt = self.label_weights[y as usize];
                    wp += wt * y;
                    w += wt;
                }
                let p = (wp / w.max(1e-300)).clamp(1e-15, 1.0 - 1e-15);
                vec![(p / (1.0 - p)).ln()]
            }
            Objective::Multiclass => {
                let mut counts = vec![0.0; self.num_class];
                labels.iter().for_each(|&y| counts[y as usize] += 1.0);
                counts.iter().map(|c| (c / n).max(1e-15).ln()).collect()
            }
            Objective::Regression | Objective::Huber => vec![labels.iter().sum::<f64>() / n],
            Objective::RegressionL1 => vec![weighted_median(labels.to_vec())],
            Objective::Poisson => vec![(labels.iter().sum::<f64>() / n).max(1e-15).ln()],
        }
    }

    /// Fills gradients/hessians (class-major: class k of row i at `k*n + i`)
    /// from class-major raw scores.
    pub fn gradients(&self, labels: &[f64], scores: &[f64], g: &mut [f32], h: &mut [f32]) {
        let n = labels.len();
        if self.objective == Objective::Multiclass {
            let k = self.num_class;
            // LightGBM's factor: the softmax hessian is rescaled by K/(K-1).
            let factor = k as f64 / (k as f64 - 1.0);
            let rows: Vec<(usize, Vec<(f32, f32)>)> = (0..n)
                .into_par_iter()
                .with_min_len(CHUNK / 4)
                .map(|i| {
                    let mut p: Vec<f64> = (0..k).map(|c| scores[c * n + i]).collect();
                    softmax(&mut p);
                    let y = labels[i] as usize;
                    let gh = (0..k)
                        .map(|c| {
                            let t = if c == y { 1.0 } else { 0.0 };
                            (
                                (p[c] - t) as f32,
                                (factor * p[c] * (1.0 - p[c])).max(1e-16) as f32,
                            )
                        })
                        .collect();
                    (i, gh)
                })
                .collect();
            for (i, gh) in rows {
                for (c, (gi, hi)) in gh.into_iter().enumerate() {
                    g[c * n + i] = gi;
                    h[c * n + i] = hi;
                }
            }
            return;
        }
        g[..n]
            .par_chunks_mut(CHUNK)
            .zip(h[..n].par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(ci, (gc, hc))| {
                let base = ci * CHUNK;
                for j in 0..gc.len() {
                    let (y, s) = (labels[base + j], scores[base + j]);
                    let (gi, hi) = self.point_gradient(y, s);
                    gc[j] = gi as f32;
                    hc[j] = hi as f32;
                }
            });
    }

    #[inline]
    fn point_gradient(&self, y: f64, s: f64) -> (f64, f64) {
        match self.objective {
            Objective::Binary => {
                let w = self.label_weights[y as usize];
                let p = sigmoid(s);
                (w * (p - y), (w * p * (1.0 - p)).max(1e-16))
            }
            Objective::Regression => (s - y, 1.0),
            Objective::RegressionL1 => {
                let d = s - y;
                (
                    if d > 0.0 {
                        1.0
                    } else if d < 0.0 {
                        -1.0
                    } else {
                        0.0
                    },
                    1.0,
                )
            }
            Objective::Huber => {
                let d = s - y;
                let a = self.huber_alpha;
                (if d.abs() <= a { d } else { a * d.signum() }, 1.0)
            }
            Objective::Poisson => (s.exp() - y, (s + self.poisson_max_delta_step).exp()),
            Objective::Multiclass => unreachable!("multiclass handled per row"),
        }
    }

    /// L1 regression: replace leaf values by the median residual of the rows
    /// in each leaf (before shrinkage), since gradient steps on |r| are crude.
    pub fn renew_leaf_outputs(
        &self,
        leaf_values: &mut [f64],
        leaf_rows: &[&[u32]],
        labels: &[f64],
        scores: &[f64],
    ) {
        if self.objective != Objective::RegressionL1 {
            return;
        }
        for (v, rows) in leaf_values.iter_mut().zip(leaf_rows) {
            if !rows.is_empty() {
                *v = weighted_median(
                    rows.iter()
                        .map(|&r| labels[r as usize] - scores[r as usize])
                        .collect(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_init_and_gradients() {
        let mut p = GbdtParams {
            objective: Objective::Binary,
            ..Default::default()
        };
        let labels = [0.0, 0.0, 0.0, 1.0];
        let l = Loss::new(&p, &labels, "y").unwrap();
        let init = l.init_scores(&labels)[0];
        assert!((sigmoid(init) - 0.25).abs() < 1e-12);
        let mut g = [0f32; 4];
        let mut h = [0f32; 4];
        l.gradients(&labels, &[0.0; 4], &mut g, &mut h);
        assert_eq!(g, [0.5, 0.5, 0.5, -0.5]);
        assert_eq!(h, [0.25; 4]);
        p.is_unbalance = true;
        let l = Loss::new(&p, &labels, "y").unwrap();
        assert_eq!(l.label_weights, [1.0, 3.0]);
        assert!((sigmoid(l.init_scores(&labels)[0]) - 0.5).abs() < 1e-12);
        assert!(Loss::new(&p, &[0.0, 2.0], "y").is_err());
    }

    #[test]
    fn multiclass_gradients_sum_to_zero() {
        let p = GbdtParams {
            objective: Objective::Multiclass,
            num_class: 3,
            ..Default::default()
        };
        let labels = [0.0, 2.0];
        let l = Loss::new(&p, &labels, "y").unwrap();
        let scores = [0.1, 0.2, 0.3, -0.1, 0.0, 0.5];
        let mut g = [0f32; 6];
        let mut h = [0f32; 6];
        l.gradients(&labels, &scores, &mut g, &mut h);
        for i in 0..2 {
            let s: f32 = (0..3).map(|c| g[c * 2 + i]).sum();
            assert!(s.abs() < 1e-6);
        }
        assert!(g[0] < 0.0 && g[2 * 2 + 1] < 0.0);
    }

    #[test]
    fn softmax_normalises() {
        let mut r = [1.0, 2.0, 3.0];
        softmax(&mut r);
        assert!((r.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(r[2] > r[1] && r[1] > r[0]);
    }
}
