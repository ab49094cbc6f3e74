//! Object-storage connections: an entry of lakeforge.yml's `connections:` with `type: s3` or
//! `type: azure` holds the settings of an S3-compatible or Azure Blob store (endpoint, region,
//! credentials...), named by file sources (`external: {connection: ...}`) and file exports
//! (`{type: parquet, path: s3://..., connection: ...}`). Its values never reach a message:
//! `Debug` hides them, and [`StorageConnection::secrets`] lists what callers must redact.

use std::collections::BTreeMap;
use std::fmt;

/// Which kind of object store a connection or URL addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// S3 and S3-compatible stores (`s3://`, `s3a://`).
    S3,
    /// Azure Blob Storage and Azurite (`az://`, `azure://`, `abfs://`, `abfss://`, `adl://`).
    Azure,
}

impl StorageKind {
    /// The store a URL lives in, or None for a local path or another scheme.
    pub fn of_url(url: &str) -> Option<StorageKind> {
        let scheme = url.split_once("://")?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "s3" | "s3a" => Some(StorageKind::S3),
            "az" | "azure" | "abfs" | "abfss" | "adl" => Some(StorageKind::Azure),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            StorageKind::S3 => "s3",
            StorageKind::Azure => "azure",
        }
    }
}

/// A named object-storage connection; `options` are object_store's configuration keys
/// (`endpoint`, `region`, `access_key_id`, `secret_access_key`, `allow_http`; `account_name`,
/// `access_key`, `use_emulator`, `connection_string`, `sas_token`...).
#[derive(Clone, PartialEq)]
pub struct StorageConnection {
    pub name: String,
    pub kind: StorageKind,
    pub options: BTreeMap<String, String>,
}

impl fmt::Debug for StorageConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageConnection")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Whether the value of option `key` is a credential (never shown).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "secret",
        "key",
        "token",
        "password",
        "connection_string",
        "sas",
    ]
    .iter()
    .any(|s| k.contains(s))
}

impl StorageConnection {
    /// The values to redact from any message that may quote them.
    pub fn secrets(&self) -> Vec<String> {
        self.options
            .iter()
            .filter(|(k, v)| is_secret_key(k) && v.len() >= 4)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Why a `connections:` entry of lakeforge.yml is not an object store; the loader adds the
/// file and an example.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageConnectionError {
    #[error("connection `{0}` needs `url:` (a database) or `type:` (s3 or azure, an object store)")]
    NoKind(String),

    #[error("connection `{name}`: `{key}` must be a string, a number or true/false")]
    NotScalar { name: String, key: String },
}

/// Read a `connections:` entry that is a mapping with `type: s3` or `type: azure`; None when
/// its type is something else (a database connection).
pub fn parse_connection(
    name: &str,
    entry: &BTreeMap<String, serde_yaml::Value>,
) -> Result<Option<StorageConnection>, StorageConnectionError> {
    let kind = match entry.get("type").and_then(|v| v.as_str()) {
        Some("s3") => StorageKind::S3,
        Some("azure" | "az" | "abfs") => StorageKind::Azure,
        Some(_) => return Ok(None),
        None => {
            return Err(StorageConnectionError::NoKind(name.to_string()));
        }
    };
    let mut options = BTreeMap::new();
    for (k, v) in entry {
        if k == "type" {
            continue;
        }
        let text = match v {
            serde_yaml::Value::String(s) => s.clone(),
            serde_yaml::Value::Bool(b) => b.to_string(),
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::Null => continue,
            _ => {
                return Err(StorageConnectionError::NotScalar {
                    name: name.to_string(),
                    key: k.clone(),
                });
            }
        };
        options.insert(k.clone(), text);
    }
    Ok(Some(StorageConnection {
        name: name.to_string(),
        kind,
        options,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_urls_and_hidden_secrets() {
        assert_eq!(
            StorageKind::of_url("s3://b/x/*.parquet"),
            Some(StorageKind::S3)
        );
        assert_eq!(
            StorageKind::of_url("abfss://c@a.dfs.core.windows.net/x"),
            Some(StorageKind::Azure)
        );
        assert_eq!(StorageKind::of_url("az://c/x"), Some(StorageKind::Azure));
        assert_eq!(StorageKind::of_url("/data/x.csv"), None);
        let entry: BTreeMap<String, serde_yaml::Value> = serde_yaml::from_str(
            "{type: s3, endpoint: 'http://127.0.0.1:9000', secret_access_key: hunter22, allow_http: true}",
        )
        .unwrap();
        let c = parse_connection("minio", &entry).unwrap().unwrap();
        assert_eq!(c.kind, StorageKind::S3);
        assert_eq!(c.options["allow_http"], "true");
        assert_eq!(c.secrets(), vec!["hunter22".to_string()]);
        assert!(!format!("{c:?}").contains("hunter22"));
        let entry: BTreeMap<String, serde_yaml::Value> =
            serde_yaml::from_str("{endpoint: x}").unwrap();
        assert!(
            parse_connection("m", &entry)
                .unwrap_err()
                .to_string()
                .contains("needs `url:`")
        );
    }
}
