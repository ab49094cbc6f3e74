//! The HTML report of a registered model version (`lakeforge models show NAME VERSION
//! --report out.html`): the held-out labels and predictions the training node kept beside the
//! artifact (`evaluation.json`) made into lakeforge-ml's report data and drawn by
//! lakeforge-report as ROC/PR curves or residual plots, with the registry's metrics,
//! parameters, importance and provenance.

use anyhow::Context;
use lakeforge_meta::{ModelVersion, TrialRecord};
use lakeforge_ml::Task;
use lakeforge_ml::report::{ReportData, ReportOptions};
use lakeforge_report::render_html;
use lakeforge_runner::train::Evaluation;

/// `evaluation` is the text of the version's `evaluation.json`, read from `path` (for
/// messages).
pub fn render(
    v: &ModelVersion,
    trials: &[TrialRecord],
    evaluation: &str,
    path: &str,
) -> anyhow::Result<String> {
    let eval: Evaluation = serde_json::from_str(evaluation)
        .with_context(|| format!("{path} is not an evaluation Lakeforge wrote"))?;
    let (task, _) =
        Task::parse(&eval.task).with_context(|| format!("{path}: unknown task `{}`", eval.task))?;
    let mut report = if task == Task::Clustering {
        ReportData {
            task: eval.task.clone(),
            ..ReportData::default()
        }
    } else {
        ReportData::from_predictions(
            task,
            &eval.classes,
            &eval.labels,
            &eval.predictions,
            &ReportOptions::default(),
        )?
    }
    .named(&v.name, v.version.to_string());
    // The registry's numbers are the ones `models show` prints; keep the report in step.
    report.metrics = v.trained.metrics.clone();
    report.confusion = eval.confusion.clone().or(report.confusion);
    report.feature_importance = eval.importance.clone();
    let params: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&v.trained.params_json).unwrap_or_default();
    report.params = params.into_iter().collect();
    report.training_info = vec![
        format!(
            "trained on {}{} ({} rows; {} held out for these metrics)",
            v.trained.training_relation,
            v.trained
                .training_version
                .map(|x| format!(" at Delta version {x}"))
                .unwrap_or_default(),
            v.trained.train_rows,
            v.trained.test_rows
        ),
        format!(
            "trained {} by run {}",
            v.created_at,
            v.trained.run_id.as_deref().unwrap_or("-")
        ),
        format!(
            "quality gate: {}{}",
            v.trained.status,
            v.trained
                .gate_message
                .as_ref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ),
        format!(
            "aliases: {}",
            if v.aliases.is_empty() {
                "none".to_string()
            } else {
                v.aliases.join(", ")
            }
        ),
        format!(
            "artifact {} (sha256 {})",
            v.trained.artifact_path, v.trained.artifact_sha256
        ),
    ];
    if !trials.is_empty() {
        report
            .training_info
            .push(format!("tuned over {} trials", trials.len()));
    }
    Ok(render_html(&report))
}
