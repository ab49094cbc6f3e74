//! The typed nodes a project is made of: seeds, models, data tests and sources, each with its
//! fully resolved configuration (dbt_project.yml hierarchy, then properties YAML, then the
//! `config()` call in the SQL file, the later winning as in dbt).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// A table or view in the lake: a folder per schema, a Delta table per identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct Relation {
    pub schema: String,
    pub identifier: String,
}

impl Relation {
    pub fn new(schema: impl Into<String>, identifier: impl Into<String>) -> Self {
        Relation {
            schema: schema.into(),
            identifier: identifier.into(),
        }
    }
}

impl fmt::Display for Relation {
    /// Quote only when needed, so compiled SQL stays readable while mixed-case or unusual names
    /// still resolve exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}",
            quote_ident(&self.schema),
            quote_ident(&self.identifier)
        )
    }
}

/// Quote an SQL identifier unless it is a plain lowercase name.
pub fn quote_ident(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED.contains(&s);
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

const RESERVED: &[&str] = &[
    "select", "from", "where", "order", "group", "table", "user", "by", "limit", "join", "on",
    "as", "and", "or", "not", "null", "case", "when", "end", "union", "all", "values", "default",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceType {
    Seed,
    Model,
    Test,
    /// A dbt unit test: the model's SQL run on given rows.
    UnitTest,
    Source,
    /// An ML model (`ml_models:` in properties YAML), trained from a relation of the lake.
    MlModel,
    /// A dbt snapshot: type-2 history of a query's rows (`snapshot-paths`, `snapshots:`).
    Snapshot,
    /// A saved query of the semantic layer (`saved_queries:`): a no-op in `build`, as in dbt.
    SavedQuery,
}

impl ResourceType {
    pub fn as_str(&self) -> &'static str {
        match self {
            ResourceType::Seed => "seed",
            ResourceType::Model => "model",
            ResourceType::Test => "test",
            ResourceType::UnitTest => "unit_test",
            ResourceType::Source => "source",
            ResourceType::MlModel => "ml_model",
            ResourceType::Snapshot => "snapshot",
            ResourceType::SavedQuery => "saved_query",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Materialization {
    Table,
    View,
    Ephemeral,
    Incremental,
    Seed,
    Test,
    /// Trained into the model registry rather than written as a table.
    MlModel,
    /// A snapshot's history table (closed and current versions of each key).
    Snapshot,
}

impl Materialization {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "table" => Materialization::Table,
            "view" => Materialization::View,
            "ephemeral" => Materialization::Ephemeral,
            "incremental" => Materialization::Incremental,
            "seed" => Materialization::Seed,
            "test" => Materialization::Test,
            "ml_model" => Materialization::MlModel,
            "snapshot" => Materialization::Snapshot,
            _ => return None,
        })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Materialization::Table => "table",
            Materialization::View => "view",
            Materialization::Ephemeral => "ephemeral",
            Materialization::Incremental => "incremental",
            Materialization::Seed => "seed",
            Materialization::Test => "test",
            Materialization::MlModel => "ml_model",
            Materialization::Snapshot => "snapshot",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnSchemaChange {
    #[default]
    Ignore,
    Fail,
    AppendNewColumns,
    SyncAllColumns,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncrementalStrategy {
    Append,
    Merge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warn,
    Error,
}

/// A node's configuration after every level has been merged.
#[derive(Debug, Clone, Serialize)]
pub struct NodeConfig {
    pub enabled: bool,
    pub materialized: Materialization,
    /// Custom schema as written (`+schema`); the relation's schema is derived from it.
    pub schema: Option<String>,
    pub alias: Option<String>,
    pub tags: Vec<String>,
    pub unique_key: Vec<String>,
    pub incremental_strategy: Option<IncrementalStrategy>,
    pub on_schema_change: OnSchemaChange,
    /// `full_refresh: false` protects a table from `--full-refresh`.
    pub full_refresh: Option<bool>,
    /// Seeds: column name → SQL type overriding inference.
    pub column_types: BTreeMap<String, String>,
    pub delimiter: Option<String>,
    pub severity: Severity,
    /// Data tests: only rows matching this filter are checked.
    pub where_clause: Option<String>,
    /// Data tests: thresholds, limit, fail_calc, store_failures.
    pub test: TestConfig,
    /// `retries`: how many times a node that errors is run again (data test failures are not
    /// retried: the data would not change).
    pub retries: u32,
    /// `retry_delay` in seconds before the first retry; each further retry waits twice as long.
    pub retry_delay: f64,
    /// `timeout` in seconds for one attempt.
    pub timeout: Option<f64>,
    /// Every config key as given, for manifest.json and for later stages that read more keys.
    pub raw: BTreeMap<String, serde_json::Value>,
}

/// How a data test's failing rows turn into a status (dbt's test configs).
#[derive(Debug, Clone, Serialize)]
pub struct TestConfig {
    /// `warn_if`, default `!= 0`.
    pub warn_if: Condition,
    /// `error_if`, default `!= 0`.
    pub error_if: Condition,
    /// `limit`: at most this many failing rows are counted and kept.
    pub limit: Option<u64>,
    /// `fail_calc`: the aggregate over failing rows that the conditions test (`count(*)`).
    pub fail_calc: String,
    /// `store_failures`: keep the failing rows in a table of the audit schema.
    pub store_failures: bool,
}

impl Default for TestConfig {
    fn default() -> Self {
        TestConfig {
            warn_if: Condition::default(),
            error_if: Condition::default(),
            limit: None,
            fail_calc: "count(*)".into(),
            store_failures: false,
        }
    }
}

/// A threshold such as `>10` or `!= 0`, as dbt writes them.
#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    pub op: String,
    pub value: f64,
}

impl Default for Condition {
    fn default() -> Self {
        Condition {
            op: "!=".into(),
            value: 0.0,
        }
    }
}

impl Condition {
    pub fn parse(s: &str) -> Option<Condition> {
        let s = s.trim();
        let op = ["!=", "<>", ">=", "<=", "==", ">", "<", "="]
            .into_iter()
            .find(|op| s.starts_with(op))?;
        let value: f64 = s[op.len()..].trim().parse().ok()?;
        let op = match op {
            "<>" => "!=",
            "==" => "=",
            o => o,
        };
        Some(Condition {
            op: op.into(),
            value,
        })
    }

    pub fn holds(&self, n: f64) -> bool {
        match self.op.as_str() {
            "!=" => n != self.value,
            ">=" => n >= self.value,
            "<=" => n <= self.value,
            ">" => n > self.value,
            "<" => n < self.value,
            _ => n == self.value,
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op, self.value)
    }
}

/// What kind of data test a test node runs.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TestKind {
    /// A generic test (not_null, unique, accepted_values, relationships) attached to a column or
    /// a model in properties YAML.
    Generic {
        name: String,
        column: Option<String>,
        /// The model/seed/source the test is attached to, as a unique id.
        attached_to: String,
        args: BTreeMap<String, serde_json::Value>,
    },
    /// A SQL file under test-paths returning failing rows.
    Singular,
    /// A unit test (`unit_tests:` in properties YAML).
    Unit(Box<crate::unit_test::UnitTestDef>),
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnInfo {
    pub name: String,
    pub description: String,
    pub data_type: Option<String>,
}

/// One node of the graph.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// `model.shop.stg_orders`, as dbt spells it.
    pub unique_id: String,
    pub name: String,
    pub resource_type: ResourceType,
    /// Path relative to the project root (`models/staging/stg_orders.sql`); a package's nodes
    /// are under its install folder (`dbt_packages/<pkg>/models/...`).
    pub path: String,
    /// Fully qualified name: project, folders, node name.
    pub fqn: Vec<String>,
    pub description: String,
    pub columns: Vec<ColumnInfo>,
    pub config: NodeConfig,
    /// Where the node's output lives; tests and ephemeral models have none in the lake, but a
    /// relation name is still assigned so that it can be referred to while running.
    pub relation: Relation,
    /// The SQL (or CSV path for seeds) as written.
    pub raw_code: String,
    /// Unique ids of the nodes (and sources) this node reads.
    pub depends_on: Vec<String>,
    pub test: Option<TestKind>,
    /// Hash of the raw file, for state comparison (of a seed over 1 MiB: of its path, size and
    /// modification time, see `load::nodes::seed_checksum`).
    pub checksum: String,
    /// ML models: the checked declaration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ml_model: Option<Box<crate::ml_model::MlModelSpec>>,
    /// Snapshots: the checked strategy, unique key and hard-delete policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Box<crate::snapshot::SnapshotSpec>>,
}

impl Node {
    /// The package the node belongs to: the project's name, or an installed package's (the
    /// first part of its fqn, as in dbt).
    pub fn package(&self) -> &str {
        self.fqn
            .first()
            .map(String::as_str)
            .unwrap_or_else(|| package_of_unique_id(&self.unique_id))
    }

    /// The hash `build --changed` compares and the store keeps per execution as `sql_hash`:
    /// the compiled SQL (for a seed, its file's checksum) together with the node's config.
    /// Here so that the runner that records it and the UI that compares a compiled file with
    /// it hash alike.
    pub fn state_hash(&self, compiled_sql: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(compiled_sql.as_bytes());
        h.update([0]);
        if self.resource_type == ResourceType::Seed {
            h.update(self.checksum.as_bytes());
        }
        h.update([0]);
        h.update(
            serde_json::to_string(&self.config.raw)
                .unwrap_or_default()
                .as_bytes(),
        );
        format!("{:x}", h.finalize())
    }
}

/// The package part of a unique id (`<type>.<package>.<name...>`, as dbt writes them).
fn package_of_unique_id(unique_id: &str) -> &str {
    unique_id.split('.').nth(1).unwrap_or_default()
}

/// A declared source table (`sources:` in properties YAML).
#[derive(Debug, Clone, Serialize)]
pub struct SourceTable {
    pub unique_id: String,
    pub source_name: String,
    pub name: String,
    pub relation: Relation,
    pub description: String,
    pub columns: Vec<ColumnInfo>,
    pub path: String,
    pub loaded_at_field: Option<String>,
    /// `external:`: the source is files read in place rather than a table of the lake.
    pub external: Option<crate::external::ExternalLocation>,
    /// `connection:`: the source is a table or view of a database named in lakeforge.yml.
    pub database: Option<crate::database::DatabaseSource>,
    /// Extra keys (`meta`, `freshness`, location settings) kept for later stages.
    pub raw: serde_json::Value,
}

impl SourceTable {
    /// The package that declares the source (from `source.<package>.<source>.<table>`).
    pub fn package(&self) -> &str {
        package_of_unique_id(&self.unique_id)
    }
}
