//! The Bitcoin stage: a Core blocks directory into the store.
//!
//! One thread reads and decodes blocks in chain order while the calling thread resolves inputs and
//! writes the store, so both cores of a small machine are busy. Each batch is committed together
//! with its checkpoint (the block count in the manifest): re-running adds only the blocks after the
//! stored tip, and an interrupted run loses at most the uncommitted batch.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cointrail_btc::{BlocksDir, DecodedBlock, HeaderEntry, Network, best_chain};
use cointrail_store::{
    BlockOutputs, ChainSpec, Prevout, RecoveryReport, StoreWriter, TablePlacement, TxRows,
};
use cointrail_types::{AddressKey, Hash32, OutputId};

use crate::error::{IngestError, Result};

/// What to ingest and how.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The Bitcoin Core blocks directory (`blk*.dat`, optional `xor.dat`).
    pub blocks_dir: PathBuf,
    /// The store directory (created if absent).
    pub store_dir: PathBuf,
    /// The network the blocks belong to.
    pub network: Network,
    /// Commit after this many transactions...
    pub batch_txs: u64,
    /// ...or this many blocks, whichever comes first.
    pub batch_blocks: u32,
    /// Stop after this height (inclusive); `None` ingests the whole best chain.
    pub max_height: Option<u32>,
}

impl IngestOptions {
    /// Options with the default batch size (2,000,000 transactions per commit: each commit
    /// writes back the column pages dirtied since the last, see docs/performance-history.md).
    pub fn new(blocks_dir: &Path, store_dir: &Path, network: Network) -> Self {
        Self {
            blocks_dir: blocks_dir.to_owned(),
            store_dir: store_dir.to_owned(),
            network,
            batch_txs: 2_000_000,
            batch_blocks: 10_000,
            max_height: None,
        }
    }
}

/// Receives progress events; every method has an empty default.
pub trait Progress {
    /// Headers were scanned: `files` blk files, `blocks` blocks found.
    fn scanned(&mut self, _files: usize, _blocks: usize) {}
    /// Ingestion of heights `from..=to` starts, `bytes` of blocks to read.
    fn start(&mut self, _from: u32, _to: u32, _bytes: u64) {}
    /// A block was written.
    fn block(&mut self, _height: u32, _bytes: u64, _txs: usize) {}
    /// A batch was committed up to `height`.
    fn committed(&mut self, _height: u32) {}
}

impl Progress for () {}

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestReport {
    /// Blocks found in the files.
    pub blocks_found: usize,
    /// Blocks in the files that are not on the best chain (forks, orphans, duplicates, bad
    /// proof of work).
    pub blocks_ignored: usize,
    /// Height of the best chain's tip in the files.
    pub best_height: u32,
    /// Height of the store's tip after the run (`None` for an empty store).
    pub tip_height: Option<u32>,
    /// Hash of the store's tip after the run.
    pub tip_hash: Option<Hash32>,
    /// Blocks added by this run.
    pub blocks_added: u64,
    /// Transactions added by this run.
    pub txs_added: u64,
    /// Bytes of blocks read by this run.
    pub bytes_read: u64,
    /// Wall time of this run.
    pub elapsed: Duration,
    /// What recovery repaired, if a previous run was interrupted.
    pub recovery: Option<RecoveryReport>,
    /// Where the address index was at the end of the run (in memory, or in a scratch file when
    /// too large for the memory: a reason for a slow ingest).
    pub address_index: TablePlacement,
    /// Where the live transactions were at the end of the run (in memory, or in a scratch file
    /// when they did not fit beside the rest of the memory: a reason for a slow ingest).
    pub live_map: TablePlacement,
    /// Whether the writer ended up reading the address rows it confirms ahead of its lookups,
    /// which it does once they no longer fit in the page cache (a reason for a slower ingest).
    pub address_read_ahead: bool,
}

