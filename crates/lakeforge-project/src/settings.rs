//! Project-level settings: `dbt_project.yml` (what dbt users already have), an optional
//! `profiles.yml` (target schema and threads; found and rendered in `profiles/`), and
//! Lakeforge's own optional `lakeforge.yml`
//! (where the lake and the metadata live, and the `schedules:` the scheduler runs). With none
//! of the optional files, the lake is `./lake` and the metadata store is SQLite beside it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{ProjectError, Result};
use crate::profiles::{ProfileFlags, SelectedProfile};
use crate::schedule::{Schedule, ScheduleFile, check_schedules};

/// The parts of `dbt_project.yml` Lakeforge reads. Unknown keys are accepted, as dbt accepts them.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DbtProjectFile {
    pub name: String,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default = "default_model_paths", alias = "source-paths")]
    pub model_paths: Vec<String>,
    #[serde(default = "default_seed_paths", alias = "data-paths")]
    pub seed_paths: Vec<String>,
    #[serde(default = "default_test_paths")]
    pub test_paths: Vec<String>,
    #[serde(default = "default_macro_paths")]
    pub macro_paths: Vec<String>,
    #[serde(default = "default_snapshot_paths")]
    pub snapshot_paths: Vec<String>,
    /// dbt's `analysis-paths` (none by default, as dbt's); read here only as a place docs
    /// blocks may live.
    #[serde(default)]
    pub analysis_paths: Vec<String>,
    /// Where `{% docs %}` blocks are read from (`.md` files); unset, every path above, as dbt.
    #[serde(default)]
    pub docs_paths: Option<Vec<String>>,
    #[serde(default = "default_target_path")]
    pub target_path: String,
    /// Where `lakeforge deps` installs packages, one folder per package named after it.
    #[serde(default = "default_packages_install_path", alias = "modules-path")]
    pub packages_install_path: String,
    #[serde(default)]
    pub vars: BTreeMap<String, serde_yaml::Value>,
    #[serde(default)]
    pub models: serde_yaml::Value,
    #[serde(default)]
    pub seeds: serde_yaml::Value,
    #[serde(default, alias = "tests")]
    pub data_tests: serde_yaml::Value,
    #[serde(default)]
    pub snapshots: serde_yaml::Value,
    /// `dispatch:`: per macro namespace, the packages `adapter.dispatch` searches, in order
    /// (the root project's shims a package this way).
    #[serde(default)]
    pub dispatch: Vec<DispatchFile>,
    /// SQL run before the first node of `run`/`build`/`seed`/... (a string or a list of them;
    /// Jinja, rendered when it runs). See `hooks.rs`.
    #[serde(default, alias = "on_run_start")]
    pub on_run_start: serde_yaml::Value,
    /// SQL run after the last node, also when nodes failed.
    #[serde(default, alias = "on_run_end")]
    pub on_run_end: serde_yaml::Value,
}

/// One entry of dbt_project.yml's `dispatch:`.
#[derive(Debug, Clone, Deserialize)]
pub struct DispatchFile {
    pub macro_namespace: String,
    pub search_order: Vec<String>,
}

fn default_model_paths() -> Vec<String> {
    vec!["models".into()]
}
fn default_seed_paths() -> Vec<String> {
    vec!["seeds".into()]
}
fn default_test_paths() -> Vec<String> {
    vec!["tests".into()]
}
fn default_macro_paths() -> Vec<String> {
    vec!["macros".into()]
}
fn default_snapshot_paths() -> Vec<String> {
    vec!["snapshots".into()]
}
fn default_target_path() -> String {
    "target".into()
}
fn default_packages_install_path() -> String {
    "dbt_packages".into()
}

/// `lakeforge.yml`: settings that have no place in dbt's files.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakeforgeFile {
    /// Where the Delta tables live; relative paths are relative to the project folder.
    #[serde(default)]
    pub lake: Option<String>,
    /// The `connections:` entry (`type: s3` / `type: azure`) a lake in object storage is
    /// reached through; without one, the `AWS_*` / `AZURE_*` variables.
    #[serde(default)]
    pub lake_connection: Option<String>,
    /// Where run history lives: a SQLite file path or a `postgres://` URL.
    #[serde(default)]
    pub metadata: Option<String>,
    #[serde(default)]
    pub threads: Option<usize>,
    /// What `lakeforge scheduler` runs, and when (see [`crate::schedule`]).
    #[serde(default)]
    pub schedules: Vec<ScheduleFile>,
    /// Where OpenLineage run events go (a file of JSON lines and/or an HTTP endpoint).
    #[serde(default)]
    pub openlineage: Option<OpenLineageConfig>,
    /// Databases named once (`app_db: {url: postgres://...}`), for exports; the file is
    /// rendered with Jinja first, so a password can come from `{{ env_var('APP_DB_PASSWORD') }}`.
    #[serde(default)]
    pub connections: BTreeMap<String, ConnectionFile>,
}

