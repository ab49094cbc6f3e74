//! The URLs of database connections: their parts decoded (a password may hold `:` or `@`
//! written as `%3A`, `%40`), SQLite's file paths resolved against the project, and the
//! password kept out of every message.

use std::path::{Path, PathBuf};

/// Why a connection URL cannot be read; never quotes the URL, which may hold a password.
#[derive(Debug, thiserror::Error)]
pub(super) enum UrlError {
    #[error("{0}")]
    NotAUrl(url::ParseError),
    #[error("it names no host")]
    NoHost,
    #[error("it names no user")]
    NoUser,
}

/// Host, port, user, password and database of a `postgres://` or `mysql://` URL, decoded.
#[derive(Debug, PartialEq)]
pub(super) struct UrlParts {
    pub(super) host: String,
    pub(super) port: Option<u16>,
    pub(super) user: String,
    pub(super) password: Option<String>,
    pub(super) database: Option<String>,
    pub(super) params: Vec<(String, String)>,
}

impl UrlParts {
    /// The error never quotes the URL.
    pub(super) fn parse(url: &str) -> Result<UrlParts, UrlError> {
        let u = url::Url::parse(url).map_err(UrlError::NotAUrl)?;
        let host = u
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
            .filter(|h| !h.is_empty())
            .ok_or(UrlError::NoHost)?;
        let user = percent_decode(u.username());
        if user.is_empty() {
            return Err(UrlError::NoUser);
        }
        let database = u
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .filter(|d| !d.is_empty())
            .map(percent_decode);
        Ok(UrlParts {
            host,
            port: u.port(),
            user,
            password: u.password().map(percent_decode),
            database,
            params: u.query_pairs().map(|(k, v)| (k.into(), v.into())).collect(),
        })
    }

    pub(super) fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// `sslmode=` (or MySQL's `ssl-mode=`).
    pub(super) fn sslmode(&self) -> Option<&str> {
        self.param("sslmode").or_else(|| self.param("ssl-mode"))
    }
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The file of a `sqlite://` URL: `sqlite:///abs/x.db` or `sqlite://rel/x.db` (relative to
/// the project folder), query string dropped.
pub(super) fn sqlite_path(url: &str, root: &Path) -> PathBuf {
    let rest = url.split_once(':').map(|(_, r)| r).unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let rest = rest.split('?').next().unwrap_or(rest);
    let path = Path::new(rest);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    }
}

/// `message` with the password of `url` (as written and decoded) replaced by `****`.
pub(crate) fn redact(message: &str, url: &str) -> String {
    let mut out = message.to_string();
    if let Ok(u) = url::Url::parse(url)
        && let Some(p) = u.password().filter(|p| !p.is_empty())
    {
        out = out.replace(p, "****");
        let decoded = percent_decode(p);
        if !decoded.is_empty() {
            out = out.replace(&decoded, "****");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_resolve_against_the_project() {
        let root = Path::new("/proj");
        assert_eq!(
            sqlite_path("sqlite://data/shop.db", root),
            PathBuf::from("/proj/data/shop.db")
        );
        assert_eq!(
            sqlite_path("sqlite:///srv/shop.db?mode=ro", root),
            PathBuf::from("/srv/shop.db")
        );
        assert_eq!(
            sqlite_path("sqlite:shop.db", root),
            PathBuf::from("/proj/shop.db")
        );
    }
}
