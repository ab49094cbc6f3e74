//! What a `metadata:` string names: a SQLite file (a path or `sqlite://PATH`) or a PostgreSQL
//! database (`postgres://` or `postgresql://`). URLs are shown with their password hidden,
//! in messages and errors alike.

use std::path::PathBuf;
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;

use crate::{MetaError, Result};

/// Where a metadata store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file, created when missing.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (it may hold a password: show it with [`Location::redacted`]).
    Postgres(String),
}

impl Location {
    pub fn parse(s: &str) -> Result<Location> {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(Location::Postgres(s.to_string()));
        }
        if lower.starts_with("sqlite:") {
            // sqlx's parser decodes `%`-escapes; query parameters are not used.
            let opts =
                SqliteConnectOptions::from_str(s).map_err(|_| MetaError::UnsupportedLocation {
                    location: s.to_string(),
                })?;
            return Ok(Location::Sqlite(opts.get_filename().to_path_buf()));
        }
        if s.contains("://") || s.is_empty() {
            return Err(MetaError::UnsupportedLocation {
                location: redact(s),
            });
        }
        Ok(Location::Sqlite(PathBuf::from(s)))
    }

    /// The location as it may be shown: a path, or a URL with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(url) => redact(url),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `url` with the password (in the user part or a `password=` parameter) replaced by `***`.
/// Text that is not a URL is returned unchanged; a URL that cannot be parsed but may hold a
/// password shows only its scheme.
pub fn redact(url: &str) -> String {
    let Some((scheme, _)) = url.split_once("://") else {
        return url.to_string();
    };
    let Ok(mut parsed) = url::Url::parse(url) else {
        return format!("{scheme}://***");
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    "***".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// `text` (an error message about `url`) with the URL's password replaced by `***`, should a
/// driver have echoed it.
pub fn scrub(url: &str, text: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return text.to_string();
    };
    let mut secrets: Vec<String> = parsed
        .query_pairs()
        .filter(|(k, _)| k == "password")
        .map(|(_, v)| v.into_owned())
        .collect();
    if let Some(p) = parsed.password() {
        secrets.push(p.to_string());
        // The URL holds it %-escaped; the driver (and its messages) see it decoded.
        let decoded: String = url::form_urlencoded::parse(format!("p={p}").as_bytes())
            .map(|(_, v)| v.into_owned())
            .collect();
        secrets.push(decoded);
    }
    let mut text = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(s.as_str(), "***");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_and_urls() {
        assert_eq!(
            Location::parse("lake/_lakeforge.db").unwrap(),
            Location::Sqlite("lake/_lakeforge.db".into())
        );
        assert_eq!(
            Location::parse("sqlite:///tmp/x/meta.db").unwrap(),
            Location::Sqlite("/tmp/x/meta.db".into())
        );
        assert_eq!(
            Location::parse("sqlite://rel/meta.db?mode=rwc").unwrap(),
            Location::Sqlite("rel/meta.db".into())
        );
        assert!(matches!(
            Location::parse("postgres://u@h/db").unwrap(),
            Location::Postgres(_)
        ));
        assert!(matches!(
            Location::parse("PostgreSQL://u@h/db").unwrap(),
            Location::Postgres(_)
        ));
        let err = Location::parse("mysql://root:hunter2@h/db")
            .unwrap_err()
            .to_string();
        assert!(err.contains("Unsupported"), "{err}");
        assert!(err.contains("hint:"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("postgres://lf:s3cret@db.example:5432/meta"),
            "postgres://lf:***@db.example:5432/meta"
        );
        assert_eq!(
            redact("postgres://lf@db/meta?password=s3cret&sslmode=require"),
            "postgres://lf@db/meta?password=***&sslmode=require"
        );
        assert_eq!(redact("postgres://lf@db/meta"), "postgres://lf@db/meta");
        assert_eq!(
            redact("postgres://lf:s3cret@db:notaport/x"),
            "postgres://***"
        );
        assert_eq!(redact("lake/_lakeforge.db"), "lake/_lakeforge.db");
        assert_eq!(
            scrub(
                "postgres://lf:p%40ss@db/meta",
                "login failed with p@ss and p%40ss"
            ),
            "login failed with *** and ***"
        );
    }
}
