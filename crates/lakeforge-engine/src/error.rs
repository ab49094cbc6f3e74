//! Engine errors. Variants say whose fault it is, as DataFusion's do: the user's SQL or data
//! (`Sql`, `Seed`, `Schema`), the lake on disk or in object storage (`Lake`, `LakeStore`,
//! `Delta`), a table column lineage needs that is not built yet (`NotBuilt`...), or a bug
//! (`Internal`).
//!
//! An error keeps what caused it as it was raised ([`Cause`]: DataFusion's, delta-rs's or the
//! object store's error), and says it the way users should read it: without DataFusion's names
//! for the layers it passed through, with every credential redacted. The text is computed when
//! the error is shown, so nothing is lost before then. `source()` leads to the [`Cause`], whose
//! text is that wording; the error as raised is [`Cause::raw`], for programs. (Were it a
//! `source()` too, a renderer walking the chain, `lakeforge_project::error_text`, would show
//! the raw text, layer names and all, after the cleaned one.)

use std::path::PathBuf;

use arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use deltalake::DeltaTableError;
use lakeforge_project::Relation;

use crate::lake::storage::{StorageError, redact};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The SQL of a node or of `lakeforge sql` failed to plan or run.
    #[error("{context}: {cause}{}", hint_line(.hint))]
    Sql {
        context: String,
        #[source]
        cause: Cause,
        /// What to do about it, when Lakeforge knows.
        hint: Option<String>,
    },

    /// A seed CSV could not be read as a table (its message names the file, line and column).
    #[error("{0}")]
    Seed(#[from] lakeforge_seed::SeedError),

    /// New data does not fit the existing table under the model's on_schema_change policy.
    #[error("{relation}: {message}")]
    Schema { relation: String, message: String },

    #[error("Failed to access the lake at {path}: {source}")]
    Lake {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The lake in object storage could not be read or written.
    #[error("Failed to access the lake at {location}: {cause}")]
    LakeStore {
        location: String,
        #[source]
        cause: Cause,
    },

    #[error("Delta table {relation}: {cause}")]
    Delta {
        relation: String,
        #[source]
        cause: Cause,
    },

    /// The rows written break a CHECK constraint or an invariant the table carries (set by
    /// another tool); nothing was committed. delta-rs's message shows the rows, not the
    /// checks, so the table's checks are listed beside it.
    #[error(
        "Delta table {relation}: {cause}\nthe table's checks: {checks}\nhint: change the model so that its rows pass them, or drop a check that no longer applies with the tool that set it"
    )]
    Constraint {
        relation: String,
        checks: String,
        #[source]
        cause: Cause,
    },

    /// Another run committed to the table while this one was writing it, and redoing the
    /// write could lose what that run wrote (or a full overwrite lost every attempt). Said in
    /// our words: delta-rs's (kept as `raw`, see [`EngineError::raw`]) speaks of isolation
    /// levels a Lakeforge user cannot set.
    #[error(
        "{relation}: another run wrote this table while this one was writing it, so this write was not committed{}\nhint: re-run this command; do not run two builds of one project at the same time (a scheduler and a manual run included)",
        if *attempts > 1 { format!(" (tried {attempts} times)") } else { String::new() }
    )]
    ConcurrentWrite {
        relation: String,
        attempts: u32,
        raw: Box<deltalake::DeltaTableError>,
    },

    /// An export failed before its destination changed (each export is all or nothing).
    #[error("{context}: {cause}; the destination was left as it was{}", hint_line(.hint))]
    Export {
        context: String,
        #[source]
        cause: Cause,
        hint: Option<String>,
    },

    /// A node could not be compiled (column lineage compiles the models it traces).
    #[error(transparent)]
    Project(#[from] lakeforge_project::ProjectError),

    /// Column lineage plans the SQL of the models it traces, which needs the tables they read;
    /// `reader` is the model that reads `table` (None: `table` itself was asked about).
    #[error(
        "`{table}` ({relation}){}\nhint: run `lakeforge build -s +{target}` first, or pass --tables for table-level lineage only",
        match reader {
            Some(r) => format!(", which {r} reads, is not in the lake yet; column lineage plans the SQL of the models it traces, and that needs the tables they read"),
            None => " is not in the lake yet, so its columns are unknown".to_string(),
        }
    )]
    NotBuilt {
        table: String,
        /// Boxed: the error stays small on every `Result`'s happy path.
        relation: Box<Relation>,
        reader: Option<String>,
        /// What to build, as the user named it.
        target: String,
    },

    /// Column lineage was asked about a column the table does not have.
    #[error(
        "{table} has no column `{column}`; its columns are: {}{}",
        columns.join(", "),
        suggestion.as_ref().map(|s| format!("\nhint: did you mean `{s}`?")).unwrap_or_default()
    )]
    NoSuchColumn {
        table: String,
        column: String,
        columns: Vec<String>,
        suggestion: Option<String>,
    },

    /// A relation was asked for (its columns, rows, history) that the lake does not hold.
    #[error(
        "{relation} is not in the lake\nhint: build it first (`lakeforge build` writes the project's models and seeds)"
    )]
    NotInLake { relation: String },

    /// A version of a relation was asked for that it does not have: beyond a table's latest,
    /// or any version of a view (`latest` None).
    #[error(
        "{relation} has no version {version}; {}",
        match latest {
            Some(l) => format!("its versions are 0 to {l}\nhint: pick a version from the table's history"),
            None => "it is a view, and views have no versions\nhint: leave the version out".to_string(),
        }
    )]
    NoSuchVersion {
        relation: String,
        version: i64,
        latest: Option<i64>,
    },

    /// Column lineage was asked about a node that is not a table (a test, an unknown id).
    #[error("`{id}` is not a model, seed or source")]
    NotATable { id: String },

    /// Lineage was asked about a name no model, seed or source has; `hint` says what to do.
    #[error("no model, seed or source named `{name}`\nhint: {hint}")]
    NoSuchTable { name: String, hint: String },

    #[error("internal error (a bug in Lakeforge, please report it): {0}")]
    Internal(String),
}

