//! XGBoost's JSON model format (what `Booster.save_model("model.json")` writes) read into a
//! native GBDT [`Model`]. The file holds the learner's parameters (base score, classes,
//! features and their types), the objective, and the trees as parallel arrays per tree
//! (children, split feature, split condition or leaf value, default direction).
//!
//! What is translated, and why the result is exact:
//! - XGBoost reads features as 32-bit floats and sends `x < t` left, `t` a 32-bit float. The
//!   native split sends `x <= T` left on the 64-bit input; `T` is chosen as the largest double
//!   that rounds to a float below `t` (the midpoint between `t` and the float before it, or
//!   just under it where round-half-to-even would carry the midpoint up), so every input goes
//!   the same way in both.
//! - Nodes are renumbered: XGBoost numbers leaves and splits in one array, the native tree
//!   keeps splits in `nodes` and leaves in `leaf_values`.
//! - The base score is turned into the margin it stands for (the logit for `binary:logistic`,
//!   the log for `count:poisson`; multiclass scores are margins already, one per class since
//!   XGBoost 3) and becomes the initial score.
//! - Trees are ordered round by round, one per class (`tree_info` says whose each tree is),
//!   as the native forest sums them.
//!
//! XGBoost sums leaves in 32-bit floats, the native forest in doubles, so predictions agree
//! to float precision (about 1e-7 relative), not bit for bit.

use serde_json::Value;

use crate::error::Result;
use crate::model::{Model, Task};
use crate::params::Objective;
use crate::pipeline::{ColumnEncoding, ColumnTransform};
use crate::tree::{Node, SplitRule, Tree};

use super::{ImportedGbdt, refused};

const FORMAT: &str = "XGBoost";

