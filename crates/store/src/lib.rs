//! Compact embedded store of cointrail: the whole transaction graph of a UTXO chain in one directory.
//!
//! Owns the byte layout of every table (fixed-width, memory-mapped columns indexed by sequential
//! ids), the indexes from txid and address to id, id allocation, and the atomic commit of each
//! batch together with its checkpoint. It does not read block files, fetch data, run heuristics or
//! speak HTTP. The layout is specified in `docs/store-format.md`; any change there bumps
//! [`FORMAT_VERSION`].
//!
//! Start with [`Store::open`] and [`Store::view`] to read, or [`StoreWriter::open`] to append.

mod clusters;
mod column;
mod error;
pub mod evm;
mod incidents;
mod index;
mod keys;
mod labels;
mod live;
mod manifest;
mod memory;
mod rows;
mod runs;
mod view;
mod watches;
mod writer;

use std::path::{Path, PathBuf};

use fs_err as fs;

pub use clusters::{
    CLUSTERS_FORMAT_VERSION, ClusterManifest, ClusterReader, ClusterWriter, StoredHeld, StoredLink,
    invalidate_clusters,
};
pub use error::{Result, StoreError};
pub use evm::{EvmStore, EvmStoreWriter, EvmView};
pub use incidents::{Incident, load_incidents, save_incidents};
pub use labels::LabelTable;
pub use manifest::{Counts, FORMAT_VERSION};
pub use rows::{BlockOutputs, Prevout, TxRows};
pub use view::{AddressOutputs, BlockInfo, ChainView, OutputInfo, TxInfo};
pub use watches::{
    Watch, WatchKind, append_alerts, delivered_alerts, load_watches, read_alerts, save_watches,
    set_delivered_alerts,
};
pub use writer::{RecoveryReport, StoreWriter, TablePlacement};

use column::RoFile;
use manifest::Manifest;
use view::Columns;

/// The chain and network a store holds, e.g. `bitcoin` / `mainnet`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSpec {
    /// Chain family (`bitcoin`).
    pub chain: String,
    /// Network name (`mainnet`, `testnet`, `regtest`, ...).
    pub network: String,
}

impl std::fmt::Display for ChainSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.chain, self.network)
    }
}

/// Every data file of the store, in a fixed order (see `docs/store-format.md`).
pub(crate) const FILES: [&str; 9] = [
    "blocks.dat",
    "tx.txid",
    "tx.io",
    "in.spent",
    "out.value",
    "out.addr",
    "addr.key",
    "addr.first",
    "addr.rest",
];

/// Positions of the columns in [`FILES`].
pub(crate) const BLOCKS: usize = 0;
pub(crate) const TX_TXID: usize = 1;
pub(crate) const TX_IO: usize = 2;
pub(crate) const IN_SPENT: usize = 3;
pub(crate) const OUT_VALUE: usize = 4;
pub(crate) const OUT_ADDR: usize = 5;
pub(crate) const ADDR_KEY: usize = 6;
pub(crate) const ADDR_FIRST: usize = 7;
pub(crate) const ADDR_REST: usize = 8;

pub(crate) fn address_index_file(bits: u32) -> String {
    format!("addr.idx.{bits}")
}

/// A read-only view of a store: what was committed when it was opened.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    manifest: Manifest,
    files: Vec<RoFile>,
    address_index: RoFile,
    /// Index of the addresses after the address index file's checkpoint (see [`Tail`]).
    address_tail: Tail,
    /// The txid runs (`crate::runs`), in tx order.
    txid_runs: Vec<RoFile>,
    /// The sorted keys of the txs after the runs.
    txid_tail: Vec<u128>,
    /// The address history runs (`crate::history`), in output order.
    history_runs: Vec<RoFile>,
    /// The sorted keys of the outputs after the runs.
    history_tail: Vec<u64>,
    /// The spend runs, in input order.
    spend_runs: Vec<RoFile>,
    /// The sorted keys of the inputs after the runs.
    spend_tail: Vec<u64>,
    /// `false` for the stand-in of [`Store::empty`].
    utxo: bool,
}

/// An in-memory hash index of the addresses the store's index file does not hold yet (committed
/// after its last checkpoint: the writer checkpoints its index only now and then, and always when
/// it finishes), built when the store is opened.
#[derive(Debug, Default)]
struct Tail {
    table: Vec<u8>,
    bits: u32,
}

