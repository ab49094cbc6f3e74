//! Why a seed could not be read. Every error names the seed's file (as the project names it)
//! and a line: 0 for the file as a whole or its `delimiter`, 1 for the header and
//! `column_types`, else the row's line; and the column when one is at fault. The engine wraps
//! these in `EngineError::Seed`.

use arrow::error::ArrowError;

use crate::{SqlTypeError, ValueError};

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be opened.
    #[error("{path}:0: cannot open: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// The CSV reader stopped: a row with more or fewer fields than the header, text that is
    /// not UTF-8, or the file could not be read. `message` says the reader's error in words a
    /// seed's author acts on, so the error as raised is not a `source()` (which would show it
    /// again, in the reader's words, after the message; see `lakeforge_project::error_text`)
    /// but [`SeedError::raw`].
    #[error("{path}:{line}: {message}")]
    Csv {
        path: String,
        line: usize,
        message: String,
        raw: csv::Error,
    },

    /// The header, the seed's `delimiter` or `column_types`, or a value that does not fit its
    /// column's type.
    #[error("{path}:{line}{}: {message}", column.as_ref().map(|c| format!(" (column `{c}`)")).unwrap_or_default())]
    Invalid {
        path: String,
        line: usize,
        column: Option<String>,
        message: String,
    },

    /// A `column_types` entry that is not a type Lakeforge reads. The reason is part of the
    /// message, so it is a plain field rather than a `source` the CLI would print twice.
    #[error("{path}:1 (column `{column}`): {reason}")]
    ColumnType {
        path: String,
        column: String,
        reason: SqlTypeError,
    },

    /// A value that does not fit its column's type (a plain field for the same reason).
    #[error("{path}:{line} (column `{column}`): {reason}")]
    Value {
        path: String,
        line: usize,
        column: String,
        reason: ValueError,
    },

    /// Arrow refused a builder or batch made from an already checked schema: a bug.
    #[error("internal error (a bug in Lakeforge, please report it): {path}: {source}")]
    Arrow {
        path: String,
        #[source]
        source: ArrowError,
    },
}

impl SeedError {
    /// The error of the CSV reader as it was raised, for a `Csv` error (its message words it).
    pub fn raw(&self) -> Option<&csv::Error> {
        match self {
            SeedError::Csv { raw, .. } => Some(raw),
            _ => None,
        }
    }

    /// The seed's file, as the project names it (e.g. `seeds/customers.csv`).
    pub fn path(&self) -> &str {
        match self {
            SeedError::Open { path, .. }
            | SeedError::Csv { path, .. }
            | SeedError::Invalid { path, .. }
            | SeedError::ColumnType { path, .. }
            | SeedError::Value { path, .. }
            | SeedError::Arrow { path, .. } => path,
        }
    }

    /// The line at fault: 0 for the file as a whole, 1 for the header and `column_types`.
    pub fn line(&self) -> usize {
        match self {
            SeedError::Csv { line, .. }
            | SeedError::Invalid { line, .. }
            | SeedError::Value { line, .. } => *line,
            SeedError::ColumnType { .. } => 1,
            SeedError::Open { .. } | SeedError::Arrow { .. } => 0,
        }
    }

    /// The column at fault, when one is (a header's position is written `#n`).
    pub fn column(&self) -> Option<&str> {
        match self {
            SeedError::Invalid { column, .. } => column.as_deref(),
            SeedError::ColumnType { column, .. } | SeedError::Value { column, .. } => Some(column),
            _ => None,
        }
    }

    /// An error in the header, the config or a value (see [`SeedError::Invalid`]).
    pub(crate) fn invalid(
        path: &str,
        line: usize,
        column: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        SeedError::Invalid {
            path: path.into(),
            line,
            column,
            message: message.into(),
        }
    }

    /// The CSV reader's error, in words a seed's author acts on.
    pub(crate) fn csv(path: &str, source: csv::Error) -> Self {
        let line = source.position().map(|p| p.line() as usize).unwrap_or(0);
        let message = match source.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                format!(
                    "row has {len} fields but the header has {expected_len}\nhint: quote values that contain the delimiter, e.g. \"a, b\""
                )
            }
            csv::ErrorKind::Utf8 { .. } => {
                "not valid UTF-8\nhint: save the file as UTF-8".to_string()
            }
            _ => source.to_string(),
        };
        SeedError::Csv {
            path: path.into(),
            line,
            message,
            raw: source,
        }
    }
}