/// What an error of the engine was caused by, kept as raised ([`Cause::raw`] gives it to
/// programs), while its text is the one users should read (see the module documentation).
#[derive(Debug)]
pub enum Cause {
    DataFusion(Box<DataFusionError>),
    Arrow(Box<ArrowError>),
    Delta(Box<DeltaTableError>),
    /// The object store of the lake.
    Store(Box<object_store::Error>),
    /// Building or reaching an object store from its settings.
    Storage(Box<StorageError>),
    /// Any other error, shown as it says itself.
    Other(Box<dyn std::error::Error + Send + Sync>),
    /// Lakeforge's own words, or the text of an error it does not keep; shown as they are.
    Message(String),
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Object-storage errors may quote a request; never its credentials.
        match self {
            Cause::DataFusion(e) => f.write_str(&redact(&datafusion_message(e))),
            Cause::Arrow(e) => f.write_str(&redact(&clean_datafusion_message(&e.to_string()))),
            Cause::Delta(e) => f.write_str(&redact(&e.to_string())),
            Cause::Store(e) => f.write_str(&redact(&e.to_string())),
            Cause::Storage(e) => f.write_str(&redact(&e.to_string())),
            Cause::Other(e) => f.write_str(&redact(&e.to_string())),
            Cause::Message(m) => f.write_str(m),
        }
    }
}

/// The end of the chain users read: the raw error is not a `source()` (see the module
/// documentation).
impl std::error::Error for Cause {}

impl Cause {
    /// The error as it was raised (None for Lakeforge's own words).
    pub fn raw(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Cause::DataFusion(e) => Some(e.as_ref()),
            Cause::Arrow(e) => Some(e.as_ref()),
            Cause::Delta(e) => Some(e.as_ref()),
            Cause::Store(e) => Some(e.as_ref()),
            Cause::Storage(e) => Some(e.as_ref()),
            Cause::Other(e) => Some(e.as_ref()),
            Cause::Message(_) => None,
        }
    }
}

