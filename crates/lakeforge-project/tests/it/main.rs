//! Integration tests of project loading: real fixture folders read through `Project::load`,
//! as the CLI reads them (no engine: nothing is built here).

mod modern;
