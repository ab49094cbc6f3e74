//! `lakeforge-runner` executes a project's graph: it picks the selected nodes, orders them by
//! their dependencies, runs them on the engine with bounded parallelism, skips what sits
//! downstream of a failure, and records every result (run_results.json, manifest.json and the
//! metadata store). It is the stage that turns a typed graph into a built lake.
//!
//! The flow of a run: `plan.rs` (selection → ordered nodes and what each waits for) →
//! `scheduler.rs` (bounded parallelism, skip-on-failure, retries, timeouts, cancellation) →
//! `node/` (one file per node kind, chosen in one `match`) → `results.rs` and `artifacts.rs`
//! (run_results.json, manifest.json) and the store. `schedule/` runs lakeforge.yml's cron
//! schedules, each tick one such run.

mod artifacts;
pub mod backfill;
mod error;
pub mod hooks;
pub mod import;
mod node;
pub mod openlineage;
mod plan;
mod results;
pub mod schedule;
mod scheduler;
mod state;
pub mod train;

pub use error::{Result, RunnerError};
pub use hooks::HookResult;
pub use plan::Command;
pub use results::{NodeResult, NodeStatus, RunSummary};
pub use scheduler::{Reporter, RunOptions, run, run_until};

#[cfg(test)]
mod tests;
