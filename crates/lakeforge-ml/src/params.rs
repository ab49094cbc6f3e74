//! Parameter parsing: turns the user's string map (from `--param k=v` or a
//! tuning trial) into typed, validated settings for each algorithm. Names are
//! LightGBM's, with its common aliases, so existing LightGBM configs carry over.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};
use crate::pipeline::CategoricalEncoding;

/// Raw parameters as given by the user: key → string value.
pub type ParamMap = BTreeMap<String, String>;

/// Parses `key=value` strings (as passed on the command line) into a map.
pub fn parse_param_pairs<S: AsRef<str>>(pairs: &[S]) -> Result<ParamMap> {
    let mut out = ParamMap::new();
    for pair in pairs {
        let pair = pair.as_ref();
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            MlError::invalid_param(pair, "", "expected KEY=VALUE, e.g. num_leaves=63")
        })?;
        let k = k.trim();
        if k.is_empty() {
            return Err(MlError::invalid_param(pair, v, "parameter name is empty"));
        }
        out.insert(k.to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// One accepted parameter: canonical name plus aliases.
pub(crate) struct ParamSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
}

const fn p(name: &'static str, aliases: &'static [&'static str]) -> ParamSpec {
    ParamSpec { name, aliases }
}

/// Whether `key` names the training budget (boosting rounds, or a linear/k-means model's
/// iterations) under any of its aliases. Tuning replaces it when it allocates budgets.
pub(crate) fn is_budget_key(key: &str) -> bool {
    let budget = |specs: &[ParamSpec], name: &str| {
        specs
            .iter()
            .any(|s| s.name == name && (s.name == key || s.aliases.contains(&key)))
    };
    budget(GBDT_SPECS, "num_iterations")
        || budget(LINEAR_SPECS, "max_iter")
        || budget(KMEANS_SPECS, "max_iter")
}

/// Resolves aliases to canonical names; unknown keys and a key given twice
/// through different aliases are errors naming the key.
pub(crate) struct Resolved {
    values: BTreeMap<&'static str, (String, String)>,
}

pub(crate) fn resolve(
    params: &ParamMap,
    specs: &[ParamSpec],
    algorithm: &'static str,
) -> Result<Resolved> {
    let mut values: BTreeMap<&'static str, (String, String)> = BTreeMap::new();
    for (key, value) in params {
        let norm = key.trim().to_ascii_lowercase().replace('-', "_");
        let spec = specs
            .iter()
            .find(|s| s.name == norm || s.aliases.contains(&norm.as_str()))
            .ok_or_else(|| MlError::UnknownParam {
                key: key.clone(),
                algorithm,
                valid: specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
            })?;
        if let Some((prev, _)) = values.get(spec.name) {
            return Err(MlError::invalid_param(
                key,
                value,
                format!(
                    "'{}' was already given as '{prev}' (both are names for {}); keep only one",
                    key, spec.name
                ),
            ));
        }
        values.insert(spec.name, (key.clone(), value.clone()));
    }
    Ok(Resolved { values })
}

impl Resolved {
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T> {
        match self.values.get(name) {
            None => Ok(default),
            Some((key, v)) => v.trim().parse::<T>().map_err(|_| {
                let what = match std::any::type_name::<T>() {
                    "usize" | "u64" | "u32" => "a non-negative integer",
                    "i64" | "i32" => "an integer",
                    "f64" | "f32" => "a number",
                    other => other,
                };
                MlError::invalid_param(key, v, format!("expected {what}"))
            }),
        }
    }

    pub fn get_bool(&self, name: &str, default: bool) -> Result<bool> {
        match self.values.get(name) {
            None => Ok(default),
            Some((key, v)) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "+" => Ok(true),
                "false" | "0" | "no" | "-" => Ok(false),
                _ => Err(MlError::invalid_param(key, v, "expected true or false")),
            },
        }
    }

    pub fn get_str(&self, name: &str) -> Option<(&str, &str)> {
        self.values.get(name).map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Checks a numeric value lies in a range, naming the key as the user wrote it.
    pub fn check<T: PartialOrd + std::fmt::Display + Copy>(
        &self,
        name: &str,
        value: T,
        ok: impl Fn(T) -> bool,
        reason: &str,
    ) -> Result<T> {
        if ok(value) {
            Ok(value)
        } else {
            let key = self
                .values
                .get(name)
                .map(|(k, _)| k.clone())
                .unwrap_or_else(|| name.to_string());
            Err(MlError::invalid_param(key, value.to_string(), reason))
        }
    }
}

/// Training objective of the boosted trees (LightGBM's `objective`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    Binary,
    Multiclass,
    Regression,
    RegressionL1,
    Huber,
    Poisson,
}

