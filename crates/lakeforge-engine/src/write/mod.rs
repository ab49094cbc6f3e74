//! Writing a node's result into the lake, the step after its SQL is planned: materializations
//! (`materialize`: tables, views, incremental models, ephemeral ones), seeds, snapshots, and
//! the steps a write passes through — contracts checked before anything is written, type
//! drift of incremental models, quarantined rows, types Delta cannot store cast to ones it can
//! (`normalize`), the fast path that copies Parquet files as they are (`passthrough`), and table
//! models encoded by one Parquet writer per partition of their plan (`parallel`).
//! Every table write is one Delta commit; `lake::conflict` decides what happens when another
//! run commits first.

pub(crate) mod commit;
pub mod contract;
pub mod drift;
pub mod materialize;
pub mod normalize;
pub(crate) mod parallel;
pub(crate) mod passthrough;
pub mod quarantine;
pub mod seed;
pub mod snapshot;
