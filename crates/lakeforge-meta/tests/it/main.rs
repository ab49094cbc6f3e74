//! Tests of the metadata store against both backends: every test body runs once on a SQLite
//! file in a temp folder and once on a fresh database of the machine's real PostgreSQL
//! (`LAKEFORGE_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`). An
//! unreachable PostgreSQL fails the `postgres` tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

#[macro_use]
mod common;

mod corrupt;
mod history;
mod locks;
mod open;
mod registry;
mod schedules;