/// A decoded block on its way from the reader thread, with where it came from.
struct Loaded {
    height: u32,
    size: u32,
    header: [u8; 80],
    block: DecodedBlock,
}

/// Ingests the best chain of a Bitcoin Core blocks directory into a store, resuming after the
/// stored tip.
///
/// # Errors
///
/// [`IngestError`] naming the file and offset of unreadable or corrupt blocks, the height of an
/// input whose prevout is unknown, or a store error. Everything committed before the error stays.
pub fn ingest_btc(options: &IngestOptions, progress: &mut dyn Progress) -> Result<IngestReport> {
    let started = Instant::now();
    let blocks = BlocksDir::open(&options.blocks_dir)?;
    let headers = blocks.scan_headers(options.network.magic(), |_, _| {})?;
    progress.scanned(blocks.files().len(), headers.len());
    let best = best_chain(&headers, options.network.genesis_hash())
        .map_err(|source| IngestError::Chain { dir: options.blocks_dir.clone(), source })?;
    let best_height = u32::try_from(best.blocks.len() - 1).expect("heights fit u32");
    let chain: Vec<&HeaderEntry> = best.blocks.iter().map(|&index| &headers[index]).collect();

    let spec =
        ChainSpec { chain: "bitcoin".to_owned(), network: options.network.name().to_owned() };
    let mut writer = StoreWriter::open(&options.store_dir, &spec)?;
    let recovery = writer.recovery();
    let stored = writer.view().counts().blocks;
    check_stored_prefix(&writer, &chain)?;

    let last = options.max_height.map_or(best_height, |max| max.min(best_height));
    let first = u32::try_from(stored).expect("heights fit u32");
    let mut report = IngestReport {
        blocks_found: headers.len(),
        blocks_ignored: best.ignored + best.failed_pow,
        best_height,
        tip_height: None,
        tip_hash: None,
        blocks_added: 0,
        txs_added: 0,
        bytes_read: 0,
        elapsed: Duration::ZERO,
        recovery,
        address_index: writer.address_index(),
        live_map: writer.live_map(),
        address_read_ahead: false,
    };
    if first <= last {
        let todo = &chain[first as usize..=last as usize];
        let bytes = todo.iter().map(|entry| u64::from(entry.location.len)).sum();
        progress.start(first, last, bytes);
        // Size the address index of a new store for the whole best chain of the directory,
        // whatever `max_height` (so that ingesting in steps gives the bytes of one run); a
        // non-empty store keeps the reserve it was created with.
        let chain_bytes: u64 = chain.iter().map(|entry| u64::from(entry.location.len)).sum();
        writer.reserve(chain_bytes / BYTES_PER_INDEX_ENTRY)?;
        write_blocks(&blocks, todo, first, options, &mut writer, progress, &mut report)?;
    }
    writer.commit()?;
    if let Some(tip) = writer.view().tip() {
        report.tip_height = Some(tip.height.get());
        report.tip_hash = Some(tip.hash);
    }
    report.address_index = writer.address_index();
    report.live_map = writer.live_map();
    report.address_read_ahead = writer.reads_ahead();
    writer.finish()?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Checks that the stored blocks are the first blocks of the best chain.
fn check_stored_prefix(writer: &StoreWriter, chain: &[&HeaderEntry]) -> Result<()> {
    let view = writer.view();
    let Some(tip) = view.tip() else { return Ok(()) };
    let height = tip.height.get() as usize;
    let found = chain.get(height).map_or(Hash32::default(), |entry| entry.hash);
    if found == tip.hash {
        return Ok(());
    }
    // Find the first divergence to name it.
    let mut first = height;
    for (index, entry) in chain.iter().enumerate().take(height) {
        let stored = view.block(cointrail_types::Height::new(u32::try_from(index).expect("fits")));
        if stored.is_some_and(|block| block.hash != entry.hash) {
            first = index;
            break;
        }
    }
    let stored = view
        .block(cointrail_types::Height::new(u32::try_from(first).expect("fits")))
        .map_or(Hash32::default(), |block| block.hash);
    let found = chain.get(first).map_or(Hash32::default(), |entry| entry.hash);
    Err(IngestError::Diverged { height: u32::try_from(first).expect("fits"), stored, found })
}

fn write_blocks(
    blocks: &BlocksDir,
    todo: &[&HeaderEntry],
    first: u32,
    options: &IngestOptions,
    writer: &mut StoreWriter,
    progress: &mut dyn Progress,
    report: &mut IngestReport,
) -> Result<()> {
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel::<Result<Loaded>>(READ_AHEAD_BLOCKS);
        scope.spawn(move || read_blocks(blocks, todo, first, &sender));
        let mut receiver = receiver.into_iter();
        let (batch_full, exhausted) = (Cell::new(false), Cell::new(false));
        // The last batch whose commit runs in the background while the next batch is written.
        let mut committing = None;
        while !exhausted.get() {
            let (mut batch_txs, mut batch_blocks, mut last) = (0u64, 0u32, None);
            batch_full.set(false);
            // One batch: the blocks until a commit is due, both halves of the writer at once.
            let next = || {
                if batch_full.get() {
                    return None;
                }
                let loaded = receiver.next();
                exhausted.set(loaded.is_none());
                loaded
            };
            writer.push_blocks(next, |rows, loaded: &Loaded| {
                write_block(rows, &loaded.block, &loaded.header, loaded.size, loaded.height)?;
                let txs = loaded.block.txs.len();
                report.blocks_added += 1;
                report.txs_added += txs as u64;
                report.bytes_read += u64::from(loaded.size);
                progress.block(loaded.height, u64::from(loaded.size), txs);
                batch_txs += txs as u64;
                batch_blocks += 1;
                last = Some(loaded.height);
                batch_full
                    .set(batch_txs >= options.batch_txs || batch_blocks >= options.batch_blocks);
                Ok(())
            })?;
            if let Some(height) = last {
                // Waits for the previous batch's commit, then starts this one's.
                writer.commit_in_background()?;
                if let Some(durable) = committing.replace(height) {
                    progress.committed(durable);
                }
            }
        }
        writer.wait_for_commit()?;
        if let Some(durable) = committing {
            progress.committed(durable);
        }
        Ok(())
    })
}

