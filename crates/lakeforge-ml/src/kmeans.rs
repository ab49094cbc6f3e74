//! k-means clustering (k-means++ seeding, Lloyd iterations) on the
//! linear-mode pipeline output, so features are imputed and standardised.
//! Assignment is parallel over row blocks; centroid sums are reduced in block
//! order so results are identical for any thread count.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{MlError, Result};
use crate::params::{KMeansParams, with_threads};
use crate::rng::Rng;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansModel {
    /// Row-major `k × p` centroids.
    pub centroids: Vec<Vec<f64>>,
    /// Sum of squared distances of training rows to their centroid.
    pub inertia: f64,
    pub n_iter: usize,
    pub params: KMeansParams,
}

const BLOCK: usize = 4096;

/// Result of one assignment pass: per-row cluster and squared distance,
/// per-cluster coordinate sums and counts, and total inertia.
struct Assignment {
    labels: Vec<usize>,
    d2: Vec<f64>,
    sums: Vec<Vec<f64>>,
    counts: Vec<usize>,
    inertia: f64,
}

/// Partial sums of one row block (flat `k × p` sums).
struct BlockSums {
    labels: Vec<usize>,
    d2: Vec<f64>,
    sums: Vec<f64>,
    counts: Vec<usize>,
    inertia: f64,
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn nearest(row: &[f64], centroids: &[Vec<f64>]) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, cen) in centroids.iter().enumerate() {
        let d = dist2(row, cen);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

/// Assigns every row to its nearest centroid; block partials are reduced in
/// block order so the sums do not depend on scheduling.
fn assign(data: &Dataset, centroids: &[Vec<f64>]) -> Assignment {
    let n = data.n_rows();
    let p = data.n_features();
    let k = centroids.len();
    let blocks: Vec<BlockSums> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let (s, e) = (b * BLOCK, ((b + 1) * BLOCK).min(n));
            let mut rows = Vec::new();
            data.row_block(s, e, &mut rows);
            let mut labels = Vec::with_capacity(e - s);
            let mut d2 = Vec::with_capacity(e - s);
            let mut sums = vec![0.0; k * p];
            let mut counts = vec![0usize; k];
            let mut inertia = 0.0;
            for row in rows.chunks(p.max(1)).take(e - s) {
                let (c, d) = nearest(row, centroids);
                labels.push(c);
                d2.push(d);
                inertia += d;
                counts[c] += 1;
                for (acc, &x) in sums[c * p..(c + 1) * p].iter_mut().zip(row) {
                    *acc += x;
                }
            }
            BlockSums {
                labels,
                d2,
                sums,
                counts,
                inertia,
            }
        })
        .collect();
    let mut labels = Vec::with_capacity(n);
    let mut d2 = Vec::with_capacity(n);
    let mut sums = vec![vec![0.0; p]; k];
    let mut counts = vec![0usize; k];
    let mut inertia = 0.0;
    for b in blocks {
        labels.extend(b.labels);
        d2.extend(b.d2);
        for cl in 0..k {
            counts[cl] += b.counts[cl];
            for (acc, &v) in sums[cl].iter_mut().zip(&b.sums[cl * p..(cl + 1) * p]) {
                *acc += v;
            }
        }
        inertia += b.inertia;
    }
    Assignment {
        labels,
        d2,
        sums,
        counts,
        inertia,
    }
}

fn row_of(data: &Dataset, i: usize) -> Vec<f64> {
    (0..data.n_features()).map(|j| data.value(i, j)).collect()
}

