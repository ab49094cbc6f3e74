//! Models trained by LightGBM and XGBoost themselves (`tests/foreign/train_trees.py`, run in
//! the test venv), imported with `lakeforge models import` and scored in SQL: the predictions
//! must equal each framework's own (see `close` for how closely).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::common::{Project, test_venv};

/// Trains the models into `dir` with the real frameworks.
fn train(dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/foreign/train_trees.py");
    let python = test_venv().join("bin/python");
    let out = Command::new(&python)
        .arg(&script)
        .arg(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "running {}: {e}\nhint: scripts/setup-test-env makes the test venv",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "{} failed:\n{}\nhint: scripts/setup-test-env installs lightgbm, xgboost-cpu and pandas",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CSV file as columns of text.
fn columns(path: &Path) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let names: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let mut cols: BTreeMap<String, Vec<String>> =
        names.iter().map(|n| (n.clone(), Vec::new())).collect();
    for line in lines {
        for (name, value) in names.iter().zip(line.split(',')) {
            cols.get_mut(name).unwrap().push(value.to_string());
        }
    }
    cols
}

/// LightGBM sums doubles as we do: its predictions must agree to rounding. XGBoost sums
/// 32-bit floats, whose own error is about 1e-7 of the magnitudes summed, so a prediction near
/// zero (large leaves cancelling) is compared to 1e-5 of at least 1.
fn close(name: &str, ours: f64, theirs: f64) -> bool {
    let d = (ours - theirs).abs();
    if name.starts_with("lgb") {
        d <= 1e-9 * theirs.abs().max(1e-12)
    } else {
        d <= 1e-5 * theirs.abs().max(1.0)
    }
}

#[test]
fn lightgbm_and_xgboost_models_score_in_sql_as_their_frameworks_do() {
    let models = tempfile::tempdir().unwrap();
    train(models.path());
    let p = Project::fixture("mlproj");
    std::fs::copy(
        models.path().join("data.csv"),
        p.path().join("seeds/foreign_data.csv"),
    )
    .unwrap();
    p.run(&["seed", "-s", "foreign_data"]).ok();
    let expected = columns(&models.path().join("predictions.csv"));

    let cases = [
        ("lgb_binary", "lgb_binary.txt", "num1, num2, color, code"),
        ("lgb_reg", "lgb_reg.txt", "num1, num2, color, code"),
        ("lgb_poisson", "lgb_poisson.txt", "num1, num2, color, code"),
        ("lgb_multi", "lgb_multi.txt", "num1, num2, color, code"),
        ("xgb_binary", "xgb_binary.json", "num1, num2, code"),
        ("xgb_reg", "xgb_reg.json", "num1, num2, code"),
        ("xgb_poisson", "xgb_poisson.json", "num1, num2, code"),
        ("xgb_multi", "xgb_multi.json", "num1, num2, code"),
    ];
    for (name, file, args) in cases {
        let file = models.path().join(file);
        let out = p
            .run(&["models", "import", name, file.to_str().unwrap()])
            .ok();
        assert!(
            out.stdout.contains(&format!("{name} version 1")),
            "{}",
            out.stdout
        );
        let csv = p.sql(&format!(
            "select predict('{name}', {args}) as p from foreign_data order by row_id"
        ));
        let ours: Vec<&str> = csv.lines().skip(1).collect();
        if name.ends_with("multi") {
            // SQL gives the most likely class; the framework's probabilities say which.
            let probs: Vec<&Vec<String>> =
                (0..3).map(|k| &expected[&format!("{name}_{k}")]).collect();
            for (row, label) in ours.iter().enumerate() {
                let p: Vec<f64> = probs.iter().map(|c| c[row].parse().unwrap()).collect();
                let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
                assert_eq!(label.trim(), best.to_string(), "{name} row {row}: {p:?}");
            }
        } else {
            let theirs = &expected[name];
            assert_eq!(ours.len(), theirs.len(), "{name}");
            for (row, (o, t)) in ours.iter().zip(theirs).enumerate() {
                let (o, t): (f64, f64) = (o.trim().parse().unwrap(), t.parse().unwrap());
                assert!(close(name, o, t), "{name} row {row}: ours {o}, theirs {t}");
            }
        }
    }

    // The same file again is the version already recorded.
    let again = p
        .run(&[
            "models",
            "import",
            "lgb_binary",
            models.path().join("lgb_binary.txt").to_str().unwrap(),
        ])
        .ok();
    assert!(
        again.stdout.contains("version 1 already"),
        "{}",
        again.stdout
    );
}

#[test]
fn an_objective_without_a_native_equivalent_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("rank.txt");
    std::fs::write(
        &model,
        "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=0\nobjective=lambdarank\nfeature_names=a\nfeature_infos=[0:1]\n\nTree=0\nnum_leaves=1\nleaf_value=0.5\n\nend of trees\n",
    )
    .unwrap();
    let p = Project::fixture("mlproj");
    let out = p.run(&["models", "import", "ranker", model.to_str().unwrap()]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("`lambdarank`"), "{}", out.stderr);
    // Nothing was registered.
    let list = p.run(&["models", "list"]);
    assert!(!list.stdout.contains("ranker"), "{}", list.stdout);
}

#[test]
fn an_exported_gbdt_model_predicts_the_same_in_lightgbm() {
    let p = Project::fixture("mlproj");
    p.run(&["build"]).ok();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("churn.txt");
    p.run(&[
        "models",
        "export",
        "churn",
        "production",
        "-o",
        file.to_str().unwrap(),
    ])
    .ok();
    assert!(dir.path().join("churn.features.json").exists());
    // Our predictions beside the inputs, then LightGBM's on the same rows encoded as the
    // mapping says.
    let csv = dir.path().join("scored.csv");
    let scored = p.sql(
        "select tenure_months, plan, monthly_spend, support_tickets, \
         predict('churn', tenure_months, plan, monthly_spend, support_tickets) as p from features",
    );
    std::fs::write(&csv, &scored).unwrap();
    let check = r#"
import json, sys
import lightgbm as lgb
import pandas as pd
model, mapping, scored = sys.argv[1:4]
spec = json.load(open(mapping))
data = pd.read_csv(scored, keep_default_na=True)
cols = []
for f in spec["features"]:
    col = data[f["input"]]
    if f["encoding"] == "categorical":
        codes = {c: i for i, c in enumerate(f["categories"])}
        col = col.map(lambda v: codes.get(v, float("nan")))
    cols.append(col.astype("float64").rename(f["feature"]))
X = pd.concat(cols, axis=1)
theirs = lgb.Booster(model_file=model).predict(X.to_numpy())
worst = float(max(abs(theirs - data["p"]) / abs(data["p"]).clip(lower=1e-12)))
print(f"rows {len(X)} worst relative difference {worst:.3g}")
sys.exit(0 if worst <= 1e-9 else 1)
"#;
    let out = Command::new(test_venv().join("bin/python"))
        .args(["-c", check])
        .arg(&file)
        .arg(dir.path().join("churn.features.json"))
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "LightGBM disagrees:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
