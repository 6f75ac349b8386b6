//! The single writer of a store: appends blocks, transactions, inputs and outputs, and commits.
//!
//! Crash safety rests on three rules (see `docs/store-format.md`):
//! 1. rows past the committed counts in the manifest do not exist for readers, and a batch only
//!    appends rows (no column is written in place);
//! 2. the runs of the address history, the txid index and the spends (`crate::runs`) are written
//!    at commits, each to a new file named by its rows, before the manifest that names them; files
//!    no manifest names are deleted;
//! 3. the address hash index is derived from the columns: the writer keeps it in a never-synced
//!    scratch mapping (`addr.idx.work`, reclaimable by the kernel, never trusted after a crash)
//!    and writes it to its file only at checkpoints (sequentially, through a rename), so a commit
//!    never writes back index pages; addresses after the last checkpoint are indexed again at
//!    open. Inputs are resolved through the live transactions (`crate::live`), which are rebuilt
//!    at open from `tx.io` and `in.spent`, not through the txid and spend runs.
//!
//! Because of rules 1 and 2 a commit can finish on a thread of its own while the next batch is being
//! written ([`StoreWriter::commit_in_background`]): pages it syncs may already hold some of the next
//! batch, which a crash leaves exactly as rows past the committed counts.
//!
//! A `DIRTY` marker exists while a writer has the store open. Opening a store that still has one
//! runs recovery, which restores exactly the bytes of the last commit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};

use cointrail_types::{AddressKey, Hash32, Height, InputId, OutputId, TxNum};
use fs_err as fs;

use crate::column::{self, ID_BYTES, RoFile, RwFile, ScanAhead, ScratchTable, read_id, to_usize};
use crate::error::{Result, StoreError};
use crate::keys::{self, ADDR_KEY_ROW, ADDR_REST_ROW};
use crate::live::{LiveTxs, TxKey};
use crate::manifest::{
    Counts, FORMAT_VERSION, IndexReserve, MANIFEST, Manifest, replace_file, sync_dir,
};
use crate::rows::{AddressRows, BlockOutputs, TxRows, rebuild_address_table};
use crate::runs::{self, Kind};
use crate::view::{BLOCK_ROW, ChainView, Columns, KeyRuns, TXID_ROW, TXIO_ROW, Txids, txid_row_is};
use crate::{
    ADDR_FIRST, ADDR_KEY, ADDR_REST, BLOCKS, ChainSpec, FILES, IN_SPENT, OUT_ADDR, OUT_VALUE,
    TX_IO, TX_TXID, address_index_file, index, memory,
};

/// Largest index a reserve asks for: 2^28 slots, 2 GiB (about 188 M entries at 0.7 load).
const MAX_RESERVE_BITS: u32 = 28;

/// Blocks the address half of [`StoreWriter::push_blocks`] may lag behind the transaction half
/// (each held in memory until the address half is done with it).
const ADDRESS_QUEUE_BLOCKS: usize = 16;

const DIRTY: &str = "DIRTY";
/// The columns (positions in [`FILES`]) that the writer only appends to: their rows leave its
/// mapping as they are written ([`RwFile::set_streaming`]) and the page cache once they are durable
/// ([`StoreWriter::release_committed`]). The others are read at random (`addr.key`,
/// `addr.rest`).
const APPEND_ONLY: [usize; 7] = [BLOCKS, TX_TXID, TX_IO, IN_SPENT, OUT_VALUE, OUT_ADDR, ADDR_FIRST];

/// The columns whose rows behind the tail the writer reads at random: reused addresses are
/// confirmed against `addr.key` and `addr.rest`, and the live map's twins against `tx.txid`
/// ([`RwFile::set_random`]).
const READ_AT_RANDOM: [usize; 3] = [TX_TXID, ADDR_KEY, ADDR_REST];

/// Major page faults between two calls of [`StoreWriter::push_blocks`] from which the writer reads
/// ahead the `addr.key` rows of known addresses (`AddressRows::read_ahead_keys`): 1,000 reads from
/// disk, one at a time, are about 0.2 s on the machines of `docs/performance.md`.
const READ_AHEAD_FAULTS: u64 = 1_000;

/// Scratch file backing the writer's address index when it does not fit in memory.
const ADDRESS_SCRATCH: &str = "addr.idx.work";
/// Scratch file backing the writer's live transactions when they do not fit in memory.
const LIVE_SCRATCH: &str = "live.work";
const LOCK: &str = "LOCK";

/// Byte length of every file in [`FILES`] for the given counts.
pub(crate) fn committed_lengths(counts: &Counts) -> [u64; 9] {
    let row = |count: u64, width: usize| count * width as u64;
    [
        row(counts.blocks, BLOCK_ROW),
        row(counts.txs, TXID_ROW),
        row(counts.txs, TXIO_ROW),
        row(counts.inputs, ID_BYTES),
        row(counts.outputs, 8),
        row(counts.outputs, 4),
        row(counts.addresses, ADDR_KEY_ROW),
        row(counts.addresses, ID_BYTES),
        row(counts.wide_addresses, ADDR_REST_ROW),
    ]
}

/// What recovery found and repaired after an interrupted writer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Address index entries cleared (entries of addresses past the last index checkpoint found
    /// in the index file) or re-derived from the columns (committed addresses after it).
    pub index_entries: u64,
    /// Run files of the address history, the txid index and the spends (and temporary files)
    /// that no committed manifest names, deleted.
    pub runs: u64,
}

