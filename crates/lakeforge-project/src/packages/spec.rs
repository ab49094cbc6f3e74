//! The package declarations of a project: `packages.yml` or `dependencies.yml` (dbt reads
//! either, and refuses both declaring `packages:`), and the entries of `package-lock.yml`,
//! which have the same shape. Each entry is one of dbt's four kinds (`local:`, `git:`, a hub
//! `package:`, `tarball:`); string values may call `env_var()`, rendered here as dbt renders
//! them, while the entry as written is kept too: dbt hashes it and records it in the lock, so a
//! secret passed through an environment variable never lands in a file.

use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value as Json};

use super::version::VersionRange;
use crate::error::{ProjectError, Result};

pub const PACKAGES_FILE: &str = "packages.yml";
pub const DEPENDENCIES_FILE: &str = "dependencies.yml";

/// Where a package comes from, with the entry's values rendered.
#[derive(Debug, Clone, PartialEq)]
pub enum PackageSource {
    /// A folder on this machine; relative paths are relative to the root project, as in dbt.
    Local { local: String },
    /// A git repository, at `revision` (branch, tag or commit; the default branch when None),
    /// optionally a `subdirectory` of it.
    Git {
        git: String,
        revision: Option<String>,
        subdirectory: Option<String>,
        /// `warn-unpinned:`; None means true.
        warn_unpinned: Option<bool>,
    },
    /// A package of the dbt hub, `org/name`, with the version requirements of its entry.
    Hub {
        package: String,
        versions: Vec<String>,
        install_prerelease: bool,
    },
    /// A `.tar.gz` at a URL.
    Tarball { tarball: String },
}

/// One entry of a packages list.
#[derive(Debug, Clone)]
pub struct PackageSpec {
    pub source: PackageSource,
    /// `name:`, required for tarballs; package-lock.yml writes it for every entry.
    pub name: Option<String>,
    /// The entry as written, before `env_var()` calls are rendered.
    pub unrendered: Map<String, Json>,
    rendered: Map<String, Json>,
    /// Where the entry is declared, for messages: `packages.yml, packages[2]`.
    pub origin: String,
}

impl PackageSpec {
    /// The entry in words: `hub package dbt-labs/dbt_utils`, `git https://...`, `local ../x`.
    pub fn describe(&self) -> String {
        match &self.source {
            PackageSource::Local { local } => format!("local {local}"),
            PackageSource::Git {
                git, subdirectory, ..
            } => match subdirectory {
                Some(s) => format!("git {git} ({s})"),
                None => format!("git {git}"),
            },
            PackageSource::Hub { package, .. } => format!("hub package {package}"),
            PackageSource::Tarball { tarball } => format!("tarball {tarball}"),
        }
    }

    /// A value of the entry as written (before rendering), when it is a string.
    pub fn unrendered_str(&self, key: &str) -> Option<&str> {
        self.unrendered.get(key).and_then(Json::as_str)
    }

    /// The entry as dbt serializes it when hashing a declaration: the typed fields with
    /// dbt's defaults (null where unset), the entry as written under `unrendered`, and
    /// `name` only when given.
    pub(crate) fn hash_value(&self) -> Json {
        let mut m = Map::new();
        let get = |k: &str| self.rendered.get(k).cloned().unwrap_or(Json::Null);
        match &self.source {
            PackageSource::Local { local } => {
                m.insert("local".into(), Json::String(local.clone()));
            }
            PackageSource::Git { git, .. } => {
                m.insert("git".into(), Json::String(git.clone()));
                m.insert("revision".into(), get("revision"));
                let warn = self
                    .rendered
                    .get("warn-unpinned")
                    .or_else(|| self.rendered.get("warn_unpinned"))
                    .cloned()
                    .unwrap_or(Json::Null);
                m.insert("warn-unpinned".into(), warn);
                m.insert("subdirectory".into(), get("subdirectory"));
            }
            PackageSource::Hub {
                package,
                install_prerelease,
                ..
            } => {
                m.insert("package".into(), Json::String(package.clone()));
                m.insert("version".into(), get("version"));
                m.insert("install_prerelease".into(), Json::Bool(*install_prerelease));
            }
            PackageSource::Tarball { tarball } => {
                m.insert("tarball".into(), Json::String(tarball.clone()));
            }
        }
        if let Some(name) = &self.name {
            m.insert("name".into(), Json::String(name.clone()));
        }
        m.insert("unrendered".into(), Json::Object(self.unrendered.clone()));
        Json::Object(m)
    }
}

