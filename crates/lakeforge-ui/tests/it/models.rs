//! The models page and its API over a registry filled through lakeforge-meta's own API, with
//! the evaluations a training node stores beside each artifact written into a temporary lake
//! folder: the list, a model's versions and alias history, 404s naming what is missing, the
//! charts as SVG images (their bytes, content type and escaping), and the pages.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use lakeforge_meta::{MetaStore, ModelStatus, NewModelVersion, TrainingRecord, TrialRecord};
use lakeforge_ml::report::{Evaluation, evaluation_path};
use lakeforge_ui::{LakeFiles, UiOptions, UiState};

use crate::{content_type, get, get_json, send, text};

/// A feature whose name is markup: charts must draw it as text.
const HOSTILE: &str = "<script>alert(1)</script>";

struct Registry {
    dir: tempfile::TempDir,
    store: MetaStore,
}

fn record(task: &str, algorithm: &str, artifact: &str, metrics: &[(&str, f64)]) -> TrainingRecord {
    TrainingRecord {
        run_id: Some("r-train".into()),
        status: ModelStatus::Passed,
        task: task.into(),
        algorithm: algorithm.into(),
        spec_json: "{}".into(),
        params_json: r#"{"learning_rate":"0.1","num_leaves":"31"}"#.into(),
        metrics: metrics.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        feature_schema_json: "[]".into(),
        artifact_path: artifact.into(),
        artifact_sha256: "ab".repeat(32),
        training_relation: "main.features".into(),
        training_version: Some(7),
        train_rows: 80,
        test_rows: 20,
        ..TrainingRecord::default()
    }
}

/// Twenty held-out rows of a binary classifier: labels and positive-class probabilities.
fn binary_evaluation() -> Evaluation {
    let labels: Vec<f64> = (0..20).map(|i| f64::from(i % 2)).collect();
    let predictions: Vec<f64> = (0..20)
        .map(|i| {
            let base = if i % 2 == 1 { 0.65 } else { 0.35 };
            base + f64::from(i % 5) * 0.06 - 0.12
        })
        .collect();
    Evaluation {
        task: "binary".into(),
        classes: vec!["stays".into(), "churns".into()],
        labels,
        predictions,
        metrics: vec![("auc".into(), 0.86)],
        importance: vec![
            ("tenure".into(), 40.0),
            (HOSTILE.into(), 25.0),
            ("plan".into(), 5.0),
        ],
        confusion: None,
    }
}

fn regression_evaluation() -> Evaluation {
    let labels: Vec<f64> = (0..20).map(|i| 10.0 + f64::from(i)).collect();
    let predictions = labels
        .iter()
        .enumerate()
        .map(|(i, y)| y + if i % 2 == 0 { 0.8 } else { -0.6 })
        .collect();
    Evaluation {
        task: "regression".into(),
        labels,
        predictions,
        metrics: vec![("rmse".into(), 0.7)],
        importance: vec![("sqft".into(), 1.0)],
        ..Evaluation::default()
    }
}

impl Registry {
    /// `churn` (binary): v1 passed, v2 rejected by its gate, v3 passed without an
    /// evaluation file; `production` set on v1 then moved to v3, `staging` on v2.
    /// `price` (regression): v1, no alias.
    async fn new() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let store = MetaStore::open_sqlite(&dir.path().join("lake/_lakeforge.db"))
            .await
            .unwrap();
        let r = Registry { dir, store };
        let churn = |sha: &str| format!("_models/churn/{sha}/model.lfm");
        r.register(
            "churn",
            record(
                "binary",
                "gbdt",
                &churn("a1"),
                &[("auc", 0.86), ("accuracy", 0.75)],
            ),
            Some(binary_evaluation()),
        )
        .await;
        let mut rejected = record("binary", "gbdt", &churn("b2"), &[("auc", 0.55)]);
        rejected.status = ModelStatus::Rejected;
        rejected.gate_message = Some("auc 0.55 < 0.6".into());
        r.register("churn", rejected, Some(binary_evaluation()))
            .await;
        r.register(
            "churn",
            record("binary", "linear", &churn("c3"), &[("auc", 0.9)]),
            None,
        )
        .await;
        r.register(
            "price",
            record(
                "regression",
                "gbdt",
                "_models/price/d4/model.lfm",
                &[("rmse", 0.7)],
            ),
            Some(regression_evaluation()),
        )
        .await;
        let s = &r.store;
        s.set_alias("churn", "production", Some(1), "r-train")
            .await
            .unwrap();
        s.set_alias("churn", "staging", Some(2), "cli")
            .await
            .unwrap();
        s.set_alias("churn", "production", Some(3), "api")
            .await
            .unwrap();
        r
    }

    async fn register(&self, name: &str, trained: TrainingRecord, evaluation: Option<Evaluation>) {
        if let Some(e) = evaluation {
            let path = self.lake().join(evaluation_path(&trained.artifact_path));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, serde_json::to_vec(&e).unwrap()).unwrap();
        }
        self.store
            .register_model_version(&NewModelVersion {
                name: name.into(),
                trained,
                trials: vec![TrialRecord {
                    trial: 0,
                    params_json: "{}".into(),
                    score: 0.8,
                    iterations: 10,
                }],
            })
            .await
            .unwrap();
    }

    fn lake(&self) -> std::path::PathBuf {
        self.dir.path().join("lake")
    }

    /// The UI with the lake's files, read from the folder as the CLI's reader would.
    fn ui(&self) -> Arc<UiState> {
        let root = self.lake();
        UiState::with_files(
            self.store.clone(),
            UiOptions {
                title: "shop".into(),
                ..UiOptions::default()
            },
            Some(LakeFiles {
                location: root.display().to_string(),
                read: Arc::new(move |path: String| {
                    let file = root.join(path);
                    Box::pin(async move { std::fs::read(file) })
                }),
            }),
        )
    }
}

