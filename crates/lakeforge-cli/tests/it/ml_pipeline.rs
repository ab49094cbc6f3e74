//! ML models inside the pipeline (`ml_models:`): trained as DAG nodes by `lakeforge build`,
//! registered with lineage to the Delta versions they learned from, gated, promoted, scored in
//! SQL with predict(), and reproduced byte for byte. Fixture: `mlproj` (a churn label that
//! depends on tenure, plan, spend and support tickets).

use crate::common::Project;

fn json(p: &Project, args: &[&str]) -> serde_json::Value {
    let out = p.run(args).ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// The lineage edges the last run recorded: (node, upstream, upstream version).
fn last_lineage(p: &Project) -> Vec<(String, String, Option<i64>)> {
    let run = json(p, &["runs", "show", "last", "--format", "json"]);
    run["lineage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["unique_id"].as_str().unwrap().to_string(),
                e["upstream"].as_str().unwrap().to_string(),
                e["upstream_version"].as_i64(),
            )
        })
        .collect()
}

fn edge_version(
    edges: &[(String, String, Option<i64>)],
    node: &str,
    upstream: &str,
) -> Option<i64> {
    edges
        .iter()
        .find(|(n, u, _)| n == node && u == upstream)
        .unwrap_or_else(|| panic!("no lineage edge {node} -> {upstream} in {edges:?}"))
        .2
}

#[test]
fn build_trains_registers_and_scores_with_lineage() {
    let p = Project::fixture("mlproj");
    let out = p.run(&["build"]).ok();
    assert!(
        out.stdout.contains("version 1 → production"),
        "{}",
        out.stdout
    );

    // Scored in SQL: one probability per customer.
    assert_eq!(
        p.sql("select count(*) as n, min(churn_probability) >= 0 and max(churn_probability) <= 1 as ok from churn_scores"),
        "n,ok\n400,true\n"
    );

    let models = json(&p, &["models", "list", "--json"]);
    assert_eq!(models[0]["name"], "churn");
    assert_eq!(
        models[0]["aliases"][0],
        serde_json::json!(["production", 1])
    );
    let v1 = json(&p, &["models", "show", "churn", "1", "--json"]);
    let auc = v1["version"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m[0] == "auc")
        .unwrap()[1]
        .as_f64()
        .unwrap();
    assert!(auc >= 0.7, "auc {auc}");
    assert_eq!(
        v1["trials"].as_array().unwrap().len(),
        3,
        "every tuning trial is kept"
    );
    let features: Vec<&str> = v1["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        features,
        ["tenure_months", "plan", "monthly_spend", "support_tickets"]
    );

    // Lineage, from the prediction table back to the seeds: churn_scores read model version
    // 1; version 1 learned from `features` at the Delta version the registry names; that
    // version of `features` was built from the seeds at theirs.
    let edges = last_lineage(&p);
    assert_eq!(
        edge_version(&edges, "model.mlproj.churn_scores", "ml_model.mlproj.churn"),
        Some(1)
    );
    let features_version = edge_version(&edges, "ml_model.mlproj.churn", "model.mlproj.features");
    assert_eq!(v1["version"]["training_version"].as_i64(), features_version);
    assert_eq!(
        v1["version"]["training_relation"].as_str(),
        Some("main.features")
    );
    assert!(edge_version(&edges, "model.mlproj.features", "seed.mlproj.raw_customers").is_some());
    assert!(edge_version(&edges, "model.mlproj.features", "seed.mlproj.raw_churn").is_some());

    // `lakeforge lineage` shows the model between its training table and its scores.
    let up = p
        .run(&["lineage", "churn_scores", "--upstream"])
        .ok()
        .stdout;
    assert!(
        up.contains("churn (ml model, production version 1)")
            || up.contains("ml model, production version 1"),
        "{up}"
    );
    let down = p.run(&["lineage", "churn", "--downstream"]).ok().stdout;
    assert!(down.contains("churn_scores"), "{down}");

    // A second build with nothing changed trains the same model: no new version.
    let again = p.run(&["build"]).ok();
    assert!(
        again.stdout.contains("unchanged: same model as version 1"),
        "{}",
        again.stdout
    );
    assert_eq!(json(&p, &["models", "list", "--json"])[0]["versions"], 1);

    // Reports: an HTML file with the ROC curve.
    let report = p.path().join("churn.html");
    p.run(&[
        "models",
        "show",
        "churn",
        "production",
        "--report",
        report.to_str().unwrap(),
    ])
    .ok();
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<svg") && html.contains("ROC"), "{html}");
}

