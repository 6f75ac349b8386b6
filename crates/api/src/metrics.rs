//! Prometheus metrics: requests and latency per route, method and status.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Counters and histograms by (route, method, status).
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
}

impl Metrics {
    fn observe(&self, route: String, method: String, status: u16, seconds: f64) {
        let mut series = self.series.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = series.entry((route, method, status)).or_default();
        entry.count += 1;
        entry.sum += seconds;
        for (bucket, bound) in entry.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// Renders the Prometheus text format, with `extra` gauges appended.
    pub(crate) fn render(&self, extra: &[(&str, &str, f64)]) -> String {
        let series = self.series.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut text = String::new();
        text.push_str(
            "# HELP cointrail_http_requests_total HTTP requests by route, method and status.\n\
             # TYPE cointrail_http_requests_total counter\n",
        );
        for ((route, method, status), values) in series.iter() {
            let _ = writeln!(
                text,
                "cointrail_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
                values.count
            );
        }
        text.push_str(
            "# HELP cointrail_http_request_duration_seconds Latency of HTTP requests.\n\
             # TYPE cointrail_http_request_duration_seconds histogram\n",
        );
        for ((route, method, status), values) in series.iter() {
            let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
            for (bound, count) in BUCKETS.iter().zip(values.buckets) {
                let _ = writeln!(
                    text,
                    "cointrail_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                text,
                "cointrail_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                values.count
            );
            let _ = writeln!(
                text,
                "cointrail_http_request_duration_seconds_sum{{{labels}}} {}",
                values.sum
            );
            let _ = writeln!(
                text,
                "cointrail_http_request_duration_seconds_count{{{labels}}} {}",
                values.count
            );
        }
        for (name, help, value) in extra {
            let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        text
    }
}

/// Middleware: times every request and counts it under its route template.
pub(crate) async fn record(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    state.inner.metrics.observe(
        route,
        method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
