//! LightGBM's text model format (what `Booster.save_model` writes) read into a native GBDT
//! [`Model`]. The file is a header of `key=value` lines, one block per tree (`Tree=N` and its
//! arrays: split features, thresholds, decision types, children, leaf values, categorical
//! bitsets), and trailing sections (importances, parameters, pandas' category lists).
//!
//! What maps one to one: trees are stored round-major with `num_tree_per_iteration` trees per
//! round, children are node indices or `!leaf` as ours, thresholds are doubles compared with
//! `<=`, and categorical bitsets are the same 32-bit words; the starting score is already in
//! the first trees' leaves (LightGBM adds it there), so the initial scores are zero.
//!
//! What is translated: a numeric split's missing-value rule (`decision_type` bits 2–3) becomes
//! the native default direction — for "None" a NaN is read as 0.0, so it goes where 0.0 goes;
//! for "Zero" (`zero_as_missing`) values within ±1e-35 and NaN take the default direction,
//! which the native split expresses only when the comparison already sends them that way
//! (otherwise the import is refused). A categorical feature is read as LightGBM reads it:
//! through pandas' category list when the file has one (`pandas_categorical`), else as codes
//! truncated toward zero ([`ColumnEncoding::Codes`]). `binary` with `sigmoid:s ≠ 1` scales the
//! leaves by `s`, so the probabilities agree (to rounding) while the native sigmoid stays the
//! one function.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::model::{Model, Task};
use crate::params::Objective;
use crate::pipeline::{ColumnEncoding, ColumnTransform};
use crate::tree::{Node, SplitRule, Tree};

use super::{ImportedGbdt, refused};

const FORMAT: &str = "LightGBM";

/// LightGBM's `kZeroThreshold` (a float): |x| at most this is "zero" for `zero_as_missing`.
const ZERO_THRESHOLD: f64 = 1e-35_f32 as f64;

/// Reads a LightGBM text model; `source` names it in errors.
pub fn read_lightgbm(text: &str, source: &str) -> Result<Model> {
    let no = |reason: String| refused(source, FORMAT, reason);
    let sections = Sections::split(text).map_err(&no)?;
    let header = &sections.header;
    let get = |key: &str| {
        header
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| no(format!("the header has no `{key}=` line; is this a LightGBM model file (`Booster.save_model`)?")))
    };
    let version = get("version")?;
    if !matches!(version, "v2" | "v3" | "v4") {
        return Err(no(format!(
            "model format `version={version}` is not one this build reads (v2, v3, v4)"
        )));
    }
    if header.contains_key("average_output") {
        return Err(no("it is a random forest (`boosting=rf`: trees averaged, not summed); only boosted trees are imported".into()));
    }
    let num_class: usize = number(get("num_class")?, "num_class").map_err(&no)?;
    let per_round: usize =
        number(get("num_tree_per_iteration")?, "num_tree_per_iteration").map_err(&no)?;
    let max_feature_idx: usize = number(get("max_feature_idx")?, "max_feature_idx").map_err(&no)?;
    let n_features = max_feature_idx + 1;
    let names: Vec<String> = get("feature_names")?
        .split(' ')
        .map(str::to_string)
        .collect();
    let infos: Vec<&str> = get("feature_infos")?.split(' ').collect();
    if names.len() != n_features || infos.len() != n_features {
        return Err(no(format!(
            "`max_feature_idx={max_feature_idx}` means {n_features} features, but the file names {} and describes {}",
            names.len(),
            infos.len()
        )));
    }
    let output = Output::parse(get("objective")?, num_class, per_round).map_err(&no)?;

    let mut trees = Vec::with_capacity(sections.trees.len());
    for (i, block) in sections.trees.iter().enumerate() {
        let tree = read_tree(block, n_features, output.leaf_scale)
            .map_err(|e| no(format!("tree {i}: {e}")))?;
        trees.push(tree);
    }
    if trees.is_empty() || trees.len() % per_round != 0 {
        return Err(no(format!(
            "{} trees is not a whole number of rounds of {per_round}",
            trees.len()
        )));
    }

    let categorical: Vec<usize> = (0..n_features)
        .filter(|&f| is_categorical_info(infos[f]))
        .collect();
    let pandas = pandas_categories(&sections.pandas_categorical).map_err(&no)?;
    // Which categorical features pandas encoded (feature index → its category list).
    let mut pandas_of: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    if let Some(lists) = pandas.filter(|l| !l.is_empty()) {
        let seen: Vec<i64> = categorical
            .iter()
            .map(|&f| largest_code(infos[f]))
            .collect();
        let chosen = pandas_columns(&seen, &lists).map_err(|reason| {
            no(format!(
                "{reason}; pandas' {} category lists belong to {} of the {} categorical features ({})",
                lists.len(),
                lists.len(),
                categorical.len(),
                categorical.iter().map(|&f| names[f].as_str()).collect::<Vec<_>>().join(", ")
            ))
        })?;
        for (list, k) in lists.into_iter().zip(chosen) {
            pandas_of.insert(categorical[k], list);
        }
    }
    for tree in &trees {
        for n in &tree.nodes {
            if matches!(n.rule, SplitRule::Categorical { .. })
                && !categorical.contains(&(n.feature as usize))
            {
                return Err(no(format!(
                    "a categorical split on feature `{}`, which `feature_infos` describes as numeric",
                    names[n.feature as usize]
                )));
            }
        }
    }
    let columns = names
        .iter()
        .enumerate()
        .map(|(f, name)| {
            let encoding = match (pandas_of.get(&f), categorical.contains(&f)) {
                (Some(categories), _) => ColumnEncoding::Categorical {
                    categories: categories.clone(),
                },
                (None, true) => ColumnEncoding::Codes,
                (None, false) => ColumnEncoding::Numeric,
            };
            ColumnTransform {
                name: name.clone(),
                encoding,
                scalers: Vec::new(),
                target_stats: None,
            }
        })
        .collect();

    ImportedGbdt {
        framework: "lightgbm",
        objective_text: get("objective")?.to_string(),
        task: output.task,
        objective: output.objective,
        columns,
        trees,
        per_round,
        init_scores: vec![0.0; per_round],
    }
    .into_model(source)
}