fn plus_plus(data: &Dataset, k: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
    let n = data.n_rows();
    let mut centroids = vec![row_of(data, rng.below(n))];
    let mut d2: Vec<f64> = (0..n)
        .map(|i| dist2(&row_of(data, i), &centroids[0]))
        .collect();
    while centroids.len() < k {
        let total: f64 = d2.iter().sum();
        let next = if total <= 0.0 {
            rng.below(n)
        } else {
            // Sample proportional to squared distance to the nearest centre.
            let mut t = rng.next_f64() * total;
            let mut pick = n - 1;
            for (i, &d) in d2.iter().enumerate() {
                if t < d {
                    pick = i;
                    break;
                }
                t -= d;
            }
            pick
        };
        let c = row_of(data, next);
        d2.par_iter_mut().enumerate().for_each(|(i, d)| {
            let nd = dist2(&row_of(data, i), &c);
            if nd < *d {
                *d = nd;
            }
        });
        centroids.push(c);
    }
    centroids
}

impl KMeansModel {
    pub fn fit(data: &Dataset, params: &KMeansParams) -> Result<KMeansModel> {
        if data.n_rows() < params.n_clusters {
            return Err(MlError::invalid_param(
                "n_clusters",
                params.n_clusters.to_string(),
                format!("must not exceed the number of rows ({})", data.n_rows()),
            ));
        }
        with_threads(params.num_threads, || {
            let mut best: Option<KMeansModel> = None;
            for run in 0..params.n_init {
                let mut rng = Rng::derive(params.seed, 100 + run as u64);
                let m = lloyd(data, params, &mut rng);
                if best.as_ref().is_none_or(|b| m.inertia < b.inertia) {
                    best = Some(m);
                }
            }
            best.ok_or_else(|| {
                MlError::invalid_param("n_init", params.n_init.to_string(), "must be at least 1")
            })
        })?
    }

    /// Cluster index of every row.
    pub fn predict(&self, data: &Dataset) -> Vec<f64> {
        assign(data, &self.centroids)
            .labels
            .into_iter()
            .map(|c| c as f64)
            .collect()
    }
}

fn lloyd(data: &Dataset, params: &KMeansParams, rng: &mut Rng) -> KMeansModel {
    let k = params.n_clusters;
    let mut centroids = plus_plus(data, k, rng);
    let mut n_iter = 0;
    for it in 0..params.max_iter {
        n_iter = it + 1;
        let Assignment {
            d2, sums, counts, ..
        } = assign(data, &centroids);
        let mut shift = 0.0;
        for c in 0..k {
            let new: Vec<f64> = if counts[c] == 0 {
                // Re-seed an empty cluster at the worst-served row.
                let far = d2
                    .iter()
                    .enumerate()
                    .fold((0, -1.0), |b, (i, &d)| if d > b.1 { (i, d) } else { b })
                    .0;
                row_of(data, far)
            } else {
                sums[c].iter().map(|s| s / counts[c] as f64).collect()
            };
            shift += dist2(&new, &centroids[c]);
            centroids[c] = new;
        }
        if shift <= params.tol {
            break;
        }
    }
    let inertia = assign(data, &centroids).inertia;
    KMeansModel {
        centroids,
        inertia,
        n_iter,
        params: params.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_separated_blobs_deterministically() {
        let mut r = Rng::new(4);
        let centers = [(-5.0, -5.0), (0.0, 5.0), (5.0, -5.0)];
        let rows: Vec<Vec<f64>> = (0..300)
            .map(|i| {
                let (x, y) = centers[i % 3];
                vec![x + r.next_f64() - 0.5, y + r.next_f64() - 0.5]
            })
            .collect();
        let d = Dataset::from_rows(&rows);
        let p = KMeansParams {
            n_clusters: 3,
            seed: 1,
            ..Default::default()
        };
        let m = KMeansModel::fit(&d, &p).unwrap();
        let labels = m.predict(&d);
        for i in 3..300 {
            assert_eq!(labels[i], labels[i % 3]);
        }
        assert_ne!(labels[0], labels[1]);
        assert_ne!(labels[1], labels[2]);
        assert_eq!(m, KMeansModel::fit(&d, &p).unwrap());
        assert!(m.inertia < 300.0 * 0.5);
    }
}
