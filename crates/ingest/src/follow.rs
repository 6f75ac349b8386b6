//! Following a node: new blocks into the store within seconds, reorganisations unwound.
//!
//! Each block is fetched, checked (its hash is the one the node named, its merkle root matches,
//! it extends the stored tip) and appended; a block that fails is rolled back whole, so the store
//! never holds half a block. A block whose parent is not the stored tip means the node switched
//! branches: the store is unwound to the fork point (the highest height where store and node
//! agree) and the winning branch is applied, which leaves exactly the bytes a fresh ingest of that
//! branch would write. A node that disappears or answers garbage is logged and retried.

use std::thread::sleep;
use std::time::{Duration, Instant};

use cointrail_btc::{DecodedBlock, Network};
use cointrail_store::{ChainSpec, ChainView, StoreWriter};
use cointrail_types::{Hash32, Height};

use crate::btc::append_block;
use crate::error::{IngestError, Result};
use crate::rpc::{BtcRpc, RpcError};

/// How to follow.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// The node's network.
    pub network: Network,
    /// The store directory.
    pub store_dir: std::path::PathBuf,
    /// Time between polls of the node's tip when synced.
    pub poll: Duration,
    /// Return once the store has the node's tip.
    pub exit_when_synced: bool,
    /// When catching up, commit after this many blocks (each block is committed once synced).
    pub batch_blocks: u32,
    /// Give up after this many consecutive failed attempts (`None`: retry forever).
    pub max_failures: Option<u32>,
}

/// What happened, reported as it happens.
pub trait FollowEvents {
    /// A block was appended (not yet committed). Called before the commit, so that anything
    /// derived from it (alerts) is made durable first.
    ///
    /// # Errors
    ///
    /// A message; the block is then rolled back and the follow stops.
    fn block(
        &mut self,
        view: &ChainView<'_>,
        height: Height,
        block: &DecodedBlock,
    ) -> std::result::Result<(), String>;
    /// The store was unwound from `from` back to `to` (the fork point) for a reorganisation.
    fn reorg(&mut self, _from: Height, _to: Height) {}
    /// The store has the node's tip.
    fn synced(&mut self, _tip: Height) {}
    /// The node failed; the follow retries.
    fn node_error(&mut self, _error: &str) {}
    /// The follow is about to wait for the next poll (time for retries, e.g. of webhooks).
    fn idle(&mut self) {}
}

/// Counts of a follow run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowReport {
    /// Blocks appended.
    pub blocks: u64,
    /// Reorganisations unwound.
    pub reorgs: u64,
    /// Deepest reorganisation (blocks removed).
    pub deepest_reorg: u32,
    /// Node failures retried.
    pub node_errors: u64,
    /// Height of the store's tip at the end.
    pub tip: Option<u32>,
}

enum Step {
    Appended,
    Reorged,
}

/// Follows the node at `rpc` into the store, until synced (with `exit_when_synced`) or forever.
///
/// # Errors
///
/// Store errors, an event handler's error, or the node's after `max_failures` consecutive
/// failures. Committed blocks stay.
pub fn follow_btc(
    rpc: &BtcRpc,
    options: &FollowOptions,
    events: &mut dyn FollowEvents,
) -> Result<FollowReport> {
    let spec =
        ChainSpec { chain: "bitcoin".to_owned(), network: options.network.name().to_owned() };
    let mut writer = StoreWriter::open(&options.store_dir, &spec)?;
    let mut report = FollowReport::default();
    let mut failures = 0u32;
    let mut uncommitted = 0u32;
    let mut decoded = DecodedBlock::default();
    loop {
        let node_height = match rpc.block_count() {
            Ok(height) => height,
            Err(error) => {
                fail(&mut failures, options, &mut report, events, &error.to_string())?;
                sleep(options.poll);
                continue;
            }
        };
        let mut progressed = false;
        loop {
            let next = u32::try_from(writer.view().counts().blocks).expect("heights fit u32");
            if next > node_height {
                break;
            }
            let behind = node_height - next;
            match step(rpc, options, &mut writer, &mut decoded, next, events, &mut report) {
                Ok(Step::Appended) => {
                    failures = 0;
                    progressed = true;
                    report.blocks += 1;
                    uncommitted += 1;
                    if behind == 0 || uncommitted >= options.batch_blocks {
                        writer.commit()?;
                        uncommitted = 0;
                    }
                }
                Ok(Step::Reorged) => {
                    uncommitted = 0;
                    progressed = true;
                }
                Err(StepError::Node(message)) => {
                    writer.rollback()?;
                    uncommitted = 0;
                    fail(&mut failures, options, &mut report, events, &message)?;
                    sleep(options.poll);
                    break;
                }
                Err(StepError::Fatal(error)) => {
                    writer.rollback()?;
                    return Err(error);
                }
            }
        }
        if uncommitted > 0 {
            writer.commit()?;
            uncommitted = 0;
        }
        let tip = writer.view().tip();
        report.tip = tip.as_ref().map(|block| block.height.get());
        if let Some(tip) = &tip
            && tip.height.get() >= node_height
        {
            if progressed || options.exit_when_synced {
                events.synced(tip.height);
            }
            if options.exit_when_synced {
                events.idle();
                writer.finish()?;
                return Ok(report);
            }
        }
        events.idle();
        sleep(options.poll);
    }
}

