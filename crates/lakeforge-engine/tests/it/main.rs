//! Integration tests of the engine over a real lake in a temporary folder.

mod adapter;
mod write;
