//! Integration tests for lakeforge-ml: end-to-end fit/predict/save/load on
//! scikit-learn's bundled datasets (CSV fixtures exported by
//! `bench/ml/export_fixtures.py`) compared with LightGBM's recorded metrics,
//! plus model-file, pipeline, linear/k-means (with their categorical
//! encodings) and tuning behaviour; training that follows the rows, not
//! their stored order (`row_order`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod categorical_encoding;
mod common;
mod hostile_files;
mod lightgbm_parity;
mod model_io;
mod other_learners;
mod pipeline_e2e;
mod predict_row;
mod row_order;
mod tuning_cv;
