//! `lakeforge ls`: the selected nodes, one per line, as names, paths, selectors or JSON.

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::ProjectArgs;

#[derive(Args, Clone, Debug)]
pub struct LsArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[arg(long, short = 's', num_args = 1.., alias = "models", short_alias = 'm')]
    pub select: Vec<String>,
    #[arg(long, num_args = 1..)]
    pub exclude: Vec<String>,
    /// Only nodes of these types.
    #[arg(long, value_enum, num_args = 1..)]
    pub resource_type: Vec<Kind>,
    #[arg(long, value_enum, default_value = "selector")]
    pub output: LsOutput,
    /// The target folder of an earlier run (its manifest.json), for `state:` selection.
    #[arg(long, value_name = "DIR", env = "LAKEFORGE_STATE")]
    pub state: Option<std::path::PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Model,
    Seed,
    Test,
    #[value(name = "unit_test")]
    UnitTest,
    Snapshot,
    #[value(name = "saved_query")]
    SavedQuery,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum LsOutput {
    /// The fully qualified name (project.folder.name), as dbt prints it.
    Selector,
    Name,
    Path,
    Json,
}

pub fn run(args: LsArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project_with_state(&args.project, args.state.as_deref())?;
    let selected = super::select_nodes(&project, &args.select, &args.exclude)?;
    let mut lines = Vec::new();
    for id in &selected {
        let node = &project.nodes[id];
        let kind = match node.resource_type {
            lakeforge_project::ResourceType::Model => Kind::Model,
            lakeforge_project::ResourceType::Seed => Kind::Seed,
            lakeforge_project::ResourceType::UnitTest => Kind::UnitTest,
            lakeforge_project::ResourceType::Snapshot => Kind::Snapshot,
            lakeforge_project::ResourceType::SavedQuery => Kind::SavedQuery,
            _ => Kind::Test,
        };
        if !args.resource_type.is_empty() && !args.resource_type.contains(&kind) {
            continue;
        }
        lines.push(match args.output {
            // dbt names a saved query by type, package and name.
            LsOutput::Selector if kind == Kind::SavedQuery => {
                format!("saved_query:{}.{}", project.name, node.name)
            }
            LsOutput::Selector => node.fqn.join("."),
            LsOutput::Name => node.name.clone(),
            LsOutput::Path => node.path.clone(),
            LsOutput::Json => serde_json::json!({
                    "unique_id": node.unique_id,
                    "name": node.name,
                    "resource_type": node.resource_type.as_str(),
                    "path": node.path,
                    "relation": node.relation.to_string(),
                    "materialized": node.config.materialized.as_str(),
                    "tags": node.config.tags,
                    "depends_on": node.depends_on,
            })
            .to_string(),
        });
    }
    // Sorted, as dbt prints them, so output is stable whatever the node kinds.
    lines.sort();
    for line in lines {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
