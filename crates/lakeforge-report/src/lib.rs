//! Lakeforge's model report, drawn: [`render_html`] turns the
//! [`ReportData`](lakeforge_ml::ReportData) that `lakeforge-ml` computes from a model and
//! its evaluation into one standalone HTML page with hand-drawn inline SVG charts (no
//! scripts, no external assets). It is what `lakeforge models show NAME --report out.html`
//! writes, and [`charts`] gives each figure alone, for pages that embed them.
//!
//! Flow: `lakeforge_ml::report` (data: metrics, curves, residuals, confusion, importance)
//! → [`charts`] (one SVG or table per figure, on the axes and ticks of `svg.rs`, with
//! numbers and text written by `text.rs`) → [`render_html`] (the page around them).
//!
//! A registered version's data comes from [`stored::report_data`]: the evaluation its training
//! stored beside the artifact, with the registry's metrics and provenance (the CLI's report
//! and the web UI's charts both read it there).
//!
//! Everything is deterministic: the same data renders to the same bytes, so reports can
//! be diffed and cached. The crate depends on `lakeforge-ml` for the data types and on
//! `lakeforge-meta` for the registry's version record only.

pub mod charts;
mod page;
pub mod stored;
mod svg;
mod text;

pub use page::render_html;
pub use text::esc as escape_html;
