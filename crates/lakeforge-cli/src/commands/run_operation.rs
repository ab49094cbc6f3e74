//! `lakeforge run-operation MACRO [--args '{k: v}']`: call a macro of the project (or
//! `package.macro`) with the adapter context, as dbt's run-operation does. Its `run_query` and
//! `statement` calls run against the lake, `log()` lines are printed, and an error exits 1
//! naming the macro. Nothing else is built and no run is recorded.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use lakeforge_engine::EngineAdapter;
use lakeforge_project::CompileContext;

use super::{default_threads, load_project, open_engine};
use crate::ProjectArgs;

#[derive(Args, Clone, Debug)]
pub struct RunOperationArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The macro to call: `name`, or `package.name` for a package's.
    #[arg(value_name = "MACRO")]
    pub macro_name: String,
    /// The macro's keyword arguments as a YAML or JSON mapping: --args '{days: 7}'.
    #[arg(long)]
    pub args: Option<String>,
}

pub async fn run(a: RunOperationArgs) -> anyhow::Result<ExitCode> {
    let project = load_project(&a.project)?;
    let args = parse_args(a.args.as_deref())?;
    let engine = open_engine(&project, default_threads()).await?;
    let compile = CompileContext::new(project).with_adapter(Arc::new(EngineAdapter::new(engine)));
    let name = a.macro_name.clone();
    // The macro renders synchronously and blocks on the engine for each query; a blocking
    // thread is where that belongs.
    let outcome = tokio::task::spawn_blocking(move || compile.run_operation(&name, &args))
        .await
        .context("the macro's thread stopped")?;
    match outcome {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("run-operation `{}` failed:\n{e}", a.macro_name);
            Ok(ExitCode::from(1))
        }
    }
}

/// `--args` as dbt reads it: a YAML mapping (JSON is YAML too), keyword name → value.
fn parse_args(text: Option<&str>) -> anyhow::Result<BTreeMap<String, serde_json::Value>> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).with_context(|| {
        format!("--args is not YAML: {text}\nhint: --args '{{days: 7, name: x}}'")
    })?;
    match lakeforge_project::config::yaml_to_json(&yaml) {
        serde_json::Value::Object(map) => Ok(map.into_iter().collect()),
        serde_json::Value::Null => Ok(BTreeMap::new()),
        other => anyhow::bail!(
            "--args must be a mapping of argument names to values, not {other}\nhint: --args '{{days: 7}}'"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_are_a_yaml_or_json_mapping() {
        let a = parse_args(Some("{days: 7, name: x}")).unwrap();
        assert_eq!(a["days"], serde_json::json!(7));
        assert_eq!(a["name"], serde_json::json!("x"));
        let j = parse_args(Some(r#"{"tables": ["a", "b"]}"#)).unwrap();
        assert_eq!(j["tables"], serde_json::json!(["a", "b"]));
        assert!(parse_args(None).unwrap().is_empty());
        let e = parse_args(Some("[1, 2]")).unwrap_err().to_string();
        assert!(e.contains("must be a mapping"), "{e}");
    }
}