/// Reads an XGBoost JSON model; `source` names it in errors.
pub fn read_xgboost(text: &str, source: &str) -> Result<Model> {
    let no = |reason: String| refused(source, FORMAT, reason);
    let root: Value = serde_json::from_str(text).map_err(|e| {
        no(format!(
            "it is not JSON ({e}); save the model with `booster.save_model(\"model.json\")`"
        ))
    })?;
    let learner = root
        .get("learner")
        .ok_or_else(|| no("it has no `learner` object; is this an XGBoost JSON model?".into()))?;
    let param = |key: &str| {
        learner
            .pointer(&format!("/learner_model_param/{key}"))
            .and_then(Value::as_str)
            .ok_or_else(|| no(format!("`learner_model_param.{key}` is missing")))
    };
    let n_features: usize = parse(param("num_feature")?, "num_feature").map_err(&no)?;
    let num_class: usize = parse(param("num_class")?, "num_class").map_err(&no)?;
    if let Ok(targets) = param("num_target")
        && parse::<usize>(targets, "num_target").map_err(&no)? > 1
    {
        return Err(no(format!(
            "it predicts {targets} targets at once; only single-target models are imported"
        )));
    }
    let base_scores = base_scores(param("base_score")?).map_err(&no)?;
    let objective_name = learner
        .pointer("/objective/name")
        .and_then(Value::as_str)
        .ok_or_else(|| no("`objective.name` is missing".into()))?;
    let output = Output::parse(objective_name, num_class, &base_scores).map_err(&no)?;

    let booster = learner
        .get("gradient_booster")
        .ok_or_else(|| no("`gradient_booster` is missing".into()))?;
    match booster.get("name").and_then(Value::as_str) {
        Some("gbtree") => {}
        Some(other) => {
            return Err(no(format!(
                "booster `{other}` has no native equivalent; only `gbtree` models are imported"
            )));
        }
        None => return Err(no("`gradient_booster.name` is missing".into())),
    }
    let model = booster
        .get("model")
        .ok_or_else(|| no("`gradient_booster.model` is missing".into()))?;
    let raw_trees = model
        .get("trees")
        .and_then(Value::as_array)
        .ok_or_else(|| no("`gradient_booster.model.trees` is missing".into()))?;
    let tree_info: Vec<usize> = match model.get("tree_info").and_then(Value::as_array) {
        Some(info) => info
            .iter()
            .map(|v| v.as_u64().map(|c| c as usize))
            .collect::<Option<_>>()
            .ok_or_else(|| no("`tree_info` holds something other than class numbers".into()))?,
        None => vec![0; raw_trees.len()],
    };
    if tree_info.len() != raw_trees.len() {
        return Err(no(format!(
            "{} trees but {} entries in `tree_info`",
            raw_trees.len(),
            tree_info.len()
        )));
    }

    let names = feature_names(learner, n_features).map_err(&no)?;
    let types = feature_types(learner, n_features).map_err(&no)?;
    let k = output.per_round;
    // Each class's trees in their order, then dealt out round by round.
    let mut by_class: Vec<Vec<Tree>> = (0..k).map(|_| Vec::new()).collect();
    for (i, (raw, &class)) in raw_trees.iter().zip(&tree_info).enumerate() {
        if class >= k {
            return Err(no(format!(
                "tree {i} belongs to class {class}; the model has {k}"
            )));
        }
        let tree = read_tree(raw, n_features).map_err(|e| no(format!("tree {i}: {e}")))?;
        by_class[class].push(tree);
    }
    let rounds = by_class[0].len();
    if rounds == 0 || by_class.iter().any(|c| c.len() != rounds) {
        return Err(no(format!(
            "the classes have {} trees; every class needs the same number, at least one",
            by_class
                .iter()
                .map(|c| c.len().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut iters: Vec<_> = by_class.into_iter().map(Vec::into_iter).collect();
    let mut trees: Vec<Tree> = Vec::with_capacity(rounds * k);
    for _ in 0..rounds {
        for class in iters.iter_mut() {
            trees.extend(class.next());
        }
    }

    let columns = names
        .iter()
        .zip(&types)
        .map(|(name, &categorical)| ColumnTransform {
            name: name.clone(),
            encoding: if categorical {
                ColumnEncoding::Codes
            } else {
                ColumnEncoding::Numeric
            },
            scalers: Vec::new(),
            target_stats: None,
        })
        .collect();
    ImportedGbdt {
        framework: "xgboost",
        objective_text: objective_name.to_string(),
        task: output.task,
        objective: output.objective,
        columns,
        trees,
        per_round: k,
        init_scores: output.init_scores,
    }
    .into_model(source)
}

fn parse<T: std::str::FromStr>(text: &str, key: &str) -> std::result::Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("`{key}` is `{text}`, not a number"))
}

/// `base_score` is a number as text (`"5E-1"`), or since XGBoost 3 a list (`"[5E-1]"`), with
/// one score per class for multiclass models.
fn base_scores(text: &str) -> std::result::Result<Vec<f64>, String> {
    let inner = text.trim().trim_start_matches('[').trim_end_matches(']');
    inner.split(',').map(|v| parse(v, "base_score")).collect()
}

fn feature_names(learner: &Value, n: usize) -> std::result::Result<Vec<String>, String> {
    match learner.get("feature_names").and_then(Value::as_array) {
        Some(names) if !names.is_empty() => {
            if names.len() != n {
                return Err(format!("{} feature names for {n} features", names.len()));
            }
            names
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or("a feature name is not text".to_string())
                })
                .collect()
        }
        // Trained on a bare matrix: XGBoost's own names for its columns.
        _ => Ok((0..n).map(|i| format!("f{i}")).collect()),
    }
}

/// Which features are categorical (`feature_types` entry `c`).
fn feature_types(learner: &Value, n: usize) -> std::result::Result<Vec<bool>, String> {
    match learner.get("feature_types").and_then(Value::as_array) {
        Some(types) if !types.is_empty() => {
            if types.len() != n {
                return Err(format!("{} feature types for {n} features", types.len()));
            }
            Ok(types.iter().map(|t| t.as_str() == Some("c")).collect())
        }
        _ => Ok(vec![false; n]),
    }
}

/// The native task and objective of an XGBoost objective, with the margins its base scores
/// stand for.
struct Output {
    task: Task,
    objective: Objective,
    per_round: usize,
    init_scores: Vec<f64>,
}

impl Output {
    fn parse(name: &str, num_class: usize, base: &[f64]) -> std::result::Result<Output, String> {
        let single = |task, objective, margin: fn(f64) -> f64| {
            let [base] = base else {
                return Err(format!(
                    "{} base scores for objective `{name}`; it has one output",
                    base.len()
                ));
            };
            let init = margin(*base);
            if !init.is_finite() {
                return Err(format!(
                    "`base_score` {base} has no finite margin under objective `{name}`"
                ));
            }
            Ok(Output {
                task,
                objective,
                per_round: 1,
                init_scores: vec![init],
            })
        };
        let same = |b: f64| b;
        match name {
            "binary:logistic" => single(Task::Binary, Objective::Binary, |p| (p / (1.0 - p)).ln()),
            "reg:squarederror" | "reg:linear" => {
                single(Task::Regression, Objective::Regression, same)
            }
            "reg:absoluteerror" => single(Task::Regression, Objective::RegressionL1, same),
            "reg:pseudohubererror" => single(Task::Regression, Objective::Huber, same),
            "count:poisson" => single(Task::Regression, Objective::Poisson, f64::ln),
            "multi:softprob" | "multi:softmax" => {
                if num_class < 2 {
                    return Err(format!("objective `{name}` with num_class={num_class}"));
                }
                // Softmax margins are the scores themselves: one per class, or one for all.
                let init_scores = match base.len() {
                    1 => vec![base[0]; num_class],
                    n if n == num_class => base.to_vec(),
                    n => {
                        return Err(format!("{n} base scores for {num_class} classes"));
                    }
                };
                Ok(Output {
                    task: Task::Multiclass,
                    objective: Objective::Multiclass,
                    per_round: num_class,
                    init_scores,
                })
            }
            other => Err(format!(
                "objective `{other}` has no native equivalent; supported: binary:logistic, multi:softprob, multi:softmax (as class probabilities), reg:squarederror, reg:absoluteerror, reg:pseudohubererror, count:poisson"
            )),
        }
    }
}

fn numbers<'a>(tree: &'a Value, key: &str) -> std::result::Result<&'a Vec<Value>, String> {
    tree.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("`{key}` is missing"))
}

