//! dbt unit tests (`unit_tests:` in properties YAML): a model's SQL run on rows the test gives
//! for each of its inputs, its output compared with the rows the test expects. This module reads
//! the declarations into nodes of their own (`unit_test.<project>.<model>.<name>`);
//! `lakeforge-engine` runs them in a session that holds only the given rows, so a unit test
//! never reads the lake's data nor writes to it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigLayer, build_config, yaml_to_json};
use crate::error::{ProjectError, Result, hint_suffix, suggest};
use crate::jinja::ResolveError;
use crate::node::{Materialization, Node, ResourceType, SourceTable, TestKind};

/// Why a unit test's input or fixture is refused. The loader adds the test's name and file,
/// and which input (`given ref('x')`, `expect`).
#[derive(Debug, thiserror::Error)]
enum UnitTestError {
    #[error(
        "ref('{name}') is not a model or seed of this project{}",
        hint_suffix(suggestion)
    )]
    UnknownRef {
        name: String,
        suggestion: Option<String>,
    },

    #[error(transparent)]
    UnknownSource(ResolveError),

    #[error("give either `rows` or `fixture`, not both")]
    RowsAndFixture,

    #[error("`fixture:` needs `format: csv` or `format: sql`, not `{0}`")]
    FixtureFormat(String),

    #[error("cannot read {}: {source}", path.display())]
    ReadFixture {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("fixture `{name}` not found\nhint: put it in {}", candidates.join(" or "))]
    FixtureNotFound {
        name: String,
        /// Where it was looked for, as `tests/fixtures/<name>.<ext>`.
        candidates: Vec<String>,
    },

    /// `rows:` is not what its format reads (`expected` says what that is).
    #[error("with format {format}, `rows` is {expected}")]
    RowsShape {
        format: &'static str,
        expected: &'static str,
    },

    #[error("row {0} is not a mapping of column: value")]
    RowNotMapping(usize),

    #[error("row {0}: a column name must be text")]
    ColumnNotText(usize),

    #[error("CSV header: {0}")]
    CsvHeader(#[source] csv::Error),

    #[error("CSV line {line}: {source}")]
    CsvLine {
        line: usize,
        #[source]
        source: csv::Error,
    },

    #[error("CSV line {line} has {fields} fields, the header has {header}")]
    CsvWidth {
        line: usize,
        fields: usize,
        header: usize,
    },

    #[error("unknown format `{0}`\nhint: use dict (the default), csv or sql")]
    UnknownFormat(String),
}

type FixtureResult<T> = std::result::Result<T, UnitTestError>;

/// One entry of `unit_tests:` as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UnitTestProps {
    pub name: String,
    pub model: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub given: Vec<FixtureProps>,
    pub expect: FixtureProps,
    #[serde(default)]
    pub overrides: Option<OverridesProps>,
    #[serde(default)]
    pub config: Option<serde_yaml::Value>,
}

/// A `given:` entry or the `expect:` block.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FixtureProps {
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub rows: Option<serde_yaml::Value>,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub fixture: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct OverridesProps {
    #[serde(default)]
    pub macros: BTreeMap<String, serde_yaml::Value>,
    #[serde(default)]
    pub vars: BTreeMap<String, serde_yaml::Value>,
    #[serde(default)]
    pub env_vars: BTreeMap<String, serde_yaml::Value>,
}

/// Which relation a `given:` entry stands in for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UnitInput {
    Ref {
        name: String,
    },
    Source {
        source: String,
        table: String,
    },
    /// The model's own table, read by incremental models under `is_incremental()`.
    This,
}

impl std::fmt::Display for UnitInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnitInput::Ref { name } => write!(f, "ref('{name}')"),
            UnitInput::Source { source, table } => write!(f, "source('{source}', '{table}')"),
            UnitInput::This => f.write_str("this"),
        }
    }
}

/// Rows of a fixture. Dict and CSV rows are both kept as text cells: their types come from
/// the relation they stand in for (or the model's output, for `expect`), as in dbt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum Fixture {
    Rows {
        columns: Vec<String>,
        rows: Vec<Vec<Option<String>>>,
    },
    /// A query whose result is the rows (`format: sql`).
    Sql { sql: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct GivenInput {
    pub input: UnitInput,
    pub fixture: Fixture,
}

/// What a unit test changes in the model's rendering.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UnitOverrides {
    /// `overrides: macros: is_incremental: true|false`.
    pub is_incremental: Option<bool>,
    pub vars: BTreeMap<String, serde_json::Value>,
    pub env_vars: BTreeMap<String, String>,
}

