//! Integration tests for lakeforge-report: the report data as the page shows it
//! (`data`), the rendered page (`html`), and byte-for-byte pages for fixed data
//! (`golden`, files under `golden/`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod common;
mod data;
mod golden;
mod html;