/// Reads and decodes blocks in height order; stops at the first error, which it passes on.
fn read_blocks(
    blocks: &BlocksDir,
    todo: &[&HeaderEntry],
    first: u32,
    sender: &mpsc::SyncSender<Result<Loaded>>,
) {
    let mut raw = Vec::new();
    for (offset, entry) in todo.iter().enumerate() {
        let height = first + u32::try_from(offset).expect("heights fit u32");
        let loaded = load(blocks, entry, height, &mut raw);
        let failed = loaded.is_err();
        if sender.send(loaded).is_err() || failed {
            return;
        }
    }
}

fn load(blocks: &BlocksDir, entry: &HeaderEntry, height: u32, raw: &mut Vec<u8>) -> Result<Loaded> {
    let location = &entry.location;
    let file = blocks.files()[location.file as usize].clone();
    blocks.read_block(location, raw)?;
    let block = DecodedBlock::decode(raw).map_err(|source| IngestError::Decode {
        file: file.clone(),
        offset: location.offset,
        height,
        source,
    })?;
    if block.merkle_root() != block.header.merkle_root {
        return Err(IngestError::MerkleMismatch {
            file,
            offset: location.offset,
            height,
            hash: entry.hash,
        });
    }
    Ok(Loaded { height, size: location.len, header: entry.header, block })
}

/// Block bytes per transaction, and per address, assumed when sizing the indexes of a new store.
/// Between mainnet's averages (about 570 bytes per tx, 520 per address), which then get an index
/// at most one size step larger than they need, and the synthetic chains' (350 and 200), which
/// then rebuild an index once or twice near the end instead of a dozen times.
const BYTES_PER_INDEX_ENTRY: u64 = 400;