/// A unit test, resolved: the model it tests, its inputs and the expected rows.
#[derive(Debug, Clone, Serialize)]
pub struct UnitTestDef {
    /// Unique id of the tested model.
    pub model: String,
    pub given: Vec<GivenInput>,
    pub expect: Fixture,
    pub overrides: UnitOverrides,
}

/// What the loader knows when it turns unit test declarations into nodes.
pub(crate) struct UnitTestScope<'a> {
    pub project: &'a str,
    pub root: &'a Path,
    pub test_paths: &'a [String],
    pub nodes: &'a BTreeMap<String, Node>,
    pub by_name: &'a HashMap<String, String>,
    pub sources: &'a BTreeMap<String, SourceTable>,
}

impl UnitTestScope<'_> {
    /// Build the node of one declaration found in `path`; `None` when it is disabled.
    pub fn node(&self, path: &str, props: &UnitTestProps) -> Result<Option<Node>> {
        let at = |message: String| ProjectError::Config {
            path: path.into(),
            message: format!("unit test `{}`: {message}", props.name),
        };
        let model = self
            .by_name
            .get(&props.model)
            .and_then(|id| self.nodes.get(id))
            .filter(|n| n.resource_type == ResourceType::Model)
            .ok_or_else(|| {
                let models = self
                    .nodes
                    .values()
                    .filter(|n| n.resource_type == ResourceType::Model)
                    .map(|n| n.name.as_str());
                let hint = hint_suffix(&suggest(&props.model, models));
                at(format!(
                    "`model: {}` is not an enabled model of this project{hint}",
                    props.model
                ))
            })?;

        let config_layer: ConfigLayer = match props.config.as_ref().map(yaml_to_json) {
            Some(serde_json::Value::Object(o)) => o.into_iter().collect(),
            _ => ConfigLayer::new(),
        };
        let config = build_config(config_layer, Materialization::Test, path)?;
        if !config.enabled {
            return Ok(None);
        }

        let mut given = Vec::new();
        for (i, g) in props.given.iter().enumerate() {
            let text = g
                .input
                .as_deref()
                .ok_or_else(|| at(format!("given #{} has no `input:`", i + 1)))?;
            let input = parse_input(text).ok_or_else(|| {
                at(format!(
                    "`input: {text}` is not ref('name'), source('source', 'table') or this"
                ))
            })?;
            let input_id = self
                .input_id(&input, &model.unique_id)
                .map_err(|e| at(e.to_string()))?;
            if !model.depends_on.contains(&input_id) && input != UnitInput::This {
                return Err(at(format!(
                    "model `{}` does not read {input}\nhint: give only the refs and sources the model uses",
                    model.name
                )));
            }
            if given.iter().any(|x: &GivenInput| x.input == input) {
                return Err(at(format!("{input} is given twice")));
            }
            let fixture = self
                .fixture(g)
                .map_err(|m| at(format!("given {input}: {m}")))?;
            given.push(GivenInput { input, fixture });
        }
        // Every relation the model reads must be given: the test runs without the lake.
        for dep in &model.depends_on {
            let is_given = given.iter().any(|g| {
                self.input_id(&g.input, &model.unique_id)
                    .is_ok_and(|id| &id == dep)
            });
            if !is_given {
                let what = self.describe(dep);
                return Err(at(format!(
                    "model `{}` reads {what}, which is not among the given inputs\nhint: add `- input: {what}` with `rows: []` if it may be empty",
                    model.name
                )));
            }
        }
        let expect = self
            .fixture(&props.expect)
            .map_err(|m| at(format!("expect: {m}")))?;

        let mut overrides = UnitOverrides::default();
        if let Some(o) = &props.overrides {
            for (k, v) in &o.macros {
                match k.as_str() {
                    "is_incremental" => {
                        overrides.is_incremental = Some(v.as_bool().unwrap_or(false))
                    }
                    other => {
                        return Err(at(format!(
                            "overriding macro `{other}` is not supported\nhint: only `is_incremental` can be overridden; use `vars` for values the model reads with var()"
                        )));
                    }
                }
            }
            overrides.vars = o
                .vars
                .iter()
                .map(|(k, v)| (k.clone(), yaml_to_json(v)))
                .collect();
            overrides.env_vars = o
                .env_vars
                .iter()
                .map(|(k, v)| (k.clone(), yaml_scalar_text(v).unwrap_or_default()))
                .collect();
        }

        let mut fqn = model.fqn.clone();
        fqn.push(props.name.clone());
        let yaml = serde_yaml::to_string(props).unwrap_or_default();
        Ok(Some(Node {
            unique_id: format!("unit_test.{}.{}.{}", self.project, model.name, props.name),
            name: props.name.clone(),
            resource_type: ResourceType::UnitTest,
            path: path.to_string(),
            fqn,
            description: props.description.clone().unwrap_or_default(),
            columns: Vec::new(),
            config,
            relation: model.relation.clone(),
            checksum: crate::load::checksum(yaml.as_bytes()),
            raw_code: yaml,
            depends_on: vec![model.unique_id.clone()],
            test: Some(TestKind::Unit(Box::new(UnitTestDef {
                model: model.unique_id.clone(),
                given,
                expect,
                overrides,
            }))),
            ml_model: None,
            snapshot: None,
        }))
    }

    /// The unique id of the node or source an input stands in for.
    fn input_id(&self, input: &UnitInput, model_id: &str) -> FixtureResult<String> {
        match input {
            UnitInput::This => Ok(model_id.to_string()),
            UnitInput::Ref { name } => {
                self.by_name
                    .get(name)
                    .cloned()
                    .ok_or_else(|| UnitTestError::UnknownRef {
                        name: name.clone(),
                        suggestion: suggest(name, self.by_name.keys().map(String::as_str)),
                    })
            }
            UnitInput::Source { source, table } => self
                .sources
                .values()
                .find(|s| &s.source_name == source && &s.name == table)
                .map(|s| s.unique_id.clone())
                .ok_or_else(|| {
                    UnitTestError::UnknownSource(ResolveError::Source {
                        source_name: source.clone(),
                        table: table.clone(),
                    })
                }),
        }
    }

    fn describe(&self, id: &str) -> String {
        if let Some(s) = self.sources.get(id) {
            return format!("source('{}', '{}')", s.source_name, s.name);
        }
        match self.nodes.get(id) {
            Some(n) => format!("ref('{}')", n.name),
            None => id.to_string(),
        }
    }

    fn fixture(&self, f: &FixtureProps) -> FixtureResult<Fixture> {
        let format = f.format.as_deref().unwrap_or("dict");
        if let Some(name) = &f.fixture {
            if f.rows.is_some() {
                return Err(UnitTestError::RowsAndFixture);
            }
            let ext = match format {
                "csv" => "csv",
                "sql" => "sql",
                other => {
                    return Err(UnitTestError::FixtureFormat(other.to_string()));
                }
            };
            let file = self.find_fixture(name, ext)?;
            let text = std::fs::read_to_string(&file)
                .map_err(|source| UnitTestError::ReadFixture { path: file, source })?;
            return parse_fixture(format, &serde_yaml::Value::String(text));
        }
        let rows = f
            .rows
            .clone()
            .unwrap_or(serde_yaml::Value::Sequence(Vec::new()));
        parse_fixture(format, &rows)
    }

    /// dbt looks for fixture files under `<test-path>/fixtures/`, at any depth.
    fn find_fixture(&self, name: &str, ext: &str) -> FixtureResult<PathBuf> {
        let file_name = format!("{name}.{ext}");
        for dir in self.test_paths {
            let base = self.root.join(dir).join("fixtures");
            for entry in walkdir::WalkDir::new(&base).into_iter().flatten() {
                if entry.file_type().is_file() && entry.file_name().to_str() == Some(&file_name) {
                    return Ok(entry.into_path());
                }
            }
        }
        Err(UnitTestError::FixtureNotFound {
            name: name.to_string(),
            candidates: self
                .test_paths
                .iter()
                .map(|d| format!("{d}/fixtures/{file_name}"))
                .collect(),
        })
    }
}