/// A connection of `connections:`: a URL, or `{url: ...}` (databases), or an object store's
/// settings (`{type: s3, endpoint: ..., ...}`, see [`crate::storage`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ConnectionFile {
    Url(String),
    Table { url: String },
    Store(BTreeMap<String, serde_yaml::Value>),
}

/// `openlineage:` in lakeforge.yml: the transports of OpenLineage run events.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenLineageConfig {
    /// A file the events are appended to, one JSON object per line (relative to the project).
    #[serde(default)]
    pub file: Option<String>,
    /// An HTTP endpoint the events are POSTed to (e.g. Marquez's `/api/v1/lineage`), with
    /// `Authorization: Bearer $OPENLINEAGE_API_KEY` when that variable is set.
    #[serde(default)]
    pub url: Option<String>,
    /// The jobs' namespace (default: the project's name).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// The resolved target: everything about where and how a run writes.
#[derive(Debug, Clone)]
pub struct Target {
    /// Target name, as `target.name` in Jinja (`dev` unless a profile says otherwise).
    pub name: String,
    /// Default schema for nodes without a custom one.
    pub schema: String,
    pub threads: Option<usize>,
    /// Absolute path (or URL) of the lake root.
    pub lake: String,
    /// The object-storage connection of a lake at a URL (None: the environment's settings).
    pub lake_connection: Option<String>,
    /// SQLite path or database URL of the metadata store.
    pub metadata: String,
    pub profile_name: String,
    /// The checked `schedules:` of lakeforge.yml.
    pub schedules: Vec<Schedule>,
    /// `openlineage:` of lakeforge.yml, with `file` made absolute.
    pub openlineage: Option<OpenLineageConfig>,
    /// `connections:` of lakeforge.yml: name → URL.
    pub connections: BTreeMap<String, String>,
    /// `connections:` of lakeforge.yml that are object stores (`type: s3` or `azure`).
    pub storage: BTreeMap<String, crate::storage::StorageConnection>,
    /// The `type:` of the selected output (`duckdb`, `postgres`...), as the profile says.
    pub profile_type: Option<String>,
    /// The profile's outputs, for those a source or export names as a connection.
    pub(crate) profile: SelectedProfile,
}

impl Target {
    /// Add the database outputs of the profile that `names` name (and lakeforge.yml does not)
    /// to `connections`, rendering each now: an output nothing names is never rendered.
    pub(crate) fn connect_profile_outputs(
        &mut self,
        root: &Path,
        names: impl IntoIterator<Item = String>,
    ) -> Result<()> {
        for name in names {
            if self.connections.contains_key(&name) {
                continue;
            }
            if let Some(url) = self.profile.database_url(root, &name)? {
                self.connections.insert(name, url);
            }
        }
        Ok(())
    }
}

pub(crate) fn read_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| ProjectError::io(path, e))?;
    serde_yaml::from_str(&text).map_err(|e| ProjectError::yaml(path, e))
}

/// The target of the project in `dir`, from its settings files alone (no models are read):
/// for commands that only need to know where the lake and the metadata live, so that they
/// work while a model is broken.
pub fn read_target(dir: &Path, flags: &ProfileFlags) -> Result<Target> {
    let root = dir.canonicalize().map_err(|e| ProjectError::io(dir, e))?;
    let project_path = root.join("dbt_project.yml");
    if !project_path.is_file() {
        return Err(ProjectError::NotAProject { dir: root });
    }
    let file: DbtProjectFile = read_yaml(&project_path)?;
    resolve_target(&root, &file, flags)
}

