//! Integration tests of `lakeforge-project` through its public API: whole projects written to
//! temporary folders (with packages of our own installed beside them), loaded and compiled.

mod jinja_runtime;
mod modern;
mod packages;