/// The packages a project declares, and the file they are declared in.
#[derive(Debug, Clone)]
pub struct DeclaredPackages {
    /// `packages.yml` or `dependencies.yml` (packages.yml when neither exists).
    pub file: PathBuf,
    pub specs: Vec<PackageSpec>,
}

/// Read the packages the project at `root` declares: none when it has neither file.
pub fn declared(root: &Path) -> Result<DeclaredPackages> {
    let packages_path = root.join(PACKAGES_FILE);
    let dependencies_path = root.join(DEPENDENCIES_FILE);
    let packages_doc = read_optional(&packages_path)?;
    let dependencies_doc = read_optional(&dependencies_path)?;
    let has_list =
        |doc: &Option<serde_yaml::Value>| doc.as_ref().is_some_and(|d| d.get("packages").is_some());
    if has_list(&packages_doc) && has_list(&dependencies_doc) {
        return Err(ProjectError::Config {
            path: dependencies_path,
            message: "`packages:` is declared in both packages.yml and dependencies.yml\nhint: keep one list; dbt refuses both too".into(),
        });
    }
    if has_list(&dependencies_doc) {
        let doc = dependencies_doc.unwrap_or_default();
        let specs = parse_list(&dependencies_path, &doc, &["packages", "projects"])?;
        return Ok(DeclaredPackages {
            file: dependencies_path,
            specs,
        });
    }
    let specs = match &packages_doc {
        Some(doc) => parse_list(&packages_path, doc, &["packages"])?,
        None => Vec::new(),
    };
    Ok(DeclaredPackages {
        file: packages_path,
        specs,
    })
}

/// The YAML document of a file that may be absent (None) or empty (null).
pub(crate) fn read_optional(path: &Path) -> Result<Option<serde_yaml::Value>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ProjectError::io(path, e)),
    };
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| ProjectError::yaml(path, e))?;
    Ok(Some(doc))
}

fn config_error(path: &Path, message: String) -> ProjectError {
    ProjectError::Config {
        path: path.to_path_buf(),
        message,
    }
}

/// The `packages:` list of a document whose top-level keys may be `allowed` (besides the
/// lock's `sha1_hash`, which the caller reads). An empty document declares nothing.
pub(crate) fn parse_list(
    path: &Path,
    doc: &serde_yaml::Value,
    allowed: &[&str],
) -> Result<Vec<PackageSpec>> {
    let top = match doc {
        serde_yaml::Value::Null => return Ok(Vec::new()),
        serde_yaml::Value::Mapping(m) => m,
        _ => {
            return Err(config_error(
                path,
                "the file must be a mapping with a `packages:` list\nhint: e.g. `packages: [{package: dbt-labs/dbt_utils, version: 1.3.0}]`".into(),
            ));
        }
    };
    for key in top.keys() {
        let key = key.as_str().unwrap_or_default();
        if !allowed.contains(&key) && key != "sha1_hash" {
            return Err(config_error(
                path,
                format!(
                    "unknown key `{key}`\nhint: the file holds a `packages:` list{}",
                    if allowed.contains(&"projects") {
                        " (and `projects:`)"
                    } else {
                        ""
                    }
                ),
            ));
        }
    }
    let list = match top.get("packages") {
        None | Some(serde_yaml::Value::Null) => return Ok(Vec::new()),
        Some(serde_yaml::Value::Sequence(s)) => s,
        Some(_) => {
            return Err(config_error(
                path,
                "`packages:` must be a list of entries\nhint: start each entry with `- `".into(),
            ));
        }
    };
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    list.iter()
        .enumerate()
        .map(|(i, entry)| parse_entry(path, &format!("{file}, packages[{i}]"), entry))
        .collect()
}

const LOCAL_KEYS: &[&str] = &["local", "name"];
const GIT_KEYS: &[&str] = &[
    "git",
    "revision",
    "subdirectory",
    "warn-unpinned",
    "warn_unpinned",
    "name",
];
const HUB_KEYS: &[&str] = &[
    "package",
    "version",
    "install_prerelease",
    "install-prerelease",
    "name",
];
const TARBALL_KEYS: &[&str] = &["tarball", "name"];

