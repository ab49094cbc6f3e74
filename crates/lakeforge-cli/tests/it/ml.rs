//! `lakeforge ml fit / eval / predict` on a CSV fixture, as a LightGBM CLI user would run them.

use std::path::PathBuf;

use crate::common::{lakeforge, to_run};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../lakeforge-ml/tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn fit_eval_predict_and_bad_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.lfm");
    let m = model.to_str().unwrap();
    let train = fixture("breast_cancer_train.csv");
    let test = fixture("breast_cancer_test.csv");

    to_run(
        lakeforge()
            .args([
                "ml",
                "fit",
                "--input",
                &train,
                "--target",
                "label",
                "--output",
                m,
                "--param",
                "num_iterations=100",
            ])
            .output()
            .unwrap(),
    )
    .ok();
    let eval = to_run(
        lakeforge()
            .args([
                "ml", "eval", "--model", m, "--input", &test, "--target", "label", "--json",
            ])
            .output()
            .unwrap(),
    )
    .ok();
    let metrics: serde_json::Value = serde_json::from_str(eval.stdout.trim()).unwrap();
    let auc = metrics["metrics"]["auc"]
        .as_f64()
        .expect("auc in eval output");
    assert!(auc > 0.98, "{}", eval.stdout);

    let preds = dir.path().join("p.csv");
    to_run(
        lakeforge()
            .args([
                "ml",
                "predict",
                "--model",
                m,
                "--input",
                &test,
                "--output",
                preds.to_str().unwrap(),
            ])
            .output()
            .unwrap(),
    )
    .ok();
    let text = std::fs::read_to_string(&preds).unwrap();
    assert_eq!(text.lines().count(), 144, "header + one line per test row");

    let bad = to_run(
        lakeforge()
            .args([
                "ml", "fit", "--input", &train, "--target", "label", "--output", m, "--param",
                "bogus=1",
            ])
            .output()
            .unwrap(),
    );
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr.contains("unknown parameter 'bogus'"),
        "{}",
        bad.stderr
    );

    std::fs::write(dir.path().join("bad.lfm"), "garbage").unwrap();
    let bad = to_run(
        lakeforge()
            .args([
                "ml",
                "eval",
                "--model",
                dir.path().join("bad.lfm").to_str().unwrap(),
                "--input",
                &test,
                "--target",
                "label",
            ])
            .output()
            .unwrap(),
    );
    assert!(
        bad.stderr.contains("is not a Lakeforge model file"),
        "{}",
        bad.stderr
    );
}

#[test]
fn fit_gives_the_same_model_bytes_whatever_the_row_order_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("breast_cancer_train.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    let mut reversed = lines.clone();
    reversed.reverse();
    let mut bytes = Vec::new();
    for (name, rows) in [("a", &lines), ("b", &reversed)] {
        let csv = dir.path().join(format!("{name}.csv"));
        std::fs::write(&csv, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
        let model = dir.path().join(format!("{name}.lfm"));
        to_run(
            lakeforge()
                .args([
                    "ml",
                    "fit",
                    "--input",
                    csv.to_str().unwrap(),
                    "--target",
                    "label",
                    "--output",
                    model.to_str().unwrap(),
                    "--param",
                    "num_iterations=20",
                    // Row subsampling picks rows by position: sensitive to the file's order.
                    "--param",
                    "bagging_fraction=0.5",
                    "--param",
                    "bagging_freq=1",
                ])
                .output()
                .unwrap(),
        )
        .ok();
        bytes.push(std::fs::read(&model).unwrap());
    }
    assert!(
        bytes[0] == bytes[1],
        "the two row orders trained different models"
    );
}