impl Tail {
    /// Indexes rows `from..to` of `column` (rows of `width` bytes, hashed by `hash`).
    fn build(
        column: &[u8],
        width: usize,
        from: u64,
        to: u64,
        hash: impl Fn(&[u8]) -> Result<u64>,
    ) -> Result<Self> {
        if from >= to {
            return Ok(Self::default());
        }
        let bits = index::bits_for(to - from);
        let mut table = vec![0u8; column::to_usize(index::AddressSlots::table_bytes(bits))];
        for row in from..to {
            let at = column::to_usize(row) * width;
            let id = u32::try_from(row).expect("ids fit u32");
            index::AddressSlots::insert(&mut table, bits, hash(&column[at..at + width])?, id);
        }
        Ok(Self { table, bits })
    }
}

impl Store {
    /// Opens the store at `dir` for reading.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] if there is no store, [`StoreError::UnsupportedFormat`] if it was
    /// written by an incompatible version, or an I/O error.
    pub fn open(dir: &Path) -> Result<Self> {
        let manifest =
            Manifest::read(dir)?.ok_or_else(|| StoreError::NotFound { path: dir.to_owned() })?;
        let files =
            FILES.iter().map(|name| RoFile::open(&dir.join(name))).collect::<Result<Vec<_>>>()?;
        let mut store = Self {
            dir: dir.to_owned(),
            address_index: RoFile::open(
                &dir.join(address_index_file(manifest.address_index_bits)),
            )?,
            manifest,
            files,
            address_tail: Tail::default(),
            txid_runs: Vec::new(),
            txid_tail: Vec::new(),
            history_runs: Vec::new(),
            history_tail: Vec::new(),
            spend_runs: Vec::new(),
            spend_tail: Vec::new(),
            utxo: true,
        };
        store.check_lengths()?;
        let counts = store.manifest.counts;
        let bits = store.manifest.run_bits;
        if !(1..=runs::MAX_RUN_BITS).contains(&bits) {
            return Err(StoreError::CorruptManifest {
                path: dir.join(manifest::MANIFEST),
                message: format!("run_bits is {bits}, not 1 to {}", runs::MAX_RUN_BITS),
            });
        }
        let covered = store.manifest.run_rows(runs::Kind::Txids);
        store.txid_runs = runs::open_runs(dir, runs::Kind::Txids, covered, bits)?;
        let tail = column::to_usize(covered) * view::TXID_ROW
            ..column::to_usize(counts.txs) * view::TXID_ROW;
        store.txid_tail = runs::sorted_txid_keys(&store.files[TX_TXID].bytes()[tail], covered);
        let covered = store.manifest.run_rows(runs::Kind::History);
        store.history_runs = runs::open_runs(dir, runs::Kind::History, covered, bits)?;
        let tail = column::to_usize(covered) * 4..column::to_usize(counts.outputs) * 4;
        store.history_tail = runs::sorted_keys(&store.files[OUT_ADDR].bytes()[tail], bits);
        let covered = store.manifest.run_rows(runs::Kind::Spends);
        store.spend_runs = runs::open_runs(dir, runs::Kind::Spends, covered, bits)?;
        let tail = column::to_usize(covered) * column::ID_BYTES
            ..column::to_usize(counts.inputs) * column::ID_BYTES;
        store.spend_tail = runs::sorted_spend_keys(&store.files[IN_SPENT].bytes()[tail], bits);
        store.address_tail = Tail::build(
            store.files[ADDR_KEY].bytes(),
            keys::ADDR_KEY_ROW,
            store.manifest.addresses_indexed,
            counts.addresses,
            keys::hash_of_row,
        )?;
        Ok(store)
    }