/// Resolve the target from `profiles.yml` (see [`crate::profiles`] for which file, profile and
/// target) and `lakeforge.yml`. A missing profile is not an error: Lakeforge needs no server,
/// so defaults are complete.
pub(crate) fn resolve_target(
    root: &Path,
    project: &DbtProjectFile,
    flags: &ProfileFlags,
) -> Result<Target> {
    let default_profile = project.profile.as_deref().unwrap_or(&project.name);
    let profile = crate::profiles::select(root, flags, default_profile)?;
    let output = profile.output.clone();

    let lf_path = root.join("lakeforge.yml");
    let lf: LakeforgeFile = if lf_path.is_file() {
        // Rendered like profiles.yml, so secrets can come from env_var().
        let text = std::fs::read_to_string(&lf_path).map_err(|e| ProjectError::io(&lf_path, e))?;
        let rendered = crate::jinja::render_standalone(&text, &lf_path.display().to_string())?;
        serde_yaml::from_str(&rendered).map_err(|e| ProjectError::yaml(&lf_path, e))?
    } else {
        LakeforgeFile::default()
    };
    let lake = resolve_location(root, lf.lake.as_deref().unwrap_or("lake"));
    let metadata = match lf.metadata {
        Some(m) => resolve_location(root, &m),
        None if is_url(&lake) => root
            .join("lake")
            .join("_lakeforge.db")
            .display()
            .to_string(),
        None => Path::new(&lake).join("_lakeforge.db").display().to_string(),
    };
    let schedules = check_schedules(&lf_path, lf.schedules)?;
    let openlineage = match lf.openlineage {
        Some(mut ol) => {
            if ol.file.is_none() && ol.url.is_none() {
                return Err(ProjectError::Config {
                    path: lf_path.clone(),
                    message: "`openlineage:` needs `file:` or `url:` (or both)\nhint: e.g. `openlineage: {file: target/openlineage.jsonl}`".into(),
                });
            }
            ol.file = ol.file.map(|f| resolve_location(root, &f));
            Some(ol)
        }
        None => None,
    };
    // Database outputs of profiles.yml join these when named (`connect_profile_outputs`).
    let mut connections = BTreeMap::new();
    let mut storage = BTreeMap::new();
    for (k, v) in lf.connections {
        match v {
            ConnectionFile::Url(u) | ConnectionFile::Table { url: u } => {
                connections.insert(k, u);
            }
            ConnectionFile::Store(entry) => {
                match crate::storage::parse_connection(&k, &entry).map_err(|e| {
                    ProjectError::Config {
                        path: lf_path.clone(),
                        message: format!("{e}\nhint: e.g. `{k}: {{type: s3, endpoint: \"http://127.0.0.1:9000\", region: us-east-1}}`"),
                    }
                })? {
                    Some(c) => {
                        storage.insert(k, c);
                    }
                    None => {
                        return Err(ProjectError::Config {
                            path: lf_path.clone(),
                            message: format!("connection `{k}` has a `type:` other than s3 or azure and no `url:`\nhint: databases are `{k}: {{url: \"postgres://...\"}}`, object stores `{k}: {{type: s3, ...}}` or `{{type: azure, ...}}`"),
                        });
                    }
                }
            }
        }
    }
    if let Some(c) = &lf.lake_connection {
        if !is_url(&lake) {
            return Err(ProjectError::Config {
                path: lf_path.clone(),
                message: format!(
                    "`lake_connection: {c}` is for a lake in object storage, and the lake is the folder {lake}\nhint: remove `lake_connection:`, or set `lake: s3://bucket/path`"
                ),
            });
        }
        if !storage.contains_key(c) {
            return Err(ProjectError::Config {
                path: lf_path.clone(),
                message: format!(
                    "`lake_connection: {c}` names no object-storage connection\nhint: add `{c}: {{type: s3, endpoint: ..., region: ...}}` under `connections:`"
                ),
            });
        }
    }
    if is_url(&lake)
        && crate::storage::StorageKind::of_url(&lake).is_none()
        && !lake.starts_with("file://")
    {
        return Err(ProjectError::Config {
            path: lf_path.clone(),
            message: format!(
                "`lake: {lake}` is a URL Lakeforge cannot store a lake at\nhint: use a folder, `s3://bucket/path` or `az://container/path`"
            ),
        });
    }
    Ok(Target {
        lake_connection: lf.lake_connection,
        openlineage,
        connections,
        storage,
        name: profile.target.clone(),
        schema: output.schema.unwrap_or_else(|| "main".into()),
        threads: lf.threads.or(output.threads),
        lake,
        metadata,
        profile_name: profile.name.clone(),
        schedules,
        profile_type: output.kind,
        profile,
    })
}

fn is_url(s: &str) -> bool {
    s.contains("://")
}

/// A path relative to the project folder made absolute; URLs as they are, except that a
/// relative `sqlite://PATH` is relative to the project folder too, like a bare path.
pub(crate) fn resolve_location(root: &Path, s: &str) -> String {
    if let Some(rest) = s.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        if !rest.starts_with('/') && !rest.starts_with(":memory:") {
            return format!("sqlite://{}", root.join(rest).display());
        }
    }
    if is_url(s) {
        return s.to_string();
    }
    let p = Path::new(s);
    if p.is_absolute() {
        s.to_string()
    } else {
        root.join(p).display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_locations_resolve_against_the_project() {
        let root = Path::new("/proj");
        assert_eq!(resolve_location(root, "lake/m.db"), "/proj/lake/m.db");
        assert_eq!(resolve_location(root, "/abs/m.db"), "/abs/m.db");
        assert_eq!(
            resolve_location(root, "sqlite://h/m.db"),
            "sqlite:///proj/h/m.db"
        );
        assert_eq!(
            resolve_location(root, "sqlite:h/m.db"),
            "sqlite:///proj/h/m.db"
        );
        assert_eq!(
            resolve_location(root, "sqlite:///abs/m.db"),
            "sqlite:///abs/m.db"
        );
        assert_eq!(
            resolve_location(root, "postgres://lf@db:5432/meta"),
            "postgres://lf@db:5432/meta"
        );
    }
}
