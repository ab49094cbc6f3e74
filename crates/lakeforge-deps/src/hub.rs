//! The dbt package hub, through the JSON API dbt-core reads: `GET {hub}api/v1/{org}/{name}.json`
//! lists a package's versions, each with the project `name` it installs as, the tarball to
//! download, the packages it depends on and the dbt versions it works with
//! (`require_dbt_version`). The hub URL is configurable so that a mirror serving the same
//! files works; each package's index is fetched once per run.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use lakeforge_project::packages::{PackageSpec, Version, VersionRange, parse_entry};
use serde_json::Value as Json;
use url::Url;

use crate::error::{DepsError, Result};
use crate::fetch::{self, FetchError};

/// dbt Labs' hub; `DBT_PACKAGE_HUB_URL` or `--hub-url` point elsewhere.
pub const DEFAULT_HUB_URL: &str = "https://hub.getdbt.com/";

/// The dbt-core version Lakeforge stands in for when a hub version says which dbt versions it
/// works with (`require_dbt_version`).
pub const DBT_VERSION: &str = "1.10.0";

pub(crate) struct Hub {
    base: Url,
    client: reqwest::Client,
    cache: HashMap<String, Arc<HubPackage>>,
}

/// A package's index on the hub.
#[derive(Debug)]
pub(crate) struct HubPackage {
    pub package: String,
    /// Where the index was read from (for messages).
    pub url: String,
    /// Sorted from oldest to newest.
    pub versions: Vec<HubVersion>,
}

#[derive(Debug)]
pub(crate) struct HubVersion {
    pub version: Version,
    /// The version as the index spells it (what the lock records).
    pub text: String,
    /// The `name:` of the package's dbt_project.yml: its folder once installed.
    pub name: String,
    pub tarball: Url,
    /// The version's own package entries, as the index lists them.
    dependencies: Vec<Json>,
    require_dbt_version: Vec<String>,
}

impl HubVersion {
    /// Whether this version declares it works with the dbt version Lakeforge stands in for
    /// (a requirement Lakeforge cannot read does not exclude it).
    pub fn works_with_dbt(&self) -> bool {
        // DBT_VERSION is a version (a test says so); were it not, nothing would be excluded.
        let Ok(dbt) = Version::parse(DBT_VERSION) else {
            return true;
        };
        let parts = self
            .require_dbt_version
            .iter()
            .flat_map(|r| r.split(','))
            .map(str::trim)
            .filter(|r| !r.is_empty());
        match VersionRange::parse_all(parts) {
            Ok(Some(range)) => range.contains(&dbt),
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// The packages this version depends on, as package entries.
    pub fn dependencies(&self, hub: &HubPackage) -> Result<Vec<PackageSpec>> {
        let label = format!("{}@{}", hub.package, self.text);
        self.dependencies
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let yaml: serde_yaml::Value =
                    serde_yaml::to_value(entry).map_err(|e| DepsError::HubInvalid {
                        package: hub.package.clone(),
                        url: hub.url.clone(),
                        message: format!("packages[{i}] of {}: {e}", self.text),
                    })?;
                Ok(parse_entry(
                    Path::new(&hub.url),
                    &format!("{label}, packages[{i}]"),
                    &yaml,
                )?)
            })
            .collect()
    }
}

impl HubPackage {
    /// The version spelled `text` (compared as versions: `1.0.0` finds `1.0.0+build`).
    pub fn version(&self, text: &str) -> Option<&HubVersion> {
        let wanted = Version::parse(text).ok()?;
        self.versions.iter().rev().find(|v| v.version == wanted)
    }

    /// The versions a resolution may choose, oldest first: those that work with this dbt
    /// version (unless `version_check` is off), and prereleases only when allowed.
    pub fn installable(&self, prerelease: bool, version_check: bool) -> Vec<&HubVersion> {
        self.versions
            .iter()
            .filter(|v| prerelease || !v.version.is_prerelease())
            .filter(|v| !version_check || v.works_with_dbt())
            .collect()
    }
}

