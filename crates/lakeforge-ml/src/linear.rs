//! Linear and logistic regression with L1/L2 (elastic-net) penalties, trained
//! on the linear-mode pipeline output (imputed, standardised; categories
//! one-hot, ordinal or target encoded per `categorical_encoding`).
//!
//! Both reduce to penalised weighted least squares: we form the weighted Gram
//! matrix `XᵀWX/n` in one parallel pass over the data and run coordinate
//! descent on that p×p system, which is cheap when rows ≫ features. Logistic
//! regression wraps this in proximal Newton steps (IRLS) with step halving;
//! multiclass is one-vs-rest.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::Result;
use crate::params::{LinearParams, with_threads};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinearKind {
    Regression,
    Logistic,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    pub kind: LinearKind,
    /// One coefficient vector per output (1 for regression/binary, K for multiclass OvR).
    pub coef: Vec<Vec<f64>>,
    pub intercept: Vec<f64>,
    pub params: LinearParams,
}

const CHUNK: usize = 8192;

/// Weighted Gram matrix and right-hand side of the augmented design
/// `[X, 1]`: `A = [X 1]ᵀ W [X 1] / n`, `b = [X 1]ᵀ W z / n`.
fn gram(data: &Dataset, w: Option<&[f64]>, z: &[f64]) -> (Vec<Vec<f64>>, Vec<f64>) {
    let p = data.n_features();
    let n = data.n_rows();
    let nf = n as f64;
    let col = |j: usize| -> Option<&[f64]> { (j < p).then(|| data.column(j)) };
    let weight = |i: usize| w.map_or(1.0, |w| w[i]);
    let pairs: Vec<(usize, usize)> = (0..=p).flat_map(|j| (j..=p).map(move |l| (j, l))).collect();
    let vals: Vec<f64> = pairs
        .par_iter()
        .map(|&(j, l)| {
            let (cj, cl) = (col(j), col(l));
            let mut s = 0.0;
            for i in 0..n {
                let xj = cj.map_or(1.0, |c| c[i]);
                let xl = cl.map_or(1.0, |c| c[i]);
                s += weight(i) * xj * xl;
            }
            s / nf
        })
        .collect();
    let mut a = vec![vec![0.0; p + 1]; p + 1];
    for (&(j, l), v) in pairs.iter().zip(vals) {
        a[j][l] = v;
        a[l][j] = v;
    }
    let b: Vec<f64> = (0..=p)
        .into_par_iter()
        .map(|j| {
            let cj = col(j);
            let mut s = 0.0;
            for i in 0..n {
                s += weight(i) * cj.map_or(1.0, |c| c[i]) * z[i];
            }
            s / nf
        })
        .collect();
    (a, b)
}

fn soft_threshold(x: f64, l: f64) -> f64 {
    if x > l {
        x - l
    } else if x < -l {
        x + l
    } else {
        0.0
    }
}

/// Coordinate descent on `½βᵀAβ − bᵀβ + l1‖β‖₁ + ½l2‖β‖²` with the last
/// coordinate (intercept) unpenalised.
fn solve_cd(a: &[Vec<f64>], b: &[f64], l1: f64, l2: f64, beta: &mut [f64], tol: f64) {
    let m = b.len();
    for _ in 0..10_000 {
        let mut max_delta: f64 = 0.0;
        for j in 0..m {
            let (pl1, pl2) = if j + 1 == m { (0.0, 0.0) } else { (l1, l2) };
            let denom = a[j][j] + pl2;
            let mut r = b[j];
            for l in 0..m {
                if l != j {
                    r -= a[j][l] * beta[l];
                }
            }
            let new = if denom > 1e-12 {
                soft_threshold(r, pl1) / denom
            } else {
                0.0
            };
            max_delta = max_delta.max((new - beta[j]).abs());
            beta[j] = new;
        }
        if max_delta < tol {
            break;
        }
    }
}

