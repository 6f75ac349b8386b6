//! The manifest: format version, chain, and the committed length of every table.
//!
//! Writing a new manifest (to a temporary file, synced, then renamed over the old one) is the
//! single atomic step that commits a batch together with its checkpoint.

use std::path::Path;

use fs_err as fs;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// Version of the on-disk layout described in `docs/store-format.md`.
pub const FORMAT_VERSION: u64 = 8;

/// File name of the manifest inside the store directory.
pub(crate) const MANIFEST: &str = "MANIFEST";

/// Committed row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Blocks (the tip height is `blocks - 1`).
    pub blocks: u64,
    /// Transactions.
    pub txs: u64,
    /// Spending inputs (coinbase inputs are not stored).
    pub inputs: u64,
    /// Outputs.
    pub outputs: u64,
    /// Distinct addresses.
    pub addresses: u64,
    /// Distinct addresses whose key has a 32-byte payload (P2WSH, P2TR, bare multisig,
    /// non-standard): the rows of `addr.rest`.
    pub wide_addresses: u64,
}

/// The manifest as stored (JSON, fields in this order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) format_version: u64,
    pub(crate) chain: String,
    pub(crate) network: String,
    pub(crate) counts: Counts,
    /// Log2 slots of the checkpointed `addr.idx.B` file.
    pub(crate) address_index_bits: u32,
    /// Addresses `0..addresses_indexed` are in the checkpointed address index; later ones are
    /// indexed from `addr.key` when the store is opened.
    pub(crate) addresses_indexed: u64,
    /// Minimum size of the address index, chosen when the store was created.
    pub(crate) index_reserve: IndexReserve,
    /// Log2 of the rows of a level-0 run (`crate::runs`: outputs of the address history, txs of
    /// the txid index), chosen when the store was created.
    pub(crate) run_bits: u32,
}

/// The count the address index of a store is sized for at least (`StoreWriter::reserve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct IndexReserve {
    /// Addresses.
    pub(crate) addresses: u64,
}

#[derive(Deserialize)]
struct VersionOnly {
    format_version: u64,
}

/// Reads the JSON manifest `name` of `dir`, `None` if there is none. Its `format_version` is
/// checked before the rest is parsed, so a file of another version is refused as such rather than
/// reported corrupt.
pub(crate) fn read_versioned<T: serde::de::DeserializeOwned>(
    dir: &Path,
    name: &str,
    expected: u64,
) -> Result<Option<T>> {
    let path = dir.join(name);
    if !path.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(&path)?;
    let corrupt = |error: serde_json::Error| StoreError::CorruptManifest {
        path: path.clone(),
        message: error.to_string(),
    };
    let version: VersionOnly = serde_json::from_str(&text).map_err(corrupt)?;
    if version.format_version != expected {
        return Err(StoreError::UnsupportedFormat {
            path: dir.to_owned(),
            found: version.format_version,
            expected,
        });
    }
    serde_json::from_str(&text).map(Some).map_err(corrupt)
}

impl Manifest {
    /// The rows in the runs of `kind` (`crate::runs`: outputs in `hist.*`, txs in `txids.*`): the
    /// counted rows down to a multiple of `2^run_bits`; later ones are sorted from the column when
    /// the store is opened.
    pub(crate) fn run_rows(&self, kind: crate::runs::Kind) -> u64 {
        crate::runs::covered_for(kind.rows(&self.counts), self.run_bits)
    }

    /// Reads the manifest of the store at `dir`, refusing other format versions.
    pub(crate) fn read(dir: &Path) -> Result<Option<Self>> {
        read_versioned(dir, MANIFEST, FORMAT_VERSION)
    }

    /// Writes the manifest atomically (see [`write_json`]).
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        write_json(dir, MANIFEST, self)
    }
}

/// Replaces `dir/name` with `bytes` atomically: a temporary file `name.tmp` is written and synced,
/// renamed over `name`, and the directory synced. Every small file of the store is written so.
pub(crate) fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let temporary = dir.join(format!("{name}.tmp"));
    {
        let file = fs::File::create(&temporary)?;
        std::io::Write::write_all(&mut &file, bytes)?;
        file.sync_all()?;
    }
    fs::rename(&temporary, dir.join(name))?;
    sync_dir(dir)
}

/// Replaces `dir/name` with `value` as pretty JSON and a final newline, atomically.
pub(crate) fn write_json<T: Serialize + ?Sized>(dir: &Path, name: &str, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|error| StoreError::Corrupt { what: format!("{name}: {error}") })?;
    text.push('\n');
    replace_file(dir, name, text.as_bytes())
}

/// Makes renames and creations in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Lays out the files of a new store (or EVM chain) directory: refuses a directory holding any
/// name that `ours` does not claim (it is someone else's), then creates `files` empty and the
/// index files `indexes` with an empty table of `index_bytes` each. Files left by a creation
/// interrupted before its manifest are replaced.
pub(crate) fn lay_out(
    dir: &Path,
    ours: impl Fn(&str) -> bool,
    files: &[&str],
    indexes: &[String],
    index_bytes: u64,
) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !ours(&name) {
            return Err(StoreError::NotAStore { path: dir.to_owned() });
        }
    }
    for name in files {
        fs::File::create(dir.join(name))?;
    }
    for name in indexes {
        fs::File::create(dir.join(name))?.set_len(index_bytes)?;
    }
    Ok(())
}
