//! Integration tests for lakeforge-report: the report data as the page shows it
//! (`data`), the rendered page (`html`), and byte-for-byte pages for fixed data
//! (`golden`, files under `golden/`).

mod common;
mod data;
mod golden;
mod html;
