//! Checking what was written, the step after a write: data tests (`data_test`: a test's SQL
//! returns failing rows), `unique` tests counted without SQL (`duplicates`), and dbt unit
//! tests (`unit_test`: the model's SQL over given rows, in a session of its own, compared with
//! the expected rows).

pub mod data_test;
pub mod duplicates;
pub mod unit_test;
