//! Integration tests of the engine over a real lake in a temporary folder.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod adapter;
mod write;
