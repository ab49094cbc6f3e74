//! Seed CSVs read into Arrow: the pure half of `lakeforge seed`, between lakeforge-project
//! (which finds `seeds/*.csv` and their `delimiter`/`column_types` configs) and
//! lakeforge-engine (which writes the batches as the seed's Delta table). Column types are
//! inferred from every value as dbt infers them (boolean, integer, float, date, timestamp, else
//! text), `column_types` overrides them, an empty field is NULL, and quoting follows RFC 4180. A
//! malformed row stops the read before any batch is returned, with the file, line and column in
//! the error. No DataFusion here, so the `seed_csv` fuzz target builds small.

mod columns;
mod error;
mod infer;
mod read;
mod sql_type;

pub use columns::ValueError;
pub use error::SeedError;
pub use read::{delimiter, parse_csv, read_csv};
pub use sql_type::{MAX_DECIMAL_PRECISION, SqlTypeError, sql_type};

/// What reading a seed gives, or why it could not be read.
pub type Result<T> = std::result::Result<T, SeedError>;