/// The exclusive writer of a store.
#[derive(Debug)]
pub struct StoreWriter {
    dir: PathBuf,
    _lock: fs::File,
    committed: Manifest,
    counts: Counts,
    files: [RwFile; 9],
    /// The txid and spend runs of the last durable commit, of txs `0..txid_run_txs` and inputs
    /// `0..spend_run_inputs`: inputs are resolved through `live`, so these only serve lookups of
    /// txs that are not live.
    txid_runs: Vec<RoFile>,
    txid_run_txs: u64,
    spend_runs: Vec<RoFile>,
    spend_run_inputs: u64,
    /// The committed and pending txs that have an unspent output (rebuilt at open).
    live: LiveTxs,
    /// The address index of every committed and pending address, in memory.
    address_index: ScratchTable,
    address_index_bits: u32,
    /// The scratch file backing the address table.
    address_scratch: PathBuf,
    /// Minimum address index size (see [`StoreWriter::reserve`]); committed in the manifest.
    reserve: IndexReserve,
    /// Log2 of the rows of a level-0 run; committed in the manifest.
    run_bits: u32,
    recovery: Option<RecoveryReport>,
    /// A commit finishing on its own thread ([`StoreWriter::commit_in_background`]): its columns
    /// being synced, then its manifest written. `committed` is already its manifest.
    pending: Option<PendingCommit>,
    /// The process's major page faults when [`StoreWriter::push_blocks`] was last called.
    faults_seen: Option<u64>,
    /// Whether the address half reads ahead the rows it confirms: set for good once the faults
    /// between two calls of [`StoreWriter::push_blocks`] reach [`READ_AHEAD_FAULTS`] (reading
    /// ahead makes the faults themselves rare, so they cannot turn it off again).
    read_ahead: bool,
}

/// A commit whose columns are being synced, and then its manifest written, on its own thread.
#[derive(Debug)]
struct PendingCommit {
    /// Writes the runs, syncs, writes the manifest; returns the runs it made stale.
    thread: std::thread::JoinHandle<Result<Vec<PathBuf>>>,
    /// The manifest before it, in force again if it fails.
    previous: Manifest,
    /// Index files its manifest no longer names, deleted once it is durable.
    stale: Vec<PathBuf>,
}

