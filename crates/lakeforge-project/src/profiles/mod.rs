//! profiles.yml as dbt reads it, the first thing a project load settles (with lakeforge.yml, in
//! `settings.rs`): which file (`--profiles-dir`, then `DBT_PROFILES_DIR`, then the project
//! folder, then `~/.dbt`), which profile (`--profile`, else dbt_project.yml's `profile:`) and
//! which target (`--target`, else the profile's `target:`). The file is parsed as YAML first
//! and rendered value by value afterwards, as dbt does, so only the selected target's output is
//! rendered: an `env_var()` of another target is never evaluated (CI jobs set the variables of
//! their own target only). Another output is rendered only when a source or an export names it
//! as a connection ([`crate::settings::Target::connect_profile_outputs`]).

pub mod output;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use output::ProfileOutput;

use crate::error::{ProjectError, Result};
use crate::node::Node;
use crate::properties::SourceProps;

/// The command line's say in choosing a profile: `--profiles-dir`, `--profile`, `--target`.
#[derive(Debug, Clone, Default)]
pub struct ProfileFlags {
    pub profiles_dir: Option<PathBuf>,
    pub profile: Option<String>,
    pub target: Option<String>,
}

/// The profile a run uses: the selected target's output (rendered) and the other outputs as
/// written, rendered only when one is named as a connection.
#[derive(Debug, Clone, Default)]
pub struct SelectedProfile {
    /// The profile's name (`--profile`, `profile:` of dbt_project.yml, else the project's name).
    pub name: String,
    /// The target's name: `--target`, the profile's `target:`, else `dev`.
    pub target: String,
    /// The selected target's output; empty when there is no profile (Lakeforge needs none).
    pub output: ProfileOutput,
    /// The profiles.yml read, if any.
    pub path: Option<PathBuf>,
    /// Every output of the profile, unrendered.
    outputs: BTreeMap<String, serde_yaml::Value>,
}

/// Find profiles.yml in dbt's order; None when there is none (an explicit folder without one
/// is an error).
pub fn find(root: &Path, flags: &ProfileFlags) -> Result<Option<PathBuf>> {
    let explicit = |dir: &Path, how: &str| -> Result<Option<PathBuf>> {
        let dir = if dir.is_relative() {
            std::env::current_dir()
                .map(|cwd| cwd.join(dir))
                .unwrap_or_else(|_| dir.to_path_buf())
        } else {
            dir.to_path_buf()
        };
        let file = dir.join("profiles.yml");
        if file.is_file() {
            Ok(Some(file))
        } else {
            Err(ProjectError::Config {
                path: file,
                message: format!(
                    "no profiles.yml in {} (the folder {how})\nhint: create the file there, or point {how} at the folder holding it",
                    dir.display()
                ),
            })
        }
    };
    if let Some(dir) = &flags.profiles_dir {
        return explicit(dir, "--profiles-dir names");
    }
    if let Some(dir) = std::env::var_os("DBT_PROFILES_DIR").filter(|d| !d.is_empty()) {
        return explicit(Path::new(&dir), "DBT_PROFILES_DIR names");
    }
    let in_project = root.join("profiles.yml");
    if in_project.is_file() {
        return Ok(Some(in_project));
    }
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|h| !h.is_empty());
    Ok(home
        .map(|h| PathBuf::from(h).join(".dbt").join("profiles.yml"))
        .filter(|p| p.is_file()))
}

/// Choose the profile and target, and render the target's output. `default_profile` is
/// dbt_project.yml's `profile:` (or the project's name).
pub fn select(root: &Path, flags: &ProfileFlags, default_profile: &str) -> Result<SelectedProfile> {
    let name = flags
        .profile
        .clone()
        .unwrap_or_else(|| default_profile.to_string());
    let none = |target: Option<&String>| SelectedProfile {
        name: name.clone(),
        target: target.cloned().unwrap_or_else(|| "dev".into()),
        ..SelectedProfile::default()
    };
    let Some(path) = find(root, flags)? else {
        if let Some(p) = &flags.profile {
            return Err(ProjectError::Config {
                path: root.join("profiles.yml"),
                message: format!(
                    "--profile {p}: no profiles.yml was found (looked in --profiles-dir, DBT_PROFILES_DIR, the project folder and ~/.dbt)\nhint: create profiles.yml with a profile `{p}`, or drop --profile"
                ),
            });
        }
        return Ok(none(flags.target.as_ref()));
    };
    let text = std::fs::read_to_string(&path).map_err(|e| ProjectError::io(&path, e))?;
    let file: serde_yaml::Value = if text.trim().is_empty() {
        serde_yaml::Value::Null
    } else {
        serde_yaml::from_str(&text).map_err(|e| ProjectError::yaml(&path, e))?
    };
    let bad = |message: String| ProjectError::Config {
        path: path.clone(),
        message,
    };
    let Some(profile) = file.get(name.as_str()) else {
        if flags.profile.is_none() {
            // A profile is optional: without one, the lake's defaults are complete.
            return Ok(SelectedProfile {
                path: Some(path.clone()),
                ..none(flags.target.as_ref())
            });
        }
        let names: Vec<&str> = file
            .as_mapping()
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str())
                    .filter(|k| *k != "config")
                    .collect()
            })
            .unwrap_or_default();
        return Err(bad(format!(
            "no profile `{name}` (it has: {}){}",
            list(&names),
            hint_did_you_mean(&name, &names, "--profile")
        )));
    };
    let outputs: BTreeMap<String, serde_yaml::Value> = match profile.get("outputs") {
        None | Some(serde_yaml::Value::Null) => BTreeMap::new(),
        Some(v) => serde_yaml::from_value(v.clone()).map_err(|e| {
            bad(format!(
                "profile `{name}`: `outputs:` must map target names to settings ({e})\nhint: e.g. `outputs: {{dev: {{type: duckdb, schema: main}}}}`"
            ))
        })?,
    };
    let written_target = match profile.get("target") {
        None | Some(serde_yaml::Value::Null) => None,
        Some(v) => {
            let rendered = render_value(v, &path, &format!("profile `{name}`, `target:`"))?;
            Some(
                crate::config::json_to_plain_string(&crate::config::yaml_to_json(&rendered))
                    .trim()
                    .to_string(),
            )
        }
    };
    let target = flags
        .target
        .clone()
        .or(written_target.clone())
        .unwrap_or_else(|| "dev".into());
    let output = match outputs.get(&target) {
        Some(raw) => typed_output(raw, &path, &format!("profile `{name}`, target `{target}`"))?,
        // No `target:`, no --target and no `dev` output: nothing was asked for, so defaults.
        None if flags.target.is_none() && written_target.is_none() => ProfileOutput::default(),
        None => {
            let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
            let how = if flags.target.is_some() {
                "pick one of those with --target".to_string()
            } else {
                "fix the profile's `target:`, or pick one with --target".to_string()
            };
            return Err(bad(format!(
                "profile `{name}` has no target `{target}` (it has: {})\nhint: {how}",
                list(&names)
            )));
        }
    };
    Ok(SelectedProfile {
        name,
        target,
        output,
        path: Some(path),
        outputs,
    })
}

