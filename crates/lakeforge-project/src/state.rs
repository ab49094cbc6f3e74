//! `state:` selection, as in dbt: the project compared with the `manifest.json` of an earlier
//! run (`--state DIR`, e.g. the artifacts of the production run), so CI can build only what a
//! change touches: `--select state:modified+`.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{ProjectError, Result};
use crate::node::Node;

/// How a node differs from the state manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Same,
    /// Not in the earlier manifest.
    New,
    /// Its file (SQL, CSV, or the YAML declaring a test) changed.
    Body,
    /// Its config changed.
    Configs,
    Both,
}

/// The nodes of an earlier manifest: checksum and config by unique id.
#[derive(Debug, Clone, Default)]
pub struct StateManifest {
    nodes: HashMap<String, (String, serde_json::Value)>,
}

impl StateManifest {
    /// Read `DIR/manifest.json`.
    pub fn read(dir: &Path) -> Result<StateManifest> {
        let path = dir.join("manifest.json");
        let bad = |message: String| ProjectError::Config {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            bad(format!(
                "{e}\nhint: --state names a folder holding the manifest.json of an earlier run (its target/ folder)"
            ))
        })?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a manifest: {e}")))?;
        let mut nodes = HashMap::new();
        for key in ["nodes", "unit_tests"] {
            for (id, n) in v[key].as_object().into_iter().flatten() {
                let checksum = n["checksum"]["checksum"].as_str().unwrap_or("").to_string();
                nodes.insert(id.clone(), (checksum, n["config"].clone()));
            }
        }
        if nodes.is_empty() && v["nodes"].as_object().is_none() {
            return Err(bad("no `nodes` in it: not a manifest".into()));
        }
        Ok(StateManifest { nodes })
    }

    pub fn change(&self, node: &Node) -> Change {
        let Some((checksum, config)) = self.nodes.get(&node.unique_id) else {
            return Change::New;
        };
        let body = checksum != &node.checksum;
        let configs = config != &crate::manifest::config_json(node);
        match (body, configs) {
            (false, false) => Change::Same,
            (true, false) => Change::Body,
            (false, true) => Change::Configs,
            (true, true) => Change::Both,
        }
    }
}
