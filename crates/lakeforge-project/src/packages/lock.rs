//! `package-lock.yml`, as dbt 1.7+ writes it: every package installed (the project's own and
//! those they pull in), each pinned — a hub package at an exact version, a git package at a
//! commit SHA — with the `name` it installs under, and `sha1_hash`, the fingerprint of the
//! declaration it was resolved from (see [`super::hash`]). A lock whose hash matches the
//! current declaration is installed as it is; any other is resolved again.

use std::path::{Path, PathBuf};

use super::hash::declaration_hash;
use super::spec::{PackageSpec, parse_list, read_optional};
use crate::error::{ProjectError, Result};

pub const LOCK_FILE: &str = "package-lock.yml";

/// A package-lock.yml as read.
#[derive(Debug, Clone)]
pub struct LockFile {
    pub path: PathBuf,
    /// The pinned entries, rendered (a `git:` URL may call `env_var()`).
    pub packages: Vec<PackageSpec>,
    pub sha1_hash: Option<String>,
}

impl LockFile {
    /// The lock of the project at `root`, if it has one.
    pub fn read(root: &Path) -> Result<Option<LockFile>> {
        let path = root.join(LOCK_FILE);
        let Some(doc) = read_optional(&path)? else {
            return Ok(None);
        };
        let packages = parse_list(&path, &doc, &["packages"])?;
        let sha1_hash = match doc.get("sha1_hash") {
            None | Some(serde_yaml::Value::Null) => None,
            Some(serde_yaml::Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(ProjectError::Config {
                    path,
                    message: "`sha1_hash:` must be a string\nhint: delete package-lock.yml and run `lakeforge deps` to write it again".into(),
                });
            }
        };
        Ok(Some(LockFile {
            path,
            packages,
            sha1_hash,
        }))
    }

    /// Whether the lock was resolved from exactly this declaration.
    pub fn matches(&self, declared: &[PackageSpec]) -> bool {
        self.sha1_hash.as_deref() == Some(declaration_hash(declared).as_str())
    }
}

/// One resolved package as the lock records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    /// The `name:` of the package's dbt_project.yml: its folder under packages-install-path.
    pub name: String,
    pub source: LockedSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockedSource {
    Hub {
        package: String,
        version: String,
    },
    /// `git` as written in the declaration (before `env_var()` is rendered, so no secret is
    /// written down), at the commit `revision`.
    Git {
        git: String,
        revision: String,
        subdirectory: Option<String>,
    },
    Local {
        local: String,
    },
    Tarball {
        tarball: String,
    },
}

/// The text of a package-lock.yml: keys sorted within each entry and the list indented, as
/// dbt writes it, so the file does not churn when either tool rewrites it.
pub fn lock_yaml(packages: &[LockedPackage], sha1_hash: &str) -> String {
    let mut out = String::from("packages:\n");
    for p in packages {
        let mut fields: Vec<(&str, &str)> = vec![("name", &p.name)];
        match &p.source {
            LockedSource::Hub { package, version } => {
                fields.push(("package", package));
                fields.push(("version", version));
            }
            LockedSource::Git {
                git,
                revision,
                subdirectory,
            } => {
                fields.push(("git", git));
                fields.push(("revision", revision));
                if let Some(s) = subdirectory {
                    fields.push(("subdirectory", s));
                }
            }
            LockedSource::Local { local } => fields.push(("local", local)),
            LockedSource::Tarball { tarball } => fields.push(("tarball", tarball)),
        }
        fields.sort();
        for (i, (k, v)) in fields.iter().enumerate() {
            let lead = if i == 0 { "  - " } else { "    " };
            out.push_str(&format!("{lead}{k}: {}\n", yaml_scalar(v)));
        }
    }
    if packages.is_empty() {
        out = "packages: []\n".into();
    }
    out.push_str(&format!("sha1_hash: {sha1_hash}\n"));
    out
}

/// Write `package-lock.yml` in `root` (a temporary file renamed over the old one).
pub fn write_lock(root: &Path, packages: &[LockedPackage], sha1_hash: &str) -> Result<PathBuf> {
    let path = root.join(LOCK_FILE);
    let tmp = root.join(format!(".{LOCK_FILE}.tmp"));
    std::fs::write(&tmp, lock_yaml(packages, sha1_hash)).map_err(|e| ProjectError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| ProjectError::io(&path, e))?;
    Ok(path)
}