impl Objective {
    pub fn parse(s: &str) -> Option<Objective> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "binary" | "logloss" | "binary_logloss" => Objective::Binary,
            "multiclass" | "softmax" | "multiclassova" => Objective::Multiclass,
            "regression"
            | "regression_l2"
            | "l2"
            | "mean_squared_error"
            | "mse"
            | "l2_root"
            | "root_mean_squared_error"
            | "rmse" => Objective::Regression,
            "regression_l1" | "l1" | "mean_absolute_error" | "mae" => Objective::RegressionL1,
            "huber" => Objective::Huber,
            "poisson" => Objective::Poisson,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Objective::Binary => "binary",
            Objective::Multiclass => "multiclass",
            Objective::Regression => "regression",
            Objective::RegressionL1 => "regression_l1",
            Objective::Huber => "huber",
            Objective::Poisson => "poisson",
        }
    }

    pub fn default_metric(self) -> Metric {
        match self {
            Objective::Binary => Metric::BinaryLogloss,
            Objective::Multiclass => Metric::MultiLogloss,
            Objective::Regression => Metric::L2,
            Objective::RegressionL1 => Metric::L1,
            Objective::Huber => Metric::Huber,
            Objective::Poisson => Metric::Poisson,
        }
    }
}

/// Evaluation metric used for early stopping and tuning (LightGBM's `metric`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Auc,
    AveragePrecision,
    BinaryLogloss,
    BinaryError,
    MultiLogloss,
    MultiError,
    L2,
    Rmse,
    L1,
    Huber,
    Poisson,
    Mape,
    R2,
}

impl Metric {
    pub fn parse(s: &str) -> Option<Metric> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "auc" | "roc_auc" => Metric::Auc,
            "average_precision" | "pr_auc" | "map" => Metric::AveragePrecision,
            "binary_logloss" | "binary" | "logloss" => Metric::BinaryLogloss,
            "binary_error" | "error" => Metric::BinaryError,
            "multi_logloss" | "multiclass" | "softmax" | "multi_log_loss" => Metric::MultiLogloss,
            "multi_error" => Metric::MultiError,
            "l2" | "mse" | "mean_squared_error" | "regression" | "regression_l2" => Metric::L2,
            "rmse" | "l2_root" | "root_mean_squared_error" => Metric::Rmse,
            "l1" | "mae" | "mean_absolute_error" | "regression_l1" => Metric::L1,
            "huber" => Metric::Huber,
            "poisson" => Metric::Poisson,
            "mape" | "mean_absolute_percentage_error" => Metric::Mape,
            "r2" => Metric::R2,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::Auc => "auc",
            Metric::AveragePrecision => "average_precision",
            Metric::BinaryLogloss => "binary_logloss",
            Metric::BinaryError => "binary_error",
            Metric::MultiLogloss => "multi_logloss",
            Metric::MultiError => "multi_error",
            Metric::L2 => "l2",
            Metric::Rmse => "rmse",
            Metric::L1 => "l1",
            Metric::Huber => "huber",
            Metric::Poisson => "poisson",
            Metric::Mape => "mape",
            Metric::R2 => "r2",
        }
    }

    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::Auc | Metric::AveragePrecision | Metric::R2)
    }
}

