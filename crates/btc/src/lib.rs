//! Bitcoin for cointrail: bytes in, records out.
//!
//! This crate owns everything Bitcoin-specific that turns bytes into chain-agnostic records:
//!
//! - [`BlocksDir`] reads a Bitcoin Core blocks directory (`blk?????.dat`, with the `xor.dat`
//!   obfuscation of Core 28+): [`BlocksDir::scan_headers`] finds every block's header and location,
//!   [`BlocksDir::read_block`] reads one block's bytes.
//! - [`best_chain`] picks the most-work chain from genesis among the scanned headers (forks,
//!   orphans and out-of-order storage are normal in blk files), with [`block_work`] and
//!   [`meets_target`] for proof of work.
//! - [`DecodedBlock`] decodes a block into flat transaction, input and output records, reusing its
//!   buffers, with txids and the merkle root recomputed.
//! - [`script_to_address`] maps output scripts to [`AddressKey`](cointrail_types::AddressKey)s (the script rules in the
//!   [`address`] module are a stable contract), and [`Network`] writes and parses address text.
//!
//! It has no store, no network access and no notion of ids: it depends only on `cointrail-types`
//! and hashing/encoding crates, and must not depend on any other `cointrail-*` crate, on a storage
//! backend or on a full Bitcoin library.
//!
//! To start: open the directory with [`BlocksDir::open`], call
//! [`BlocksDir::scan_headers`] with [`Network::magic`], pass the entries and
//! [`Network::genesis_hash`] to [`best_chain`], then for each index of [`BestChain::blocks`] call
//! [`BlocksDir::read_block`] and [`DecodedBlock::decode_into`].

pub mod address;
mod blk;
mod chain;
mod decode;
mod network;

pub use address::{AddressError, script_to_address};
pub use blk::{BlkError, BlockLocation, BlocksDir, HeaderEntry};
pub use chain::{BestChain, ChainError, best_chain, block_work, meets_target, target_from_bits};
pub use decode::{
    BlockHeader, DecodeError, DecodeErrorKind, DecodedBlock, DecodedInput, DecodedOutput, DecodedTx,
};
pub use network::{Network, ParseNetworkError};
