//! Who may ask: API keys (kept as SHA-256 hashes), loopback-only without keys, and per-key token
//! buckets.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

/// Requests per second and burst of one client.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests allowed at once (the bucket's size).
    pub burst: f64,
}

impl RateLimit {
    /// `per_second` with a burst of twice that (at least 1).
    pub fn per_second(per_second: f64) -> Self {
        Self { per_second, burst: (per_second * 2.0).max(1.0) }
    }
}

/// Hashed API keys, each with its rate limit.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: HashMap<[u8; 32], Option<RateLimit>>,
}

/// A keys file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeysError {
    /// The file cannot be read.
    #[error("API keys file: {0}")]
    Io(#[from] std::io::Error),
    /// A line is malformed.
    #[error("API keys file {file}, line {line}: {message}")]
    Line {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ApiKeys {
    /// Reads a keys file: one key per line, optionally followed by its requests per second;
    /// blank lines and lines starting with `#` are skipped. Only the keys' SHA-256 hashes are
    /// kept.
    ///
    /// # Errors
    ///
    /// An unreadable file, a key shorter than 16 characters, a bad rate, or no key at all.
    pub fn from_file(path: &Path) -> Result<Self, KeysError> {
        let text = fs_err::read_to_string(path)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses the text of a keys file (see [`ApiKeys::from_file`]).
    ///
    /// # Errors
    ///
    /// A key shorter than 16 characters, a bad rate, or no key at all.
    pub fn parse(text: &str, file: &str) -> Result<Self, KeysError> {
        let mut keys = HashMap::new();
        let error = |line: usize, message: &str| KeysError::Line {
            file: file.to_owned(),
            line,
            message: message.to_owned(),
        };
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let Some(key) = fields.next() else { continue };
            if key.len() < 16 {
                return Err(error(number + 1, "keys must have at least 16 characters"));
            }
            let rate = match fields.next() {
                Some(rate) => {
                    let rate: f64 = rate
                        .parse()
                        .ok()
                        .filter(|rate: &f64| rate.is_finite() && *rate > 0.0)
                        .ok_or_else(|| {
                            error(number + 1, "the rate after a key must be a positive number")
                        })?;
                    Some(RateLimit::per_second(rate))
                }
                None => None,
            };
            if fields.next().is_some() {
                return Err(error(number + 1, "expected `KEY [REQUESTS_PER_SECOND]`"));
            }
            keys.insert(hash(key), rate);
        }
        if keys.is_empty() {
            return Err(error(0, "no key in the file"));
        }
        Ok(Self { keys })
    }

    /// Keys given in memory (tests, embedding).
    pub fn from_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Self {
        Self { keys: keys.into_iter().map(|key| (hash(key), None)).collect() }
    }

    fn find(&self, key: &str) -> Option<([u8; 32], Option<RateLimit>)> {
        let hashed = hash(key);
        self.keys.get(&hashed).map(|rate| (hashed, *rate))
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets per client (key hash or address).
#[derive(Debug, Default)]
pub(crate) struct Buckets {
    buckets: Mutex<HashMap<Vec<u8>, Bucket>>,
}

/// Buckets kept at most; beyond, idle full buckets are dropped.
const MAX_BUCKETS: usize = 100_000;

impl Buckets {
    /// Takes one token for `client`; returns the seconds to wait when there is none.
    fn take(&self, client: &[u8], limit: RateLimit) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, bucket| {
                now.duration_since(bucket.updated).as_secs_f64() * limit.per_second < limit.burst
            });
        }
        let bucket =
            buckets.entry(client.to_vec()).or_insert(Bucket { tokens: limit.burst, updated: now });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.per_second).min(limit.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / limit.per_second;
            // Whole seconds, rounded up (Retry-After has no fractions).
            Err(format!("{:.0}", wait.ceil().max(1.0)).parse().unwrap_or(1))
        }
    }
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get("x-api-key").and_then(|value| value.to_str().ok()) {
        return Some(value.trim());
    }
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Middleware: authenticate (key or loopback), then rate-limit. `/healthz` is open to all.
pub(crate) async fn access(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    match check(&state, &request) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

fn check(state: &AppState, request: &Request) -> Result<(), ApiError> {
    let inner = &state.inner;
    let (client, limit) = match &inner.config.api_keys {
        Some(keys) => {
            let key = presented_key(request.headers()).ok_or_else(|| {
                ApiError::Unauthorized(
                    "missing API key: send `Authorization: Bearer KEY` or `X-Api-Key: KEY`"
                        .to_owned(),
                )
            })?;
            let (hashed, rate) = keys
                .find(key)
                .ok_or_else(|| ApiError::Unauthorized("unknown API key".to_owned()))?;
            (hashed.to_vec(), rate.unwrap_or(inner.config.rate_limit))
        }
        None => {
            let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
            match peer {
                Some(peer) if is_loopback(peer.ip()) => {
                    (peer.ip().to_string().into_bytes(), inner.config.rate_limit)
                }
                _ => {
                    return Err(ApiError::Forbidden(
                        "this server has no API keys configured and serves loopback clients only"
                            .to_owned(),
                    ));
                }
            }
        }
    };
    inner.buckets.take(&client, limit).map_err(ApiError::RateLimited)
}
