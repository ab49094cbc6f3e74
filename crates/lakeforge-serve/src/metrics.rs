//! Prometheus metrics of the server (`GET /metrics`, text format 0.0.4): requests by route and
//! status, request latency histograms by route, rows predicted and prediction errors by model,
//! and how full the server's bounded caches are.
//!
//! Every label set is bounded too: routes are the router's patterns (or `unmatched`), models
//! and versions only those a request resolved in the registry.

use std::collections::BTreeMap;
use std::fmt::Write;

use parking_lot::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// Counters keyed by route or model first, so a request that finds its key allocates nothing.
#[derive(Default)]
struct Inner {
    /// route → status → requests.
    requests: BTreeMap<String, BTreeMap<u16, u64>>,
    latency: BTreeMap<String, Histogram>,
    /// model → version → rows.
    rows: BTreeMap<String, BTreeMap<i64, u64>>,
    errors: BTreeMap<String, u64>,
}

/// Applies `f` to the entry of `key`, inserting a default one the first time.
fn with_entry<V: Default>(map: &mut BTreeMap<String, V>, key: &str, f: impl FnOnce(&mut V)) {
    match map.get_mut(key) {
        Some(v) => f(v),
        None => f(map.entry(key.to_string()).or_default()),
    }
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    pub fn request(&self, route: &str, status: u16, seconds: f64) {
        let mut m = self.inner.lock();
        with_entry(&mut m.requests, route, |by_status| {
            *by_status.entry(status).or_default() += 1
        });
        with_entry(&mut m.latency, route, |h| {
            if h.counts.is_empty() {
                h.counts = vec![0; BUCKETS.len()];
            }
            if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
                h.counts[i] += 1;
            }
            h.sum += seconds;
            h.count += 1;
        });
    }

    pub fn predicted(&self, model: &str, version: i64, rows: usize) {
        with_entry(&mut self.inner.lock().rows, model, |by_version| {
            *by_version.entry(version).or_default() += rows as u64
        });
    }

    pub fn prediction_error(&self, model: &str) {
        with_entry(&mut self.inner.lock().errors, model, |n| *n += 1);
    }

    pub fn render(&self) -> String {
        let m = self.inner.lock();
        let mut out = String::new();
        out.push_str("# HELP lakeforge_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE lakeforge_http_requests_total counter\n");
        for (route, by_status) in &m.requests {
            let route = escape(route);
            for (status, n) in by_status {
                let _ = writeln!(
                    out,
                    "lakeforge_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}",
                );
            }
        }
        out.push_str("# HELP lakeforge_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE lakeforge_http_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            let route = escape(route);
            let mut cumulative = 0;
            for (b, c) in BUCKETS.iter().zip(&h.counts) {
                cumulative += c;
                let _ = writeln!(
                    out,
                    "lakeforge_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "lakeforge_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "lakeforge_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "lakeforge_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP lakeforge_predictions_total Rows predicted by model and version.\n");
        out.push_str("# TYPE lakeforge_predictions_total counter\n");
        for (model, by_version) in &m.rows {
            let model = escape(model);
            for (version, n) in by_version {
                let _ = writeln!(
                    out,
                    "lakeforge_predictions_total{{model=\"{model}\",version=\"{version}\"}} {n}",
                );
            }
        }
        out.push_str(
            "# HELP lakeforge_prediction_errors_total Prediction requests that failed, by model.\n",
        );
        out.push_str("# TYPE lakeforge_prediction_errors_total counter\n");
        for (model, n) in &m.errors {
            let _ = writeln!(
                out,
                "lakeforge_prediction_errors_total{{model=\"{}\"}} {n}",
                escape(model)
            );
        }
        out
    }
}

/// Gauges and counters of the bounded caches (authentication, loaded model versions).
pub fn render_caches(out: &mut String, auth: &crate::AuthStats, loaded_versions: usize) {
    out.push_str("# HELP lakeforge_cache_entries Entries in the server's bounded caches.\n");
    out.push_str("# TYPE lakeforge_cache_entries gauge\n");
    for (cache, n) in [
        ("valid_tokens", auth.valid_entries),
        ("invalid_tokens", auth.invalid_entries),
        ("client_failure_budgets", auth.client_buckets),
        ("loaded_model_versions", loaded_versions),
    ] {
        let _ = writeln!(out, "lakeforge_cache_entries{{cache=\"{cache}\"}} {n}");
    }
    out.push_str(
        "# HELP lakeforge_auth_store_lookups_total Bearer tokens looked up in the metadata store.\n",
    );
    out.push_str("# TYPE lakeforge_auth_store_lookups_total counter\n");
    let _ = writeln!(
        out,
        "lakeforge_auth_store_lookups_total {}",
        auth.store_lookups
    );
    out.push_str(
        "# HELP lakeforge_auth_rate_limited_total Requests refused (429) after too many failed authentications.\n",
    );
    out.push_str("# TYPE lakeforge_auth_rate_limited_total counter\n");
    let _ = writeln!(
        out,
        "lakeforge_auth_rate_limited_total {}",
        auth.rate_limited
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_buckets() {
        let m = Metrics::default();
        m.request("/v1/models/{name}/predict", 200, 0.0004);
        m.request("/v1/models/{name}/predict", 200, 0.02);
        m.request("/v1/models/{name}/predict", 400, 0.0001);
        m.predicted("churn", 2, 5);
        m.prediction_error("churn");
        let text = m.render();
        assert!(text.contains("lakeforge_http_requests_total{route=\"/v1/models/{name}/predict\",status=\"200\"} 2"), "{text}");
        assert!(text.contains("le=\"0.0005\"} 2"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 3"), "{text}");
        assert!(
            text.contains("lakeforge_predictions_total{model=\"churn\",version=\"2\"} 5"),
            "{text}"
        );
        assert!(
            text.contains("lakeforge_prediction_errors_total{model=\"churn\"} 1"),
            "{text}"
        );
    }
}