const GBDT_SPECS: &[ParamSpec] = &[
    p(
        "objective",
        &["objective_type", "app", "application", "loss"],
    ),
    p("boosting", &["boosting_type", "boost"]),
    p(
        "num_iterations",
        &[
            "num_iteration",
            "n_iter",
            "num_tree",
            "num_trees",
            "num_round",
            "num_rounds",
            "nrounds",
            "num_boost_round",
            "n_estimators",
            "max_iter",
        ],
    ),
    p("learning_rate", &["shrinkage_rate", "eta"]),
    p(
        "num_leaves",
        &["num_leaf", "max_leaves", "max_leaf", "max_leaf_nodes"],
    ),
    p("max_depth", &[]),
    p(
        "min_data_in_leaf",
        &[
            "min_data_per_leaf",
            "min_data",
            "min_child_samples",
            "min_samples_leaf",
        ],
    ),
    p(
        "min_sum_hessian_in_leaf",
        &[
            "min_sum_hessian_per_leaf",
            "min_sum_hessian",
            "min_hessian",
            "min_child_weight",
        ],
    ),
    p("bagging_fraction", &["sub_row", "subsample", "bagging"]),
    p("bagging_freq", &["subsample_freq"]),
    p("feature_fraction", &["sub_feature", "colsample_bytree"]),
    p("lambda_l1", &["reg_alpha", "l1_regularization"]),
    p("lambda_l2", &["reg_lambda", "lambda", "l2_regularization"]),
    p("min_gain_to_split", &["min_split_gain"]),
    p("max_delta_step", &["max_tree_output", "max_leaf_output"]),
    p("max_bin", &["max_bins"]),
    p("min_data_in_bin", &[]),
    p("bin_construct_sample_cnt", &["subsample_for_bin"]),
    p("max_cat_threshold", &[]),
    p("max_cat_to_onehot", &[]),
    p("cat_l2", &[]),
    p("cat_smooth", &[]),
    p("min_data_per_group", &[]),
    p(
        "early_stopping_round",
        &[
            "early_stopping_rounds",
            "early_stopping",
            "n_iter_no_change",
        ],
    ),
    p(
        "num_threads",
        &["num_thread", "nthread", "nthreads", "n_jobs"],
    ),
    p("seed", &["random_seed", "random_state"]),
    p("is_unbalance", &["unbalance", "unbalanced_sets"]),
    p("scale_pos_weight", &[]),
    p("num_class", &["num_classes"]),
    p("metric", &["metrics", "metric_types"]),
    p("alpha", &[]),
    p("poisson_max_delta_step", &[]),
    p("boost_from_average", &[]),
    // Accepted for LightGBM config compatibility; they do not change results here.
    p("verbosity", &["verbose"]),
    p("deterministic", &[]),
    p("force_col_wise", &[]),
    p("force_row_wise", &[]),
];

/// Fully-resolved settings of the gradient-boosted tree learner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbdtParams {
    pub objective: Objective,
    pub num_iterations: usize,
    pub learning_rate: f64,
    pub num_leaves: usize,
    pub max_depth: i32,
    pub min_data_in_leaf: usize,
    pub min_sum_hessian_in_leaf: f64,
    pub bagging_fraction: f64,
    pub bagging_freq: usize,
    pub feature_fraction: f64,
    pub lambda_l1: f64,
    pub lambda_l2: f64,
    pub min_gain_to_split: f64,
    pub max_delta_step: f64,
    pub max_bin: usize,
    pub min_data_in_bin: usize,
    pub bin_construct_sample_cnt: usize,
    pub max_cat_threshold: usize,
    pub max_cat_to_onehot: usize,
    pub cat_l2: f64,
    pub cat_smooth: f64,
    pub min_data_per_group: usize,
    pub early_stopping_round: usize,
    pub num_threads: usize,
    pub seed: u64,
    pub is_unbalance: bool,
    pub scale_pos_weight: f64,
    pub num_class: usize,
    pub metric: Option<Metric>,
    pub alpha: f64,
    pub poisson_max_delta_step: f64,
    pub boost_from_average: bool,
}

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams {
            objective: Objective::Regression,
            num_iterations: 100,
            learning_rate: 0.1,
            num_leaves: 31,
            max_depth: -1,
            min_data_in_leaf: 20,
            min_sum_hessian_in_leaf: 1e-3,
            bagging_fraction: 1.0,
            bagging_freq: 0,
            feature_fraction: 1.0,
            lambda_l1: 0.0,
            lambda_l2: 0.0,
            min_gain_to_split: 0.0,
            max_delta_step: 0.0,
            max_bin: 255,
            min_data_in_bin: 3,
            bin_construct_sample_cnt: 200_000,
            max_cat_threshold: 32,
            max_cat_to_onehot: 4,
            cat_l2: 10.0,
            cat_smooth: 10.0,
            min_data_per_group: 100,
            early_stopping_round: 0,
            num_threads: 0,
            seed: 0,
            is_unbalance: false,
            scale_pos_weight: 1.0,
            num_class: 1,
            metric: None,
            alpha: 0.9,
            poisson_max_delta_step: 0.7,
            boost_from_average: true,
        }
    }
}

