//! The elastic-net linear / logistic regression's parameters, and the
//! categorical encoding its feature pipeline uses.

use serde::{Deserialize, Serialize};

use super::{ParamMap, ParamSpec, Range, p, resolve};
use crate::error::{MlError, Result};
use crate::pipeline::CategoricalEncoding;

pub(super) const SPECS: &[ParamSpec] = &[
    p("lambda_l1", &["reg_alpha", "l1", "l1_regularization"]),
    p(
        "lambda_l2",
        &["reg_lambda", "l2", "lambda", "l2_regularization"],
    ),
    p("max_iter", &["num_iterations", "n_iter"]),
    p("tol", &["tolerance"]),
    p(
        "num_threads",
        &["num_thread", "nthread", "nthreads", "n_jobs"],
    ),
    p("seed", &["random_seed", "random_state"]),
    p("categorical_encoding", &["cat_encoding"]),
];

/// The key (as the user wrote it) and value of `categorical_encoding` under
/// any of its aliases, so learners that do not take it can reject it by name.
pub(crate) fn categorical_encoding_param(params: &ParamMap) -> Option<(&str, &str)> {
    let spec = SPECS.iter().find(|s| s.name == "categorical_encoding")?;
    params.iter().find_map(|(k, v)| {
        let norm = k.trim().to_ascii_lowercase().replace('-', "_");
        (spec.name == norm || spec.aliases.contains(&norm.as_str()))
            .then_some((k.as_str(), v.as_str()))
    })
}

/// Settings of the elastic-net linear / logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearParams {
    pub lambda_l1: f64,
    pub lambda_l2: f64,
    pub max_iter: usize,
    pub tol: f64,
    pub num_threads: usize,
    /// How the feature pipeline encodes categorical columns for this model.
    /// Defaulted so model files written before it existed still load.
    #[serde(default, skip_serializing_if = "CategoricalEncoding::is_one_hot")]
    pub categorical_encoding: CategoricalEncoding,
}

impl Default for LinearParams {
    fn default() -> Self {
        LinearParams {
            lambda_l1: 0.0,
            lambda_l2: 0.0,
            max_iter: 100,
            tol: 1e-7,
            num_threads: 0,
            categorical_encoding: CategoricalEncoding::OneHot,
        }
    }
}

impl LinearParams {
    pub fn from_map(params: &ParamMap) -> Result<LinearParams> {
        let r = resolve(params, SPECS, "linear")?;
        let d = LinearParams::default();
        Ok(LinearParams {
            lambda_l1: r.get_in("lambda_l1", d.lambda_l1, Range::NonNegative)?,
            lambda_l2: r.get_in("lambda_l2", d.lambda_l2, Range::NonNegative)?,
            max_iter: r.get_in("max_iter", d.max_iter, Range::Positive)?,
            tol: r.get_in("tol", d.tol, Range::Positive)?,
            num_threads: r.get::<i64>("num_threads", 0)?.max(0) as usize,
            categorical_encoding: match r.get_str("categorical_encoding") {
                None => d.categorical_encoding,
                Some((k, v)) => CategoricalEncoding::parse(v).ok_or_else(|| {
                    MlError::invalid_param(k, v, "expected one of onehot, ordinal, target")
                })?,
            },
        })
    }
}
