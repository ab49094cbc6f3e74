//! Integration tests of `lakeforge-project` through its public API: whole projects written to
//! temporary folders (with packages of our own installed beside them), loaded and compiled.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod docs;
mod jinja_runtime;
mod many_files;
mod modern;
mod packages;
