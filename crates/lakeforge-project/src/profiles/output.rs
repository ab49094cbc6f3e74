//! One output of a profile, typed: what Lakeforge reads from the selected target (schema,
//! threads, type) and, for an output a source or export names as a connection, the database it
//! points at. Values arrive as rendered strings (profiles.yml is rendered value by value, as
//! dbt does), so numbers are accepted as text too.

use std::path::Path;

use serde::{Deserialize, Deserializer};

/// One output of a `profiles.yml` profile. Only what matters to an embedded lake is read; other
/// keys (path, extensions, settings...) are accepted so a dbt-duckdb profile opens unchanged.
///
/// An output of type `postgres`, `mysql`/`mariadb` or `sqlite` is also a database connection
/// named after the output, which sources read (`connection: app_db`) and exports write, as
/// one named under lakeforge.yml's `connections:`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProfileOutput {
    #[serde(default, deserialize_with = "text")]
    pub schema: Option<String>,
    #[serde(default, deserialize_with = "number")]
    pub threads: Option<usize>,
    #[serde(default, rename = "type", deserialize_with = "text")]
    pub kind: Option<String>,
    #[serde(default, alias = "server", deserialize_with = "text")]
    pub host: Option<String>,
    #[serde(default, deserialize_with = "number")]
    pub port: Option<u16>,
    #[serde(default, alias = "username", deserialize_with = "text")]
    pub user: Option<String>,
    #[serde(default, alias = "pass", deserialize_with = "text")]
    pub password: Option<String>,
    #[serde(default, alias = "database", deserialize_with = "text")]
    pub dbname: Option<String>,
    /// A SQLite database file (relative to the project folder).
    #[serde(default, deserialize_with = "text")]
    pub path: Option<String>,
}

/// A database output without a field its URL needs; the profile adds which output and a hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OutputError {
    #[error("a sqlite output needs `path:` (the database file)")]
    SqlitePath,

    /// `kind` is the output's `type:` in lower case.
    #[error("a {kind} output needs `host:`")]
    Host { kind: String },

    #[error("a {kind} output needs `dbname:` (or `database:`)")]
    Dbname { kind: String },
}

impl ProfileOutput {
    /// The URL of the database this output names, if it is one Lakeforge reads; an error when a
    /// required field is missing.
    pub(crate) fn database_url(
        &self,
        root: &Path,
    ) -> Option<std::result::Result<String, OutputError>> {
        fn enc(s: &str) -> String {
            url::form_urlencoded::byte_serialize(s.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        }
        let kind = self.kind.as_deref()?.to_ascii_lowercase();
        let (scheme, default_port) = match kind.as_str() {
            "postgres" | "postgresql" => ("postgres", 5432),
            "mysql" | "mariadb" => ("mysql", 3306),
            "sqlite" => {
                let path = self.path.as_deref().or(self.dbname.as_deref());
                return Some(match path {
                    Some(p) => Ok(format!(
                        "sqlite://{}",
                        crate::settings::resolve_location(root, p).trim_start_matches("sqlite://")
                    )),
                    None => Err(OutputError::SqlitePath),
                });
            }
            _ => return None,
        };
        let Some(host) = &self.host else {
            return Some(Err(OutputError::Host { kind }));
        };
        let Some(db) = &self.dbname else {
            return Some(Err(OutputError::Dbname { kind }));
        };
        let auth = match (&self.user, &self.password) {
            (Some(u), Some(p)) => format!("{}:{}@", enc(u), enc(p)),
            (Some(u), None) => format!("{}@", enc(u)),
            _ => String::new(),
        };
        let port = self.port.unwrap_or(default_port);
        Some(Ok(format!("{scheme}://{auth}{host}:{port}/{}", enc(db))))
    }
}

/// A scalar as text: `password: 1234` is the string "1234", as a YAML-unaware user means it.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_yaml::Value>::deserialize(d)?;
    match v {
        None | Some(serde_yaml::Value::Null) => Ok(None),
        Some(serde_yaml::Value::String(s)) => Ok(Some(s)),
        Some(serde_yaml::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(serde_yaml::Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a string, not {}",
            serde_yaml::to_string(&other).unwrap_or_default().trim()
        ))),
    }
}

/// A number, or text holding one (`"{{ env_var('THREADS') }}"` renders to text).
fn number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
{
    match text(d)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("expected a number, not `{s}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_text_are_read_either_way() {
        let o: ProfileOutput = serde_yaml::from_str(
            "{type: postgres, host: h, port: '6543', threads: 4, pass: 1234, dbname: d, user: u}",
        )
        .unwrap();
        assert_eq!(o.port, Some(6543));
        assert_eq!(o.threads, Some(4));
        assert_eq!(o.password.as_deref(), Some("1234"));
        assert_eq!(
            o.database_url(Path::new("/p")).unwrap().unwrap(),
            "postgres://u:1234@h:6543/d"
        );
        let bad = serde_yaml::from_str::<ProfileOutput>("{threads: many}").unwrap_err();
        assert!(
            bad.to_string().contains("expected a number, not `many`"),
            "{bad}"
        );
    }

    #[test]
    fn missing_fields_of_a_database_output_are_named() {
        let o: ProfileOutput = serde_yaml::from_str("{type: mysql, server: h}").unwrap();
        assert_eq!(
            o.database_url(Path::new("/p"))
                .unwrap()
                .unwrap_err()
                .to_string(),
            "a mysql output needs `dbname:` (or `database:`)"
        );
        let duck: ProfileOutput = serde_yaml::from_str("{type: duckdb, path: x.duckdb}").unwrap();
        assert!(duck.database_url(Path::new("/p")).is_none());
    }
}