fn ints(tree: &Value, key: &str, len: usize) -> std::result::Result<Vec<i64>, String> {
    let v = numbers(tree, key)?;
    if v.len() != len {
        return Err(format!("`{key}` has {} entries for {len} nodes", v.len()));
    }
    v.iter()
        .map(|x| {
            x.as_i64()
                .ok_or_else(|| format!("`{key}` holds {x}, not an integer"))
        })
        .collect()
}

fn floats(tree: &Value, key: &str, len: usize) -> std::result::Result<Vec<f64>, String> {
    let v = numbers(tree, key)?;
    if v.len() != len {
        return Err(format!("`{key}` has {} entries for {len} nodes", v.len()));
    }
    v.iter()
        .map(|x| {
            x.as_f64()
                .ok_or_else(|| format!("`{key}` holds {x}, not a number"))
        })
        .collect()
}

fn read_tree(tree: &Value, n_features: usize) -> std::result::Result<Tree, String> {
    let left = numbers(tree, "left_children")?;
    let n = left.len();
    if n == 0 {
        return Err("no nodes".into());
    }
    if let Some(size) = tree
        .pointer("/tree_param/size_leaf_vector")
        .and_then(Value::as_str)
        && !matches!(size, "0" | "1")
    {
        return Err(format!(
            "leaves hold vectors of {size} values (multi-target); only single values are imported"
        ));
    }
    let left = ints(tree, "left_children", n)?;
    let right = ints(tree, "right_children", n)?;
    let feature = ints(tree, "split_indices", n)?;
    let condition = floats(tree, "split_conditions", n)?;
    let default_left = ints(tree, "default_left", n)?;
    let gain = floats(tree, "loss_changes", n).unwrap_or_else(|_| vec![0.0; n]);
    let split_type = match tree.get("split_type") {
        Some(_) => ints(tree, "split_type", n)?,
        None => vec![0; n],
    };
    let is_leaf = |i: usize| left[i] == -1;
    if is_leaf(0) {
        return Ok(Tree::constant(condition[0]));
    }
    // Renumber: splits in order of their XGBoost id, then leaves likewise.
    let mut index = vec![0i32; n];
    let (mut splits, mut leaves) = (0i32, 0i32);
    for (i, slot) in index.iter_mut().enumerate() {
        if is_leaf(i) {
            *slot = !leaves;
            leaves += 1;
        } else {
            *slot = splits;
            splits += 1;
        }
    }
    let child = |c: i64, i: usize| -> std::result::Result<i32, String> {
        usize::try_from(c)
            .ok()
            .filter(|&c| c < n && c != 0)
            .map(|c| index[c])
            .ok_or_else(|| format!("node {i} has child {c}, outside the tree's {n} nodes"))
    };
    let mut nodes = Vec::with_capacity(splits as usize);
    let mut leaf_values = Vec::with_capacity(leaves as usize);
    for i in 0..n {
        if is_leaf(i) {
            leaf_values.push(condition[i]);
            continue;
        }
        if split_type[i] != 0 {
            return Err(format!(
                "node {i} is a categorical split; categorical XGBoost models are not imported by this build"
            ));
        }
        let f = usize::try_from(feature[i])
            .ok()
            .filter(|&f| f < n_features)
            .ok_or_else(|| {
                format!(
                    "node {i} splits on feature {}; the model has {n_features}",
                    feature[i]
                )
            })?;
        let threshold = condition[i] as f32;
        if !threshold.is_finite() {
            return Err(format!(
                "node {i} splits at {}, not a finite number",
                condition[i]
            ));
        }
        nodes.push(Node {
            feature: f as u32,
            rule: SplitRule::Numeric {
                threshold: below_float(threshold),
                default_left: default_left[i] != 0,
            },
            left: child(left[i], i)?,
            right: child(right[i], i)?,
            gain: gain[i],
        });
    }
    Ok(Tree { nodes, leaf_values })
}

/// The largest double `T` with `(x as f32) < t` exactly when `x <= T` (for every double `x`
/// that is not NaN): XGBoost's `x < t` on features read as floats, as a native `<=` split.
fn below_float(t: f32) -> f64 {
    debug_assert!(t.is_finite(), "checked by read_tree");
    let prev = t.next_down();
    if prev == f32::NEG_INFINITY {
        // `t` is the lowest float: below it lie the doubles that round to -inf, from minus
        // (the largest float + half its spacing) down; that point itself rounds away, to inf.
        return -(f32::MAX as f64 + 2f64.powi(103));
    }
    // Doubles between `prev` and `t` round to the nearer float; the midpoint (exact in a
    // double) goes to the one whose last mantissa bit is 0.
    let mid = (prev as f64 + t as f64) / 2.0;
    if prev.to_bits() & 1 == 0 {
        mid
    } else {
        mid.next_down()
    }
}

#[cfg(test)]
mod tests;