#[tokio::test]
async fn the_list_has_every_model_with_its_aliases_and_latest_version() {
    let r = Registry::new().await;
    let (status, body) = get_json(&r.ui(), "/api/models").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["default_alias"], "production");
    let models = body["models"].as_array().unwrap();
    let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["churn", "price"]);
    let churn = &models[0];
    assert_eq!(churn["versions"], 3);
    let mut aliases: Vec<(String, i64)> = churn["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["alias"].as_str().unwrap().to_string(),
                a["version"].as_i64().unwrap(),
            )
        })
        .collect();
    aliases.sort();
    assert_eq!(aliases, [("production".into(), 3), ("staging".into(), 2)]);
    assert_eq!(churn["latest"]["version"], 3);
    assert_eq!(churn["latest"]["status"], "passed");
    assert_eq!(churn["latest"]["key_metric"]["name"], "auc");
    assert_eq!(churn["latest"]["key_metric"]["value"], 0.9);
    assert!(
        churn["latest"]["created_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(models[1]["aliases"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_model_has_its_versions_newest_first_and_its_alias_history() {
    let r = Registry::new().await;
    let (status, body) = get_json(&r.ui(), "/api/models/churn").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"], "churn");
    let versions = body["versions"].as_array().unwrap();
    let numbers: Vec<i64> = versions
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2, 1]);
    let v2 = &versions[1];
    assert_eq!(v2["status"], "rejected");
    assert_eq!(v2["gate_message"], "auc 0.55 < 0.6");
    assert_eq!(v2["aliases"], serde_json::json!(["staging"]));
    assert_eq!(v2["metrics"][0]["name"], "auc");
    assert_eq!(v2["metrics"][0]["value"], 0.55);
    assert_eq!(v2["training_relation"], "main.features");
    assert_eq!(v2["training_version"], 7);
    assert_eq!(v2["params"]["num_leaves"], "31");
    assert_eq!(v2["charts"], serde_json::json!(["roc", "pr", "importance"]));
    assert_eq!(versions[2]["aliases"].as_array().unwrap().len(), 0);

    let history = body["alias_history"].as_array().unwrap();
    let changes: Vec<(&str, Option<i64>, Option<i64>, &str)> = history
        .iter()
        .map(|h| {
            (
                h["alias"].as_str().unwrap(),
                h["previous"].as_i64(),
                h["version"].as_i64(),
                h["set_by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("production", None, Some(1), "r-train"),
            ("staging", None, Some(2), "cli"),
            ("production", Some(1), Some(3), "api"),
        ]
    );

    let (_, price) = get_json(&r.ui(), "/api/models/price").await;
    assert_eq!(
        price["versions"][0]["charts"],
        serde_json::json!(["residuals", "residual-histogram", "importance"])
    );
}

#[tokio::test]
async fn unknown_models_versions_and_charts_are_404s_naming_them() {
    let r = Registry::new().await;
    let ui = r.ui();
    for (uri, message) in [
        ("/api/models/nope", "model `nope` not found"),
        (
            "/api/models/nope/versions/1/charts/roc.svg",
            "model `nope` not found",
        ),
        (
            "/api/models/churn/versions/9/charts/roc.svg",
            "version 9 of model `churn` not found",
        ),
        (
            "/api/models/churn/versions/x/charts/roc.svg",
            "version `x` of model `churn` not found",
        ),
        (
            "/api/models/churn/versions/1/charts/pie.svg",
            "chart `pie.svg` not found",
        ),
        (
            "/api/models/churn/versions/1/charts/roc.png",
            "chart `roc.png` not found",
        ),
    ] {
        let (status, body) = get_json(&ui, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(body["error"]["message"], message, "{uri}");
    }
    // The file the training would have written is named when it is missing.
    let (status, body) = get_json(&ui, "/api/models/churn/versions/3/charts/roc.svg").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("_models/churn/c3/evaluation.json"),
        "{message}"
    );
    assert!(message.contains("is missing"), "{message}");
    // A classifier has no residuals.
    let (status, body) = get_json(&ui, "/api/models/churn/versions/1/charts/residuals.svg").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["error"]["message"],
        "churn version 1 has no data for the `residuals` chart"
    );
    // Without the lake's files, the UI says why it draws nothing.
    let bare = UiState::new(r.store.clone(), UiOptions::default());
    let (status, body) = get_json(&bare, "/api/models/churn/versions/1/charts/roc.svg").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("without them"),
        "{body}"
    );
}