impl StoreWriter {
    /// Opens the store at `dir` for writing, creating it if the directory is absent or empty, and
    /// recovering it if a previous writer was interrupted.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnsupportedFormat`], [`StoreError::WrongChain`], [`StoreError::NotAStore`],
    /// [`StoreError::Locked`] or an I/O error.
    pub fn open(dir: &Path, spec: &ChainSpec) -> Result<Self> {
        fs::create_dir_all(dir)?;
        let lock =
            fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(LOCK))?;
        if lock.file().try_lock().is_err() {
            return Err(StoreError::Locked { path: dir.to_owned() });
        }
        let committed = match Manifest::read(dir)? {
            Some(manifest) => {
                if manifest.chain != spec.chain || manifest.network != spec.network {
                    return Err(StoreError::WrongChain {
                        path: dir.to_owned(),
                        found: format!("{} {}", manifest.chain, manifest.network),
                        expected: spec.to_string(),
                    });
                }
                manifest
            }
            None => create(dir, spec)?,
        };
        let lengths = committed_lengths(&committed.counts);
        let mut files: [RwFile; 9] = FILES
            .iter()
            .zip(lengths)
            .map(|(name, len)| RwFile::open(&dir.join(name), len))
            .collect::<Result<Vec<_>>>()?
            .try_into()
            .expect("one file per column");
        for column in APPEND_ONLY {
            files[column].set_streaming();
        }
        for column in READ_AT_RANDOM {
            files[column].set_random();
        }
        let mut writer = Self {
            dir: dir.to_owned(),
            _lock: lock,
            counts: committed.counts,
            txid_runs: Vec::new(),
            txid_run_txs: 0,
            spend_runs: Vec::new(),
            spend_run_inputs: 0,
            live: LiveTxs::new(&dir.join(LIVE_SCRATCH))?,
            address_index_bits: committed.address_index_bits,
            reserve: committed.index_reserve,
            run_bits: committed.run_bits,
            committed,
            files,
            // Loaded below, after the live map: where the table lives depends on the memory the
            // live map already takes (`ScratchTable::create`).
            address_index: ScratchTable::none(),
            address_scratch: dir.join(ADDRESS_SCRATCH),
            recovery: None,
            pending: None,
            faults_seen: None,
            read_ahead: false,
        };
        let dirty = dir.join(DIRTY).exists();
        let mut recovery = if dirty { Some(writer.recover()?) } else { None };
        writer.load_live()?;
        writer.address_index = load_table(
            &dir.join(address_index_file(writer.address_index_bits)),
            writer.address_index_bits,
            &writer.address_scratch,
        )?;
        let entries = writer.reindex(dirty)?;
        if let Some(report) = &mut recovery {
            report.index_entries += entries;
        } else {
            fs::write(dir.join(DIRTY), b"a writer has this store open\n")?;
            sync_dir(dir)?;
        }
        writer.recovery = recovery;
        writer.open_lookup_runs()?;
        Ok(writer)
    }

    /// Returns what recovery repaired when this writer opened an interrupted store.
    pub fn recovery(&self) -> Option<RecoveryReport> {
        self.recovery
    }

    /// Returns a view of the committed and pending data.
    pub fn view(&self) -> ChainView<'_> {
        ChainView {
            columns: Columns {
                address_index: &self.address_index,
                address_index_bits: self.address_index_bits,
                txids: Txids { runs: &self.txid_runs, tail: &[], scan_from: self.txid_run_txs },
                spends: KeyRuns {
                    runs: &self.spend_runs,
                    scan_from: self.spend_run_inputs,
                    ..KeyRuns::default()
                },
                ..Columns::of_files(|index| self.files[index].bytes())
            },
            counts: self.counts,
        }
    }

    /// Returns how many lookups found an unspent output of a transaction that was missing from the
    /// live transactions, and added it back: the earlier of two transactions with one txid
    /// (BIP-0030) once an unwind removed the later. Any other count is a bug.
    pub fn live_repairs(&self) -> u64 {
        self.live.repairs
    }

    /// Where the writer's address index is now: its bytes, and whether it is in memory or in a
    /// scratch file (a table too large for the memory this process may use beside the rest of its
    /// memory; `docs/store-format.md`), which makes an ingest slower where memory is short.
    pub fn address_index(&self) -> TablePlacement {
        TablePlacement {
            bytes: self.address_index.len() as u64,
            in_memory: self.address_index.in_memory(),
        }
    }

    /// Where the writer's live transactions (the map its inputs are resolved through) are now: in
    /// memory, or in a scratch file when their table does not fit beside the rest of this
    /// process's memory (`docs/store-format.md`), which makes an ingest slower where memory is
    /// short but does not have it killed.
    pub fn live_map(&self) -> TablePlacement {
        TablePlacement { bytes: self.live.table_bytes() as u64, in_memory: self.live.in_memory() }
    }

    /// Whether the writer reads ahead the `addr.key` rows that its address lookups confirm
    /// ([`StoreWriter::set_read_ahead`]): it turns this on by itself once page faults show that
    /// those rows no longer fit in the memory left for the page cache, a reason for a slower
    /// ingest.
    pub fn reads_ahead(&self) -> bool {
        self.read_ahead
    }

    /// Returns how many live transactions were marked as twins since the writer opened (or since
    /// the last rebuild of the map): entries that shared the first 16 bytes of their txid with
    /// another live transaction's, so that their lookups read `tx.txid` to tell them apart. A real
    /// chain is not expected to have any (n txids have n^2 / 2^129 such pairs expected).
    pub fn live_twins(&self) -> u64 {
        self.live.twins
    }

    /// Returns the counts of the last commit.
    pub fn committed_counts(&self) -> Counts {
        self.committed.counts
    }

    /// Appends a block; its transactions follow with [`StoreWriter::push_tx`].
    ///
    /// # Errors
    ///
    /// An I/O error if a file cannot grow.
    pub fn push_block(&mut self, hash: &Hash32, header: &[u8; 80], size: u32) -> Result<Height> {
        self.parts().0.push_block(hash, header, size)
    }

    /// Appends a transaction; its inputs and outputs follow.
    ///
    /// # Errors
    ///
    /// [`StoreError::Capacity`] past 2^32 - 1 transactions, or an I/O error.
    pub fn push_tx(&mut self, txid: &Hash32) -> Result<TxNum> {
        self.parts().0.push_tx(txid)
    }

    /// Appends an input of the last transaction, spending `spent`, and links `spent` to it.
    ///
    /// The caller checks that `spent` exists and is unspent.
    ///
    /// # Errors
    ///
    /// An I/O error if a file cannot grow.
    pub fn push_input(&mut self, spent: OutputId) -> Result<InputId> {
        self.parts().0.push_input(spent)
    }

    /// Appends an output of the last transaction, paying `address` (or nothing for `OP_RETURN`).
    ///
    /// # Errors
    ///
    /// [`StoreError::Capacity`] past 2^32 - 1 addresses, or an I/O error.
    pub fn push_output(&mut self, value: u64, address: Option<&AddressKey>) -> Result<OutputId> {
        let id = self.counts.outputs;
        let (mut txs, mut addresses) = self.parts();
        addresses.push(id, address)?;
        txs.push_output(value)
    }

    /// Appends blocks and all their rows, in two halves at once: for each block that `next`
    /// gives (until it gives `None`), `txs` pushes the block, its transactions, inputs and output
    /// values on the calling thread ([`TxRows`]), while a second thread, started once for the call,
    /// records the address of each of the block's outputs ([`BlockOutputs`]: new address ids,
    /// lookups prefetched), as many blocks behind as it needs. Neither half reads
    /// what the other writes, so the store is byte for byte the one [`StoreWriter::push_block`],
    /// [`StoreWriter::push_tx`], [`StoreWriter::push_input`] and [`StoreWriter::push_output`]
    /// write for the same rows. Returns when both halves are done; the caller commits.
    ///
    /// # Errors
    ///
    /// The first error of `next` or `txs`, a store error of either half, or
    /// [`StoreError::Corrupt`] if `txs` pushed another number of outputs than its block has. The
    /// writer then holds a partial batch: [`StoreWriter::rollback`] it or drop the writer, do not
    /// commit it.
    pub fn push_blocks<B, E>(
        &mut self,
        mut next: impl FnMut() -> Option<Result<B, E>>,
        mut txs: impl FnMut(&mut TxRows<'_>, &B) -> Result<(), E>,
    ) -> Result<(), E>
    where
        B: BlockOutputs + Send + Sync,
        E: From<StoreError>,
    {
        let faults = memory::major_faults();
        if self.faults_seen.is_some_and(|seen| faults.saturating_sub(seen) >= READ_AHEAD_FAULTS) {
            self.read_ahead = true;
        }
        self.faults_seen = Some(faults);
        let (mut tx_rows, mut address_rows) = self.parts();
        std::thread::scope(|scope| {
            let (jobs, queue) = mpsc::sync_channel::<(u64, Arc<B>)>(ADDRESS_QUEUE_BLOCKS);
            let worker = scope.spawn(move || {
                for (first_output, block) in queue {
                    let address = |position: usize| block.address(position);
                    address_rows.push_all(first_output, block.output_count(), &address)?;
                }
                Ok::<_, StoreError>(())
            });
            let mut written = Ok(());
            while let Some(block) = next() {
                written = block.and_then(|block| {
                    let block = Arc::new(block);
                    let first_output = *tx_rows.outputs;
                    // A closed queue means the worker failed: its error is returned below.
                    let queued = jobs.send((first_output, Arc::clone(&block))).is_ok();
                    txs(&mut tx_rows, &block)?;
                    let pushed = *tx_rows.outputs - first_output;
                    let outputs = block.output_count() as u64;
                    if pushed != outputs {
                        let height = *tx_rows.block_count;
                        let what = format!(
                            "block {} has {outputs} outputs but {pushed} were written",
                            height.saturating_sub(1)
                        );
                        return Err(StoreError::Corrupt { what }.into());
                    }
                    if queued {
                        Ok(())
                    } else {
                        let what = "the address half stopped".to_owned();
                        Err(StoreError::Corrupt { what }.into())
                    }
                });
                if written.is_err() {
                    break;
                }
            }
            drop(jobs);
            let addressed = worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            addressed?;
            written
        })
    }

    /// The writer's two halves, each with its own columns and index (see [`crate::rows`]).
    fn parts(&mut self) -> (TxRows<'_>, AddressRows<'_>) {
        let [
            blocks,
            tx_txid,
            tx_io,
            in_spent,
            out_value,
            out_addr,
            addr_key,
            addr_first,
            addr_rest,
        ] = &mut self.files;
        let Counts { blocks: block_count, txs, inputs, outputs, addresses, wide_addresses } =
            &mut self.counts;
        let tx_rows = TxRows {
            blocks,
            tx_txid,
            tx_io,
            in_spent,
            out_value,
            txid_runs: &self.txid_runs,
            txid_run_txs: self.txid_run_txs,
            spend_runs: &self.spend_runs,
            spend_run_inputs: self.spend_run_inputs,
            live: &mut self.live,
            block_count,
            txs,
            inputs,
            outputs,
        };
        let address_rows = AddressRows {
            out_addr,
            addr_key,
            addr_first,
            addr_rest,
            index: &mut self.address_index,
            bits: &mut self.address_index_bits,
            addresses,
            wide_addresses,
            reserve: self.reserve.addresses,
            scratch: &self.address_scratch,
            read_ahead: self.read_ahead,
        };
        (tx_rows, address_rows)
    }

    /// Log2 slots of the address index for `count` addresses, at least the reserve.
    fn address_bits(&self, count: u64) -> u32 {
        index::bits_for(count.max(self.reserve.addresses))
    }

    /// Sizes the address index of an empty store for `addresses` addresses (capped at 2^28
    /// slots, 2 GiB), so that it is not rebuilt again and again while it grows to that size. The
    /// reserve is part of the store (`index_reserve` in the manifest, committed with the next
    /// commit) and never shrinks the index below it, which keeps the bytes a pure function of the
    /// reserve and the rows. Ignored once the store holds any row: a store keeps the reserve it
    /// was created with.
    ///
    /// # Errors
    ///
    /// None today; `Result` for symmetry with the other writes.
    pub fn reserve(&mut self, addresses: u64) -> Result<()> {
        if self.counts != Counts::default() {
            return Ok(());
        }
        self.reserve =
            IndexReserve { addresses: addresses.min(index::max_entries(MAX_RESERVE_BITS)) };
        self.rebuild_address_index(self.address_bits(0))
    }

    /// Reads ahead, from the next [`StoreWriter::push_blocks`] on, the `addr.key` rows that a
    /// block's address lookups will confirm: a `MADV_WILLNEED` per known address, so that rows
    /// that are not in the page cache are read from disk together instead of one fault at a time.
    /// The writer turns this on by itself once 1,000 major page faults between two calls of
    /// `push_blocks` show that the rows no longer fit in memory; with everything cached
    /// it only costs a system call per address. Only a hint: the bytes written are the same.
    pub fn set_read_ahead(&mut self, on: bool) {
        self.read_ahead = on;
    }

    /// Sets the rows of a level-0 run (outputs of the address history, txs of the txid index) to
    /// `2^bits` (1 to 24; 20 by default) in an empty store: smaller runs mean more, smaller files
    /// and merges, and smaller tails for readers to sort at open (tests use them to exercise runs
    /// and merges on small chains).
    /// Committed in the manifest with the next commit; ignored once the store holds any row.
    ///
    /// # Errors
    ///
    /// [`StoreError::Capacity`] for `bits` outside 1 to 24.
    pub fn set_run_bits(&mut self, bits: u32) -> Result<()> {
        if !(1..=runs::MAX_RUN_BITS).contains(&bits) {
            return Err(StoreError::Capacity { what: "run size" });
        }
        if self.counts == Counts::default() {
            self.run_bits = bits;
        }
        Ok(())
    }

    /// Opens the txid and spend runs of the last commit (durable: called at open and once a
    /// commit is), unless they cover the rows the open ones do (then they are the same files).
    fn open_lookup_runs(&mut self) -> Result<()> {
        let bits = self.committed.run_bits;
        let covered = self.committed.run_rows(Kind::Txids);
        if covered != self.txid_run_txs || self.txid_runs.is_empty() {
            self.txid_runs = runs::open_runs(&self.dir, Kind::Txids, covered, bits)?;
            self.txid_run_txs = covered;
        }
        let covered = self.committed.run_rows(Kind::Spends);
        if covered != self.spend_run_inputs || self.spend_runs.is_empty() {
            self.spend_runs = runs::open_runs(&self.dir, Kind::Spends, covered, bits)?;
            self.spend_run_inputs = covered;
        }
        Ok(())
    }

    /// Rebuilds the live transactions from `tx.io` and `in.spent`: one pass over `in.spent` marks
    /// the spent outputs in a bitmap (a bit per output: 440 MB for a whole chain's 3.5 G
    /// outputs, freed before the address index is loaded), then one over `tx.io`.
    fn load_live(&mut self) -> Result<()> {
        let scratch = self.dir.join(LIVE_SCRATCH);
        // The old map goes first (a rollback's is full size), so that the two are never held at
        // once.
        self.live = LiveTxs::new(&scratch)?;
        let mut live = LiveTxs::new(&scratch)?;
        let view = self.view();
        let mut spent = vec![0u64; to_usize(self.counts.outputs.div_ceil(64))];
        let in_spent = &view.columns.in_spent[..to_usize(self.counts.inputs) * ID_BYTES];
        let mut spent_ahead = ScanAhead::default();
        for (at, row) in in_spent.chunks_exact(ID_BYTES).enumerate() {
            spent_ahead.at(in_spent, at * ID_BYTES);
            let output = to_usize(read_id(row, 0));
            spent[output / 64] |= 1 << (output % 64);
        }
        let is_spent = |output: u64| spent[to_usize(output / 64)] >> (output % 64) & 1 != 0;
        let txids = view.columns.tx_txid;
        let (mut txids_ahead, mut io_ahead) = (ScanAhead::default(), ScanAhead::default());
        for tx in 0..self.counts.txs {
            io_ahead.at(view.columns.tx_io, to_usize(tx) * TXIO_ROW);
            let (start, end) = (view.tx_io(tx).1, view.tx_io(tx + 1).1);
            if (start..end).all(is_spent) {
                continue;
            }
            txids_ahead.at(txids, to_usize(tx) * TXID_ROW);
            let row = &txids[to_usize(tx) * TXID_ROW..][..TXID_ROW];
            let number = u32::try_from(tx).expect("tx numbers fit u32");
            let outputs = (start, u32::try_from(end - start).expect("outputs of a tx fit u32"));
            let unspent = |vout: u32| !is_spent(start + u64::from(vout));
            let is_key = |other| txid_row_is(txids, other, row);
            live.insert(TxKey::of(row), number, outputs, unspent, is_key)?;
        }
        self.live = live;
        Ok(())
    }

    /// Replaces the in-memory address index with one of `bits` holding every address so far.
    fn rebuild_address_index(&mut self, bits: u32) -> Result<()> {
        let keys = &self.files[ADDR_KEY].bytes()[..to_usize(self.counts.addresses) * ADDR_KEY_ROW];
        let (table, table_bits) = (&mut self.address_index, &mut self.address_index_bits);
        rebuild_address_table(table, table_bits, &self.address_scratch, keys, bits)
    }

    /// Brings the address index loaded from its checkpoint file in line with the counts: clears
    /// entries of addresses past the checkpoint (`clear`: a checkpoint file renamed into place
    /// just before a crash, without its manifest), then indexes the addresses after the checkpoint
    /// in order. Returns how many entries it cleared plus how many addresses follow the
    /// checkpoint.
    fn reindex(&mut self, clear: bool) -> Result<u64> {
        let checkpoint = self.committed.addresses_indexed;
        let mut entries = 0;
        if clear {
            entries += index::AddressSlots::clear_from(&mut self.address_index, checkpoint);
        }
        let bits = self.address_bits(self.counts.addresses);
        if bits == self.address_index_bits {
            let keys = self.files[ADDR_KEY].bytes();
            let mut ahead = ScanAhead::default();
            for address in checkpoint..self.counts.addresses {
                ahead.at(keys, to_usize(address) * ADDR_KEY_ROW);
                let hash = keys::hash_of_row(keys::row(keys, address))?;
                let id = u32::try_from(address).expect("address ids fit u32");
                index::AddressSlots::insert(&mut self.address_index, bits, hash, id);
            }
        } else {
            self.rebuild_address_index(bits)?;
        }
        entries += self.counts.addresses - checkpoint;
        Ok(entries)
    }

    /// Makes everything pushed so far durable and visible to readers, in one atomic step.
    ///
    /// The columns and the runs of the rows they complete are flushed at every commit; the
    /// address index is written to its file only when the addresses it holds beyond its last
    /// checkpoint reach half of its slots (at most 16 bytes written per address indexed), and by
    /// [`StoreWriter::finish`].
    ///
    /// # Errors
    ///
    /// An I/O error; the previous commit then stays in force.
    pub fn commit(&mut self) -> Result<()> {
        self.commit_with(false)
    }

    /// Commits like [`StoreWriter::commit`], but returns once the commit is started: its columns
    /// are synced and its manifest written on a thread of its own, while the caller pushes the
    /// next batch (an address index checkpoint that is due is still written before this
    /// returns). The
    /// commit is durable, and visible to readers, when [`StoreWriter::wait_for_commit`] returns,
    /// which every later commit, rollback, unwinding, [`StoreWriter::finish`] and the drop of the
    /// writer call first.
    ///
    /// The next batch may dirty the pages being synced: that is safe because whatever it writes
    /// lies past the counts of this commit (rules 1 and 2 of this module), so a crash at any
    /// moment still recovers exactly the last durable commit.
    ///
    /// # Errors
    ///
    /// The error of the previous background commit (see [`StoreWriter::wait_for_commit`]), or an
    /// I/O error starting this one.
    pub fn commit_in_background(&mut self) -> Result<()> {
        self.start_commit(false)
    }

    /// Waits for the commit started by [`StoreWriter::commit_in_background`], if any: when this
    /// returns `Ok`, it is durable.
    ///
    /// # Errors
    ///
    /// The commit's I/O error. The commit before it then stays in force: a
    /// [`StoreWriter::rollback`] returns to it, and so does the recovery of the next open. (An
    /// error deleting the files the commit made stale comes after it is durable; it stays.)
    pub fn wait_for_commit(&mut self) -> Result<()> {
        let Some(pending) = self.pending.take() else { return Ok(()) };
        let done = pending.thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let stale_runs = match done {
            Ok(stale_runs) => stale_runs,
            Err(error) => {
                self.committed = pending.previous;
                return Err(error);
            }
        };
        // Mapped before the stale files go (a mapping keeps a deleted file's pages).
        self.open_lookup_runs()?;
        self.release_committed();
        for path in pending.stale.into_iter().chain(stale_runs) {
            fs::remove_file(path)?;
        }
        Ok(())
    }

    /// Gives back the pages of the columns that the writer only appends to, up to what is durable
    /// (for `tx.txid`, `out.addr` and `in.spent`, up to what their runs cover: the next commit
    /// sorts the rest), so that written rows do not crowd out of memory what is read at random
    /// (the address table, `addr.key`, which are not released).
    fn release_committed(&mut self) {
        let mut upto = committed_lengths(&self.committed.counts);
        for kind in Kind::ALL {
            upto[kind.column()] = self.committed.run_rows(kind) * kind.row_bytes() as u64;
        }
        for column in APPEND_ONLY {
            self.files[column].release(upto[column]);
        }
    }

    /// Commits and waits for it; `checkpoint` writes the address index to its file whatever its
    /// tail.
    fn commit_with(&mut self, checkpoint: bool) -> Result<()> {
        self.start_commit(checkpoint)?;
        self.wait_for_commit()
    }

    /// Starts a commit (after waiting for the one before): writes the address index checkpoint if
    /// it is due (or `checkpoint`), then leaves to a thread of its own the runs, the syncing of
    /// the columns and the new manifest ([`StoreWriter::wait_for_commit`] then deletes the files
    /// it makes stale). An index file
    /// renamed into place before its manifest is durable is what recovery expects after a crash
    /// there: its entries past the durable manifest's checkpoint are cleared at open.
    fn start_commit(&mut self, checkpoint: bool) -> Result<()> {
        self.wait_for_commit()?;
        let mut manifest =
            Manifest { counts: self.counts, index_reserve: self.reserve, ..self.committed.clone() };
        let (indexed, bits) = (self.committed.addresses_indexed, self.address_index_bits);
        if checkpoint || checkpoint_due(indexed, self.counts.addresses, bits) {
            replace_file(
                &self.dir,
                &address_index_file(self.address_index_bits),
                &self.address_index,
            )?;
            manifest.address_index_bits = self.address_index_bits;
            manifest.addresses_indexed = self.counts.addresses;
        }
        // The address history of the outputs, the txid index of the txs and the spends of the
        // inputs in whole runs (`crate::runs`), written by the commit's thread from its own
        // mappings of `out.addr`, `tx.txid` and `in.spent` (rows below the counts, which the next
        // batch leaves alone).
        let bits = self.run_bits;
        manifest.run_bits = bits;
        let jobs = Kind::ALL.map(|kind| {
            let column = self.dir.join(FILES[kind.column()]);
            (kind, column, self.committed.run_rows(kind), manifest.run_rows(kind))
        });
        let mut stale = Vec::new();
        if manifest.address_index_bits != self.committed.address_index_bits {
            stale.push(self.dir.join(address_index_file(self.committed.address_index_bits)));
        }
        let files = self.files.iter().map(RwFile::sync_handle).collect::<Result<Vec<_>>>()?;
        let (dir, durable) = (self.dir.clone(), manifest.clone());
        let thread = std::thread::Builder::new().name("commit".to_owned()).spawn(move || {
            let mut runs = runs::RunsWritten::default();
            for (kind, column, from, covered) in jobs {
                if covered != from {
                    let column = RoFile::open(&column)?;
                    runs::write_runs(&dir, kind, column.bytes(), (from, covered), bits, &mut runs)?;
                }
            }
            for file in files.iter().chain(&runs.new) {
                file.sync_data()?;
            }
            // Written once, read by an ingest only if it unwinds: out of the page cache (length
            // 0: to the end of the file).
            for file in &runs.new {
                column::fadvise_dont_need(file, 0, 0);
            }
            durable.write(&dir)?;
            Ok(runs.stale)
        })?;
        let previous = std::mem::replace(&mut self.committed, manifest);
        self.pending = Some(PendingCommit { thread, previous, stale });
        Ok(())
    }

    /// Commits, checkpoints the address index, trims every file to its content and closes the store
    /// cleanly.
    ///
    /// # Errors
    ///
    /// An I/O error; the store is then recovered at the next open.
    pub fn finish(mut self) -> Result<()> {
        self.commit_with(true)?;
        for file in &mut self.files {
            file.trim()?;
        }
        // Run files of a failed commit that a later one did not need.
        remove_stray_runs(&self.dir, &self.committed)?;
        // The scratch files go once the index is checkpointed (their mappings live on until
        // `self` drops; unlinked pages are discarded, not written back).
        for scratch in [ADDRESS_SCRATCH, LIVE_SCRATCH] {
            match fs::remove_file(self.dir.join(scratch)) {
                // A table kept in memory has no scratch file.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
        fs::remove_file(self.dir.join(DIRTY))?;
        sync_dir(&self.dir)
    }

    /// Discards everything pushed since the last commit, restoring its exact bytes.
    ///
    /// # Errors
    ///
    /// An I/O error.
    pub fn rollback(&mut self) -> Result<()> {
        self.wait_for_commit()?;
        let committed = self.committed.counts;
        let pending = self.counts != committed;
        for (file, len) in self.files.iter_mut().zip(committed_lengths(&committed)) {
            file.truncate(len);
        }
        self.counts = committed;
        self.reserve = self.committed.index_reserve;
        self.run_bits = self.committed.run_bits;
        // Pending entries were inserted after every committed one: clearing them is exact. A
        // table that grew in the batch is rebuilt at the committed size.
        if self.address_bits(committed.addresses) == self.address_index_bits {
            index::AddressSlots::clear_from(&mut self.address_index, committed.addresses);
        } else {
            self.rebuild_address_index(self.address_bits(committed.addresses))?;
        }
        if pending {
            // A whole pass over the txs: rollbacks follow errors, they are rare.
            self.load_live()?;
        }
        Ok(())
    }

    /// Removes every block above `height` (a reorganisation) and commits, leaving exactly the bytes
    /// an ingest of blocks `0..=height` would have written. Pending data is discarded first.
    ///
    /// # Errors
    ///
    /// An I/O error; the store then recovers at the next open.
    pub fn unwind_to(&mut self, height: Height) -> Result<()> {
        self.rollback()?;
        let keep_blocks = u64::from(height.get()) + 1;
        if keep_blocks >= self.counts.blocks {
            return Ok(());
        }
        let view = self.view();
        let first_tx = view
            .block(Height::new(height.get() + 1))
            .map_or(self.counts.txs, |block| u64::from(block.first_tx.get()));
        let (first_input, first_output) =
            match view.tx(TxNum::new(u32::try_from(first_tx).expect("tx numbers fit u32"))) {
                Some(tx) => (tx.inputs.start, tx.outputs.start),
                None => (self.counts.inputs, self.counts.outputs),
            };
        // Addresses are numbered in order of their first output.
        let addr_first = view.columns.addr_first;
        let (mut low, mut high) = (0u64, self.counts.addresses);
        while low < high {
            let middle = low + (high - low) / 2;
            if read_id(addr_first, to_usize(middle) * ID_BYTES) < first_output {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        let first_address = low;
        // 1. Removed txs leave the live transactions; outputs spent by removed inputs become
        // unspent again, and their txs live again.
        self.live.current = None;
        self.live.found = None;
        for txnum in first_tx..self.counts.txs {
            let number = u32::try_from(txnum).expect("tx numbers fit u32");
            let key = TxKey::of_tx(self.files[TX_TXID].bytes(), txnum);
            if let Some(slot) = self.live.find_tx(key, number) {
                self.live.remove(slot);
            }
        }
        for input in first_input..self.counts.inputs {
            let spent = read_id(self.files[IN_SPENT].bytes(), to_usize(input) * ID_BYTES);
            if spent < first_output {
                let (tx, vout) = self.view().output_location(OutputId::new(spent));
                let key = TxKey::of_tx(self.files[TX_TXID].bytes(), u64::from(tx.get()));
                match self.live.find_tx(key, tx.get()) {
                    Some(slot) => self.live.unspend(slot, vout),
                    None => {
                        let outputs =
                            self.view().tx(tx).expect("a spent output's tx exists").outputs;
                        let count = u32::try_from(outputs.end - outputs.start)
                            .expect("outputs of a tx fit u32");
                        let unspent = |other: u32| other == vout;
                        self.live
                            .insert(key, tx.get(), (outputs.start, count), unspent, |_| false)?;
                    }
                }
            }
        }
        // 2. The runs of removed outputs, txs and inputs are rewritten by the commit below.
        // 3. Index entries of removed addresses, latest first.
        let mut wide_addresses = self.counts.wide_addresses;
        for address in (first_address..self.counts.addresses).rev() {
            let row = keys::row(self.files[ADDR_KEY].bytes(), address);
            let hash = keys::hash_of_row(row)?;
            wide_addresses -= u64::from(keys::is_wide_row(row));
            let id = u32::try_from(address).expect("address ids fit u32");
            index::AddressSlots::remove(&mut self.address_index, self.address_index_bits, hash, id);
        }
        // 4. Cut the columns.
        self.counts = Counts {
            blocks: keep_blocks,
            txs: first_tx,
            inputs: first_input,
            outputs: first_output,
            addresses: first_address,
            wide_addresses,
        };
        for (file, len) in self.files.iter_mut().zip(committed_lengths(&self.counts)) {
            file.truncate(len);
        }
        // 5. A table that grew with the removed rows shrinks back to the size a fresh ingest has.
        if self.address_bits(self.counts.addresses) != self.address_index_bits {
            self.rebuild_address_index(self.address_bits(self.counts.addresses))?;
        }
        // The index file must not keep entries of the removed addresses: rewrite it if its
        // checkpoint covers any (rare: checkpoints are far apart, reorganisations remove a few
        // blocks).
        let covers_removed = self.committed.addresses_indexed > self.counts.addresses;
        self.commit_with(covers_removed)
    }

    /// Restores the bytes of the last commit after an interrupted writer (the indexes are brought
    /// up to date by [`StoreWriter::reindex`] afterwards).
    fn recover(&mut self) -> Result<RecoveryReport> {
        let runs = remove_stray_runs(&self.dir, &self.committed)?;
        let keep =
            [address_index_file(self.committed.address_index_bits), ADDRESS_SCRATCH.to_owned()];
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let stray_index = name.starts_with("addr.idx.") && !keep.contains(&name);
            if stray_index || name == "MANIFEST.tmp" {
                fs::remove_file(self.dir.join(&name))?;
            }
        }
        for file in &self.files {
            file.sync()?;
        }
        Ok(RecoveryReport { runs, ..RecoveryReport::default() })
    }
}

impl Drop for StoreWriter {
    /// Lets a background commit finish, so that a writer dropped right after
    /// [`StoreWriter::commit_in_background`] leaves that commit durable. Its error, if any, and
    /// the index files it made stale are left to the recovery of the next open.
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            let _ = pending.thread.join();
        }
    }
}

/// Deletes the run files (of every kind) that `committed` does not name; returns how many.
fn remove_stray_runs(dir: &Path, committed: &Manifest) -> Result<u64> {
    let mut removed = 0;
    for kind in Kind::ALL {
        let covered = committed.run_rows(kind);
        removed += runs::remove_stray_runs(dir, kind, covered, committed.run_bits)?;
    }
    Ok(removed)
}

/// Whether an index of `bits` holding `indexed` rows in its file and `count` in memory is due for
/// a checkpoint: when the rows since the last one reach half of its slots. A checkpoint writes
/// 6 bytes per slot, so this bounds the index bytes written to 12 per row indexed, and the rows to
/// index again after a crash (or for a reader's tail) to half the table.
fn checkpoint_due(indexed: u64, count: u64, bits: u32) -> bool {
    count > indexed && (count - indexed) * 2 >= 1u64 << bits
}

/// Copies a checkpointed index table of `bits` into a new scratch mapping at `scratch` (replacing
/// any scratch file an interrupted writer left there).
fn load_table(path: &Path, bits: u32, scratch: &Path) -> Result<ScratchTable> {
    let found = fs::metadata(path)?.len();
    let expected = index::AddressSlots::table_bytes(bits);
    if found != expected {
        return Err(StoreError::Corrupt {
            what: format!(
                "index file {} is {found} bytes, not the {expected} bytes of 2^{bits} slots",
                path.display(),
            ),
        });
    }
    ScratchTable::create(scratch, expected, Some(path))
}

/// Where one of a writer's tables is ([`StoreWriter::address_index`], [`StoreWriter::live_map`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TablePlacement {
    /// Bytes of the table.
    pub bytes: u64,
    /// In anonymous memory (`true`) or in a scratch file that the kernel may write back and evict.
    pub in_memory: bool,
}

/// Creates the files of an empty store and its first manifest.
///
/// A directory that holds only store files but no manifest is a creation interrupted before its
/// manifest was written: its files are replaced.
fn create(dir: &Path, spec: &ChainSpec) -> Result<Manifest> {
    let ours = |name: &str| {
        FILES.contains(&name)
            || [LOCK, DIRTY, "MANIFEST.tmp", "evm", LIVE_SCRATCH].contains(&name)
            || name.starts_with("addr.idx.")
            || runs::is_run_file(name)
    };
    let indexes = [address_index_file(index::MIN_BITS)];
    let empty_index = index::AddressSlots::table_bytes(index::MIN_BITS);
    crate::manifest::lay_out(dir, ours, &FILES, &indexes, empty_index)?;
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        chain: spec.chain.clone(),
        network: spec.network.clone(),
        counts: Counts::default(),
        address_index_bits: index::MIN_BITS,
        addresses_indexed: 0,
        index_reserve: IndexReserve::default(),
        run_bits: runs::DEFAULT_RUN_BITS,
    };
    manifest.write(dir)?;
    debug_assert!(dir.join(MANIFEST).exists());
    Ok(manifest)
}
