//! Ingest: the order of work from a node into the store, resumable and reorganisation-safe.
//!
//! Starts after the stored tip; fetches and transforms blocks ahead (extraction, concurrent; the
//! transform is pure; `pipeline.rs`), takes them a batch at a time, checks that each extends the
//! stored tip (its `parentHash` is the tip's hash), appends it, and commits the batch with its
//! checkpoint (the manifest's tip). A block that does not extend
//! the tip means the node switched branches: the pending batch is rolled back, the store is
//! unwound to the fork point (the highest stored block whose hash the node still has) and the
//! ingest goes on from there. An error leaves the last commit in force.

use std::collections::HashMap;
use std::path::Path;

use cointrail_store::evm::{Asset, AssetInfo, EvmChainSpec, EvmStoreWriter, NewFlow, evm_chains};
use cointrail_types::B256;

use crate::error::{EvmError, Result};
use crate::pipeline::Pipeline;
use crate::source::{RpcSource, SourceOptions, TraceMode};
use crate::transform::BlockFlows;

/// How to ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOptions {
    /// Blocks per commit.
    pub batch_blocks: u64,
    /// How to talk to the node.
    pub source: SourceOptions,
    /// Use this tracer instead of probing the node (e.g. [`TraceMode::None`] to skip traces).
    pub trace_mode: Option<TraceMode>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self { batch_blocks: 200, source: SourceOptions::default(), trace_mode: None }
    }
}

/// What happened, reported as it happens (the CLI draws a progress bar).
pub trait Progress {
    /// The ingest will cover blocks `from..=to`.
    fn start(&mut self, _from: u64, _to: u64) {}
    /// A batch was committed: the store's tip is now `tip`.
    fn committed(&mut self, _tip: u64, _blocks: u64, _flows: u64) {}
    /// The store was unwound from `from` back to `to` (the fork point).
    fn reorg(&mut self, _from: u64, _to: u64) {}
}

/// A [`Progress`] that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// Counts of an ingest run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestReport {
    /// Chain name in the store.
    pub chain: String,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// First block appended by this run.
    pub from: Option<u64>,
    /// The stored tip at the end.
    pub tip: Option<(u64, B256)>,
    /// Blocks appended.
    pub blocks: u64,
    /// Transactions appended.
    pub txs: u64,
    /// Flows appended.
    pub flows: u64,
    /// Token contracts added.
    pub assets: u64,
    /// Reorganisations unwound.
    pub reorgs: u64,
    /// Blocks removed by them.
    pub unwound: u64,
    /// The tracer used (`None` if no block was fetched).
    pub trace_mode: Option<TraceMode>,
    /// Stored block ranges without internal-transfer coverage.
    pub coverage_gaps: Vec<(u64, u64)>,
}

/// Returns the default store name of a chain id (`ethereum`, `anvil`, ... or `chain-<id>`).
pub fn default_chain_name(chain_id: u64) -> String {
    match chain_id {
        1 => "ethereum",
        10 => "optimism",
        56 => "bsc",
        100 => "gnosis",
        137 => "polygon",
        8453 => "base",
        42161 => "arbitrum",
        43114 => "avalanche",
        17000 => "holesky",
        11_155_111 => "sepolia",
        31337 => "anvil",
        _ => return format!("chain-{chain_id}"),
    }
    .to_owned()
}

/// Ingests blocks of the node at `rpc_url` into chain `chain` (default: named after the node's
/// chain id) of the store at `store_dir`, from `from` (default: after the stored tip, or 0) to
/// `to` (default: the node's latest block), with default options.
///
/// # Errors
///
/// [`EvmError`]: node failures and bad answers name the method and block; the last commit stays in
/// force.
pub fn ingest(
    rpc_url: &str,
    store_dir: &Path,
    chain: Option<&str>,
    from: Option<u64>,
    to: Option<u64>,
    progress: &mut dyn Progress,
) -> Result<IngestReport> {
    ingest_with(rpc_url, store_dir, chain, from, to, &IngestOptions::default(), progress)
}