impl GbdtParams {
    /// Parses a parameter map. `default_objective` comes from the task when the
    /// map has no `objective` key.
    pub fn from_map(params: &ParamMap, default_objective: Objective) -> Result<GbdtParams> {
        let r = resolve(params, GBDT_SPECS, "gbdt")?;
        let d = GbdtParams::default();
        let objective = match r.get_str("objective") {
            None => default_objective,
            Some((k, v)) => Objective::parse(v).ok_or_else(|| {
                MlError::invalid_param(
                    k,
                    v,
                    "expected one of binary, multiclass, regression, regression_l1, huber, poisson",
                )
            })?,
        };
        if let Some((k, v)) = r.get_str("boosting")
            && !matches!(v.to_ascii_lowercase().as_str(), "gbdt" | "gbrt")
        {
            return Err(MlError::invalid_param(
                k,
                v,
                "only 'gbdt' boosting is supported",
            ));
        }
        let metric = match r.get_str("metric") {
            None => None,
            Some((_, "")) => None,
            Some((k, v)) => {
                // LightGBM allows a comma list; the first one drives early stopping.
                let first = v.split(',').next().unwrap_or(v);
                Some(Metric::parse(first).ok_or_else(|| {
                    MlError::invalid_param(
                        k,
                        v,
                        "expected a metric such as auc, binary_logloss, binary_error, multi_logloss, multi_error, l2, rmse, l1, huber, poisson, mape",
                    )
                })?)
            }
        };
        let pos = |x: f64| x > 0.0;
        let nonneg = |x: f64| x >= 0.0;
        let frac = |x: f64| x > 0.0 && x <= 1.0;
        let out = GbdtParams {
            objective,
            num_iterations: r.get("num_iterations", d.num_iterations)?,
            learning_rate: r.check(
                "learning_rate",
                r.get("learning_rate", d.learning_rate)?,
                pos,
                "must be > 0",
            )?,
            num_leaves: r.check(
                "num_leaves",
                r.get("num_leaves", d.num_leaves)?,
                |x| (2..=131_072).contains(&x),
                "must be between 2 and 131072",
            )?,
            max_depth: r.get("max_depth", d.max_depth)?,
            min_data_in_leaf: r.get("min_data_in_leaf", d.min_data_in_leaf)?,
            min_sum_hessian_in_leaf: r.check(
                "min_sum_hessian_in_leaf",
                r.get("min_sum_hessian_in_leaf", d.min_sum_hessian_in_leaf)?,
                nonneg,
                "must be >= 0",
            )?,
            bagging_fraction: r.check(
                "bagging_fraction",
                r.get("bagging_fraction", d.bagging_fraction)?,
                frac,
                "must be in (0, 1]",
            )?,
            bagging_freq: r.get("bagging_freq", d.bagging_freq)?,
            feature_fraction: r.check(
                "feature_fraction",
                r.get("feature_fraction", d.feature_fraction)?,
                frac,
                "must be in (0, 1]",
            )?,
            lambda_l1: r.check(
                "lambda_l1",
                r.get("lambda_l1", d.lambda_l1)?,
                nonneg,
                "must be >= 0",
            )?,
            lambda_l2: r.check(
                "lambda_l2",
                r.get("lambda_l2", d.lambda_l2)?,
                nonneg,
                "must be >= 0",
            )?,
            min_gain_to_split: r.check(
                "min_gain_to_split",
                r.get("min_gain_to_split", d.min_gain_to_split)?,
                nonneg,
                "must be >= 0",
            )?,
            max_delta_step: r.get("max_delta_step", d.max_delta_step)?,
            max_bin: r.check(
                "max_bin",
                r.get("max_bin", d.max_bin)?,
                |x| (2..=65_534).contains(&x),
                "must be between 2 and 65534",
            )?,
            min_data_in_bin: r.get("min_data_in_bin", d.min_data_in_bin)?.max(1),
            bin_construct_sample_cnt: r.check(
                "bin_construct_sample_cnt",
                r.get("bin_construct_sample_cnt", d.bin_construct_sample_cnt)?,
                |x| x > 0,
                "must be > 0",
            )?,
            max_cat_threshold: r.get("max_cat_threshold", d.max_cat_threshold)?.max(1),
            max_cat_to_onehot: r.get("max_cat_to_onehot", d.max_cat_to_onehot)?.max(1),
            cat_l2: r.check("cat_l2", r.get("cat_l2", d.cat_l2)?, nonneg, "must be >= 0")?,
            cat_smooth: r.check(
                "cat_smooth",
                r.get("cat_smooth", d.cat_smooth)?,
                nonneg,
                "must be >= 0",
            )?,
            min_data_per_group: r.get("min_data_per_group", d.min_data_per_group)?.max(1),
            early_stopping_round: r.get("early_stopping_round", d.early_stopping_round)?,
            num_threads: r.get::<i64>("num_threads", 0)?.max(0) as usize,
            seed: r.get::<i64>("seed", 0)? as u64,
            is_unbalance: r.get_bool("is_unbalance", d.is_unbalance)?,
            scale_pos_weight: r.check(
                "scale_pos_weight",
                r.get("scale_pos_weight", d.scale_pos_weight)?,
                pos,
                "must be > 0",
            )?,
            num_class: r.check(
                "num_class",
                r.get("num_class", d.num_class)?,
                |x| x >= 1,
                "must be >= 1",
            )?,
            metric,
            alpha: r.check("alpha", r.get("alpha", d.alpha)?, pos, "must be > 0")?,
            poisson_max_delta_step: r.get("poisson_max_delta_step", d.poisson_max_delta_step)?,
            boost_from_average: r.get_bool("boost_from_average", d.boost_from_average)?,
        };
        if out.is_unbalance && out.scale_pos_weight != 1.0 {
            return Err(MlError::invalid_param(
                "scale_pos_weight",
                out.scale_pos_weight.to_string(),
                "cannot be combined with is_unbalance=true; use only one of them",
            ));
        }
        Ok(out)
    }

