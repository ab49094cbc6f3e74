//! k-means clustering's parameters.

use serde::{Deserialize, Serialize};

use super::{ParamMap, ParamSpec, Range, p, resolve};
use crate::error::Result;

pub(super) const SPECS: &[ParamSpec] = &[
    p("n_clusters", &["k", "num_clusters"]),
    p("max_iter", &["num_iterations", "n_iter"]),
    p("n_init", &[]),
    p("tol", &["tolerance"]),
    p(
        "num_threads",
        &["num_thread", "nthread", "nthreads", "n_jobs"],
    ),
    p("seed", &["random_seed", "random_state"]),
];

/// Settings of k-means clustering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansParams {
    pub n_clusters: usize,
    pub max_iter: usize,
    pub n_init: usize,
    pub tol: f64,
    pub num_threads: usize,
    pub seed: u64,
}

impl Default for KMeansParams {
    fn default() -> Self {
        KMeansParams {
            n_clusters: 8,
            max_iter: 300,
            n_init: 3,
            tol: 1e-6,
            num_threads: 0,
            seed: 0,
        }
    }
}

impl KMeansParams {
    pub fn from_map(params: &ParamMap) -> Result<KMeansParams> {
        let r = resolve(params, SPECS, "kmeans")?;
        let d = KMeansParams::default();
        Ok(KMeansParams {
            n_clusters: r.get_in("n_clusters", d.n_clusters, Range::AtLeastOne)?,
            max_iter: r.get_in("max_iter", d.max_iter, Range::AtLeastOne)?,
            n_init: r.get_in("n_init", d.n_init, Range::AtLeastOne)?,
            tol: r.get_in("tol", d.tol, Range::NonNegative)?,
            num_threads: r.get::<i64>("num_threads", 0)?.max(0) as usize,
            seed: r.get::<i64>("seed", 0)? as u64,
        })
    }
}
