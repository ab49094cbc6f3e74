//! Hyper-parameter tuning: random search and successive halving over a
//! declared space. Each trial trains on pre-split folds (or a holdout) and is
//! scored on the held-out rows. The feature pipeline is fitted on each fold's
//! training rows only, so category lists, scalers and target means never see
//! the rows they are scored on; the per-fold data is built once per
//! categorical encoding and shared by every trial. Trials run in parallel on
//! a rayon pool; results are deterministic for a seed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use arrow::array::UInt32Array;
use arrow::compute::take_record_batch;
use arrow::record_batch::RecordBatch;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{MlError, Result};
use crate::metrics;
use crate::model::{Algorithm, FitSpec, Task, encode_target, fit_estimator};
use crate::params::{Metric, ParamMap, is_budget_key, with_threads};
use crate::pipeline::{CategoricalEncoding, FeaturePipeline};
use crate::rng::Rng;
use crate::split::{kfold, random_split, stratified_kfold, stratified_split};

/// Range one parameter is drawn from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ParamRange {
    /// Uniform integer in `[low, high]`.
    Int {
        low: i64,
        high: i64,
    },
    /// Uniform float in `[low, high)`.
    Float {
        low: f64,
        high: f64,
    },
    /// Log-uniform float in `[low, high)` (both > 0), e.g. learning rates.
    LogFloat {
        low: f64,
        high: f64,
    },
    Choice {
        values: Vec<String>,
    },
}

impl ParamRange {
    fn sample(&self, rng: &mut Rng) -> String {
        match self {
            ParamRange::Int { low, high } => {
                (low + rng.below((high - low + 1) as usize) as i64).to_string()
            }
            ParamRange::Float { low, high } => (low + rng.next_f64() * (high - low)).to_string(),
            ParamRange::LogFloat { low, high } => {
                let (a, b) = (low.ln(), high.ln());
                (a + rng.next_f64() * (b - a)).exp().to_string()
            }
            ParamRange::Choice { values } => values[rng.below(values.len())].clone(),
        }
    }
}

/// Parameters to search, in a fixed order (sampling is order-dependent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchSpace {
    pub params: Vec<(String, ParamRange)>,
}

impl SearchSpace {
    /// Parses `name=int:LOW:HIGH`, `name=float:LOW:HIGH`,
    /// `name=logfloat:LOW:HIGH` or `name=choice:A,B,C` declarations.
    pub fn parse<S: AsRef<str>>(decls: &[S]) -> Result<SearchSpace> {
        let mut params = Vec::new();
        for d in decls {
            let d = d.as_ref();
            let bad = |reason: &str| MlError::invalid_param(d, "", reason.to_string());
            let (name, spec) = d.split_once('=').ok_or_else(|| {
                bad("expected NAME=int:LOW:HIGH | float:LOW:HIGH | logfloat:LOW:HIGH | choice:A,B")
            })?;
            let (kind, rest) = spec
                .split_once(':')
                .ok_or_else(|| bad("expected a range kind: int, float, logfloat or choice"))?;
            let bounds = || -> Result<(f64, f64)> {
                let (a, b) = rest
                    .split_once(':')
                    .ok_or_else(|| bad("expected LOW:HIGH"))?;
                let a: f64 = a.trim().parse().map_err(|_| bad("LOW is not a number"))?;
                let b: f64 = b.trim().parse().map_err(|_| bad("HIGH is not a number"))?;
                if a > b {
                    return Err(bad("LOW must not exceed HIGH"));
                }
                Ok((a, b))
            };
            let range = match kind.trim().to_ascii_lowercase().as_str() {
                "int" => {
                    let (a, b) = bounds()?;
                    ParamRange::Int {
                        low: a as i64,
                        high: b as i64,
                    }
                }
                "float" | "uniform" => {
                    let (low, high) = bounds()?;
                    ParamRange::Float { low, high }
                }
                "logfloat" | "log" | "loguniform" => {
                    let (low, high) = bounds()?;
                    if low <= 0.0 {
                        return Err(bad("log ranges need LOW > 0"));
                    }
                    ParamRange::LogFloat { low, high }
                }
                "choice" => {
                    let values: Vec<String> = rest
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect();
                    if values.is_empty() {
                        return Err(bad("choice needs at least one value"));
                    }
                    ParamRange::Choice { values }
                }
                _ => return Err(bad("range kind must be int, float, logfloat or choice")),
            };
            params.push((name.trim().to_string(), range));
        }
        Ok(SearchSpace { params })
    }