/// What [`EngineError::sql`] accepts: an error, kept as raised, or text, which is cleaned and
/// redacted now since there is nothing to keep.
pub(crate) trait IntoSqlCause {
    fn into_cause(self) -> Cause;
}

impl IntoSqlCause for DataFusionError {
    fn into_cause(self) -> Cause {
        Cause::DataFusion(Box::new(self))
    }
}

impl IntoSqlCause for ArrowError {
    fn into_cause(self) -> Cause {
        Cause::Arrow(Box::new(self))
    }
}

impl IntoSqlCause for String {
    fn into_cause(self) -> Cause {
        Cause::Message(redact(&clean_datafusion_message(&self)))
    }
}

impl IntoSqlCause for &str {
    fn into_cause(self) -> Cause {
        IntoSqlCause::into_cause(self.to_string())
    }
}

/// What [`EngineError::delta`] accepts: delta-rs's error, kept as raised, or text.
pub(crate) trait IntoDeltaCause {
    fn into_cause(self) -> Cause;
}

impl IntoDeltaCause for DeltaTableError {
    fn into_cause(self) -> Cause {
        Cause::Delta(Box::new(self))
    }
}

/// delta-rs's table provider raises its errors through DataFusion, and its schema conversion
/// through Arrow; shown as they say themselves, as delta-rs's own are.
impl IntoDeltaCause for DataFusionError {
    fn into_cause(self) -> Cause {
        Cause::Other(Box::new(self))
    }
}

impl IntoDeltaCause for ArrowError {
    fn into_cause(self) -> Cause {
        Cause::Other(Box::new(self))
    }
}

impl IntoDeltaCause for String {
    fn into_cause(self) -> Cause {
        Cause::Message(self)
    }
}

impl EngineError {
    pub(crate) fn sql(context: impl Into<String>, err: impl IntoSqlCause) -> Self {
        EngineError::Sql {
            context: context.into(),
            cause: err.into_cause(),
            hint: None,
        }
    }

    /// An `Sql` error in Lakeforge's own words, shown as written.
    pub(crate) fn sql_message(context: impl Into<String>, message: impl Into<String>) -> Self {
        EngineError::Sql {
            context: context.into(),
            cause: Cause::Message(message.into()),
            hint: None,
        }
    }

    pub(crate) fn delta(relation: impl std::fmt::Display, err: impl IntoDeltaCause) -> Self {
        EngineError::Delta {
            relation: relation.to_string(),
            cause: err.into_cause(),
        }
    }

    /// The error of DataFusion, Arrow, delta-rs or the object store as it was raised, for the
    /// errors that say it in their own words (see the module documentation).
    pub fn raw(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EngineError::Sql { cause, .. }
            | EngineError::LakeStore { cause, .. }
            | EngineError::Delta { cause, .. }
            | EngineError::Constraint { cause, .. }
            | EngineError::Export { cause, .. } => cause.raw(),
            EngineError::ConcurrentWrite { raw, .. } => Some(raw.as_ref()),
            _ => None,
        }
    }

    /// An `Sql` error's message without its context (the Jinja runtime puts the file and line
    /// of the call there instead); any other error's whole message.
    pub fn without_context(&self) -> String {
        match self {
            EngineError::Sql { cause, hint, .. } => format!("{cause}{}", hint_line(hint)),
            other => other.to_string(),
        }
    }
}

fn hint_line(hint: &Option<String>) -> String {
    hint.as_ref()
        .map(|h| format!("\nhint: {h}"))
        .unwrap_or_default()
}

/// DataFusion prefixes messages with the layers they passed through ("External error: Error
/// during planning: ..."); users care about the message. These are the layers dropped, in the
/// order [`clean_datafusion_message`] drops them: a layer is dropped only when no later one in
/// this list has been dropped already, and the same one may repeat.
const LAYERS: [&str; 7] = [
    "External error: ",
    "DataFusion error: ",
    "Error during planning: ",
    "Schema error: ",
    "SQL error: ",
    "Arrow error: ",
    "Execution error: ",
];