#[test]
fn reproduce_gives_a_byte_identical_model_after_the_data_moved_on() {
    let p = Project::fixture("mlproj");
    p.run(&["build"]).ok();
    // New rows: `features` gets a new Delta version and the model a version 2.
    let mut customers = std::fs::read_to_string(p.path().join("seeds/raw_customers.csv")).unwrap();
    let mut churn = std::fs::read_to_string(p.path().join("seeds/raw_churn.csv")).unwrap();
    for i in 401..=440 {
        customers.push_str(&format!(
            "{i},{},pro,{}.5,{}\n",
            i % 50 + 1,
            i % 150 + 10,
            i % 7
        ));
        churn.push_str(&format!("{i},{}\n", u8::from(i % 3 == 0)));
    }
    p.write("seeds/raw_customers.csv", &customers);
    p.write("seeds/raw_churn.csv", &churn);
    let out = p.run(&["build"]).ok();
    assert!(
        out.stdout.contains("version 2 → production"),
        "{}",
        out.stdout
    );

    // Version 1 is trained again from `features` as it was (time travel), with its seed.
    let r = p.run(&["models", "reproduce", "churn", "1"]).ok();
    assert!(
        r.stdout
            .contains("churn version 1: reproduced byte for byte"),
        "{}",
        r.stdout
    );
    let r = p.run(&["models", "reproduce", "churn", "2"]).ok();
    assert!(
        r.stdout.contains("reproduced byte for byte"),
        "{}",
        r.stdout
    );

    // A tampered artifact is caught.
    let v1 = json(&p, &["models", "show", "churn", "1", "--json"]);
    let artifact = p
        .path()
        .join("lake")
        .join(v1["version"]["artifact_path"].as_str().unwrap());
    let mut bytes = std::fs::read(&artifact).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&artifact, bytes).unwrap();
    let r = p.run(&["models", "reproduce", "churn", "1"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("NOT reproduced"), "{}", r.stdout);
}