    fn sample(&self, rng: &mut Rng) -> ParamMap {
        self.params
            .iter()
            .map(|(k, r)| (k.clone(), r.sample(rng)))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum TuneStrategy {
    Random {
        n_trials: usize,
    },
    /// Start `n_trials` configs at `min_iterations` boosting rounds and keep
    /// the best `1/eta` at each rung with `eta`× the rounds, up to the
    /// spec's `num_iterations` (default 100).
    SuccessiveHalving {
        n_trials: usize,
        min_iterations: usize,
        eta: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TuneOptions {
    pub strategy: TuneStrategy,
    /// k-fold CV when >= 2, otherwise one holdout of `holdout_fraction`.
    pub folds: usize,
    pub holdout_fraction: f64,
    /// Metric to optimise; default AUC (binary), multi_logloss, or RMSE.
    pub metric: Option<Metric>,
    pub seed: u64,
    /// Threads for running trials (0 = all cores).
    pub num_threads: usize,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions {
            strategy: TuneStrategy::Random { n_trials: 20 },
            folds: 0,
            holdout_fraction: 0.2,
            metric: None,
            seed: 0,
            num_threads: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub id: usize,
    /// The sampled parameters (merged with the spec's fixed parameters when trained).
    pub params: ParamMap,
    pub score: f64,
    /// Boosting rounds used (successive halving rung budget), if set.
    pub budget: Option<usize>,
    pub rung: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneResult {
    pub metric: String,
    pub higher_is_better: bool,
    pub best_score: f64,
    /// Fixed spec parameters plus the best sampled ones: ready for `fit`.
    pub best_params: ParamMap,
    pub trials: Vec<Trial>,
}

type Fold = (Vec<usize>, Vec<usize>);

/// One fold transformed by a pipeline fitted on its training rows.
struct FoldData {
    train: Dataset,
    ytr: Vec<f64>,
    valid: Dataset,
    yva: Vec<f64>,
}

/// Labels and folds computed once for many trials, plus the folds' feature
/// data per categorical encoding (a trial may choose its own encoding).
pub(crate) struct Prepared<'a> {
    batches: &'a [RecordBatch],
    spec: &'a FitSpec,
    y: Vec<f64>,
    n_classes: usize,
    task: Task,
    folds: Vec<Fold>,
    fold_data: Mutex<HashMap<CategoricalEncoding, Arc<Vec<FoldData>>>>,
}

impl<'a> Prepared<'a> {
    /// `k >= 2` gives k-fold CV (stratified for classification), otherwise
    /// one holdout of `holdout` of the rows.
    pub(crate) fn new(
        batches: &'a [RecordBatch],
        spec: &'a FitSpec,
        k: usize,
        holdout: f64,
        seed: u64,
    ) -> Result<Prepared<'a>> {
        let target = spec.target.clone().unwrap_or_default();
        let (y, classes) = encode_target(batches, spec.task, &target, None)?;
        let folds = make_folds(&y, spec.task, k, holdout, seed);
        let prep = Prepared {
            batches,
            spec,
            y,
            n_classes: classes.len(),
            task: spec.task,
            folds,
            fold_data: Mutex::new(HashMap::new()),
        };
        // Built now so a bad column or parameter fails before any trial runs.
        prep.fold_data(spec.categorical_encoding()?)?;
        Ok(prep)
    }

    /// The folds' data under `enc`, built on first use. The build runs under
    /// the lock so concurrent trials wait for one build instead of repeating
    /// it; it makes no rayon calls, so a worker holding the lock can never
    /// steal a trial that then waits on the same lock.
    fn fold_data(&self, enc: CategoricalEncoding) -> Result<Arc<Vec<FoldData>>> {
        let mut cache = self
            .fold_data
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(d) = cache.get(&enc) {
            return Ok(d.clone());
        }
        let target = self.spec.target.as_deref().filter(|t| !t.is_empty());
        let opts = self.spec.pipeline_options_with(enc);
        let data = self
            .folds
            .iter()
            .map(|(tr, va)| {
                let ytr: Vec<f64> = tr.iter().map(|&i| self.y[i]).collect();
                let yva: Vec<f64> = va.iter().map(|&i| self.y[i]).collect();
                let (pipeline, train) = FeaturePipeline::fit_with_labels(
                    &take_rows(self.batches, tr)?,
                    target,
                    &opts,
                    &ytr,
                )?;
                let valid = pipeline.transform(&take_rows(self.batches, va)?)?;
                Ok(FoldData {
                    train,
                    ytr,
                    valid,
                    yva,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let data = Arc::new(data);
        cache.insert(enc, data.clone());
        Ok(data)
    }

    pub(crate) fn default_metric(&self, spec: &FitSpec) -> Result<Metric> {
        Ok(match self.task {
            Task::Binary => Metric::Auc,
            Task::Multiclass => Metric::MultiLogloss,
            Task::Regression => Metric::Rmse,
            Task::Clustering => {
                return Err(MlError::UnsupportedTask {
                    task: "clustering".into(),
                    algorithm: if spec.algorithm == Algorithm::KMeans {
                        "tuning"
                    } else {
                        "tune"
                    },
                });
            }
        })
    }
}

fn make_folds(y: &[f64], task: Task, k: usize, holdout: f64, seed: u64) -> Vec<Fold> {
    let n = y.len();
    let classify = matches!(task, Task::Binary | Task::Multiclass);
    let labels: Vec<i64> = y.iter().map(|&v| v as i64).collect();
    match (k >= 2, classify) {
        (true, true) => stratified_kfold(&labels, k, seed),
        (true, false) => kfold(n, k, seed),
        (false, true) => vec![stratified_split(&labels, holdout, seed)],
        (false, false) => vec![random_split(n, holdout, seed)],
    }
}

/// The rows `rows` (ascending global indices across `batches`), batch by
/// batch; never empty, so the pipeline always sees the schema.
fn take_rows(batches: &[RecordBatch], rows: &[usize]) -> Result<Vec<RecordBatch>> {
    debug_assert!(rows.is_sorted(), "fold indices are ascending");
    let mut out = Vec::new();
    let (mut start, mut at) = (0, 0);
    for b in batches {
        let end = start + b.num_rows();
        let from = at;
        while at < rows.len() && rows[at] < end {
            at += 1;
        }
        if at > from {
            let local =
                UInt32Array::from_iter_values(rows[from..at].iter().map(|&r| (r - start) as u32));
            out.push(take_record_batch(b, &local)?);
        }
        start = end;
    }
    if out.is_empty()
        && let Some(b) = batches.first()
    {
        out.push(b.slice(0, 0));
    }
    Ok(out)
}

/// Scores `params` (replacing the spec's) on every fold.
pub(crate) fn score_params(
    prep: &Prepared<'_>,
    spec: &FitSpec,
    params: &ParamMap,
    metric: Metric,
) -> Result<Vec<f64>> {
    let mut s = spec.clone();
    s.params = params.clone();
    let data = prep.fold_data(s.categorical_encoding()?)?;
    let target = spec.target.clone().unwrap_or_default();
    data.iter()
        .map(|f| {
            let (est, _) = fit_estimator(&s, &f.train, &f.ytr, prep.n_classes, None, &target)?;
            let pred = est.predict(&f.valid);
            let k = if prep.task == Task::Multiclass {
                prep.n_classes
            } else {
                1
            };
            Ok(metrics::compute(metric, &f.yva, &pred, k, 0.9))
        })
        .collect()
}

/// Searches `space` for the parameters that score best on held-out data.
pub fn tune(
    batches: &[RecordBatch],
    spec: &FitSpec,
    space: &SearchSpace,
    opts: &TuneOptions,
) -> Result<TuneResult> {
    let prep = Prepared::new(batches, spec, opts.folds, opts.holdout_fraction, opts.seed)?;
    let metric = match opts.metric {
        Some(m) => m,
        None => prep.default_metric(spec)?,
    };
    let higher = metric.higher_is_better();
    // Trials share the tuning pool; a per-trial thread count would oversubscribe it.
    let mut base = spec.params.clone();
    base.retain(|k, _| {
        !matches!(
            k.as_str(),
            "num_threads" | "num_thread" | "nthread" | "nthreads" | "n_jobs"
        )
    });
    let mut rng = Rng::derive(opts.seed, 20);

    let evaluate =
        |id: usize, sampled: &ParamMap, budget: Option<usize>, rung: usize| -> Result<Trial> {
            let mut p = base.clone();
            p.extend(sampled.clone());
            if let Some(b) = budget {
                p.retain(|k, _| !is_budget_key(k));
                let key = if spec.algorithm == Algorithm::Gbdt {
                    "num_iterations"
                } else {
                    "max_iter"
                };
                p.insert(key.to_string(), b.to_string());
            }
            let scores = score_params(&prep, spec, &p, metric)?;
            Ok(Trial {
                id,
                params: sampled.clone(),
                score: scores.iter().sum::<f64>() / scores.len() as f64,
                budget,
                rung,
            })
        };
    let better = |a: f64, b: f64| if higher { a > b } else { a < b };

    let trials: Vec<Trial> = with_threads(opts.num_threads, || -> Result<Vec<Trial>> {
        match &opts.strategy {
            TuneStrategy::Random { n_trials } => {
                let configs: Vec<ParamMap> =
                    (0..*n_trials).map(|_| space.sample(&mut rng)).collect();
                configs
                    .par_iter()
                    .enumerate()
                    .map(|(i, c)| evaluate(i, c, None, 0))
                    .collect()
            }
            TuneStrategy::SuccessiveHalving {
                n_trials,
                min_iterations,
                eta,
            } => {
                let eta = (*eta).max(2);
                let max_budget = base
                    .iter()
                    .find(|(k, _)| is_budget_key(k))
                    .and_then(|(_, v)| v.parse::<usize>().ok())
                    .unwrap_or(100);
                let mut budget = (*min_iterations).clamp(1, max_budget);
                let mut alive: Vec<(usize, ParamMap)> = (0..*n_trials)
                    .map(|i| (i, space.sample(&mut rng)))
                    .collect();
                let mut all = Vec::new();
                let mut rung = 0;
                loop {
                    let mut results: Vec<Trial> = alive
                        .par_iter()
                        .map(|(i, c)| evaluate(*i, c, Some(budget), rung))
                        .collect::<Result<_>>()?;
                    all.extend(results.clone());
                    if alive.len() <= 1 || budget >= max_budget {
                        break;
                    }
                    results.sort_by(|a, b| {
                        let o = a.score.total_cmp(&b.score);
                        (if higher { o.reverse() } else { o }).then(a.id.cmp(&b.id))
                    });
                    let keep = alive.len().div_ceil(eta);
                    alive = results
                        .into_iter()
                        .take(keep)
                        .map(|t| (t.id, t.params))
                        .collect();
                    budget = (budget * eta).min(max_budget);
                    rung += 1;
                }
                Ok(all)
            }
        }
    })??;

    // The best trial comes from the highest rung reached (full budget).
    let top_rung = trials.iter().map(|t| t.rung).max().unwrap_or(0);
    let best = trials
        .iter()
        .filter(|t| t.rung == top_rung && !t.score.is_nan())
        .fold(None::<&Trial>, |b, t| match b {
            Some(b) if !better(t.score, b.score) => Some(b),
            _ => Some(t),
        })
        .ok_or_else(|| {
            MlError::InvalidInput(
                "no tuning trial produced a score; add trials or widen the space".into(),
            )
        })?;
    let mut best_params = base.clone();
    best_params.extend(best.params.clone());
    if let Some(b) = best.budget {
        best_params.retain(|k, _| !is_budget_key(k));
        let key = if spec.algorithm == Algorithm::Gbdt {
            "num_iterations"
        } else {
            "max_iter"
        };
        best_params.insert(key.to_string(), b.to_string());
    }
    Ok(TuneResult {
        metric: metric.name().to_string(),
        higher_is_better: higher,
        best_score: best.score,
        best_params,
        trials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_space_and_samples_in_range() {
        let s = SearchSpace::parse(&[
            "num_leaves=int:4:64",
            "learning_rate=logfloat:0.01:0.3",
            "feature_fraction=float:0.5:1",
            "objective=choice:regression,huber",
        ])
        .unwrap();
        let mut r = Rng::new(1);
        for _ in 0..50 {
            let m = s.sample(&mut r);
            let nl: i64 = m["num_leaves"].parse().unwrap();
            assert!((4..=64).contains(&nl));
            let lr: f64 = m["learning_rate"].parse().unwrap();
            assert!((0.01..0.3).contains(&lr));
            assert!(["regression", "huber"].contains(&m["objective"].as_str()));
        }
        assert!(SearchSpace::parse(&["x=int:5:1"]).is_err());
        assert!(SearchSpace::parse(&["x=log:0:1"]).is_err());
        assert!(SearchSpace::parse(&["x=gauss:0:1"]).is_err());
    }
}
