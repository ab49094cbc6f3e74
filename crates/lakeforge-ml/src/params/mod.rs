//! Parameter parsing: turns the user's string map (from `--param k=v` or a
//! tuning trial) into typed, validated settings for each algorithm. Names are
//! LightGBM's, with its common aliases, so existing LightGBM configs carry over.
//!
//! This module holds what every learner shares: resolving aliases to one name
//! (`resolve`), typed reads and the one range check (`Range`). Each learner's
//! accepted names and settings live in a file of their own: `gbdt.rs` (with the
//! objectives and metrics), `linear.rs`, `kmeans.rs`.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::error::{MlError, Result};

mod gbdt;
mod kmeans;
mod linear;

pub use gbdt::{GbdtParams, Metric, Objective};
pub use kmeans::KMeansParams;
pub use linear::LinearParams;
pub(crate) use linear::categorical_encoding_param;

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
    budget(gbdt::SPECS, "num_iterations")
        || budget(linear::SPECS, "max_iter")
        || budget(kmeans::SPECS, "max_iter")
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

    /// The value of `name` (or `default`), refused unless it lies in `range`; the error
    /// names the key as the user wrote it.
    pub fn get_in<T: Bounded>(&self, name: &str, default: T, range: Range) -> Result<T> {
        let value = self.get(name, default)?;
        if range.admits(value.as_f64()) {
            Ok(value)
        } else {
            let key = self
                .values
                .get(name)
                .map(|(k, _)| k.clone())
                .unwrap_or_else(|| name.to_string());
            Err(MlError::invalid_param(
                key,
                value.to_string(),
                range.requirement(),
            ))
        }
    }
}

/// The values a numeric parameter accepts. One list of cases, so a bound and the sentence
/// that states it in the error cannot drift apart.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Range {
    /// `> 0`
    Positive,
    /// `>= 0`
    NonNegative,
    /// `>= 1` (counts that must not be zero; said as LightGBM's docs say it)
    AtLeastOne,
    /// `(0, 1]`
    Fraction,
    /// `lo..=hi`
    Between(u32, u32),
}

impl Range {
    fn admits(self, x: f64) -> bool {
        match self {
            Range::Positive => x > 0.0,
            Range::NonNegative => x >= 0.0,
            Range::AtLeastOne => x >= 1.0,
            Range::Fraction => x > 0.0 && x <= 1.0,
            Range::Between(lo, hi) => (f64::from(lo)..=f64::from(hi)).contains(&x),
        }
    }

    fn requirement(self) -> String {
        match self {
            Range::Positive => "must be > 0".into(),
            Range::NonNegative => "must be >= 0".into(),
            Range::AtLeastOne => "must be >= 1".into(),
            Range::Fraction => "must be in (0, 1]".into(),
            Range::Between(lo, hi) => format!("must be between {lo} and {hi}"),
        }
    }
}

/// The numeric types a ranged parameter parses to. Counts compare as floats: every bound
/// is small, and a count too large for an f64 to hold exactly still lies on the same side
/// of it (NaN, which only a float can be, is admitted by no range).
pub(crate) trait Bounded: FromStr + std::fmt::Display + Copy {
    fn as_f64(self) -> f64;
}

impl Bounded for f64 {
    fn as_f64(self) -> f64 {
        self
    }
}

impl Bounded for usize {
    fn as_f64(self) -> f64 {
        self as f64
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