#[tokio::test]
async fn charts_are_svg_images_under_the_content_security_policy() {
    let r = Registry::new().await;
    let ui = r.ui();
    for (uri, marks) in [
        (
            "/api/models/churn/versions/1/charts/roc.svg",
            "ROC curve (AUC = ",
        ),
        (
            "/api/models/churn/versions/2/charts/pr.svg",
            "Precision-recall",
        ),
        (
            "/api/models/churn/versions/1/charts/importance.svg",
            "tenure",
        ),
        (
            "/api/models/price/versions/1/charts/residuals.svg",
            "<circle",
        ),
        (
            "/api/models/price/versions/1/charts/residual-histogram.svg",
            "<rect",
        ),
        ("/api/models/price/versions/1/charts/importance.svg", "sqft"),
    ] {
        let response = send(&ui, get(uri)).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        assert_eq!(content_type(&response), "image/svg+xml", "{uri}");
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("default-src 'none'"), "{uri}: {csp}");
        assert_eq!(
            response.headers()[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff"
        );
        let svg = text(response).await;
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{uri}"
        );
        assert!(svg.ends_with("</svg>"), "{uri}");
        assert!(svg.contains(marks), "{uri} lacks {marks}:\n{svg}");
    }
}

#[tokio::test]
async fn feature_names_are_escaped_in_the_charts() {
    let r = Registry::new().await;
    let response = send(
        &r.ui(),
        get("/api/models/churn/versions/1/charts/importance.svg"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let svg = text(response).await;
    assert!(!svg.contains("<script"), "{svg}");
    assert!(svg.contains("&lt;script&gt;"), "{svg}");
}

#[tokio::test]
async fn the_models_pages_load_their_scripts_and_escape_the_name() {
    let r = Registry::new().await;
    r.register(
        HOSTILE,
        record("binary", "gbdt", "_models/x/e5/model.lfm", &[("auc", 0.5)]),
        None,
    )
    .await;
    let ui = r.ui();
    for (uri, script) in [
        ("/models", "/assets/models.js"),
        ("/models/churn", "/assets/model.js"),
    ] {
        let response = send(&ui, get(uri)).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        assert_eq!(content_type(&response), "text/html; charset=utf-8");
        let page = text(response).await;
        assert!(page.contains(script), "{uri}");
        assert!(page.contains("<a href=\"/models\">Models</a>"), "{uri}");
    }
    let page = text(send(&ui, get("/models/churn")).await).await;
    assert!(page.contains("data-model=\"churn\""), "{page}");

    let response = send(&ui, get("/models/%3Cscript%3Ealert(1)%3C%2Fscript%3E")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = text(response).await;
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(
        page.contains("data-model=\"&lt;script&gt;alert(1)&lt;/script&gt;\""),
        "{page}"
    );

    let response = send(&ui, get("/models/nope")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(text(response).await.contains("No model `nope` here."));

    // The overview links its models to their pages.
    let overview = send(&ui, get("/assets/overview.js")).await;
    assert!(text(overview).await.contains("modelLink(m.name)"));
}
