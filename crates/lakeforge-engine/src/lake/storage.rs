//! Object storage for file sources and file exports: `s3://bucket/...` (S3 and S3-compatible
//! servers) and `az://container/...` / `abfs[s]://...` (Azure Blob Storage, Azurite). The store
//! of a URL's bucket or container is built from the environment (`AWS_*`, `AZURE_*`,
//! `AZURE_STORAGE_CONNECTION_STRING`) overlaid with the settings of a named lakeforge.yml
//! connection (`type: s3` / `type: azure`), and registered in the session's runtime env, where
//! DataFusion's listing tables and writers find it. Building a store does no I/O. The runtime
//! env keeps one store per bucket, so within a session a bucket is reached through one
//! connection (or the environment); naming two for the same bucket is an error.
//!
//! Credentials never reach a message: every value that is a credential (from a connection or
//! from the environment) is remembered, and [`redact`] blanks them out of any error text.

use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};

use datafusion::execution::runtime_env::RuntimeEnv;
use lakeforge_project::storage::{StorageConnection, StorageKind, is_secret_key};
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use url::Url;

/// Why a store could not be built or reached from its settings. Every message names the
/// connection at fault (or the environment's variables), and credentials never appear in it.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "connection `{name}` is not an object-storage connection of lakeforge.yml (it has: {})\nhint: add `{name}: {{type: s3, endpoint: ..., region: ...}}` (or `type: azure`) under `connections:` in lakeforge.yml",
        if known.is_empty() { "none".to_string() } else { known.join(", ") }
    )]
    UnknownConnection { name: String, known: Vec<String> },

    #[error(
        "connection `{connection}` is of type {}, but `{location}` is in {} storage\nhint: name a `type: {}` connection, or none to use the {} variables",
        have.as_str(),
        want.as_str(),
        want.as_str(),
        if *want == StorageKind::S3 { "AWS_*" } else { "AZURE_*" }
    )]
    WrongKind {
        connection: String,
        have: StorageKind,
        want: StorageKind,
        location: String,
    },

    /// `who` is `connection `name`` or `the environment`.
    #[error(
        "{who}: `{key}` is not an {} setting\nhint: use {}",
        if *kind == StorageKind::S3 { "S3" } else { "Azure" },
        if *kind == StorageKind::S3 {
            "endpoint, region, access_key_id, secret_access_key, session_token, allow_http, virtual_hosted_style_request, skip_signature"
        } else {
            "account_name, access_key, connection_string, sas_token, endpoint, use_emulator, allow_http"
        }
    )]
    UnknownSetting {
        who: String,
        key: String,
        kind: StorageKind,
    },

    /// The store's builder refused the settings.
    #[error("{}", redact(&format!("{who}: {source}")))]
    Build {
        who: String,
        #[source]
        source: object_store::Error,
    },

    #[error("`{location}` is not an s3:// or az:// location")]
    NotObjectStorage { location: String },

    #[error("`{location}` is not a URL: {source}")]
    NotAUrl {
        location: String,
        #[source]
        source: url::ParseError,
    },

    #[error(
        "{bucket} is already reached through {used} in this run, and one bucket has one connection\nhint: name the same `connection:` for every source and export in {bucket}"
    )]
    OneConnectionPerBucket { bucket: String, used: String },

    #[error("{0}")]
    Registry(#[source] datafusion::error::DataFusionError),
}

impl StorageError {
    /// Whether the message starts by naming a connection of lakeforge.yml (so a caller need
    /// not say where the failing location is).
    pub(crate) fn names_connection(&self) -> bool {
        match self {
            StorageError::UnknownConnection { .. } | StorageError::WrongKind { .. } => true,
            StorageError::UnknownSetting { who, .. } | StorageError::Build { who, .. } => {
                who.starts_with("connection `")
            }
            _ => false,
        }
    }
}

/// lakeforge.yml's object-storage connections, by name, and the buckets registered so far in
/// the session (with the connection each is reached through).
#[derive(Debug, Default)]
pub(crate) struct Storage {
    pub connections: BTreeMap<String, StorageConnection>,
    registered: Mutex<HashMap<String, Option<String>>>,
}