    pub fn metric(&self) -> Metric {
        self.metric.unwrap_or(self.objective.default_metric())
    }
}

const LINEAR_SPECS: &[ParamSpec] = &[
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
    let spec = LINEAR_SPECS
        .iter()
        .find(|s| s.name == "categorical_encoding")?;
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
        let r = resolve(params, LINEAR_SPECS, "linear")?;
        let d = LinearParams::default();
        let nonneg = |x: f64| x >= 0.0;
        Ok(LinearParams {
            lambda_l1: r.check(
                "lambda_l1",
                r.get("lambda_l1", d.lambda_l1)?,
                nonneg,
                "must be >= 0",
            )?,
            lambda_l2: r.check(
                "lambda_l2",
                r.get("lambda_l2", d.lambda_l2)?,
                nonneg,
                "must be >= 0",
            )?,
            max_iter: r.check(
                "max_iter",
                r.get("max_iter", d.max_iter)?,
                |x| x > 0,
                "must be > 0",
            )?,
            tol: r.check("tol", r.get("tol", d.tol)?, |x| x > 0.0, "must be > 0")?,
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

const KMEANS_SPECS: &[ParamSpec] = &[
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
        let r = resolve(params, KMEANS_SPECS, "kmeans")?;
        let d = KMeansParams::default();
        Ok(KMeansParams {
            n_clusters: r.check(
                "n_clusters",
                r.get("n_clusters", d.n_clusters)?,
                |x| x >= 1,
                "must be >= 1",
            )?,
            max_iter: r.check(
                "max_iter",
                r.get("max_iter", d.max_iter)?,
                |x| x >= 1,
                "must be >= 1",
            )?,
            n_init: r.check(
                "n_init",
                r.get("n_init", d.n_init)?,
                |x| x >= 1,
                "must be >= 1",
            )?,
            tol: r.check("tol", r.get("tol", d.tol)?, |x| x >= 0.0, "must be >= 0")?,
            num_threads: r.get::<i64>("num_threads", 0)?.max(0) as usize,
            seed: r.get::<i64>("seed", 0)? as u64,
        })
    }
}

/// Runs `f` on a local rayon pool of `num_threads` threads (0 = the current
/// pool), so a model's thread budget never leaks into the caller's pool.
pub fn with_threads<T: Send>(num_threads: usize, f: impl FnOnce() -> T + Send) -> Result<T> {
    if num_threads == 0 {
        return Ok(f());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(num_threads)
        .build()
        .map_err(|e| MlError::ThreadPool {
            threads: num_threads,
            reason: e.to_string(),
        })?;
    Ok(pool.install(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_keys_are_every_alias_of_the_iteration_count() {
        for k in [
            "num_iterations",
            "n_estimators",
            "num_boost_round",
            "nrounds",
            "max_iter",
            "n_iter",
        ] {
            assert!(is_budget_key(k), "{k}");
        }
        for k in ["num_leaves", "learning_rate", "seed"] {
            assert!(!is_budget_key(k), "{k}");
        }
    }

    fn map(kv: &[(&str, &str)]) -> ParamMap {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn aliases_resolve_to_lightgbm_names() {
        let p = GbdtParams::from_map(
            &map(&[
                ("n_estimators", "7"),
                ("max_leaves", "9"),
                ("min_child_samples", "3"),
                ("reg_alpha", "0.5"),
                ("reg_lambda", "2"),
                ("subsample", "0.8"),
                ("colsample_bytree", "0.7"),
                ("eta", "0.3"),
                ("random_state", "11"),
            ]),
            Objective::Binary,
        )
        .unwrap();
        assert_eq!(p.num_iterations, 7);
        assert_eq!(p.num_leaves, 9);
        assert_eq!(p.min_data_in_leaf, 3);
        assert_eq!(p.lambda_l1, 0.5);
        assert_eq!(p.lambda_l2, 2.0);
        assert_eq!(p.bagging_fraction, 0.8);
        assert_eq!(p.feature_fraction, 0.7);
        assert_eq!(p.learning_rate, 0.3);
        assert_eq!(p.seed, 11);
        assert_eq!(p.objective, Objective::Binary);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = GbdtParams::from_map(&map(&[("num_leafs", "3")]), Objective::Binary).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, MlError::UnknownParam { .. }));
        assert!(msg.contains("num_leafs"), "{msg}");
    }

    #[test]
    fn bad_value_is_named() {
        let err = GbdtParams::from_map(&map(&[("eta", "fast")]), Objective::Binary).unwrap_err();
        assert!(err.to_string().contains("'eta'"), "{err}");
        let err = GbdtParams::from_map(&map(&[("bagging_fraction", "1.5")]), Objective::Binary)
            .unwrap_err();
        assert!(err.to_string().contains("bagging_fraction"), "{err}");
    }

    #[test]
    fn duplicate_alias_rejected() {
        let err = GbdtParams::from_map(
            &map(&[("n_estimators", "3"), ("num_iterations", "4")]),
            Objective::Binary,
        )
        .unwrap_err();
        assert!(matches!(err, MlError::InvalidParam { .. }));
    }

    #[test]
    fn pairs_parse() {
        let m = parse_param_pairs(&["a=1", " b = x "]).unwrap();
        assert_eq!(m["a"], "1");
        assert_eq!(m["b"], "x");
        assert!(parse_param_pairs(&["novalue"]).is_err());
    }
}