/// [`ingest`] with options.
///
/// # Errors
///
/// As [`ingest`].
pub fn ingest_with(
    rpc_url: &str,
    store_dir: &Path,
    chain: Option<&str>,
    from: Option<u64>,
    to: Option<u64>,
    options: &IngestOptions,
    progress: &mut dyn Progress,
) -> Result<IngestReport> {
    let source = RpcSource::new(rpc_url, options.source.clone())?;
    if let Some(mode) = options.trace_mode {
        source.set_trace_mode(mode);
    }
    let chain_id = source.chain_id()?;
    let name = match chain {
        Some(name) => name.to_owned(),
        None => default_chain_name(chain_id),
    };
    let mut writer =
        EvmStoreWriter::open(store_dir, &EvmChainSpec { name: name.clone(), chain_id })?;
    let latest = source.latest_block()?;
    let to = match to {
        Some(to) if to > latest => {
            return Err(EvmError::Range {
                what: format!("--to {to} is past the node's latest block {latest}"),
            });
        }
        Some(to) => to,
        None => latest,
    };
    let mut report = IngestReport {
        chain: name,
        chain_id,
        from: None,
        tip: None,
        blocks: 0,
        txs: 0,
        flows: 0,
        assets: 0,
        reorgs: 0,
        unwound: 0,
        trace_mode: None,
        coverage_gaps: Vec::new(),
    };

    // The stored tip may have been reorganised away even if the node's chain did not grow.
    if let Some(tip) = writer.view().tip()
        && source.block_hash(tip.block.number)? != Some(tip.block.hash)
    {
        unwind_to_fork(&source, &mut writer, &mut report, progress)?;
    }
    let next = match (writer.view().tip(), from) {
        (Some(tip), Some(from)) if from > tip.block.number + 1 => {
            return Err(EvmError::Range {
                what: format!(
                    "--from {from} would leave a hole after the stored tip {} of {}",
                    tip.block.number, report.chain
                ),
            });
        }
        (Some(tip), _) => tip.block.number + 1,
        (None, from) => from.unwrap_or(0),
    };
    progress.start(next, to);
    std::thread::scope(|scope| {
        ingest_batches(scope, &source, &mut writer, next, to, options, &mut report, progress)
    })?;
    let view = writer.view();
    report.tip = view.tip().map(|tip| (tip.block.number, tip.block.hash));
    report.coverage_gaps = view.coverage_gaps();
    writer.finish()?;
    Ok(report)
}

/// The batches from `next` to `to`: a [`Pipeline`] fetches and transforms blocks ahead while
/// each batch is checked and written; a reorganisation restarts it from the fork.
#[allow(clippy::too_many_arguments, reason = "the state of one ingest run, passed once")]
fn ingest_batches<'scope, 'env: 'scope>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    source: &'env RpcSource,
    writer: &mut EvmStoreWriter,
    mut next: u64,
    to: u64,
    options: &IngestOptions,
    report: &mut IngestReport,
    progress: &mut dyn Progress,
) -> Result<()> {
    if next > to {
        return Ok(());
    }
    let batch = options.batch_blocks.max(1);
    let batch_len = usize::try_from(batch).unwrap_or(usize::MAX);
    // Up to two batches of requests ahead of the writer (and at least one per thread).
    let per_request = options.source.blocks_per_request.max(1);
    let window = (2 * batch_len / per_request).max(options.source.concurrency);
    report.trace_mode = Some(source.probe(next)?);
    let mut pipeline = Pipeline::start(scope, source, next, to, window);
    let mut assets_before = writer.view().counts().assets;
    let mut reorg_budget = 64u32;
    'batches: while next <= to {
        let end = next.saturating_add(batch).min(to.saturating_add(1));
        let blocks = pipeline.take(batch_len)?;
        if blocks.len() as u64 != end - next
            || blocks.first().is_some_and(|block| block.block.number != next)
        {
            return Err(EvmError::Range {
                what: format!("the fetching pipeline lost blocks {next}..{end}"),
            });
        }
        // Token metadata, once per token, for the tokens this batch meets first.
        let mut new_tokens = Vec::new();
        let mut seen = HashMap::new();
        for block in &blocks {
            for (contract, erc721) in block.tokens() {
                if writer.asset_id(&contract).is_none() && seen.insert(contract, ()).is_none() {
                    new_tokens.push((contract, erc721));
                }
            }
        }
        let infos: HashMap<_, AssetInfo> =
            source.token_info(&new_tokens)?.into_iter().map(|info| (info.contract, info)).collect();
        for block in &blocks {
            if let Some(tip) = writer.view().tip()
                && tip.block.hash != block.block.parent_hash
            {
                writer.rollback()?;
                reorg_budget = reorg_budget.checked_sub(1).ok_or_else(|| EvmError::Range {
                    what: "the node keeps switching branches; try again later".to_owned(),
                })?;
                drop(pipeline);
                next = unwind_to_fork(source, writer, report, progress)?;
                pipeline = Pipeline::start(scope, source, next, to, window);
                continue 'batches;
            }
            append(writer, block, &infos, report)?;
        }
        writer.commit()?;
        report.from.get_or_insert(next);
        next = end;
        let view = writer.view();
        progress.committed(next - 1, view.counts().blocks, view.counts().flows);
        report.assets += view.counts().assets - assets_before;
        assets_before = view.counts().assets;
    }
    Ok(())
}

