//! The engine's side of machine learning: scoring in SQL with the `predict(...)` function
//! (`udf`) over models the caller loaded beforehand, and reading a whole relation, at its
//! latest or a pinned Delta version, in a deterministic row order for training (`read`). The
//! models themselves are lakeforge-ml's; the registry is lakeforge-meta's.

pub mod read;
mod udf;

pub use read::{RelationData, read_relation};
pub use udf::{LoadedModel, PredictUdf, ScoringModels};
