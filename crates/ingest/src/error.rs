//! Errors of ingestion: each names the file and offset, or the height, where the input went wrong.

use std::path::PathBuf;

use cointrail_btc::{BlkError, ChainError, DecodeError};
use cointrail_store::StoreError;
use cointrail_types::Hash32;

/// Errors returned by [`ingest_btc`](crate::ingest_btc).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The blocks directory could not be read.
    #[error(transparent)]
    Blocks(#[from] BlkError),
    /// The blocks do not form a chain from the network's genesis.
    #[error("{source} in {dir} (is --network right?)")]
    Chain {
        /// The blocks directory.
        dir: PathBuf,
        /// What was wrong.
        #[source]
        source: ChainError,
    },
    /// The store could not be opened or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A block's bytes do not decode.
    #[error("corrupt block at height {height} in {file} at offset {offset}: {source}")]
    Decode {
        /// The blk file.
        file: PathBuf,
        /// Absolute offset of the block's first byte in the file.
        offset: u64,
        /// Height the block would have.
        height: u32,
        /// What the decoder found.
        #[source]
        source: DecodeError,
    },
    /// A block's transactions do not hash to the merkle root of its header.
    #[error("block {hash} at height {height} in {file} at offset {offset}: merkle root mismatch")]
    MerkleMismatch {
        /// The blk file.
        file: PathBuf,
        /// Offset of the block in the file.
        offset: u64,
        /// Height of the block.
        height: u32,
        /// Hash of the block.
        hash: Hash32,
    },
    /// An input spends an output the store does not have.
    #[error("tx {spender} at height {height} spends unknown output {txid}:{vout}")]
    UnknownPrevout {
        /// Txid of the spent output.
        txid: Hash32,
        /// Index of the spent output.
        vout: u32,
        /// The spending transaction.
        spender: Hash32,
        /// Height of the spending block.
        height: u32,
    },
    /// An input spends an output that is already spent.
    #[error("tx {spender} at height {height} spends {txid}:{vout}, which is already spent")]
    DoubleSpend {
        /// Txid of the spent output.
        txid: Hash32,
        /// Index of the spent output.
        vout: u32,
        /// The spending transaction.
        spender: Hash32,
        /// Height of the spending block.
        height: u32,
    },
    /// The node kept failing, or a follow event handler failed.
    #[error("{message}")]
    Node {
        /// What happened.
        message: String,
    },
    /// The stored chain is not a prefix of the best chain in the block files.
    #[error(
        "the store holds block {stored} at height {height}, but the best chain in the block files \
         has {found} there (a reorganisation: re-ingest into a new store)"
    )]
    Diverged {
        /// First height where the chains differ.
        height: u32,
        /// Hash in the store.
        stored: Hash32,
        /// Hash in the block files (zero if they end before).
        found: Hash32,
    },
}

/// Result with [`IngestError`] as the default error.
pub type Result<T, E = IngestError> = std::result::Result<T, E>;