/// Parse `ref('name')`, `ref('package', 'name')`, `source('src', 'table')` or `this`.
pub fn parse_input(text: &str) -> Option<UnitInput> {
    let text = text.trim();
    if text == "this" {
        return Some(UnitInput::This);
    }
    static CALL: LazyLock<regex::Regex> =
        LazyLock::new(|| crate::literal_regex(r#"^(ref|source)\s*\((.*)\)$"#));
    static ARG: LazyLock<regex::Regex> =
        LazyLock::new(|| crate::literal_regex(r#"^\s*(?:'([^']*)'|"([^"]*)")\s*$"#));
    let caps = CALL.captures(text)?;
    let arg = &*ARG;
    let mut positional = Vec::new();
    for part in caps[2].split(',') {
        if part.contains('=') {
            // ref('model', v=2): versions are accepted and ignored, as in ref() itself.
            continue;
        }
        let c = arg.captures(part)?;
        positional.push(c.get(1).or(c.get(2))?.as_str().to_string());
    }
    match (&caps[1], positional.as_slice()) {
        ("ref", [name]) | ("ref", [_, name]) => Some(UnitInput::Ref { name: name.clone() }),
        ("source", [source, table]) => Some(UnitInput::Source {
            source: source.clone(),
            table: table.clone(),
        }),
        _ => None,
    }
}

fn parse_fixture(format: &str, rows: &serde_yaml::Value) -> FixtureResult<Fixture> {
    match format {
        "dict" => {
            let seq = rows.as_sequence().ok_or(UnitTestError::RowsShape {
                format: "dict",
                expected: "a list of mappings",
            })?;
            let mut columns: Vec<String> = Vec::new();
            let mut maps = Vec::new();
            for (i, row) in seq.iter().enumerate() {
                let map = row
                    .as_mapping()
                    .ok_or(UnitTestError::RowNotMapping(i + 1))?;
                let mut cells = HashMap::new();
                for (k, v) in map {
                    let k = yaml_scalar_text(k).ok_or(UnitTestError::ColumnNotText(i + 1))?;
                    if !columns.contains(&k) {
                        columns.push(k.clone());
                    }
                    cells.insert(k, yaml_scalar_text(v));
                }
                maps.push(cells);
            }
            let rows = maps
                .into_iter()
                .map(|mut m| columns.iter().map(|c| m.remove(c).flatten()).collect())
                .collect();
            Ok(Fixture::Rows { columns, rows })
        }
        "csv" => {
            let text = rows.as_str().ok_or(UnitTestError::RowsShape {
                format: "csv",
                expected: "CSV text (a YAML block: `rows: |`)",
            })?;
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(text.as_bytes());
            let columns: Vec<String> = reader
                .headers()
                .map_err(UnitTestError::CsvHeader)?
                .iter()
                .map(str::to_string)
                .collect();
            let mut out = Vec::new();
            for (i, rec) in reader.records().enumerate() {
                let rec = rec.map_err(|source| UnitTestError::CsvLine {
                    line: i + 2,
                    source,
                })?;
                if rec.len() != columns.len() {
                    return Err(UnitTestError::CsvWidth {
                        line: i + 2,
                        fields: rec.len(),
                        header: columns.len(),
                    });
                }
                // An empty field is null, as in seeds.
                out.push(
                    rec.iter()
                        .map(|v| (!v.is_empty()).then(|| v.to_string()))
                        .collect(),
                );
            }
            Ok(Fixture::Rows { columns, rows: out })
        }
        "sql" => {
            let sql = rows.as_str().ok_or(UnitTestError::RowsShape {
                format: "sql",
                expected: "a query (a YAML block: `rows: |`)",
            })?;
            Ok(Fixture::Sql {
                sql: sql.trim().trim_end_matches(';').to_string(),
            })
        }
        other => Err(UnitTestError::UnknownFormat(other.to_string())),
    }
}

/// A YAML scalar as the text a SQL cast reads; null stays None.
fn yaml_scalar_text(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::Null => None,
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::String(s) => Some(s.clone()),
        other => Some(yaml_to_json(other).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_parse_like_dbt_writes_them() {
        assert_eq!(
            parse_input("ref('stg_orders')"),
            Some(UnitInput::Ref {
                name: "stg_orders".into()
            })
        );
        assert_eq!(
            parse_input(r#"ref("shop", "stg_orders", v=2)"#),
            Some(UnitInput::Ref {
                name: "stg_orders".into()
            })
        );
        assert_eq!(
            parse_input("source('raw', 'orders')"),
            Some(UnitInput::Source {
                source: "raw".into(),
                table: "orders".into()
            })
        );
        assert_eq!(parse_input(" this "), Some(UnitInput::This));
        assert_eq!(parse_input("ref(stg_orders)"), None);
        assert_eq!(parse_input("source('only_one')"), None);
    }

    #[test]
    fn dict_rows_fill_missing_columns_with_null() {
        let rows: serde_yaml::Value =
            serde_yaml::from_str("[{id: 1, name: a}, {id: 2, flag: true}, {id: null}]").unwrap();
        let f = parse_fixture("dict", &rows).unwrap();
        assert_eq!(
            f,
            Fixture::Rows {
                columns: vec!["id".into(), "name".into(), "flag".into()],
                rows: vec![
                    vec![Some("1".into()), Some("a".into()), None],
                    vec![Some("2".into()), None, Some("true".into())],
                    vec![None, None, None],
                ],
            }
        );
    }

    #[test]
    fn csv_rows_and_their_errors() {
        let f = parse_fixture(
            "csv",
            &serde_yaml::Value::String("id, name\n1, a\n2,\n".into()),
        )
        .unwrap();
        assert_eq!(
            f,
            Fixture::Rows {
                columns: vec!["id".into(), "name".into()],
                rows: vec![
                    vec![Some("1".into()), Some("a".into())],
                    vec![Some("2".into()), None]
                ],
            }
        );
        let err = parse_fixture("csv", &serde_yaml::Value::String("id,name\n1\n".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = parse_fixture("json", &serde_yaml::Value::Null)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown format `json`"), "{err}");
    }
}
