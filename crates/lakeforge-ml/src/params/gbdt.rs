//! The gradient-boosted trees' parameters: LightGBM's names and aliases, the
//! objectives and metrics it accepts, and [`GbdtParams`], what training reads.

use serde::{Deserialize, Serialize};

use super::{ParamMap, ParamSpec, Range, p, resolve};
use crate::error::{MlError, Result};

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

pub(super) const SPECS: &[ParamSpec] = &[
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
        let r = resolve(params, SPECS, "gbdt")?;
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
        let out = GbdtParams {
            objective,
            num_iterations: r.get("num_iterations", d.num_iterations)?,
            learning_rate: r.get_in("learning_rate", d.learning_rate, Range::Positive)?,
            num_leaves: r.get_in("num_leaves", d.num_leaves, Range::Between(2, 131_072))?,
            max_depth: r.get("max_depth", d.max_depth)?,
            min_data_in_leaf: r.get("min_data_in_leaf", d.min_data_in_leaf)?,
            min_sum_hessian_in_leaf: r.get_in(
                "min_sum_hessian_in_leaf",
                d.min_sum_hessian_in_leaf,
                Range::NonNegative,
            )?,
            bagging_fraction: r.get_in("bagging_fraction", d.bagging_fraction, Range::Fraction)?,
            bagging_freq: r.get("bagging_freq", d.bagging_freq)?,
            feature_fraction: r.get_in("feature_fraction", d.feature_fraction, Range::Fraction)?,
            lambda_l1: r.get_in("lambda_l1", d.lambda_l1, Range::NonNegative)?,
            lambda_l2: r.get_in("lambda_l2", d.lambda_l2, Range::NonNegative)?,
            min_gain_to_split: r.get_in(
                "min_gain_to_split",
                d.min_gain_to_split,
                Range::NonNegative,
            )?,
            max_delta_step: r.get("max_delta_step", d.max_delta_step)?,
            max_bin: r.get_in("max_bin", d.max_bin, Range::Between(2, 65_534))?,
            min_data_in_bin: r.get("min_data_in_bin", d.min_data_in_bin)?.max(1),
            bin_construct_sample_cnt: r.get_in(
                "bin_construct_sample_cnt",
                d.bin_construct_sample_cnt,
                Range::Positive,
            )?,
            max_cat_threshold: r.get("max_cat_threshold", d.max_cat_threshold)?.max(1),
            max_cat_to_onehot: r.get("max_cat_to_onehot", d.max_cat_to_onehot)?.max(1),
            cat_l2: r.get_in("cat_l2", d.cat_l2, Range::NonNegative)?,
            cat_smooth: r.get_in("cat_smooth", d.cat_smooth, Range::NonNegative)?,
            min_data_per_group: r.get("min_data_per_group", d.min_data_per_group)?.max(1),
            early_stopping_round: r.get("early_stopping_round", d.early_stopping_round)?,
            num_threads: r.get::<i64>("num_threads", 0)?.max(0) as usize,
            seed: r.get::<i64>("seed", 0)? as u64,
            is_unbalance: r.get_bool("is_unbalance", d.is_unbalance)?,
            scale_pos_weight: r.get_in("scale_pos_weight", d.scale_pos_weight, Range::Positive)?,
            num_class: r.get_in("num_class", d.num_class, Range::AtLeastOne)?,
            metric,
            alpha: r.get_in("alpha", d.alpha, Range::Positive)?,
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
