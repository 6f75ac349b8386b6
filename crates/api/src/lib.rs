//! The screening API of cointrail (`cointrail serve`): JSON over HTTP under `/v1`, over a store
//! that `ingest` and `cluster` may be writing meanwhile (`docs/api.md`).
//!
//! Build an [`AppState`] from an [`ApiConfig`], then [`router`]; [`serve`] runs it on a listener.
//! Every answer is built by `cointrail-query` (the same documents as `cointrail show`, `trace` and
//! `risk`) on a blocking thread, from a consistent snapshot of the store that is reopened when
//! the store's manifest, clusters or labels change. Requests are authenticated (API keys, or
//! loopback clients only), rate-limited per key, size-limited, validated, and bounded in cost.
#![recursion_limit = "512"]

mod access;
mod error;
mod metrics;
mod openapi;
mod routes;
mod snapshots;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use cointrail_risk::Rules;

pub use access::{ApiKeys, KeysError, RateLimit};
pub use error::ApiError;

/// Caps on what one request may cost. Client-provided limits above a cap are lowered to it (the
/// response says so in the `x-cointrail-clamped` header).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Largest request body (413 beyond).
    pub max_body_bytes: usize,
    /// Largest `max_hops` of a trace.
    pub trace_max_hops: u32,
    /// Largest `max_txs` of a trace.
    pub trace_max_txs: usize,
    /// Wall-time budget of a trace.
    pub trace_max_duration: Duration,
    /// Seed strings per trace.
    pub trace_max_seeds: usize,
    /// Seed outputs per trace (an address seed counts all its outputs).
    pub trace_max_seed_outputs: usize,
    /// Largest `max_hops` of a screening.
    pub risk_max_hops: u32,
    /// Transactions a screening may visit.
    pub risk_max_txs: usize,
    /// Wall-time budget of a screening.
    pub risk_max_duration: Duration,
    /// Outputs of an address screened (the first ones).
    pub risk_max_outputs: usize,
    /// Member addresses listed per cluster.
    pub cluster_max_addresses: usize,
    /// Labels per search.
    pub labels_max_results: usize,
    /// Traces and screenings running at once (others wait, then get 503).
    pub max_concurrent_analyses: usize,
    /// How long a request waits for an analysis slot.
    pub analysis_queue_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            trace_max_hops: 20,
            trace_max_txs: 50_000,
            trace_max_duration: Duration::from_secs(2),
            trace_max_seeds: 100,
            trace_max_seed_outputs: 10_000,
            risk_max_hops: 10,
            risk_max_txs: 20_000,
            risk_max_duration: Duration::from_secs(1),
            risk_max_outputs: 10_000,
            cluster_max_addresses: 1_000,
            labels_max_results: 100,
            max_concurrent_analyses: 8,
            analysis_queue_timeout: Duration::from_secs(2),
        }
    }
}

/// What the server serves and how.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The store directory.
    pub store_dir: PathBuf,
    /// Risk rules.
    pub rules: Rules,
    /// API keys; `None`: loopback clients only.
    pub api_keys: Option<ApiKeys>,
    /// Rate limit per key (per client address without keys), unless the key sets its own.
    pub rate_limit: RateLimit,
    /// Cost caps.
    pub limits: Limits,
    /// How often the store is checked for a new commit.
    pub reload_interval: Duration,
}

impl ApiConfig {
    /// Defaults for the store at `dir`: default rules, no keys (loopback only), 50 requests per
    /// second per client (burst 100), default limits, a check for changes every 200 ms.
    ///
    /// # Errors
    ///
    /// Never in practice (the embedded rules are tested).
    pub fn new(dir: &Path) -> Result<Self, cointrail_risk::RulesError> {
        Ok(Self {
            store_dir: dir.to_owned(),
            rules: Rules::default_rules()?,
            api_keys: None,
            rate_limit: RateLimit::per_second(50.0),
            limits: Limits::default(),
            reload_interval: Duration::from_millis(200),
        })
    }
}

pub(crate) struct Inner {
    config: ApiConfig,
    snapshots: snapshots::Snapshots,
    buckets: access::Buckets,
    metrics: metrics::Metrics,
    analyses: tokio::sync::Semaphore,
}

/// The shared state of the server.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("store_dir", &self.inner.config.store_dir).finish()
    }
}

impl AppState {
    /// Opens the store and prepares the state.
    ///
    /// # Errors
    ///
    /// [`ApiError::Internal`] naming why the store cannot be opened.
    pub fn new(config: ApiConfig) -> Result<Self, ApiError> {
        let snapshots = snapshots::Snapshots::open(&config.store_dir, config.reload_interval)?;
        let analyses = tokio::sync::Semaphore::new(config.limits.max_concurrent_analyses.max(1));
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                snapshots,
                buckets: access::Buckets::default(),
                metrics: metrics::Metrics::default(),
                analyses,
            }),
        })
    }
}

/// The API's routes with their middleware: metrics (outermost), access (keys, loopback, rate
/// limits), then the body size limit.
pub fn router(state: AppState) -> Router {
    let limit = state.inner.config.limits.max_body_bytes;
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/metrics", get(routes::metrics))
        .route("/openapi.json", get(routes::openapi))
        .route("/v1/status", get(routes::status))
        .route("/v1/address/{address}", get(routes::address))
        .route("/v1/tx/{txid}", get(routes::tx))
        .route("/v1/cluster/{id}", get(routes::cluster))
        .route("/v1/trace", post(routes::trace))
        .route("/v1/risk/address/{address}", get(routes::risk_address))
        .route("/v1/risk/transfer", post(routes::risk_transfer))
        .route("/v1/labels", get(routes::labels))
        .fallback(routes::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(from_fn_with_state(state.clone(), access::access))
        .layer(from_fn_with_state(state.clone(), metrics::record))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` completes, then lets requests in flight
/// finish.
///
/// # Errors
///
/// An I/O error of the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Writes one line to the server's log (stderr).
#[expect(clippy::print_stderr, reason = "the server's log is its stderr")]
pub(crate) fn log(message: &str) {
    eprintln!("cointrail serve: {message}");
}
