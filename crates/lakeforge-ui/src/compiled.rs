//! A node's compiled SQL on the run page: `GET /api/runs/{run_id}/nodes/{unique_id}/sql`.
//!
//! The SQL a run executed is not in the store, only its hash (`sql_hash`, lakeforge-project's
//! `Node::state_hash` of the compiled SQL and the node's config). What is at hand is the file
//! the runner wrote under `target/compiled/` before the node ran, which a later run or
//! `lakeforge compile` may have rewritten since: so the file's SQL is hashed as the runner
//! hashes it and compared with the execution's, and the answer says whether it is the SQL
//! that ran. Without the file the node is compiled now by lakeforge-project's
//! `CompileContext` (no adapter: nothing is queried or run), and the answer says that too.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use lakeforge_project::{CompileContext, Project, ResourceType};
use serde::Serialize;

use crate::UiState;
use crate::api::find_run;
use crate::error::{UiError, UiResult};
use crate::lineage::ProjectGraph;

/// Where the SQL shown came from.
#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum SqlSource {
    /// The file the runner (or `lakeforge compile`) wrote under target/compiled/.
    CompiledFile,
    /// Compiled by the UI just now, the file being absent.
    CompiledNow,
}

#[derive(Debug, Serialize)]
pub struct NodeSql {
    pub unique_id: String,
    pub sql: String,
    pub source: SqlSource,
    /// The compiled file, relative to the project's folder.
    pub path: String,
    /// Whether this SQL (with the node's current config) hashes as the run's last attempt
    /// recorded; `null` when the run recorded no hash for it.
    pub matches_run: Option<bool>,
    /// What to make of it, in a sentence.
    pub note: String,
}

fn loaded(project: &ProjectGraph) -> UiResult<&Arc<Project>> {
    match project {
        ProjectGraph::Loaded(p) => Ok(p),
        ProjectGraph::Failed(message) => Err(UiError::NoProject(format!(
            "the project did not load, so its compiled SQL is unknown: {message}"
        ))),
        ProjectGraph::Absent => Err(UiError::NoProject(
            "no project was given to the UI, so its compiled SQL is unknown".into(),
        )),
    }
}

/// The file's text as the runner wrote it (`{sql}\n`) made back into the SQL it hashed.
fn sql_of_file(text: &str) -> &str {
    text.strip_suffix('\n').unwrap_or(text)
}

pub async fn node_sql(
    State(state): State<Arc<UiState>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> UiResult<Json<NodeSql>> {
    let Path((run_id, unique_id)) = path.map_err(|_| UiError::NotFound {
        what: "node of that run".into(),
    })?;
    let run = find_run(&state, &run_id).await?;
    let recorded = state
        .store
        .node_executions(&run.run_id)
        .await?
        .into_iter()
        .filter(|e| e.record.unique_id == unique_id)
        .max_by_key(|e| e.attempt)
        .ok_or_else(|| UiError::NotFound {
            what: format!("node `{unique_id}` in run `{run_id}`"),
        })?;
    let project = loaded(&state.project)?.clone();
    let node = project
        .nodes
        .get(&unique_id)
        .ok_or_else(|| UiError::NotFound {
            what: format!("node `{unique_id}` in the project as loaded now (it was removed or renamed since the run)"),
        })?;
    if node.resource_type == ResourceType::Seed {
        return Err(UiError::NotFound {
            what: format!("compiled SQL of `{unique_id}`: a seed loads its CSV file and has none"),
        });
    }
    let context = CompileContext::new(project.clone());
    let file = context.compiled_path(node);
    let shown_path = file
        .strip_prefix(&project.root)
        .unwrap_or(&file)
        .display()
        .to_string();
    let (sql, source) = match tokio::fs::read_to_string(&file).await {
        Ok(text) => (sql_of_file(&text).to_string(), SqlSource::CompiledFile),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let node = node.clone();
            let compiled = tokio::task::spawn_blocking(move || context.compile(&node, false))
                .await
                .map_err(|e| UiError::Compile(e.to_string()))?
                .map_err(|e| UiError::Compile(lakeforge_project::error_text(&e)))?;
            (compiled.sql, SqlSource::CompiledNow)
        }
        Err(source) => {
            return Err(UiError::Lake {
                location: file.display().to_string(),
                source,
            });
        }
    };
    let matches_run = recorded
        .record
        .sql_hash
        .as_deref()
        .map(|hash| node.state_hash(&sql) == hash);
    let note = note(source, matches_run, &shown_path, &run.run_id);
    Ok(Json(NodeSql {
        unique_id,
        sql,
        source,
        path: shown_path,
        matches_run,
        note,
    }))
}

fn note(source: SqlSource, matches_run: Option<bool>, path: &str, run_id: &str) -> String {
    let from = match source {
        SqlSource::CompiledFile => format!("From {path}"),
        SqlSource::CompiledNow => {
            format!("{path} is missing, so this was compiled now, as a full build compiles it")
        }
    };
    let verdict = match matches_run {
        Some(true) => format!("it is the SQL run {run_id} executed."),
        Some(false) => format!(
            "it differs from the SQL run {run_id} executed (its hash does not match): the model or its config changed, or a later run compiled it differently."
        ),
        None => {
            format!("run {run_id} recorded no hash for this node, so it may differ from what ran.")
        }
    };
    format!("{from}; {verdict}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_holds_the_sql_and_one_newline() {
        assert_eq!(sql_of_file("select 1\n"), "select 1");
        assert_eq!(sql_of_file("select 1\n\n"), "select 1\n");
        assert_eq!(sql_of_file("select 1"), "select 1");
    }

    #[test]
    fn the_note_says_where_from_and_whether_it_ran() {
        let n = note(
            SqlSource::CompiledFile,
            Some(true),
            "target/compiled/a.sql",
            "r1",
        );
        assert_eq!(
            n,
            "From target/compiled/a.sql; it is the SQL run r1 executed."
        );
        let n = note(
            SqlSource::CompiledNow,
            Some(false),
            "target/compiled/a.sql",
            "r1",
        );
        assert!(
            n.starts_with("target/compiled/a.sql is missing, so this was compiled now"),
            "{n}"
        );
        assert!(n.contains("differs"), "{n}");
        assert!(note(SqlSource::CompiledFile, None, "p", "r1").contains("no hash"));
    }
}