fn fail(
    failures: &mut u32,
    options: &FollowOptions,
    report: &mut FollowReport,
    events: &mut dyn FollowEvents,
    message: &str,
) -> Result<()> {
    *failures += 1;
    report.node_errors += 1;
    events.node_error(message);
    match options.max_failures {
        Some(limit) if *failures >= limit => Err(IngestError::Node { message: message.to_owned() }),
        _ => Ok(()),
    }
}

enum StepError {
    /// The node failed or answered garbage: retry later.
    Node(String),
    /// The store or an event handler failed: stop.
    Fatal(IngestError),
}

impl From<RpcError> for StepError {
    fn from(error: RpcError) -> Self {
        Self::Node(error.to_string())
    }
}

fn step(
    rpc: &BtcRpc,
    options: &FollowOptions,
    writer: &mut StoreWriter,
    decoded: &mut DecodedBlock,
    height: u32,
    events: &mut dyn FollowEvents,
    report: &mut FollowReport,
) -> std::result::Result<Step, StepError> {
    let hash = rpc.block_hash(height)?;
    let raw = rpc.block(&hash)?;
    let decoding = if options.network.is_litecoin() {
        decoded.decode_litecoin_into(&raw)
    } else {
        decoded.decode_into(&raw)
    };
    decoding
        .map_err(|error| StepError::Node(format!("block {hash} at height {height}: {error}")))?;
    if decoded.hash != hash {
        return Err(StepError::Node(format!(
            "node answered block {} when asked for {hash} (height {height})",
            decoded.hash
        )));
    }
    if decoded.merkle_root() != decoded.header.merkle_root {
        return Err(StepError::Node(format!(
            "block {hash} at height {height}: merkle root mismatch"
        )));
    }
    if height == 0 {
        if hash != options.network.genesis_hash() {
            return Err(StepError::Fatal(IngestError::Diverged {
                height: 0,
                stored: options.network.genesis_hash(),
                found: hash,
            }));
        }
    } else {
        let tip = writer.view().tip().map(|block| block.hash).unwrap_or_default();
        if decoded.header.prev_blockhash != tip {
            let fork = fork_point(rpc, &writer.view(), height - 1)?;
            writer.unwind_to(Height::new(fork)).map_err(|error| StepError::Fatal(error.into()))?;
            cointrail_store::invalidate_clusters(&options.store_dir)
                .map_err(|error| StepError::Fatal(error.into()))?;
            report.reorgs += 1;
            report.deepest_reorg = report.deepest_reorg.max(height - 1 - fork);
            events.reorg(Height::new(height - 1), Height::new(fork));
            return Ok(Step::Reorged);
        }
    }
    let header: [u8; 80] = raw[..80].try_into().expect("a decoded block has a header");
    let size = u32::try_from(raw.len()).expect("blocks are under 4 GiB");
    append_block(writer, decoded, &header, size, height).map_err(|error| match error {
        // An unknown prevout or double spend from the node's best chain: garbage, retry.
        IngestError::UnknownPrevout { .. } | IngestError::DoubleSpend { .. } => {
            StepError::Node(error.to_string())
        }
        other => StepError::Fatal(other),
    })?;
    events
        .block(&writer.view(), Height::new(height), decoded)
        .map_err(|message| StepError::Fatal(IngestError::Node { message }))?;
    Ok(Step::Appended)
}

/// The highest height at or below `from` where the store and the node have the same block.
fn fork_point(
    rpc: &BtcRpc,
    view: &ChainView<'_>,
    from: u32,
) -> std::result::Result<u32, StepError> {
    let started = Instant::now();
    let mut height = from;
    loop {
        let stored = view.block(Height::new(height)).map(|block| block.hash);
        let node: Hash32 = rpc.block_hash(height)?;
        if stored == Some(node) || height == 0 {
            return Ok(height);
        }
        height -= 1;
        if started.elapsed() > Duration::from_secs(600) {
            return Err(StepError::Node("fork point search took over 10 minutes".to_owned()));
        }
    }
}