/// Appends one block's rows.
fn append(
    writer: &mut EvmStoreWriter,
    block: &BlockFlows,
    infos: &HashMap<cointrail_types::EvmAddress, AssetInfo>,
    report: &mut IngestReport,
) -> Result<()> {
    writer.push_block(&block.block)?;
    let mut numbers = Vec::with_capacity(block.txs.len());
    for hash in &block.txs {
        numbers.push(writer.push_tx(hash)?);
    }
    for flow in &block.flows {
        let asset = match flow.asset {
            Asset::Native => 0,
            Asset::Token(contract) => match writer.asset_id(&contract) {
                Some(id) => id,
                None => {
                    let info = infos.get(&contract).cloned().unwrap_or(AssetInfo {
                        contract,
                        erc721: flow.kind == cointrail_store::evm::FlowKind::Erc721,
                        symbol: None,
                        decimals: None,
                    });
                    writer.push_asset(&info)?
                }
            },
        };
        let tx = flow.tx_index.and_then(|index| numbers.get(index as usize).copied());
        writer.push_flow(&NewFlow {
            block: block.block.number,
            tx,
            position: flow.position,
            kind: flow.kind,
            from: flow.from,
            to: flow.to,
            asset,
            amount: flow.amount,
        })?;
    }
    report.blocks += 1;
    report.txs += block.txs.len() as u64;
    report.flows += block.flows.len() as u64;
    Ok(())
}

/// Unwinds the committed chain to the highest stored block the node still has, and returns the
/// number of the block to fetch next.
fn unwind_to_fork(
    source: &RpcSource,
    writer: &mut EvmStoreWriter,
    report: &mut IngestReport,
    progress: &mut dyn Progress,
) -> Result<u64> {
    let view = writer.view();
    let (Some(first), Some(tip)) = (view.first_block(), view.tip()) else { return Ok(0) };
    let tip = tip.block.number;
    let mut number = tip;
    loop {
        let stored = writer.view().block(number).map(|info| info.block.hash);
        if stored.is_some() && source.block_hash(number)? == stored {
            break;
        }
        if number == first {
            return Err(EvmError::ReorgTooDeep { first });
        }
        number -= 1;
    }
    writer.unwind_to(number)?;
    report.reorgs += 1;
    report.unwound += tip - number;
    progress.reorg(tip, number);
    Ok(number + 1)
}

/// Lists the EVM chains of a store (re-exported for the CLI's `--chain` resolution).
///
/// # Errors
///
/// An I/O error.
pub fn chains(store_dir: &Path) -> Result<Vec<String>> {
    Ok(evm_chains(store_dir)?)
}