impl Hub {
    pub fn new(base: &str, client: reqwest::Client) -> Result<Hub> {
        let with_slash = if base.ends_with('/') {
            base.to_string()
        } else {
            format!("{base}/")
        };
        let base_url = Url::parse(&with_slash).map_err(|e| DepsError::HubUrl {
            url: base.to_string(),
            message: e.to_string(),
        })?;
        if !matches!(base_url.scheme(), "http" | "https") {
            return Err(DepsError::HubUrl {
                url: base.to_string(),
                message: "only http:// and https:// URLs are served".into(),
            });
        }
        Ok(Hub {
            base: base_url,
            client,
            cache: HashMap::new(),
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn package_url(&self, package: &str) -> Result<Url> {
        self.base
            .join(&format!("api/v1/{package}.json"))
            .map_err(|e| DepsError::HubUrl {
                url: self.base.to_string(),
                message: e.to_string(),
            })
    }

    /// The index of `package` (`org/name`), fetched once per run.
    pub async fn package(&mut self, package: &str) -> Result<Arc<HubPackage>> {
        if let Some(p) = self.cache.get(package) {
            return Ok(p.clone());
        }
        let url = self.package_url(package)?;
        let body = fetch::get(&self.client, &url).await.map_err(|e| match e {
            FetchError::Unreachable(source) | FetchError::Body(source) => {
                DepsError::HubUnreachable {
                    package: package.to_string(),
                    url: url.to_string(),
                    source,
                }
            }
            FetchError::Status(404) => DepsError::PackageNotFound {
                package: package.to_string(),
                url: url.to_string(),
            },
            FetchError::Status(status) => DepsError::HubStatus {
                package: package.to_string(),
                url: url.to_string(),
                status,
            },
            FetchError::Io(source) => DepsError::io("read", url.as_str(), source),
        })?;
        let parsed = Arc::new(parse_index(package, &url, &body)?);
        self.cache.insert(package.to_string(), parsed.clone());
        Ok(parsed)
    }
}

/// A package's index as the hub serves it: `{"name": ..., "versions": {"1.0.0": {"name": ...,
/// "packages": [...], "downloads": {"tarball": ...}, "require_dbt_version": [...]}}}`.
fn parse_index(package: &str, url: &Url, body: &[u8]) -> Result<HubPackage> {
    let invalid = |message: String| DepsError::HubInvalid {
        package: package.to_string(),
        url: url.to_string(),
        message,
    };
    let doc: Json = serde_json::from_slice(body).map_err(|e| invalid(format!("not JSON ({e})")))?;
    let versions = doc
        .get("versions")
        .and_then(Json::as_object)
        .ok_or_else(|| invalid("it has no `versions` object".into()))?;
    let mut out = Vec::new();
    for (text, entry) in versions {
        // A version the hub spells in a way semver cannot read is not one dbt can install.
        let Ok(version) = Version::parse(text) else {
            continue;
        };
        let name = entry
            .get("name")
            .and_then(Json::as_str)
            .ok_or_else(|| invalid(format!("version {text} has no `name`")))?;
        let tarball = entry
            .pointer("/downloads/tarball")
            .and_then(Json::as_str)
            .ok_or_else(|| invalid(format!("version {text} has no `downloads.tarball`")))?;
        let tarball = url
            .join(tarball)
            .map_err(|e| invalid(format!("version {text}: tarball URL `{tarball}`: {e}")))?;
        let dependencies = match entry.get("packages") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(items)) => items.clone(),
            Some(_) => return Err(invalid(format!("version {text}: `packages` is not a list"))),
        };
        let require_dbt_version = match entry.get("require_dbt_version") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::String(s)) => vec![s.clone()],
            Some(Json::Array(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            Some(_) => Vec::new(),
        };
        out.push(HubVersion {
            version,
            text: text.clone(),
            name: name.to_string(),
            tarball,
            dependencies,
            require_dbt_version,
        });
    }
    out.sort_by(|a, b| a.version.cmp(&b.version));
    Ok(HubPackage {
        package: package.to_string(),
        url: url.to_string(),
        versions: out,
    })
}

#[cfg(test)]
impl Hub {
    /// A hub whose indexes are already read (from `(package, JSON)` pairs): resolution runs
    /// without a server, and asking for any other package fails as an unreachable hub does.
    pub(crate) fn preloaded(indexes: &[(&str, &str)]) -> Hub {
        let mut hub = Hub::new("http://127.0.0.1:9/", fetch::client().unwrap()).unwrap();
        for (package, json) in indexes {
            let url = hub.package_url(package).unwrap();
            let parsed = parse_index(package, &url, json.as_bytes()).unwrap();
            hub.cache.insert(package.to_string(), Arc::new(parsed));
        }
        hub
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(json: &str) -> Result<HubPackage> {
        let url = Url::parse("http://hub.test/api/v1/org/pkg.json").unwrap();
        parse_index("org/pkg", &url, json.as_bytes())
    }

    #[test]
    fn the_dbt_version_stood_in_for_is_a_version() {
        assert!(Version::parse(DBT_VERSION).is_ok());
    }

    #[test]
    fn reads_a_hub_index() {
        let p = index(
            r#"{"name": "pkg", "namespace": "org", "versions": {
                "1.1.0": {"name": "pkg", "packages": [{"package": "org/base", "version": [">=0.2.0", "<0.3.0"]}],
                          "downloads": {"tarball": "https://codeload.example/org/pkg/tar.gz/1.1.0"},
                          "require_dbt_version": [">=1.3.0", "<2.0.0"]},
                "1.0.0": {"name": "pkg", "packages": [], "downloads": {"tarball": "/files/pkg-1.0.0.tgz"}},
                "2.0.0-b1": {"name": "pkg", "packages": [], "downloads": {"tarball": "x.tgz"}},
                "3.0.0": {"name": "pkg", "packages": [], "downloads": {"tarball": "y.tgz"}, "require_dbt_version": ">=2.0.0"},
                "latest": {"name": "pkg", "packages": [], "downloads": {"tarball": "z.tgz"}}
            }}"#,
        )
        .unwrap();
        let texts: Vec<&str> = p.versions.iter().map(|v| v.text.as_str()).collect();
        assert_eq!(texts, ["1.0.0", "1.1.0", "2.0.0-b1", "3.0.0"]);
        assert_eq!(
            p.version("1.0.0").unwrap().tarball.as_str(),
            "http://hub.test/files/pkg-1.0.0.tgz"
        );
        let installable: Vec<&str> = p
            .installable(false, true)
            .iter()
            .map(|v| v.text.as_str())
            .collect();
        assert_eq!(installable, ["1.0.0", "1.1.0"]);
        assert_eq!(p.installable(true, false).len(), 4);
        let deps = p.version("1.1.0").unwrap().dependencies(&p).unwrap();
        assert_eq!(deps[0].describe(), "hub package org/base");
        assert_eq!(deps[0].origin, "org/pkg@1.1.0, packages[0]");
    }

    #[test]
    fn refuses_what_is_not_a_hub_index() {
        let e = index("<html>").unwrap_err().to_string();
        assert!(
            e.contains("not JSON") && e.contains("http://hub.test/api/v1/org/pkg.json"),
            "{e}"
        );
        let e = index(r#"{"name": "pkg"}"#).unwrap_err().to_string();
        assert!(e.contains("no `versions` object"), "{e}");
        let e = index(r#"{"versions": {"1.0.0": {"name": "pkg"}}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("version 1.0.0 has no `downloads.tarball`"),
            "{e}"
        );
    }

    #[test]
    fn hub_urls_take_a_trailing_slash() {
        let hub = Hub::new("http://127.0.0.1:9/mirror", fetch::client().unwrap()).unwrap();
        assert_eq!(
            hub.package_url("dbt-labs/dbt_utils").unwrap().as_str(),
            "http://127.0.0.1:9/mirror/api/v1/dbt-labs/dbt_utils.json"
        );
        assert!(Hub::new("ftp://x/", fetch::client().unwrap()).is_err());
        assert!(Hub::new("not a url", fetch::client().unwrap()).is_err());
    }
}