pub(crate) type Connections = Arc<Storage>;

impl Storage {
    pub(crate) fn new(connections: BTreeMap<String, StorageConnection>) -> Storage {
        Storage {
            connections,
            registered: Mutex::default(),
        }
    }

    /// Make `location`'s bucket reachable in `runtime` through connection `connection` (None:
    /// the environment's settings), unless it already is; returns its store.
    pub(crate) fn register(
        &self,
        runtime: &RuntimeEnv,
        location: &str,
        connection: Option<&str>,
    ) -> Result<Arc<dyn ObjectStore>, StorageError> {
        let settings = match connection {
            Some(c) => Some(self::connection(&self.connections, c)?),
            None => None,
        };
        let url = Url::parse(location).map_err(|e| StorageError::NotAUrl {
            location: location.to_string(),
            source: e,
        })?;
        let bucket = format!(
            "{}://{}",
            url.scheme(),
            &url[url::Position::BeforeHost..url::Position::AfterPort]
        );
        let mut registered = self.registered.lock();
        let name = |c: &Option<String>| match c {
            Some(c) => format!("connection `{c}`"),
            None => "the environment's settings (no `connection:`)".to_string(),
        };
        let wanted = connection.map(String::from);
        match registered.get(&bucket) {
            Some(used) if *used == wanted => {
                let key = datafusion::execution::object_store::ObjectStoreUrl::parse(&bucket)
                    .map_err(StorageError::Registry)?;
                if let Ok(store) = runtime.object_store(key) {
                    return Ok(store);
                }
            }
            Some(used) => {
                return Err(StorageError::OneConnectionPerBucket {
                    bucket,
                    used: name(used),
                });
            }
            None => {}
        }
        let store = build(location, settings)?;
        runtime.register_object_store(&url, store.clone());
        registered.insert(bucket, wanted);
        Ok(store)
    }
}

/// Azurite's well-known account and key (public: they are in Azure's documentation).
const EMULATOR_ACCOUNT: &str = "devstoreaccount1";
const EMULATOR_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

static SECRETS: LazyLock<RwLock<Vec<String>>> = LazyLock::new(|| RwLock::new(Vec::new()));

fn remember(secret: &str) {
    if secret.len() < 4 {
        return;
    }
    let mut s = SECRETS.write();
    if !s.iter().any(|x| x == secret) {
        s.push(secret.to_string());
        // Longest first, so a secret containing another is blanked whole.
        s.sort_by_key(|x| std::cmp::Reverse(x.len()));
    }
}

/// `text` with every known credential replaced by `****`: those of connections used so far
/// and those in `AWS_*` / `AZURE_*` variables.
pub fn redact(text: &str) -> String {
    for (k, v) in std::env::vars_os() {
        if let (Some(k), Some(v)) = (k.to_str(), v.to_str())
            && (k.starts_with("AWS_") || k.starts_with("AZURE_"))
            && is_secret_key(k)
        {
            remember(v);
        }
    }
    let mut out = text.to_string();
    for s in SECRETS.read().iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "****");
        }
    }
    out
}

/// The connection `name` of `connections`, or an error listing the known ones.
pub(crate) fn connection<'a>(
    connections: &'a BTreeMap<String, StorageConnection>,
    name: &str,
) -> Result<&'a StorageConnection, StorageError> {
    connections
        .get(name)
        .ok_or_else(|| StorageError::UnknownConnection {
            name: name.to_string(),
            known: connections.keys().cloned().collect(),
        })
}