/// Decoded blocks the reader thread may hold ready ahead of the writer. The reader is faster than
/// the writer, so this queue stays full, and a decoded block takes about 0.3 KB per transaction
/// (0.6 MB for a block of 2,000): 16 blocks keep the writer busy, and 64 (with as many in the
/// writer's address queue) made the peak RSS of a 4 GB ingest 4-6 % higher
/// (`docs/performance-history.md`).
const READ_AHEAD_BLOCKS: usize = 16;

/// Transactions whose lookups are prefetched together: enough misses to overlap, few enough that the
/// prefetched lines are still in the cache when the writer reaches them.
const PREFETCH_TXS: usize = 128;

/// Writes one decoded block at the writer's next height, resolving every input to the output it
/// spends. The caller commits.
///
/// # Errors
///
/// [`IngestError::UnknownPrevout`] or [`IngestError::DoubleSpend`] naming the outpoint and
/// `height`, or a store error. The writer then holds a partial block: do not commit it.
pub fn append_block(
    writer: &mut StoreWriter,
    block: &DecodedBlock,
    header: &[u8; 80],
    size: u32,
    height: u32,
) -> Result<()> {
    let mut one = Some(Ok(Borrowed(block)));
    writer.push_blocks(|| one.take(), |rows, _| write_block(rows, block, header, size, height))
}

/// Writes the transaction half of one block (the writer's other thread writes its addresses):
/// the block row, every tx, every input resolved to the output it spends, every output's value.
fn write_block(
    rows: &mut TxRows<'_>,
    block: &DecodedBlock,
    header: &[u8; 80],
    size: u32,
    height: u32,
) -> Result<()> {
    rows.push_block(&block.hash, header, size)?;
    for chunk in block.txs.chunks(PREFETCH_TXS) {
        // Start the random reads of the whole chunk's lookups at once (`TxRows::prefetch`).
        let (first, last) = (&chunk[0], &chunk[chunk.len() - 1]);
        let inputs = &block.inputs[first.input_start as usize..]
            [..(last.input_start + last.input_count - first.input_start) as usize];
        rows.prefetch(
            chunk.iter().map(|tx| &tx.txid),
            inputs.iter().map(|input| (&input.prev_txid, input.prev_vout)),
        );
        for tx in chunk {
            rows.push_tx(&tx.txid)?;
            for input in block.inputs_of(tx) {
                let spent = resolve(rows, input.prev_txid, input.prev_vout, tx.txid, height)?;
                rows.push_input(spent)?;
            }
            for output in block.outputs_of(tx) {
                rows.push_output(output.value)?;
            }
        }
    }
    Ok(())
}

/// A decoded block lent to the writer's address half.
struct Borrowed<'a>(&'a DecodedBlock);

impl BlockOutputs for Borrowed<'_> {
    fn output_count(&self) -> usize {
        self.0.outputs.len()
    }

    fn address(&self, position: usize) -> Option<&AddressKey> {
        self.0.outputs[position].address.as_ref()
    }
}

impl BlockOutputs for Loaded {
    fn output_count(&self) -> usize {
        self.block.outputs.len()
    }

    fn address(&self, position: usize) -> Option<&AddressKey> {
        self.block.outputs[position].address.as_ref()
    }
}

fn resolve(
    rows: &mut TxRows<'_>,
    txid: Hash32,
    vout: u32,
    spender: Hash32,
    height: u32,
) -> Result<OutputId> {
    match rows.find_prevout(&txid, vout) {
        Prevout::Unspent(output) => Ok(output),
        Prevout::Spent(_) => Err(IngestError::DoubleSpend { txid, vout, spender, height }),
        Prevout::Unknown => Err(IngestError::UnknownPrevout { txid, vout, spender, height }),
    }
}
