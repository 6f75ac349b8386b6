//! Ingestion pipeline of cointrail: from a Bitcoin Core blocks directory into the store.
//!
//! Owns the order of work (scan headers, pick the best chain, resume after the stored tip, decode,
//! resolve every input to the output it spends, commit batches together with their checkpoint) and
//! the errors a user sees when input is bad. It knows no byte layout (that is `cointrail-store`)
//! and no block format (that is `cointrail-btc`), and it must not depend on analysis, API or CLI
//! crates.
//!
//! Start with [`ingest_btc`] (blk files) or [`follow_btc`] (a node's JSON-RPC).

mod btc;
mod error;
mod follow;
pub mod http;
mod rpc;

pub use btc::{IngestOptions, IngestReport, Progress, append_block, ingest_btc};
pub use error::{IngestError, Result};
pub use follow::{FollowEvents, FollowOptions, FollowReport, follow_btc};
pub use rpc::{BtcRpc, RpcAuth, RpcError};