    /// Returns a store with no UTXO chain (no blocks, no transactions, no addresses) at `dir`, for
    /// readers of a store that holds only EVM chains. Nothing is written. Its chain is `evm` and
    /// its network `none`.
    pub fn empty(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            manifest: Manifest {
                format_version: FORMAT_VERSION,
                chain: "evm".to_owned(),
                network: "none".to_owned(),
                counts: Counts::default(),
                address_index_bits: 0,
                addresses_indexed: 0,
                index_reserve: manifest::IndexReserve::default(),
                run_bits: runs::DEFAULT_RUN_BITS,
            },
            files: FILES.iter().map(|_| RoFile::empty()).collect(),
            address_index: RoFile::empty(),
            address_tail: Tail::default(),
            txid_runs: Vec::new(),
            txid_tail: Vec::new(),
            history_runs: Vec::new(),
            history_tail: Vec::new(),
            spend_runs: Vec::new(),
            spend_tail: Vec::new(),
            utxo: false,
        }
    }

    /// Returns `false` for the stand-in of [`Store::empty`] (a store of EVM chains only).
    pub fn has_utxo_chain(&self) -> bool {
        self.utxo
    }

    fn check_lengths(&self) -> Result<()> {
        let counts = self.manifest.counts;
        let expected = writer::committed_lengths(&counts);
        for ((name, file), want) in FILES.iter().zip(&self.files).zip(expected) {
            let found = file.bytes().len() as u64;
            if found < want {
                return Err(StoreError::ShortFile {
                    path: self.dir.join(name),
                    expected: want,
                    found,
                });
            }
        }
        Ok(())
    }

    /// Returns the chain and network the store holds.
    pub fn chain(&self) -> ChainSpec {
        ChainSpec { chain: self.manifest.chain.clone(), network: self.manifest.network.clone() }
    }

    /// Returns the store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns a view of the committed chain.
    pub fn view(&self) -> ChainView<'_> {
        ChainView {
            columns: Columns {
                address_index: self.address_index.bytes(),
                address_index_bits: self.manifest.address_index_bits,
                address_tail: &self.address_tail.table,
                address_tail_bits: self.address_tail.bits,
                txids: view::Txids {
                    runs: &self.txid_runs,
                    tail: &self.txid_tail,
                    scan_from: self.manifest.counts.txs,
                },
                history: view::KeyRuns {
                    runs: &self.history_runs,
                    bits: self.manifest.run_bits,
                    covered: self.manifest.run_rows(runs::Kind::History),
                    tail: &self.history_tail,
                    scan_from: self.manifest.counts.outputs,
                },
                spends: view::KeyRuns {
                    runs: &self.spend_runs,
                    bits: self.manifest.run_bits,
                    covered: self.manifest.run_rows(runs::Kind::Spends),
                    tail: &self.spend_tail,
                    scan_from: self.manifest.counts.inputs,
                },
                ..Columns::of_files(|index| self.files[index].bytes())
            },
            counts: self.manifest.counts,
        }
    }

    /// Returns the bytes of the committed rows of the columns: the store without its indexes and
    /// runs (whose sizes step by powers of two, or by whole runs).
    pub fn column_bytes(&self) -> u64 {
        writer::committed_lengths(&self.manifest.counts).iter().sum()
    }

    /// Returns the bytes the store's files take on disk, by file name.
    ///
    /// # Errors
    ///
    /// An I/O error if the directory cannot be listed.
    pub fn disk_usage(&self) -> Result<Vec<(String, u64)>> {
        disk_usage(&self.dir)
    }
}

/// The store's exclusive lock, for writers other than ingest and clustering (e.g. label imports).
#[derive(Debug)]
pub struct StoreLock {
    _file: fs::File,
}

impl StoreLock {
    /// Takes the lock of the store at `dir`, which must hold a store (a UTXO chain or EVM chains).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] without a store, [`StoreError::Locked`] if another writer has it.
    pub fn acquire(dir: &Path) -> Result<Self> {
        if Manifest::read(dir)?.is_none() && evm::evm_chains(dir)?.is_empty() {
            return Err(StoreError::NotFound { path: dir.to_owned() });
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))?;
        if file.file().try_lock().is_err() {
            return Err(StoreError::Locked { path: dir.to_owned() });
        }
        Ok(Self { _file: file })
    }
}

/// Lists the files of a directory with their sizes, sorted by name.
fn disk_usage(dir: &Path) -> Result<Vec<(String, u64)>> {
    let mut sizes = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        if metadata.is_file() {
            sizes.push((entry.file_name().to_string_lossy().into_owned(), metadata.len()));
        }
    }
    sizes.sort();
    Ok(sizes)
}
