//! Reading values out of the store's rows. The store is a file anyone can edit (or a database
//! another program writes), so a value of the wrong type or shape is a [`MetaError::Corrupt`]
//! naming the table and column, never a panic: sqlx's `Row::get` panics on a bad value. Also
//! the reverse of the enums stored as text (run and model statuses).

use sqlx::{Column, ColumnIndex, Decode, Row, Type};

use crate::{MetaError, Result};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a row was read from, for the message when a value in it is not what we wrote.
pub(crate) trait RowExt: Row {
    /// Column `index` of this row of `table`, decoded as `T`.
    fn col<'r, T>(&'r self, table: &'static str, index: usize) -> Result<T>
    where
        T: Decode<'r, Self::Database> + Type<Self::Database>,
        usize: ColumnIndex<Self>,
    {
        self.try_get(index)
            .map_err(|e| corrupt(table, column_name(self, index), Box::new(e)))
    }
}

impl<R: Row> RowExt for R {}

/// The name of column `index` as the query named it, or its position when there is none.
pub(crate) fn column_name<R: Row + ?Sized>(row: &R, index: usize) -> String {
    row.columns()
        .get(index)
        .map(|c| c.name().to_string())
        .unwrap_or_else(|| format!("#{}", index + 1))
}

pub(crate) fn corrupt(
    table: &'static str,
    column: impl Into<String>,
    source: BoxError,
) -> MetaError {
    MetaError::Corrupt {
        table,
        column: column.into(),
        source,
    }
}

/// The value among `all` stored as `text` (its `as_str`), for the enums the store keeps as text.
pub(crate) fn from_text<T: Copy>(
    all: &[T],
    as_str: fn(T) -> &'static str,
    text: &str,
) -> Option<T> {
    all.iter().copied().find(|v| as_str(*v) == text)
}