/// A string as a YAML scalar: plain when YAML reads it back as the same string, otherwise
/// single-quoted.
fn yaml_scalar(s: &str) -> String {
    let plain_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./:@+=~%,".contains(c));
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || "_./".contains(c));
    let reads_back = matches!(
        serde_yaml::from_str::<serde_yaml::Value>(s),
        Ok(serde_yaml::Value::String(ref t)) if t == s
    );
    if plain_chars && first_ok && reads_back && !s.contains(": ") {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::spec::PackageSource;

    #[test]
    fn writes_the_lock_as_dbt_does() {
        // dbt-core's own test expects exactly this text for two subdirectories of one repository.
        let sha = "53782f3ede8fdf307ee1d8e418aa65733a4b72fa";
        let git = |name: &str, sub: &str| LockedPackage {
            name: name.into(),
            source: LockedSource::Git {
                git: "https://github.com/dbt-labs/dbt-multipe-packages.git".into(),
                revision: sha.into(),
                subdirectory: Some(sub.into()),
            },
        };
        let text = lock_yaml(
            &[
                git("dbt_utils", "dbt-utils-main"),
                git("dbt_date", "dbt-date-main"),
            ],
            "b9c8042f29446c55a33f9f211737f445a640c7a1",
        );
        assert_eq!(
            text,
            "packages:
  - git: https://github.com/dbt-labs/dbt-multipe-packages.git
    name: dbt_utils
    revision: 53782f3ede8fdf307ee1d8e418aa65733a4b72fa
    subdirectory: dbt-utils-main
  - git: https://github.com/dbt-labs/dbt-multipe-packages.git
    name: dbt_date
    revision: 53782f3ede8fdf307ee1d8e418aa65733a4b72fa
    subdirectory: dbt-date-main
sha1_hash: b9c8042f29446c55a33f9f211737f445a640c7a1
"
        );
    }

    #[test]
    fn a_written_lock_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let packages = vec![
            LockedPackage {
                name: "dbt_utils".into(),
                source: LockedSource::Hub {
                    package: "dbt-labs/dbt_utils".into(),
                    version: "1.3.0".into(),
                },
            },
            LockedPackage {
                name: "shared".into(),
                source: LockedSource::Local {
                    local: "../shared dir".into(),
                },
            },
            LockedPackage {
                name: "t".into(),
                source: LockedSource::Tarball {
                    tarball: "https://{{ env_var('LF_TEST_LOCK_HOST', 'h') }}/t.tgz".into(),
                },
            },
        ];
        write_lock(dir.path(), &packages, "abc").unwrap();
        let lock = LockFile::read(dir.path()).unwrap().unwrap();
        assert_eq!(lock.sha1_hash.as_deref(), Some("abc"));
        assert_eq!(lock.packages.len(), 3);
        assert_eq!(lock.packages[0].name.as_deref(), Some("dbt_utils"));
        assert_eq!(
            lock.packages[0].source,
            PackageSource::Hub {
                package: "dbt-labs/dbt_utils".into(),
                versions: vec!["1.3.0".into()],
                install_prerelease: false,
            }
        );
        assert_eq!(
            lock.packages[1].source,
            PackageSource::Local {
                local: "../shared dir".into()
            }
        );
        // Rendered when read, written as declared.
        assert_eq!(
            lock.packages[2].source,
            PackageSource::Tarball {
                tarball: "https://h/t.tgz".into()
            }
        );
        assert!(
            std::fs::read_to_string(dir.path().join(LOCK_FILE))
                .unwrap()
                .contains("tarball: 'https://{{ env_var(''LF_TEST_LOCK_HOST'', ''h'') }}/t.tgz'")
        );
    }

    #[test]
    fn a_lock_matches_only_its_declaration() {
        let dir = tempfile::tempdir().unwrap();
        let declared = |yaml: &str| {
            let doc: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
            parse_list(Path::new("packages.yml"), &doc, &["packages"]).unwrap()
        };
        let v1 = declared("packages:\n  - package: a/b\n    version: [\">=1.0.0\"]\n");
        let v2 = declared("packages:\n  - package: a/b\n    version: [\">=1.1.0\"]\n");
        write_lock(dir.path(), &[], &declaration_hash(&v1)).unwrap();
        let lock = LockFile::read(dir.path()).unwrap().unwrap();
        assert!(lock.matches(&v1));
        assert!(!lock.matches(&v2));
        assert!(
            LockFile::read(&dir.path().join("nowhere"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn quotes_only_what_yaml_would_misread() {
        assert_eq!(yaml_scalar("1.3.0"), "1.3.0");
        assert_eq!(yaml_scalar("https://x.org/a.git"), "https://x.org/a.git");
        assert_eq!(yaml_scalar("1.0"), "'1.0'");
        assert_eq!(yaml_scalar("true"), "'true'");
        assert_eq!(yaml_scalar("../a"), "../a");
        assert_eq!(yaml_scalar("it's"), "'it''s'");
        assert_eq!(yaml_scalar(""), "''");
    }
}
