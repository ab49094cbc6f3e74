//! The HTML report of a registered model version (`lakeforge models show NAME VERSION
//! --report out.html`): the version's stored evaluation made into report data by
//! lakeforge-report's `stored` module (the rule the web UI's charts share) and drawn as one
//! page by lakeforge-report.

use lakeforge_meta::{ModelVersion, TrialRecord};
use lakeforge_report::render_html;
use lakeforge_report::stored::report_data;

/// `evaluation` is the text of the version's `evaluation.json`, read from `path` (for
/// messages).
pub fn render(
    v: &ModelVersion,
    trials: &[TrialRecord],
    evaluation: &str,
    path: &str,
) -> anyhow::Result<String> {
    Ok(render_html(&report_data(v, trials, evaluation, path)?))
}
