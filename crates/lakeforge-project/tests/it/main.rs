//! Integration tests of `lakeforge-project`: whole projects written to temporary folders (with
//! packages of our own installed beside them) loaded and compiled through the public API.

mod packages;
