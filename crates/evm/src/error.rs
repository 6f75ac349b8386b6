//! Errors of EVM extraction, transformation and ingest.

use cointrail_store::StoreError;

use cointrail_ingest::http::HttpError;

/// An answer from the node that the transform cannot use: malformed, incomplete or inconsistent.
/// Names the block and the JSON-RPC method whose answer was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("block {block}: {method}: {what}")]
pub struct TransformError {
    /// Block number.
    pub block: u64,
    /// The method whose answer was wrong (`eth_getBlockByNumber`, `eth_getBlockReceipts`, ...).
    pub method: &'static str,
    /// What was wrong, naming the field and transaction.
    pub what: String,
}

/// Errors of the EVM crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvmError {
    /// The HTTP exchange failed (after the retries).
    #[error("rpc {method}{}", block_suffix(*.block))]
    Http {
        /// The method called (the first of a batch).
        method: String,
        /// The block concerned, if any.
        block: Option<u64>,
        /// The cause.
        #[source]
        source: HttpError,
    },
    /// The node answered with an HTTP error status (after the retries).
    #[error("rpc {method}{}: http status {status}", block_suffix(*.block))]
    Status {
        /// The method called (the first of a batch).
        method: String,
        /// The block concerned, if any.
        block: Option<u64>,
        /// The status code.
        status: u16,
    },
    /// The node answered with a JSON-RPC error.
    #[error("rpc {method}{}: node error {code}: {message}", block_suffix(*.block))]
    Node {
        /// The method called.
        method: String,
        /// The block concerned, if any.
        block: Option<u64>,
        /// The node's error code.
        code: i64,
        /// The node's message.
        message: String,
    },
    /// The answer is not JSON-RPC, or not what the method returns.
    #[error("rpc {method}{}: unexpected answer: {what}", block_suffix(*.block))]
    Answer {
        /// The method called.
        method: String,
        /// The block concerned, if any.
        block: Option<u64>,
        /// What was wrong.
        what: String,
    },
    /// A block's answers cannot be turned into flows.
    #[error(transparent)]
    Transform(#[from] TransformError),
    /// The requested range cannot be ingested.
    #[error("{what}")]
    Range {
        /// Why (e.g. a hole after the stored tip).
        what: String,
    },
    /// The node's chain switched branches deeper than the stored blocks can show.
    #[error(
        "reorganisation deeper than the stored chain: no stored block from {first} up matches the \
         node; re-ingest into a new store"
    )]
    ReorgTooDeep {
        /// First stored block.
        first: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn block_suffix(block: Option<u64>) -> String {
    block.map(|number| format!(" (block {number})")).unwrap_or_default()
}

/// Result with [`EvmError`] as the default error.
pub type Result<T, E = EvmError> = std::result::Result<T, E>;
