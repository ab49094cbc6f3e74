//! Integration tests of lakeforge-project through its public API.

mod jinja_runtime;