/// The message of a DataFusion error without its layer names, read from the error's structure:
/// each variant's own layer is dropped and an external DataFusion error is followed inside.
/// Messages hold text too (a planning error may quote another error), which is cleaned as
/// text, so the result is the same as cleaning the whole text would give.
pub(crate) fn datafusion_message(e: &DataFusionError) -> String {
    let text = e.to_string();
    if text.trim() != text {
        // Blank space around the text is trimmed before any layer is dropped.
        return clean_datafusion_message(&text);
    }
    strip_layers(e, 0)
}

/// `e`'s text with the layers of [`LAYERS`] from position `from` on dropped.
fn strip_layers(e: &DataFusionError, from: usize) -> String {
    match e {
        // These show the error they wrap as it is.
        DataFusionError::Diagnostic(_, inner) => strip_layers(inner, from),
        DataFusionError::Shared(inner) => strip_layers(inner, from),
        DataFusionError::Collection(errors) if !errors.is_empty() => strip_layers(&errors[0], from),
        _ => match layer(e) {
            Some(at) if at >= from => match e {
                DataFusionError::External(inner) => match inner.downcast_ref::<DataFusionError>() {
                    Some(df) => strip_layers(df, at),
                    None => strip_text(&inner.to_string(), at),
                },
                // Every other layer's text is its name then its message.
                _ => strip_text(&e.message(), at),
            },
            _ => strip_text(&e.to_string(), from),
        },
    }
}

/// The position in [`LAYERS`] of the name `e`'s text starts with.
fn layer(e: &DataFusionError) -> Option<usize> {
    let name = match e {
        DataFusionError::External(_) => LAYERS[0],
        DataFusionError::Plan(_) => LAYERS[2],
        DataFusionError::SchemaError(..) => LAYERS[3],
        DataFusionError::SQL(..) => LAYERS[4],
        DataFusionError::ArrowError(..) => LAYERS[5],
        DataFusionError::Execution(_) => LAYERS[6],
        _ => return None,
    };
    LAYERS.iter().position(|l| *l == name)
}

fn strip_text(text: &str, from: usize) -> String {
    let mut s = text;
    for prefix in &LAYERS[from..] {
        while let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
        }
    }
    s.to_string()
}

/// The text of an error Lakeforge does not keep, cleaned as [`datafusion_message`] cleans an
/// error it keeps (text from DataFusion reaches here through Arrow, or formatted into a
/// message).
pub(crate) fn clean_datafusion_message(s: &str) -> String {
    strip_text(s.trim(), 0)
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The structure of an error gives the text cleaning its whole text gives.
    #[test]
    fn datafusion_messages_lose_their_layer_names() {
        let plan = || DataFusionError::Plan("table 'x' not found".into());
        let cases = [
            plan(),
            DataFusionError::External(Box::new(plan())),
            DataFusionError::External(Box::new(DataFusionError::External(Box::new(plan())))),
            DataFusionError::Execution("Error during planning: nested".into()),
            DataFusionError::Plan("External error: kept, it comes before".into()),
            DataFusionError::ArrowError(
                Box::new(ArrowError::ExternalError(Box::new(plan()))),
                None,
            ),
            DataFusionError::Context("while reading".into(), Box::new(plan())),
            DataFusionError::Internal("a bug".into()),
            DataFusionError::Shared(std::sync::Arc::new(plan())),
            DataFusionError::Collection(vec![plan(), DataFusionError::Internal("b".into())]),
            DataFusionError::Plan("trailing space  ".into()),
        ];
        for e in cases {
            assert_eq!(
                datafusion_message(&e),
                clean_datafusion_message(&e.to_string()),
                "{e:?}"
            );
        }
        assert_eq!(
            datafusion_message(&DataFusionError::External(Box::new(plan()))),
            "table 'x' not found"
        );
    }
}