/// One entry of a packages list; `origin` names it in messages (`packages.yml, packages[0]`).
pub fn parse_entry(path: &Path, origin: &str, entry: &serde_yaml::Value) -> Result<PackageSpec> {
    let fail = |message: String| config_error(path, format!("{}: {message}", entry_label(origin)));
    let unrendered: Json =
        serde_json::to_value(entry).map_err(|e| fail(format!("the entry cannot be read: {e}")))?;
    let Json::Object(unrendered) = unrendered else {
        return Err(fail(
            "an entry must be a mapping, e.g. `- package: dbt-labs/dbt_utils`".into(),
        ));
    };
    let mut rendered = Map::new();
    for (k, v) in &unrendered {
        rendered.insert(k.clone(), render(v, &path.display().to_string())?);
    }
    let kinds: Vec<&str> = ["local", "git", "package", "tarball", "private"]
        .into_iter()
        .filter(|k| rendered.contains_key(*k))
        .collect();
    let kind = match kinds.as_slice() {
        [one] => *one,
        [] => {
            return Err(fail(
                "the entry names no package: give one of `package:` (the dbt hub), `git:`, `local:` or `tarball:`".into(),
            ));
        }
        many => {
            return Err(fail(format!(
                "the entry has {}; give only one source per entry",
                many.iter()
                    .map(|k| format!("`{k}:`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )));
        }
    };
    let allowed = match kind {
        "local" => LOCAL_KEYS,
        "git" => GIT_KEYS,
        "package" => HUB_KEYS,
        "tarball" => TARBALL_KEYS,
        _ => {
            return Err(fail(
                "`private:` packages need dbt Cloud's git provider integration\nhint: use a `git:` entry with the repository's URL instead".into(),
            ));
        }
    };
    if let Some(key) = rendered.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(fail(format!(
            "unknown key `{key}` for a `{kind}:` entry\nhint: its keys are {}",
            allowed
                .iter()
                // One spelling of each: dbt's.
                .filter(|k| !matches!(**k, "warn_unpinned" | "install-prerelease"))
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let string = |key: &str| -> Result<Option<String>> {
        match rendered.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) if s.trim().is_empty() => Err(fail(format!("`{key}:` is empty"))),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(fail(format!("`{key}:` must be a string, not {other}"))),
        }
    };
    let boolean = |keys: &[&str]| -> Result<Option<bool>> {
        match keys.iter().find_map(|k| rendered.get(*k).map(|v| (*k, v))) {
            None | Some((_, Json::Null)) => Ok(None),
            Some((_, Json::Bool(b))) => Ok(Some(*b)),
            Some((k, other)) => Err(fail(format!("`{k}:` must be true or false, not {other}"))),
        }
    };
    let name = string("name")?;
    let source = match kind {
        "local" => PackageSource::Local {
            local: string("local")?.unwrap_or_default(),
        },
        "git" => {
            let revision = match rendered.get("revision") {
                None | Some(Json::Null) => None,
                Some(v) => Some(scalar_text(v).ok_or_else(|| {
                    fail(format!(
                        "`revision:` must be a branch, tag or commit, not {v}"
                    ))
                })?),
            };
            let subdirectory = string("subdirectory")?;
            if let Some(sub) = &subdirectory
                && !is_inner_path(sub)
            {
                return Err(fail(format!(
                    "`subdirectory: {sub}` must be a relative path inside the repository"
                )));
            }
            PackageSource::Git {
                git: string("git")?.unwrap_or_default(),
                revision,
                subdirectory,
                warn_unpinned: boolean(&["warn-unpinned", "warn_unpinned"])?,
            }
        }
        "package" => {
            let package = string("package")?.unwrap_or_default();
            if !package.contains('/') {
                return Err(fail(format!(
                    "hub package `{package}` needs its namespace, e.g. `dbt-labs/dbt_utils`"
                )));
            }
            let versions = match rendered.get("version") {
                None | Some(Json::Null) => {
                    return Err(fail(format!(
                        "hub package `{package}` needs `version:`\nhint: e.g. `version: [\">=1.0.0\", \"<2.0.0\"]`, or an exact version"
                    )));
                }
                Some(Json::Array(items)) => items
                    .iter()
                    .map(|v| {
                        scalar_text(v).ok_or_else(|| {
                            fail(format!("`version:` items must be strings, not {v}"))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
                Some(v) => vec![scalar_text(v).ok_or_else(|| {
                    fail(format!(
                        "`version:` must be a version or a list of ranges, not {v}"
                    ))
                })?],
            };
            for v in &versions {
                VersionRange::parse(v).map_err(|m| {
                    fail(format!(
                        "{m}\nhint: write one requirement per list item, e.g. `version: [\">=1.0.0\", \"<2.0.0\"]`"
                    ))
                })?;
            }
            PackageSource::Hub {
                package,
                versions,
                install_prerelease: boolean(&["install_prerelease", "install-prerelease"])?
                    .unwrap_or(false),
            }
        }
        _ => {
            if name.is_none() {
                return Err(fail(
                    "a `tarball:` entry needs `name:` (the folder it installs into)".into(),
                ));
            }
            PackageSource::Tarball {
                tarball: string("tarball")?.unwrap_or_default(),
            }
        }
    };
    Ok(PackageSpec {
        source,
        name,
        unrendered,
        rendered,
        origin: origin.to_string(),
    })
}

fn entry_label(origin: &str) -> &str {
    // The path is already in the error; the label keeps only the position.
    origin.split_once(", ").map(|(_, p)| p).unwrap_or(origin)
}

/// A relative path that stays inside its base folder.
pub(crate) fn is_inner_path(p: &str) -> bool {
    !p.is_empty()
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// A YAML scalar as the text dbt makes of it (`str()` in Python: `1.0` stays `1.0`).
fn scalar_text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(super::hash::python_number(n)),
        _ => None,
    }
}

/// Render the `env_var()` calls in the strings of a value, as dbt renders packages.yml.
fn render(value: &Json, file: &str) -> Result<Json> {
    Ok(match value {
        Json::String(s) if s.contains("{{") || s.contains("{%") => {
            Json::String(crate::jinja::render_standalone(s, file)?)
        }
        Json::Array(items) => Json::Array(
            items
                .iter()
                .map(|v| render(v, file))
                .collect::<Result<_>>()?,
        ),
        Json::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(k.clone(), render(v, file)?);
            }
            Json::Object(out)
        }
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Vec<PackageSpec>> {
        let doc: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
        parse_list(Path::new("/p/packages.yml"), &doc, &["packages"])
    }

    fn err(yaml: &str) -> String {
        parse(yaml).unwrap_err().to_string()
    }

    #[test]
    fn parses_every_kind_of_entry() {
        let specs = parse(
            r#"
packages:
  - local: ../shared
  - git: "https://example.com/org/repo.git"
    revision: v1.2.0
    subdirectory: pkgs/inner
    warn-unpinned: false
  - package: dbt-labs/dbt_utils
    version: [">=1.0.0", "<2.0.0"]
    install_prerelease: true
  - git: "https://example.com/org/floaty.git"
    revision: 1.0
  - tarball: https://example.com/p.tar.gz
    name: tar_pkg
"#,
        )
        .unwrap();
        assert_eq!(
            specs[0].source,
            PackageSource::Local {
                local: "../shared".into()
            }
        );
        assert_eq!(
            specs[1].source,
            PackageSource::Git {
                git: "https://example.com/org/repo.git".into(),
                revision: Some("v1.2.0".into()),
                subdirectory: Some("pkgs/inner".into()),
                warn_unpinned: Some(false),
            }
        );
        assert_eq!(
            specs[2].source,
            PackageSource::Hub {
                package: "dbt-labs/dbt_utils".into(),
                versions: vec![">=1.0.0".into(), "<2.0.0".into()],
                install_prerelease: true,
            }
        );
        // A YAML float is the text Python's str() makes of it.
        assert!(
            matches!(&specs[3].source, PackageSource::Git { revision: Some(r), .. } if r == "1.0")
        );
        assert_eq!(specs[4].name.as_deref(), Some("tar_pkg"));
        assert_eq!(specs[1].origin, "packages.yml, packages[1]");
        assert_eq!(specs[2].describe(), "hub package dbt-labs/dbt_utils");
    }

    #[test]
    #[allow(unsafe_code)] // set_var is unsafe since edition 2024: see SAFETY below
    fn renders_env_var_and_keeps_the_entry_as_written() {
        // SAFETY: the variable name is unique to this test; no other test reads it.
        unsafe { std::env::set_var("LF_TEST_PKG_TOKEN", "s3cret") };
        let specs = parse(
            "packages:\n  - git: \"https://{{ env_var('LF_TEST_PKG_TOKEN') }}@example.com/r.git\"\n",
        )
        .unwrap();
        assert!(
            matches!(&specs[0].source, PackageSource::Git { git, .. } if git == "https://s3cret@example.com/r.git")
        );
        assert_eq!(
            specs[0].unrendered_str("git"),
            Some("https://{{ env_var('LF_TEST_PKG_TOKEN') }}@example.com/r.git")
        );
        let e = err("packages:\n  - local: \"{{ env_var('LF_TEST_PKG_UNSET_VAR') }}\"\n");
        assert!(e.contains("LF_TEST_PKG_UNSET_VAR"), "{e}");
    }

    #[test]
    fn errors_name_the_file_and_entry() {
        let e = err("packages:\n  - package: dbt-labs/dbt_utils\n");
        assert!(
            e.starts_with(
                "/p/packages.yml: packages[0]: hub package `dbt-labs/dbt_utils` needs `version:`"
            ),
            "{e}"
        );
        let e = err("packages:\n  - local: a\n  - package: dbt_utils\n    version: 1.0.0\n");
        assert!(
            e.contains("packages[1]: hub package `dbt_utils` needs its namespace"),
            "{e}"
        );
        let e = err("packages:\n  - package: a/b\n    version: '>=1.0.0,<2.0.0'\n");
        assert!(
            e.contains("packages[0]: `>=1.0.0,<2.0.0` is not a version requirement"),
            "{e}"
        );
        assert!(
            e.contains("hint: write one requirement per list item"),
            "{e}"
        );
        // dbt's versions have three parts.
        let e = err("packages:\n  - package: a/b\n    version: 1.0\n");
        assert!(e.contains("`1.0` is not a version requirement"), "{e}");
        let e = err("packages:\n  - git: https://x/y.git\n    revison: main\n");
        assert!(
            e.contains("packages[0]: unknown key `revison` for a `git:` entry"),
            "{e}"
        );
        let e = err("packages:\n  - tarball: https://x/y.tgz\n");
        assert!(e.contains("needs `name:`"), "{e}");
        let e = err("packages:\n  - git: https://x/y.git\n    local: ../y\n");
        assert!(e.contains("has `local:` and `git:`"), "{e}");
        let e = err("packages:\n  - version: 1.0.0\n");
        assert!(e.contains("names no package"), "{e}");
        let e = err("packages:\n  - git: https://x/y.git\n    subdirectory: ../../etc\n");
        assert!(
            e.contains("must be a relative path inside the repository"),
            "{e}"
        );
        let e = err("packages:\n  - private: org/repo\n");
        assert!(e.contains("use a `git:` entry"), "{e}");
        let e = err("packages:\n  - local: \"\"\n");
        assert!(e.contains("`local:` is empty"), "{e}");
        let e = err("pakages: []\n");
        assert!(e.contains("unknown key `pakages`"), "{e}");
        let e = err("packages: {local: x}\n");
        assert!(e.contains("must be a list"), "{e}");
    }

    #[test]
    fn reads_packages_yml_or_dependencies_yml_not_both() {
        let dir = tempfile::tempdir().unwrap();
        assert!(declared(dir.path()).unwrap().specs.is_empty());
        std::fs::write(
            dir.path().join("dependencies.yml"),
            "projects:\n  - name: upstream\npackages:\n  - local: ../a\n",
        )
        .unwrap();
        let d = declared(dir.path()).unwrap();
        assert_eq!(d.file, dir.path().join("dependencies.yml"));
        assert_eq!(d.specs.len(), 1);
        std::fs::write(
            dir.path().join("packages.yml"),
            "packages:\n  - local: ../b\n",
        )
        .unwrap();
        let e = declared(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("declared in both packages.yml and dependencies.yml"),
            "{e}"
        );
        std::fs::write(dir.path().join("dependencies.yml"), "projects: []\n").unwrap();
        let d = declared(dir.path()).unwrap();
        assert_eq!(d.file, dir.path().join("packages.yml"));
        std::fs::write(dir.path().join("packages.yml"), "").unwrap();
        assert!(declared(dir.path()).unwrap().specs.is_empty());
    }
}