/// The same rows written in another order (here: the seeds' lines reversed, so every table
/// downstream stores them differently) train the same model, byte for byte.
#[test]
fn the_same_rows_in_another_order_train_the_same_model() {
    let p = Project::fixture("mlproj");
    let q = Project::fixture("mlproj");
    for seed in ["seeds/raw_customers.csv", "seeds/raw_churn.csv"] {
        let text = std::fs::read_to_string(q.path().join(seed)).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines[1..].reverse();
        q.write(seed, &(lines.join("\n") + "\n"));
    }
    p.run(&["build"]).ok();
    q.run(&["build"]).ok();
    assert_ne!(
        p.sql("select customer_id from raw_customers limit 3"),
        q.sql("select customer_id from raw_customers limit 3"),
        "the two seeds should store their rows in different orders"
    );
    let version =
        |p: &Project| json(p, &["models", "show", "churn", "1", "--json"])["version"].clone();
    let (a, b) = (version(&p), version(&q));
    assert_eq!(a["artifact_sha256"], b["artifact_sha256"]);
    assert_eq!(a["metrics"], b["metrics"]);
    let r = q.run(&["models", "reproduce", "churn", "1"]).ok();
    assert!(
        r.stdout.contains("reproduced byte for byte"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_failed_gate_records_the_version_but_does_not_promote_it() {
    let p = Project::fixture("mlproj");
    p.run(&["build"]).ok();
    let ml = std::fs::read_to_string(p.path().join("models/ml.yml")).unwrap();
    p.write(
        "models/ml.yml",
        &ml.replace(
            "gate: \"auc >= 0.7\"",
            "gate: [\"auc >= 0.999\", \"logloss < 0.01\"]",
        )
        .replace("seed: 7", "seed: 8"),
    );
    let out = p.run(&["build"]);
    assert_eq!(
        out.code, 0,
        "a gate failure warns: {}\n{}",
        out.stdout, out.stderr
    );
    assert!(
        out.stdout.contains("version 2 not promoted: gate failed")
            && out.stdout.contains("production stays at version 1"),
        "{}",
        out.stdout
    );
    let node = p.run_result("ml_model.mlproj.churn");
    assert_eq!(node["status"], "warn");

    let versions = json(&p, &["models", "show", "churn", "--json"]);
    assert_eq!(versions[1]["status"], "rejected");
    assert_eq!(versions[0]["aliases"], serde_json::json!(["production"]));
    assert_eq!(versions[1]["aliases"], serde_json::json!([]));
    // Scoring still used the production version.
    assert_eq!(
        edge_version(
            &last_lineage(&p),
            "model.mlproj.churn_scores",
            "ml_model.mlproj.churn"
        ),
        Some(1)
    );

    // A number is no alias name: `churn@2` reads as version 2.
    let refused = p.run(&["models", "promote", "churn", "1", "--alias", "2"]);
    assert_eq!(refused.code, 2);
    assert!(
        refused
            .stderr
            .contains("alias `2` is not a valid alias name (it is a number"),
        "{}",
        refused.stderr
    );

    // Promoting a rejected version needs --force; every alias change is kept.
    let refused = p.run(&["models", "promote", "churn", "2"]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("failed its quality gate"),
        "{}",
        refused.stderr
    );
    p.run(&[
        "models", "promote", "churn", "2", "--alias", "staging", "--force",
    ])
    .ok();
    let history = p.run(&["models", "history", "churn"]).ok().stdout;
    assert!(
        history.contains("production") && history.contains("staging"),
        "{history}"
    );
    let at = p
        .run(&["models", "history", "churn", "--at", "2000-01-01"])
        .ok()
        .stdout;
    assert!(
        at.contains("churn@production at 2000-01-01T23:59:59.999999+00:00: no version"),
        "{at}"
    );
    let now = p
        .run(&["models", "history", "churn", "--at", "2999-01-01"])
        .ok()
        .stdout;
    assert!(
        now.contains("churn@staging at") && now.contains(": version 2"),
        "{now}"
    );

    // A model's `predict_alias` config scores with another alias; lineage records version 2.
    p.write(
        "models/churn_scores_staging.sql",
        "{{ config(predict_alias='staging') }}\nselect customer_id, predict('churn', tenure_months, plan, monthly_spend, support_tickets) as p from {{ ref('features') }}",
    );
    p.run(&["run", "-s", "churn_scores_staging"]).ok();
    assert_eq!(
        edge_version(
            &last_lineage(&p),
            "model.mlproj.churn_scores_staging",
            "ml_model.mlproj.churn"
        ),
        Some(2)
    );
    let compiled = std::fs::read_to_string(
        p.path()
            .join("target/compiled/mlproj/models/churn_scores_staging.sql"),
    )
    .unwrap();
    assert!(compiled.contains("predict('churn@staging'"), "{compiled}");

    // `name@alias` in predict() picks another version.
    let scored = p.sql(
        "select count(*) as n from features where predict('churn@staging', tenure_months, plan, monthly_spend, support_tickets) <> predict('churn', tenure_months, plan, monthly_spend, support_tickets)",
    );
    assert_ne!(scored, "n\n0\n", "versions 1 and 2 differ");
}

#[test]
fn a_missing_feature_column_fails_naming_the_column() {
    let p = Project::fixture("mlproj");
    let ml = std::fs::read_to_string(p.path().join("models/ml.yml")).unwrap();
    p.write(
        "models/ml.yml",
        &ml.replace(
            "exclude: [customer_id]",
            "features: [tenure_months, plan, monthly_spendings]",
        ),
    );
    let out = p.run(&["build"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("models/ml.yml: ml model `churn`: feature column `monthly_spendings` is not a column of main.features"),
        "{}",
        out.stdout
    );
    // Nothing registered, and the scoring model did not run.
    assert_eq!(
        json(&p, &["models", "list", "--json"]),
        serde_json::json!([])
    );
    assert_eq!(
        p.run_result("model.mlproj.churn_scores")["status"],
        "skipped"
    );
}

#[test]
fn a_promote_to_that_reads_as_a_version_is_refused_before_training() {
    let p = Project::fixture("mlproj");
    let ml = std::fs::read_to_string(p.path().join("models/ml.yml")).unwrap();
    p.write(
        "models/ml.yml",
        &ml.replace("seed: 7", "seed: 7\n    promote_to: \"3\""),
    );
    let out = p.run(&["build"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "models/ml.yml: ml model `churn`: alias `3` is not a valid alias name (it is a number, and `model@3` reads as version 3"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(
        json(&p, &["models", "list", "--json"]),
        serde_json::json!([])
    );
}

#[test]
fn predict_names_a_feature_it_was_not_given() {
    let p = Project::fixture("mlproj");
    p.run(&["build"]).ok();
    let out = p.run(&[
        "sql",
        "select predict('churn', tenure_months, plan) from features",
    ]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("feature columns `monthly_spend`, `support_tickets` not among the arguments"),
        "{}",
        out.stderr
    );
    let out = p.run(&["sql", "select predict('nope', 1) from features"]);
    assert!(
        out.stderr
            .contains("model `nope` has no `production` alias"),
        "{}",
        out.stderr
    );
}

#[test]
fn train_runs_only_the_selected_ml_models() {
    let p = Project::fixture("mlproj");
    p.run(&["build", "-s", "+features"]).ok();
    let out = p.run(&["train", "-s", "churn"]).ok();
    assert!(
        out.stdout.contains("version 1 → production"),
        "{}",
        out.stdout
    );
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join("target/run_results.json")).unwrap(),
    )
    .unwrap();
    let ids: Vec<&str> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["unique_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ml_model.mlproj.churn"]);
}
