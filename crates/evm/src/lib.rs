//! EVM chains for cointrail: Ethereum and compatible chains from any JSON-RPC node into the store.
//!
//! Three parts, after cryo's extract/transform split:
//! - [`source`]: extraction, I/O only (JSON-RPC batches over HTTP, bounded concurrency, retries
//!   with backoff, a rate limit, timeouts; the node's tracer probed once);
//! - [`transform`]: pure functions from a block, its receipts and its call traces to value flows
//!   (native transfers, gas fees and burns, internal transfers, EIP-20 and EIP-721 transfers,
//!   withdrawals, rewards), tested on recorded mainnet answers;
//! - [`ingest()`]: the order of work, resumable and reorganisation-safe, into
//!   `cointrail_store::evm`.
//!
//! It knows no byte layout (that is `cointrail-store`) and must not depend on analysis, API or CLI
//! crates. The flow rules are documented in [`transform`] and `docs/evm.md`.
//!
//! Start with [`ingest()`]:
//!
//! ```no_run
//! # fn main() -> Result<(), cointrail_evm::EvmError> {
//! let report = cointrail_evm::ingest(
//!     "http://127.0.0.1:8545",
//!     std::path::Path::new("./store"),
//!     None,
//!     None,
//!     None,
//!     &mut cointrail_evm::NoProgress,
//! )?;
//! println!("{} blocks, {} flows", report.blocks, report.flows);
//! # Ok(())
//! # }
//! ```

mod error;
mod ingest;
mod pipeline;
mod prune;
pub mod source;
pub mod transform;

pub use error::{EvmError, Result, TransformError};
pub use ingest::{
    IngestOptions, IngestReport, NoProgress, Progress, chains, default_chain_name, ingest,
    ingest_with,
};
pub use source::{RpcSource, SourceOptions, TraceMode};
pub use transform::{BlockFlows, Flow, RawBlock, Traces, transform_block};
