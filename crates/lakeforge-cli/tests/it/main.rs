//! End-to-end tests: each runs the `lakeforge` binary on a copy of a fixture project and checks
//! what a user sees (golden snapshots) and what lands in the lake.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;

mod build;
mod concurrent;
mod db_sources;
mod deps;
mod errors;
mod exports;
mod foreign;
mod hooks;
mod incremental;
mod interop;
mod lineage;
mod ml;
mod ml_pipeline;
mod modern;
mod object_store;
mod orchestration;
mod packages;
mod profiles;
mod quality;
mod run_operation;
mod runs;
mod schedule;
mod selection;
mod serve_openapi;
mod snapshots;
mod sources;
mod ui;
mod ui_serve;
mod unit;
