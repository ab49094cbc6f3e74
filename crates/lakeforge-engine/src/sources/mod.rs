//! Sources read in place, the step before a model's SQL runs: tables of a database
//! (`database/`: PostgreSQL, MySQL/MariaDB, SQLite through datafusion-table-providers, with
//! watermark subqueries run first so incremental filters reach the remote `WHERE`) and files
//! on disk or in object storage (`external`: listing tables). The lake's catalog
//! (`lake::catalog`) opens them lazily, the first time a query names them, as it opens Delta
//! tables.

pub(crate) mod database;
pub(crate) mod external;
