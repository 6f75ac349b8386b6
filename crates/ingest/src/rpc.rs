//! A Bitcoin Core-compatible JSON-RPC source (Bitcoin Core, Litecoin Core and forks): the few
//! methods cointrail needs, with timeouts and checked answers. I/O only: blocks come back as raw
//! bytes for the same decoder the blk-file reader uses.

use std::path::Path;
use std::time::Duration;

use cointrail_types::Hash32;
use serde_json::{Value, json};

use crate::http::{self, HttpError};

/// Errors of a JSON-RPC call. Each names the method (and its parameters).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// The HTTP exchange failed.
    #[error("rpc {method}: {source}")]
    Http {
        /// The method called.
        method: String,
        /// The cause.
        #[source]
        source: HttpError,
    },
    /// The node refused the credentials.
    #[error(
        "rpc {method}: the node refused the credentials (http 401): check --rpc-user/--rpc-password or --rpc-cookie"
    )]
    Unauthorized {
        /// The method called.
        method: String,
    },
    /// The node answered with a JSON-RPC error.
    #[error("rpc {method}: node error {code}: {message}")]
    Node {
        /// The method called.
        method: String,
        /// The node's error code.
        code: i64,
        /// The node's message.
        message: String,
    },
    /// The answer is not what the method returns.
    #[error("rpc {method}: unexpected answer: {what}")]
    Answer {
        /// The method called.
        method: String,
        /// What was wrong.
        what: String,
    },
    /// The cookie file could not be read.
    #[error("cannot read rpc cookie file {path}: {source}")]
    Cookie {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// How to authenticate to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcAuth {
    /// No credentials.
    None,
    /// User and password.
    UserPass(String, String),
    /// A cookie file (`user:password` on one line, written by the node).
    Cookie(std::path::PathBuf),
}

/// A JSON-RPC client for one node.
#[derive(Debug, Clone)]
pub struct BtcRpc {
    url: String,
    auth: RpcAuth,
    timeout: Duration,
}

impl BtcRpc {
    /// Creates a client for `url` (e.g. `http://127.0.0.1:8332`).
    pub fn new(url: &str, auth: RpcAuth) -> Self {
        Self { url: url.to_owned(), auth, timeout: Duration::from_secs(30) }
    }

    /// Sets the timeout of each call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn authorization(&self) -> Result<Option<String>, RpcError> {
        Ok(match &self.auth {
            RpcAuth::None => None,
            RpcAuth::UserPass(user, password) => Some(http::basic_auth(user, password)),
            RpcAuth::Cookie(path) => {
                let text = read_cookie(path)?;
                let (user, password) = text.trim().split_once(':').unwrap_or((text.trim(), ""));
                Some(http::basic_auth(user, password))
            }
        })
    }

    /// Calls `method` with `params` and returns its `result`.
    ///
    /// # Errors
    ///
    /// [`RpcError`] naming the method.
    pub fn call(&self, method: &str, params: &Value) -> Result<Value, RpcError> {
        let label = || format!("{method}({params})");
        let body = json!({"jsonrpc": "1.0", "id": "cointrail", "method": method, "params": params});
        let authorization = self.authorization()?;
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(value) = &authorization {
            headers.push(("Authorization", value.as_str()));
        }
        let response = http::post(&self.url, &headers, body.to_string().as_bytes(), self.timeout)
            .map_err(|source| RpcError::Http { method: label(), source })?;
        if response.status == 401 || response.status == 403 {
            return Err(RpcError::Unauthorized { method: label() });
        }
        let answer: Value =
            serde_json::from_slice(&response.body).map_err(|error| RpcError::Answer {
                method: label(),
                what: format!("http {}: not json: {error}", response.status),
            })?;
        if let Some(error) = answer.get("error").filter(|error| !error.is_null()) {
            return Err(RpcError::Node {
                method: label(),
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: error.get("message").and_then(Value::as_str).unwrap_or("").to_owned(),
            });
        }
        answer
            .get("result")
            .cloned()
            .ok_or_else(|| RpcError::Answer { method: label(), what: "no result".to_owned() })
    }

    /// Returns the height of the node's best chain.
    ///
    /// # Errors
    ///
    /// [`RpcError`].
    pub fn block_count(&self) -> Result<u32, RpcError> {
        let result = self.call("getblockcount", &json!([]))?;
        result.as_u64().and_then(|height| u32::try_from(height).ok()).ok_or_else(|| {
            RpcError::Answer {
                method: "getblockcount".to_owned(),
                what: format!("not a height: {result}"),
            }
        })
    }

    /// Returns the hash of the best chain's block at `height`.
    ///
    /// # Errors
    ///
    /// [`RpcError`].
    pub fn block_hash(&self, height: u32) -> Result<Hash32, RpcError> {
        let result = self.call("getblockhash", &json!([height]))?;
        result.as_str().and_then(|text| Hash32::from_display_hex(text).ok()).ok_or_else(|| {
            RpcError::Answer {
                method: format!("getblockhash({height})"),
                what: format!("not a hash: {result}"),
            }
        })
    }

    /// Returns the serialized block with `hash` (the bytes Core writes to its blk files).
    ///
    /// # Errors
    ///
    /// [`RpcError`].
    pub fn block(&self, hash: &Hash32) -> Result<Vec<u8>, RpcError> {
        let method = format!("getblock({hash}, 0)");
        let result = self.call("getblock", &json!([hash.to_string(), 0]))?;
        let text = result.as_str().ok_or_else(|| RpcError::Answer {
            method: method.clone(),
            what: "not a hex string".to_owned(),
        })?;
        decode_hex(text).ok_or_else(|| RpcError::Answer { method, what: "invalid hex".to_owned() })
    }
}

fn read_cookie(path: &Path) -> Result<String, RpcError> {
    fs_err::read_to_string(path)
        .map_err(|source| RpcError::Cookie { path: path.to_owned(), source })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    bytes.chunks_exact(2).map(|pair| Some((digit(pair[0])? << 4) | digit(pair[1])?)).collect()
}