/// The file cut into its header, its tree blocks and the pandas category lists.
struct Sections<'a> {
    header: BTreeMap<String, String>,
    trees: Vec<BTreeMap<&'a str, &'a str>>,
    pandas_categorical: Option<&'a str>,
}

impl<'a> Sections<'a> {
    fn split(text: &'a str) -> std::result::Result<Sections<'a>, String> {
        let mut header = BTreeMap::new();
        let mut trees: Vec<BTreeMap<&str, &str>> = Vec::new();
        let mut pandas_categorical = None;
        let mut in_trees = false;
        let mut done_trees = false;
        let mut first = true;
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if first {
                first = false;
                if line != "tree" {
                    return Err(format!(
                        "it does not start with LightGBM's `tree` line (found `{}`); is this a LightGBM text model file?",
                        line.chars().take(40).collect::<String>()
                    ));
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("pandas_categorical:") {
                pandas_categorical = Some(rest);
                continue;
            }
            if line == "end of trees" {
                done_trees = true;
                in_trees = false;
                continue;
            }
            if done_trees {
                continue;
            }
            if line.starts_with("Tree=") {
                in_trees = true;
                trees.push(BTreeMap::new());
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if in_trees {
                if let Some(tree) = trees.last_mut() {
                    tree.insert(key, value);
                }
            } else {
                header.insert(key.to_string(), value.to_string());
            }
        }
        if !done_trees {
            return Err("the file ends before `end of trees`; it is truncated".into());
        }
        Ok(Sections {
            header,
            trees,
            pandas_categorical,
        })
    }
}

/// The task, native objective and leaf scale of a LightGBM objective line such as
/// `binary sigmoid:1` or `multiclass num_class:3`.
struct Output {
    task: Task,
    objective: Objective,
    leaf_scale: f64,
}

impl Output {
    fn parse(
        line: &str,
        num_class: usize,
        per_round: usize,
    ) -> std::result::Result<Output, String> {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or_default();
        // Options are `key:value` words, flags bare words (`sqrt`).
        let options: BTreeMap<&str, &str> = words
            .map(|w| w.split_once(':').unwrap_or((w, "")))
            .collect();
        let single = |task, objective| {
            if per_round != 1 {
                return Err(format!(
                    "objective `{name}` with {per_round} trees per round; expected one"
                ));
            }
            Ok(Output {
                task,
                objective,
                leaf_scale: 1.0,
            })
        };
        match name {
            "binary" => {
                let sigmoid: f64 = match options.get("sigmoid") {
                    Some(s) => s
                        .parse()
                        .map_err(|_| format!("`sigmoid:{s}` is not a number"))?,
                    None => 1.0,
                };
                if !(sigmoid.is_finite() && sigmoid > 0.0) {
                    return Err(format!("`sigmoid:{sigmoid}` must be a positive number"));
                }
                let mut out = single(Task::Binary, Objective::Binary)?;
                out.leaf_scale = sigmoid;
                Ok(out)
            }
            "multiclass" | "softmax" => {
                if num_class < 2 || per_round != num_class {
                    return Err(format!(
                        "objective `{name}` with num_class={num_class} and {per_round} trees per round; expected one tree per class"
                    ));
                }
                Ok(Output {
                    task: Task::Multiclass,
                    objective: Objective::Multiclass,
                    leaf_scale: 1.0,
                })
            }
            "regression"
            | "regression_l2"
            | "l2"
            | "mean_squared_error"
            | "mse"
            | "l2_root"
            | "root_mean_squared_error"
            | "rmse" => {
                if options.contains_key("sqrt") {
                    return Err(format!(
                        "objective `{line}` predicts the square of its trees' sum (`reg_sqrt`), which has no native equivalent"
                    ));
                }
                single(Task::Regression, Objective::Regression)
            }
            "regression_l1" | "l1" | "mean_absolute_error" | "mae" => {
                single(Task::Regression, Objective::RegressionL1)
            }
            "huber" => single(Task::Regression, Objective::Huber),
            "poisson" => single(Task::Regression, Objective::Poisson),
            other => Err(format!(
                "objective `{other}` has no native equivalent; supported: binary, multiclass, regression (l2), regression_l1, huber, poisson"
            )),
        }
    }
}

fn number<T: std::str::FromStr>(text: &str, key: &str) -> std::result::Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("`{key}={text}` is not a number"))
}

fn array<T: std::str::FromStr>(
    block: &BTreeMap<&str, &str>,
    key: &str,
    len: usize,
) -> std::result::Result<Vec<T>, String> {
    let text = block.get(key).ok_or_else(|| format!("no `{key}=` line"))?;
    let values: Vec<T> = text
        .split_whitespace()
        .map(|v| {
            v.parse()
                .map_err(|_| format!("`{key}` holds `{v}`, not a number"))
        })
        .collect::<std::result::Result<_, _>>()?;
    if values.len() != len {
        return Err(format!(
            "`{key}` has {} values, expected {len}",
            values.len()
        ));
    }
    Ok(values)
}

fn read_tree(
    block: &BTreeMap<&str, &str>,
    n_features: usize,
    leaf_scale: f64,
) -> std::result::Result<Tree, String> {
    let num_leaves: usize = number(block.get("num_leaves").copied().unwrap_or(""), "num_leaves")?;
    if num_leaves == 0 {
        return Err("`num_leaves=0`".into());
    }
    if block.get("is_linear").is_some_and(|v| v.trim() != "0") {
        return Err("it is a linear tree (`linear_tree=true`: a linear model in each leaf), which has no native equivalent".into());
    }
    let leaves: Vec<f64> = array(block, "leaf_value", num_leaves)?;
    let leaf_values = leaves.iter().map(|v| v * leaf_scale).collect();
    if num_leaves == 1 {
        return Ok(Tree {
            nodes: Vec::new(),
            leaf_values,
        });
    }
    let inner = num_leaves - 1;
    let features: Vec<usize> = array(block, "split_feature", inner)?;
    let thresholds: Vec<f64> = array(block, "threshold", inner)?;
    let decisions: Vec<i8> = array(block, "decision_type", inner)?;
    let left: Vec<i32> = array(block, "left_child", inner)?;
    let right: Vec<i32> = array(block, "right_child", inner)?;
    let gains: Vec<f64> = match block.get("split_gain") {
        Some(_) => array(block, "split_gain", inner)?,
        None => vec![0.0; inner],
    };
    let num_cat: usize = match block.get("num_cat") {
        Some(v) => number(v, "num_cat")?,
        None => 0,
    };
    let (boundaries, words): (Vec<usize>, Vec<u32>) = if num_cat > 0 {
        let boundaries: Vec<usize> = array(block, "cat_boundaries", num_cat + 1)?;
        let total = *boundaries.last().unwrap_or(&0);
        (boundaries, array(block, "cat_threshold", total)?)
    } else {
        (Vec::new(), Vec::new())
    };
    let mut nodes = Vec::with_capacity(inner);
    for i in 0..inner {
        let feature = features[i];
        if feature >= n_features {
            return Err(format!(
                "node {i} splits on feature {feature}; the model has {n_features}"
            ));
        }
        let decision = decisions[i];
        let default_left = decision & 2 != 0;
        let rule = if decision & 1 != 0 {
            let t = thresholds[i];
            let k = t as usize;
            if t < 0.0 || t.fract() != 0.0 || k >= num_cat {
                return Err(format!(
                    "node {i}: categorical split {t} names no bitset (the tree has {num_cat})"
                ));
            }
            let (from, to) = (boundaries[k], boundaries[k + 1]);
            if from > to || to > words.len() {
                return Err(format!("node {i}: `cat_boundaries` out of order"));
            }
            // NaN and negative codes go right in LightGBM as in the native split.
            SplitRule::Categorical {
                bitset: words[from..to].to_vec(),
            }
        } else {
            let threshold = thresholds[i];
            let default_left = match (decision >> 2) & 3 {
                // "None": a NaN is read as 0.0.
                0 => 0.0 <= threshold,
                // "Zero": |x| <= 1e-35 and NaN take the default direction.
                1 => {
                    let agrees = if default_left {
                        threshold >= ZERO_THRESHOLD
                    } else {
                        threshold < -ZERO_THRESHOLD
                    };
                    if !agrees {
                        return Err(format!(
                            "node {i}: a `zero_as_missing` split at {threshold} sends zero {} but compares it the other way; retrain without zero_as_missing",
                            if default_left { "left" } else { "right" }
                        ));
                    }
                    default_left
                }
                2 => default_left,
                other => return Err(format!("node {i}: missing-value type {other} is unknown")),
            };
            SplitRule::Numeric {
                threshold,
                default_left,
            }
        };
        nodes.push(Node {
            feature: feature as u32,
            rule,
            left: left[i],
            right: right[i],
            gain: gains[i],
        });
    }
    Ok(Tree { nodes, leaf_values })
}

/// A numeric feature's info is `[min:max]` (or `none` when unused); a categorical one lists
/// its categories as `a:b:c`.
fn is_categorical_info(info: &str) -> bool {
    !(info.starts_with('[') || info == "none")
}

/// The largest category code a categorical feature's info lists (`-1:3:1:0`), -1 if none.
fn largest_code(info: &str) -> i64 {
    info.split(':')
        .filter_map(|c| c.parse::<i64>().ok())
        .max()
        .unwrap_or(-1)
}

/// Which categorical features (positions in `seen`, the largest code each one met in
/// training) pandas' category lists belong to. pandas lists its category-typed columns in
/// column order, a subsequence of the categorical features, and a column's codes are
/// positions in its list; the file does not say which subsequence. The true one always fits
/// (every code below its list's length), so when exactly one fits, it is the answer; when
/// several do, the file cannot tell and the import is refused.
fn pandas_columns(seen: &[i64], lists: &[Vec<String>]) -> std::result::Result<Vec<usize>, String> {
    fn search(
        seen: &[i64],
        lists: &[Vec<String>],
        from: usize,
        chosen: &mut Vec<usize>,
        found: &mut Vec<Vec<usize>>,
        budget: &mut usize,
    ) {
        if found.len() > 1 || *budget == 0 {
            return;
        }
        *budget -= 1;
        let Some(list) = lists.get(chosen.len()) else {
            found.push(chosen.clone());
            return;
        };
        for k in from..seen.len() {
            if seen[k] < list.len() as i64 {
                chosen.push(k);
                search(seen, lists, k + 1, chosen, found, budget);
                chosen.pop();
            }
        }
    }
    let mut found = Vec::new();
    let mut budget = 100_000;
    search(seen, lists, 0, &mut Vec::new(), &mut found, &mut budget);
    match found.len() {
        _ if budget == 0 => Err("too many choices of categorical features to try".into()),
        1 => Ok(found.remove(0)),
        0 => Err("no categorical features fit pandas' category lists".into()),
        _ => Err("more than one choice of categorical features fits pandas' category lists".into()),
    }
}

/// pandas' category lists (`pandas_categorical:[["a", "b"], [1, 2]]`), one per categorical
/// column in column order, as the text the native pipeline matches input values against.
fn pandas_categories(line: &Option<&str>) -> std::result::Result<Option<Vec<Vec<String>>>, String> {
    let Some(text) = line.map(str::trim) else {
        return Ok(None);
    };
    if text.is_empty() || text == "null" {
        return Ok(None);
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("`pandas_categorical` is not JSON: {e}"))?;
    let lists = value
        .as_array()
        .ok_or("`pandas_categorical` is not a list")?;
    lists
        .iter()
        .map(|list| {
            list.as_array()
                .ok_or_else(|| "`pandas_categorical` holds something other than lists".to_string())?
                .iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => Ok(s.clone()),
                    serde_json::Value::Number(n) => Ok(n.to_string()),
                    serde_json::Value::Bool(b) => Ok(b.to_string()),
                    other => Err(format!("category {other} is neither text nor a number")),
                })
                .collect()
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map(Some)
}

#[cfg(test)]
mod tests;