/// The store holding `location` (an `s3://` or Azure URL).
pub(crate) fn build(
    location: &str,
    connection: Option<&StorageConnection>,
) -> Result<Arc<dyn ObjectStore>, StorageError> {
    let kind = StorageKind::of_url(location).ok_or_else(|| StorageError::NotObjectStorage {
        location: location.to_string(),
    })?;
    if let Some(c) = connection {
        if c.kind != kind {
            return Err(StorageError::WrongKind {
                connection: c.name.clone(),
                have: c.kind,
                want: kind,
                location: location.to_string(),
            });
        }
        for s in c.secrets() {
            remember(&s);
        }
    }
    let options: Vec<(String, String)> = connection
        .map(|c| {
            c.options
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let who = connection
        .map(|c| format!("connection `{}`", c.name))
        .unwrap_or_else(|| "the environment".into());
    let store: Arc<dyn ObjectStore> = match kind {
        StorageKind::S3 => Arc::new(s3(location, &options, &who)?),
        StorageKind::Azure => Arc::new(azure(location, &options, &who)?),
    };
    Ok(store)
}

fn s3(
    location: &str,
    options: &[(String, String)],
    who: &str,
) -> Result<object_store::aws::AmazonS3, StorageError> {
    let mut b = AmazonS3Builder::from_env();
    for (k, v) in options {
        let key: AmazonS3ConfigKey = k.parse().map_err(|_| StorageError::UnknownSetting {
            who: who.to_string(),
            key: k.clone(),
            kind: StorageKind::S3,
        })?;
        b = b.with_config(key, v);
    }
    if b.get_config_value(&AmazonS3ConfigKey::Region).is_none() {
        b = b.with_region("us-east-1");
    }
    if b.get_config_value(&AmazonS3ConfigKey::Endpoint)
        .is_some_and(|e| e.starts_with("http://"))
    {
        b = b.with_allow_http(true);
    }
    b.with_url(location)
        .build()
        .map_err(|e| StorageError::Build {
            who: who.to_string(),
            source: e,
        })
}

fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on")
}

/// An Azure connection string's parts as object_store settings.
fn connection_string(text: &str) -> Vec<(String, String)> {
    remember(text);
    let mut out = Vec::new();
    let mut parts = BTreeMap::new();
    for part in text.split(';') {
        if let Some((k, v)) = part.split_once('=') {
            parts.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    for (from, to) in [
        ("accountname", "account_name"),
        ("accountkey", "access_key"),
        ("blobendpoint", "endpoint"),
        ("sharedaccesssignature", "sas_token"),
    ] {
        if let Some(v) = parts.get(from) {
            out.push((to.to_string(), v.clone()));
        }
    }
    if parts
        .get("usedevelopmentstorage")
        .is_some_and(|v| truthy(v))
    {
        out.push(("use_emulator".into(), "true".into()));
    }
    if !parts.contains_key("blobendpoint")
        && let (Some(account), Some(suffix)) =
            (parts.get("accountname"), parts.get("endpointsuffix"))
    {
        let proto = parts
            .get("defaultendpointsprotocol")
            .map(String::as_str)
            .unwrap_or("https");
        out.push((
            "endpoint".into(),
            format!("{proto}://{account}.blob.{suffix}"),
        ));
    }
    for (k, v) in &out {
        if is_secret_key(k) {
            remember(v);
        }
    }
    out
}

fn azure(
    location: &str,
    options: &[(String, String)],
    who: &str,
) -> Result<object_store::azure::MicrosoftAzure, StorageError> {
    let mut b = MicrosoftAzureBuilder::from_env();
    let mut settings = Vec::new();
    if let Ok(cs) = std::env::var("AZURE_STORAGE_CONNECTION_STRING") {
        settings.extend(connection_string(&cs));
    }
    for (k, v) in options {
        if k == "connection_string" {
            settings.extend(connection_string(v));
        } else {
            settings.push((k.clone(), v.clone()));
        }
    }
    for (k, v) in settings {
        let key: AzureConfigKey = k.parse().map_err(|_| StorageError::UnknownSetting {
            who: who.to_string(),
            key: k.clone(),
            kind: StorageKind::Azure,
        })?;
        b = b.with_config(key, v);
    }
    let emulator = b
        .get_config_value(&AzureConfigKey::UseEmulator)
        .is_some_and(|v| truthy(&v));
    if let Some(endpoint) = b.get_config_value(&AzureConfigKey::Endpoint) {
        if emulator {
            // Azurite at an address of its own: its path-style account URL, with the
            // emulator's account and key unless others are given.
            let account = b
                .get_config_value(&AzureConfigKey::AccountName)
                .unwrap_or_else(|| EMULATOR_ACCOUNT.to_string());
            if b.get_config_value(&AzureConfigKey::AccessKey).is_none() {
                b = b.with_access_key(EMULATOR_KEY);
            }
            let endpoint = match Url::parse(&endpoint) {
                Ok(u) if u.path().trim_matches('/').is_empty() => {
                    format!("{}/{account}", endpoint.trim_end_matches('/'))
                }
                _ => endpoint.clone(),
            };
            b = b
                .with_use_emulator(false)
                .with_account(account)
                .with_endpoint(endpoint);
        }
        if b.get_config_value(&AzureConfigKey::Endpoint)
            .is_some_and(|e| e.starts_with("http://"))
        {
            b = b.with_allow_http(true);
        }
    }
    b.with_url(location)
        .build()
        .map_err(|e| StorageError::Build {
            who: who.to_string(),
            source: e,
        })
}

/// A hint for an object-storage failure's message, when its cause is recognisable.
pub(crate) fn hint(message: &str, location: &str, connection: Option<&str>) -> Option<String> {
    let creds = match (StorageKind::of_url(location), connection) {
        (_, Some(c)) => format!("the credentials of connection `{c}` in lakeforge.yml"),
        (Some(StorageKind::Azure), None) => {
            "AZURE_STORAGE_ACCOUNT_NAME / AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_CONNECTION_STRING)".into()
        }
        _ => "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY".into(),
    };
    let m = message;
    if m.contains("NoSuchBucket")
        || m.contains("ContainerNotFound")
        || m.contains("specified container does not exist")
        || m.contains("specified bucket does not exist")
    {
        Some("the bucket or container does not exist: create it, or fix the location".into())
    } else if [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AuthenticationFailed",
        "AuthorizationFailure",
        "AccessDenied",
        "Forbidden",
        "403",
    ]
    .iter()
    .any(|s| m.contains(s))
    {
        Some(format!("the store refused the credentials: check {creds}"))
    } else if m.contains("error sending request")
        || m.contains("Connection refused")
        || m.contains("tcp connect")
    {
        Some("the store could not be reached: check the endpoint (AWS_ENDPOINT_URL, or `endpoint:` of the connection)".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_become_settings_and_their_secrets_are_redacted() {
        let s = connection_string(
            "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=c2VjcmV0a2V5PT0=;BlobEndpoint=http://127.0.0.1:10000/acct;",
        );
        assert!(s.contains(&("account_name".into(), "acct".into())));
        assert!(s.contains(&("access_key".into(), "c2VjcmV0a2V5PT0=".into())));
        assert!(s.contains(&("endpoint".into(), "http://127.0.0.1:10000/acct".into())));
        assert_eq!(redact("denied for c2VjcmV0a2V5PT0="), "denied for ****");
    }

    #[test]
    fn stores_build_without_io_and_bad_settings_name_the_connection() {
        let mut c = StorageConnection {
            name: "minio".into(),
            kind: StorageKind::S3,
            options: [
                ("endpoint".to_string(), "http://127.0.0.1:9".to_string()),
                ("secret_access_key".to_string(), "very-secret-1".to_string()),
                ("access_key_id".to_string(), "id".to_string()),
            ]
            .into(),
        };
        build("s3://bucket/x/*.parquet", Some(&c)).unwrap();
        c.options.insert("colour".into(), "blue".into());
        let e = build("s3://bucket/x", Some(&c)).err().unwrap().to_string();
        assert!(
            e.starts_with("connection `minio`: `colour` is not an S3 setting\nhint: "),
            "{e}"
        );
        let e = build("az://c/x", Some(&c)).err().unwrap().to_string();
        assert!(e.contains("connection `minio` is of type s3"), "{e}");
        assert_eq!(redact("key very-secret-1 rejected"), "key **** rejected");
        let az = StorageConnection {
            name: "blob".into(),
            kind: StorageKind::Azure,
            options: [
                ("use_emulator".to_string(), "true".to_string()),
                ("endpoint".to_string(), "http://127.0.0.1:10999".to_string()),
            ]
            .into(),
        };
        build("az://container/x.parquet", Some(&az)).unwrap();
    }
}