impl SelectedProfile {
    /// The database URL of output `output`, rendered now; None when the profile has no such
    /// output or it is not a database Lakeforge reads.
    pub(crate) fn database_url(&self, root: &Path, output: &str) -> Result<Option<String>> {
        let (Some(raw), Some(path)) = (self.outputs.get(output), &self.path) else {
            return Ok(None);
        };
        let what = format!("profile `{}`, output `{output}`", self.name);
        let typed = typed_output(raw, path, &what)?;
        match typed.database_url(root) {
            None => Ok(None),
            Some(Ok(url)) => Ok(Some(url)),
            Some(Err(e)) => Err(ProjectError::Config {
                path: path.clone(),
                message: format!(
                    "{what}: {e}\nhint: dbt's keys: host, port, user, password, dbname (postgres); server, port, username, password, database (mysql); path (sqlite)"
                ),
            }),
        }
    }
}

/// The connections sources and exports name: `connection:` of a source or source table (or in
/// its `config:`), and `connection:` of each entry of a node's `export:` config.
pub(crate) fn named_connections<'a>(
    sources: impl IntoIterator<Item = &'a SourceProps>,
    nodes: impl IntoIterator<Item = &'a Node>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in sources {
        let rests = std::iter::once(&s.rest).chain(s.tables.iter().map(|t| &t.rest));
        for rest in rests {
            if let Ok(Some(c)) = crate::database::connection_of(rest) {
                out.insert(c);
            }
        }
    }
    for n in nodes {
        let exports = match n.config.raw.get("export") {
            Some(serde_json::Value::Array(a)) => a.iter().collect(),
            Some(v) => vec![v],
            None => Vec::new(),
        };
        for e in exports {
            if let Some(c) = e.get("connection").and_then(|c| c.as_str()) {
                out.insert(c.to_string());
            }
        }
    }
    out
}

/// An output rendered and typed; errors name the file, the profile and target, and the key.
fn typed_output(raw: &serde_yaml::Value, path: &Path, what: &str) -> Result<ProfileOutput> {
    let rendered = render_value(raw, path, what)?;
    if !rendered.is_mapping() {
        return Err(ProjectError::Config {
            path: path.into(),
            message: format!(
                "{what}: an output must be a mapping of settings\nhint: e.g. `{{type: duckdb, schema: main, threads: 4}}`"
            ),
        });
    }
    serde_yaml::from_value(rendered).map_err(|e| ProjectError::Config {
        path: path.into(),
        message: format!("{what}: {e}\nhint: fix that key of the output"),
    })
}

/// Render every string holding Jinja in `v` (env_var() and friends); `what` says where, for
/// errors.
fn render_value(v: &serde_yaml::Value, path: &Path, what: &str) -> Result<serde_yaml::Value> {
    use serde_yaml::Value;
    Ok(match v {
        Value::String(s) if s.contains("{{") || s.contains("{%") => {
            let file = path.display().to_string();
            let rendered = crate::jinja::render_standalone(s, &file).map_err(|e| {
                let message = match e {
                    ProjectError::Jinja { message, .. } => message,
                    other => other.to_string(),
                };
                ProjectError::Config {
                    path: path.into(),
                    message: format!("{what}: {message}"),
                }
            })?;
            Value::String(rendered)
        }
        Value::Mapping(m) => {
            let mut out = serde_yaml::Mapping::new();
            for (k, x) in m {
                let key = k.as_str().unwrap_or("?");
                out.insert(
                    k.clone(),
                    render_value(x, path, &format!("{what}, `{key}`"))?,
                );
            }
            Value::Mapping(out)
        }
        Value::Sequence(items) => Value::Sequence(
            items
                .iter()
                .map(|x| render_value(x, path, what))
                .collect::<Result<_>>()?,
        ),
        other => other.clone(),
    })
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn hint_did_you_mean(name: &str, names: &[&str], flag: &str) -> String {
    match crate::error::suggest(name, names.iter().copied()) {
        Some(s) => format!(
            "\nhint: did you mean `{s}`? (set `profile:` in dbt_project.yml or pass {flag})"
        ),
        None => {
            format!("\nhint: add the profile to profiles.yml, or pass {flag} with one of those")
        }
    }
}

#[cfg(test)]
mod tests;
