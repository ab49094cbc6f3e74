//! What the PostgreSQL and MySQL exports share: the destination as the config names it, the
//! model's columns typed for the database (checked, with the unique key, before anything is
//! sent), the staging table's name beside the destination, and failures that say the
//! destination was left as it was, never showing the connection's password.

use arrow::datatypes::{DataType, SchemaRef};

use super::Mode;
use crate::error::{Cause, EngineError, Result};

/// A database table an export writes, with how.
pub(super) struct Destination<'a> {
    /// Names the export in messages.
    pub context: &'a str,
    pub url: &'a str,
    /// `schema.table` (or `database.table`) or `table`.
    pub table: &'a str,
    pub mode: Mode,
    pub unique_key: &'a [String],
}

impl Destination<'_> {
    /// The export failed before the destination changed.
    pub(super) fn failed(&self, cause: impl std::fmt::Display) -> EngineError {
        EngineError::Export {
            context: self.context.to_string(),
            cause: Cause::Message(crate::sources::database::redact(
                &cause.to_string(),
                self.url,
            )),
            hint: None,
        }
    }

    /// The table's schema (or database) part, if named, and its own name.
    pub(super) fn parts(&self) -> (Option<&str>, &str) {
        match self.table.rsplit_once('.') {
            Some((s, n)) => (Some(s), n),
            None => (None, self.table),
        }
    }

    /// The model's columns with their type in the database (`type_of` gets whether the column
    /// is part of the unique key), or an error naming the first column without one; every
    /// unique key column must be among them.
    pub(super) fn columns(
        &self,
        schema: &SchemaRef,
        database: &str,
        type_of: impl Fn(&DataType, bool) -> Option<String>,
    ) -> Result<Vec<(String, String)>> {
        let mut columns = Vec::new();
        for f in schema.fields() {
            let is_key = self.unique_key.contains(f.name());
            let t = type_of(f.data_type(), is_key).ok_or_else(|| {
                self.failed(format!(
                    "column `{}` has type {}, which has no {database} counterpart here",
                    f.name(),
                    f.data_type()
                ))
            })?;
            columns.push((f.name().clone(), t));
        }
        for k in self.unique_key {
            if !columns.iter().any(|(c, _)| c == k) {
                return Err(self.failed(format!(
                    "unique_key `{k}` is not a column of the model (columns: {})",
                    columns
                        .iter()
                        .map(|(c, _)| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(columns)
    }

    /// The columns an upsert overwrites: all but the unique key's.
    pub(super) fn updated<'c>(
        &self,
        columns: &'c [(String, String)],
    ) -> impl Iterator<Item = &'c str> {
        let key = self.unique_key.to_vec();
        columns
            .iter()
            .map(|(c, _)| c.as_str())
            .filter(move |c| !key.iter().any(|k| k == c))
    }
}

/// `names` quoted for the database and joined with commas.
pub(super) fn list<'n>(
    names: impl IntoIterator<Item = &'n str>,
    quote: impl Fn(&str) -> String,
) -> String {
    names.into_iter().map(quote).collect::<Vec<_>>().join(", ")
}

pub(super) const STAGE_SUFFIX: &str = "__lakeforge_stage";