fn linear_predictor(data: &Dataset, coef: &[f64], intercept: f64) -> Vec<f64> {
    let n = data.n_rows();
    let mut out = vec![intercept; n];
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(ci, o)| {
        let start = ci * CHUNK;
        for (j, &c) in coef.iter().enumerate() {
            if c == 0.0 {
                continue;
            }
            let col = &data.column(j)[start..start + o.len()];
            for (v, &x) in o.iter_mut().zip(col) {
                *v += c * x;
            }
        }
    });
    out
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn penalised_logloss(y: &[f64], eta: &[f64], beta: &[f64], l1: f64, l2: f64) -> f64 {
    let ll: f64 = y
        .iter()
        .zip(eta)
        .map(|(&y, &e)| {
            // log(1 + exp(e)) - y*e, computed stably.
            let sp = if e > 0.0 {
                e + (-e).exp().ln_1p()
            } else {
                e.exp().ln_1p()
            };
            sp - y * e
        })
        .sum::<f64>()
        / y.len().max(1) as f64;
    let coefs = &beta[..beta.len() - 1];
    ll + l1 * coefs.iter().map(|b| b.abs()).sum::<f64>()
        + 0.5 * l2 * coefs.iter().map(|b| b * b).sum::<f64>()
}

fn fit_logistic_binary(data: &Dataset, y: &[f64], params: &LinearParams) -> Vec<f64> {
    let p = data.n_features();
    let mut beta = vec![0.0; p + 1];
    let mean_y = y.iter().sum::<f64>() / y.len().max(1) as f64;
    let m = mean_y.clamp(1e-6, 1.0 - 1e-6);
    beta[p] = (m / (1.0 - m)).ln();
    let eta_of = |beta: &[f64]| linear_predictor(data, &beta[..p], beta[p]);
    let mut eta = eta_of(&beta);
    let mut obj = penalised_logloss(y, &eta, &beta, params.lambda_l1, params.lambda_l2);
    for _ in 0..params.max_iter {
        let prob: Vec<f64> = eta.iter().map(|&e| sigmoid(e)).collect();
        let w: Vec<f64> = prob.iter().map(|&q| (q * (1.0 - q)).max(1e-5)).collect();
        let z: Vec<f64> = (0..y.len())
            .map(|i| eta[i] + (y[i] - prob[i]) / w[i])
            .collect();
        let (a, b) = gram(data, Some(&w), &z);
        let mut target = beta.clone();
        solve_cd(
            &a,
            &b,
            params.lambda_l1,
            params.lambda_l2,
            &mut target,
            params.tol,
        );
        // Step halving keeps Newton from overshooting on (nearly) separable data.
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..20 {
            let cand: Vec<f64> = beta
                .iter()
                .zip(&target)
                .map(|(o, t)| o + step * (t - o))
                .collect();
            let ceta = eta_of(&cand);
            let cobj = penalised_logloss(y, &ceta, &cand, params.lambda_l1, params.lambda_l2);
            if cobj <= obj + 1e-12 {
                let delta = beta
                    .iter()
                    .zip(&cand)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                beta = cand;
                eta = ceta;
                let improvement = obj - cobj;
                obj = cobj;
                accepted = delta > params.tol && improvement > params.tol * 1e-3;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    beta
}

impl LinearModel {
    /// Least squares with elastic-net penalty.
    pub fn fit_regression(data: &Dataset, y: &[f64], params: &LinearParams) -> Result<LinearModel> {
        with_threads(params.num_threads, || {
            let (a, b) = gram(data, None, y);
            let mut beta = vec![0.0; data.n_features() + 1];
            solve_cd(
                &a,
                &b,
                params.lambda_l1,
                params.lambda_l2,
                &mut beta,
                params.tol,
            );
            let intercept = beta.pop().unwrap_or(0.0);
            LinearModel {
                kind: LinearKind::Regression,
                coef: vec![beta],
                intercept: vec![intercept],
                params: params.clone(),
            }
        })
    }

    /// Logistic regression; `y` holds class indices `0..n_classes`.
    pub fn fit_logistic(
        data: &Dataset,
        y: &[f64],
        n_classes: usize,
        params: &LinearParams,
    ) -> Result<LinearModel> {
        with_threads(params.num_threads, || {
            let targets: Vec<usize> = if n_classes <= 2 {
                vec![1]
            } else {
                (0..n_classes).collect()
            };
            let mut coef = Vec::new();
            let mut intercept = Vec::new();
            for t in targets {
                let yb: Vec<f64> = y
                    .iter()
                    .map(|&v| if v as usize == t { 1.0 } else { 0.0 })
                    .collect();
                let mut beta = fit_logistic_binary(data, &yb, params);
                intercept.push(beta.pop().unwrap_or(0.0));
                coef.push(beta);
            }
            LinearModel {
                kind: LinearKind::Logistic,
                coef,
                intercept,
                params: params.clone(),
            }
        })
    }

    /// Number of prediction columns per row.
    pub fn num_outputs(&self) -> usize {
        self.coef.len()
    }

    /// Predicted value, P(class 1) for binary, or row-major class
    /// probabilities for multiclass (one-vs-rest, normalised).
    pub fn predict(&self, data: &Dataset) -> Vec<f64> {
        let k = self.coef.len();
        let outs: Vec<Vec<f64>> = self
            .coef
            .iter()
            .zip(&self.intercept)
            .map(|(c, &b)| linear_predictor(data, c, b))
            .collect();
        let n = data.n_rows();
        match (self.kind, k) {
            (LinearKind::Regression, _) => outs.into_iter().next().unwrap_or_default(),
            (LinearKind::Logistic, 1) => outs[0].iter().map(|&e| sigmoid(e)).collect(),
            (LinearKind::Logistic, _) => {
                let mut p = vec![0.0; n * k];
                for i in 0..n {
                    let row = &mut p[i * k..(i + 1) * k];
                    for c in 0..k {
                        row[c] = sigmoid(outs[c][i]);
                    }
                    let s: f64 = row.iter().sum();
                    row.iter_mut().for_each(|v| *v /= s.max(1e-300));
                }
                p
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics;
    use crate::rng::Rng;

    fn data(n: usize) -> (Dataset, Vec<f64>) {
        let mut r = Rng::new(1);
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|_| (0..3).map(|_| r.next_f64() * 2.0 - 1.0).collect())
            .collect();
        let y = rows.iter().map(|x| 2.0 * x[0] - 3.0 * x[1] + 0.5).collect();
        (Dataset::from_rows(&rows), y)
    }

    #[test]
    fn ols_recovers_coefficients() {
        let (d, y) = data(500);
        let m = LinearModel::fit_regression(&d, &y, &LinearParams::default()).unwrap();
        assert!((m.coef[0][0] - 2.0).abs() < 1e-6, "{:?}", m.coef);
        assert!((m.coef[0][1] + 3.0).abs() < 1e-6);
        assert!(m.coef[0][2].abs() < 1e-6);
        assert!((m.intercept[0] - 0.5).abs() < 1e-6);
    }

    #[test]
    fn lasso_zeroes_small_coefficients() {
        let (d, y) = data(500);
        let p = LinearParams {
            lambda_l1: 0.5,
            ..Default::default()
        };
        let m = LinearModel::fit_regression(&d, &y, &p).unwrap();
        assert_eq!(m.coef[0][2], 0.0);
        assert!(m.coef[0][1] < -1.0);
        let ridge = LinearModel::fit_regression(
            &d,
            &y,
            &LinearParams {
                lambda_l2: 1.0,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(ridge.coef[0][0].abs() < 2.0);
    }

    #[test]
    fn logistic_separates() {
        let (d, y) = data(800);
        let yb: Vec<f64> = y.iter().map(|&v| if v > 0.5 { 1.0 } else { 0.0 }).collect();
        let p = LinearParams {
            lambda_l2: 1e-3,
            ..Default::default()
        };
        let m = LinearModel::fit_logistic(&d, &yb, 2, &p).unwrap();
        let pred = m.predict(&d);
        assert!(metrics::auc(&yb, &pred) > 0.99);
        let y3: Vec<f64> = y
            .iter()
            .map(|&v| {
                if v < -1.0 {
                    0.0
                } else if v < 1.5 {
                    1.0
                } else {
                    2.0
                }
            })
            .collect();
        let m = LinearModel::fit_logistic(&d, &y3, 3, &p).unwrap();
        let pred = m.predict(&d);
        assert!(metrics::multiclass_accuracy(&y3, &pred, 3) > 0.85);
    }
}
