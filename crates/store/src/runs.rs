//! Sorted runs: the address history, the txid index and the spends, built from their columns at
//! commits.
//!
//! A run holds entries `key · row id (u40)` for one aligned range of row ids, sorted by key, then
//! row id. Three kinds ([`Kind`]):
//! - the address history (`hist.F-E`, output ids): `address (u32) · output`, from `out.addr`,
//!   for the outputs that pay an address: which outputs pay each address;
//! - the txid index (`txids.F-E`, tx numbers): `txid prefix (u64) · tx`, from `tx.txid` (the
//!   prefix is the txid's first 8 bytes, little-endian): which txs may have a txid, to be
//!   confirmed against `tx.txid`;
//! - the spends (`spends.F-E`, input ids): `output (u40) · input`, from `in.spent`: which input
//!   spends an output (the inverse of `in.spent`).
//!
//! A level-0 run covers `2^run_bits` rows (the manifest's; [`DEFAULT_RUN_BITS`] by default) and is
//! built from its column at the commit that first covers them; once [`FAN_IN`] runs of one level
//! sit side by side, they are merged into one run of the next level. So the runs of a store are a
//! pure function of the rows they cover ([`runs_for`]): the base-[`FAN_IN`] digits of the number of
//! level-0 runs covered, largest first, at most 18 files of each kind for a whole chain. The rows
//! after the last whole run (fewer than a level-0 run holds) are the tail, which a reader sorts in
//! memory when it opens the store.
//!
//! Why runs: an ingest only appends the columns, and each row is later written a few times in
//! sequence (once per level). Per-output history links (`out.next`, with a per-address
//! `addr.last`) cost a random read and two random writes for every output that pays a known
//! address, a hash table of every txid (16 GiB at chain scale) a random write per tx, and a
//! column of each output's spender (`out.spent` until format 8) a random write per input, to a
//! page that is not cached when the output is old: at chain scale, tens of GB touched at random,
//! far beyond memory (`docs/performance-history.md`).

use std::io::Write;
use std::path::{Path, PathBuf};

use fs_err as fs;

use crate::column::{ID_BYTES, RoFile, id_bytes, read_id, read_u32, read_u64, to_usize};
use crate::error::{Result, StoreError};
use crate::manifest::Counts;
use crate::view::{NO_ADDRESS, TXID_ROW};

/// Log2 of the rows a level-0 run covers in a new store (the manifest's `run_bits`): 2^20, so
/// that a reader sorts at most a million rows of each tail when it opens a store.
pub(crate) const DEFAULT_RUN_BITS: u32 = 20;
/// The largest `run_bits` (a history tail key holds a u32 address and the offset).
pub(crate) const MAX_RUN_BITS: u32 = 24;
/// Runs of one level merged into one of the next.
pub(crate) const FAN_IN: u64 = 4;
/// Bytes of a run file's header: its number of entries (u64), so that a cut file is found out.
const HEADER: usize = 8;

/// Buffer of a run file being written.
const WRITE_BUFFER: usize = 1 << 20;

/// What a run holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The address history: `address (u32) · output (u40)` for the outputs that pay an address,
    /// from `out.addr`.
    History,
    /// The txid index: `txid prefix (u64) · tx (u40)` for every tx, from `tx.txid`.
    Txids,
    /// The spends: `output (u40) · input (u40)` for every input, from `in.spent`.
    Spends,
}

impl Kind {
    /// Every kind.
    pub(crate) const ALL: [Self; 3] = [Self::History, Self::Txids, Self::Spends];

    /// The position in [`crate::FILES`] of the column its runs are built from.
    pub(crate) fn column(self) -> usize {
        match self {
            Self::History => crate::OUT_ADDR,
            Self::Txids => crate::TX_TXID,
            Self::Spends => crate::IN_SPENT,
        }
    }

    /// The rows of that column that `counts` count.
    pub(crate) fn rows(self, counts: &Counts) -> u64 {
        match self {
            Self::History => counts.outputs,
            Self::Txids => counts.txs,
            Self::Spends => counts.inputs,
        }
    }

    /// The start of its file names.
    fn prefix(self) -> &'static str {
        match self {
            Self::History => "hist.",
            Self::Txids => "txids.",
            Self::Spends => "spends.",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::History => "history run",
            Self::Txids => "txid run",
            Self::Spends => "spend run",
        }
    }

    /// Bytes of an entry's key.
    fn key_bytes(self) -> usize {
        match self {
            Self::History => 4,
            Self::Txids => 8,
            Self::Spends => ID_BYTES,
        }
    }

    /// Bytes of an entry: key · row id (u40).
    pub(crate) fn entry(self) -> usize {
        self.key_bytes() + ID_BYTES
    }

    /// Bytes of a row of the column its runs are built from.
    pub(crate) fn row_bytes(self) -> usize {
        match self {
            Self::History => 4,
            Self::Txids => TXID_ROW,
            Self::Spends => ID_BYTES,
        }
    }

    /// The key of an entry.
    pub(crate) fn key(self, entry: &[u8]) -> u64 {
        match self {
            Self::History => u64::from(read_u32(entry, 0)),
            Self::Txids => read_u64(entry, 0),
            Self::Spends => read_id(entry, 0),
        }
    }

    /// The row id (output, tx or input) of an entry.
    pub(crate) fn row(self, entry: &[u8]) -> u64 {
        read_id(entry, self.key_bytes())
    }

    /// Whether `name` is one of its run files' names (and anything after it: temporary files
    /// too).
    pub(crate) fn is_run_file(self, name: &str) -> bool {
        name.starts_with(self.prefix())
    }
}

/// Whether `name` is a run file of any kind.
pub(crate) fn is_run_file(name: &str) -> bool {
    Kind::ALL.iter().any(|kind| kind.is_run_file(name))
}

/// One run: the rows `first..first + span`, where `span` is the level-0 size times a power of
/// [`FAN_IN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) first: u64,
    pub(crate) span: u64,
}

impl Run {
    /// The first row past the run.
    pub(crate) fn end(self) -> u64 {
        self.first + self.span
    }

    /// Its file: `hist.FIRST-END`, `txids.FIRST-END` or `spends.FIRST-END` (row ids, decimal).
    pub(crate) fn file_name(self, kind: Kind) -> String {
        format!("{}{}-{}", kind.prefix(), self.first, self.end())
    }

    fn contains(self, other: Self) -> bool {
        self.first <= other.first && other.end() <= self.end()
    }

    fn children(self) -> impl Iterator<Item = Self> {
        let span = self.span / FAN_IN;
        (0..FAN_IN).map(move |child| Self { first: self.first + child * span, span })
    }
}

/// The rows whole runs of `2^bits` rows cover when a store holds `rows` rows.
pub(crate) fn covered_for(rows: u64, bits: u32) -> u64 {
    rows >> bits << bits
}

/// The runs (level 0: `2^bits` rows) that hold rows `0..covered`, a multiple of `2^bits`, in
/// row order.
pub(crate) fn runs_for(covered: u64, bits: u32) -> Vec<Run> {
    let unit = 1u64 << bits;
    debug_assert_eq!(covered % unit, 0, "runs cover whole units");
    let mut span = unit;
    while span * FAN_IN <= covered {
        span *= FAN_IN;
    }
    let mut runs = Vec::new();
    let mut first = 0;
    while first < covered {
        while first + span > covered {
            span /= FAN_IN;
        }
        runs.push(Run { first, span });
        first += span;
    }
    runs
}

/// Opens the run files of `kind` of `covered` rows in `dir`, in row order.
///
/// # Errors
///
/// An I/O error (a missing file among them), or [`StoreError::Corrupt`] for a file whose length
/// is not that of the entries its header counts.
pub(crate) fn open_runs(dir: &Path, kind: Kind, covered: u64, bits: u32) -> Result<Vec<RoFile>> {
    runs_for(covered, bits)
        .into_iter()
        .map(|run| {
            let path = dir.join(run.file_name(kind));
            let file = RoFile::open(&path)?;
            let bytes = file.bytes();
            let counted = bytes.get(..HEADER).map(|header| read_u64(header, 0));
            let found = bytes.len() as u64;
            let entry = kind.entry();
            if counted.is_none_or(|entries| found != HEADER as u64 + entries * entry as u64) {
                return Err(StoreError::Corrupt {
                    what: format!(
                        "{} {} is {found} bytes, not the {HEADER}-byte header and the \
                         {entry}-byte entries it counts ({})",
                        kind.what(),
                        path.display(),
                        counted.map_or("none".to_owned(), |entries| entries.to_string()),
                    ),
                });
            }
            Ok(file)
        })
        .collect()
}

/// The entries of a run file (after its header).
pub(crate) fn entries(run: &[u8]) -> &[u8] {
    run.get(HEADER..).unwrap_or_default()
}

/// Deletes the files of `dir` that look like run files of `kind` but are not its runs of
/// `covered` rows (a commit interrupted before its manifest, temporary files) and returns how
/// many it deleted.
///
/// # Errors
///
/// An I/O error listing or deleting.
pub(crate) fn remove_stray_runs(dir: &Path, kind: Kind, covered: u64, bits: u32) -> Result<u64> {
    let keep: Vec<String> =
        runs_for(covered, bits).into_iter().map(|run| run.file_name(kind)).collect();
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if kind.is_run_file(&name) && !keep.contains(&name) {
            fs::remove_file(dir.join(&name))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Run files written by [`write_runs`]: to be synced before the manifest that names them, and
/// the files it no longer needs, to be deleted once that manifest is durable.
#[derive(Debug, Default)]
pub(crate) struct RunsWritten {
    pub(crate) new: Vec<fs::File>,
    pub(crate) stale: Vec<PathBuf>,
}

/// Writes the runs of `kind` of `covered` rows that the runs of `committed` rows (the last
/// commit's) lack, from `column` (at least `covered` rows): a level-0 run by sorting its rows, a
/// larger one by merging its [`FAN_IN`] children (written first as needed), a run inside a
/// committed one (after an unwinding) by filtering that one. Each is written to a temporary file
/// and renamed into place (a reader mapping an earlier file of the same name keeps it). Adds the
/// files to `written`.
pub(crate) fn write_runs(
    dir: &Path,
    kind: Kind,
    column: &[u8],
    (committed, covered): (u64, u64),
    bits: u32,
    written: &mut RunsWritten,
) -> Result<()> {
    let old = runs_for(committed, bits);
    let want = runs_for(covered, bits);
    let source = Source { dir, kind, column, bits, old: &old };
    // Runs on disk this call may use: the committed ones, then those it writes.
    let mut have = old.clone();
    for run in &want {
        source.ensure(*run, &mut have, written)?;
    }
    for run in have {
        if !want.contains(&run) {
            written.stale.push(dir.join(run.file_name(kind)));
        }
    }
    Ok(())
}

/// What [`write_runs`] builds runs from.
struct Source<'a> {
    dir: &'a Path,
    kind: Kind,
    column: &'a [u8],
    bits: u32,
    /// The committed runs.
    old: &'a [Run],
}

impl Source<'_> {
    /// Writes `run` unless it is in `have` (after the children it is merged from), and adds it
    /// there.
    fn ensure(&self, run: Run, have: &mut Vec<Run>, written: &mut RunsWritten) -> Result<()> {
        if have.contains(&run) {
            return Ok(());
        }
        let (dir, kind) = (self.dir, self.kind);
        let mut out = RunWriter::create(dir, kind, run)?;
        if let Some(parent) = self.old.iter().find(|parent| parent.contains(run)) {
            let parent = RoFile::open(&dir.join(parent.file_name(kind)))?;
            for entry in entries(parent.bytes()).chunks_exact(kind.entry()) {
                let row = kind.row(entry);
                if run.first <= row && row < run.end() {
                    out.push(entry)?;
                }
            }
        } else if run.span == 1 << self.bits {
            let width = kind.row_bytes();
            let rows = &self.column[to_usize(run.first) * width..to_usize(run.end()) * width];
            match kind {
                Kind::History | Kind::Spends => {
                    let keys = match kind {
                        Kind::History => sorted_keys(rows, self.bits),
                        _ => sorted_spend_keys(rows, self.bits),
                    };
                    for key in keys {
                        let (key, offset) = split_key(key, self.bits);
                        out.push(&keyed_entry(kind, key, run.first + offset)[..kind.entry()])?;
                    }
                }
                Kind::Txids => {
                    for key in sorted_txid_keys(rows, run.first) {
                        out.push(&txid_entry(key))?;
                    }
                }
            }
        } else {
            let children: Vec<Run> = run.children().collect();
            for child in &children {
                self.ensure(*child, have, written)?;
            }
            let files = children
                .iter()
                .map(|child| RoFile::open(&dir.join(child.file_name(kind))))
                .collect::<Result<Vec<_>>>()?;
            merge(kind, files.iter().map(|file| entries(file.bytes())).collect(), &mut out)?;
        }
        written.new.push(out.finish()?);
        have.push(run);
        Ok(())
    }
}

/// Merges runs of consecutive row ranges (each sorted by key, then row) into `out`.
fn merge(kind: Kind, mut runs: Vec<&[u8]>, out: &mut RunWriter) -> Result<()> {
    let entry = kind.entry();
    loop {
        // The run whose next key is the smallest, the earliest on ties (its rows come first);
        // then all its entries of that key at once.
        let mut best: Option<(u64, usize)> = None;
        for (position, run) in runs.iter().enumerate() {
            if run.len() >= entry {
                let key = kind.key(run);
                if best.is_none_or(|(smallest, _)| key < smallest) {
                    best = Some((key, position));
                }
            }
        }
        let Some((key, position)) = best else { return Ok(()) };
        let run = &mut runs[position];
        let count = run.chunks_exact(entry).take_while(|at| kind.key(at) == key).count();
        out.push(&run[..count * entry])?;
        *run = &run[count * entry..];
    }
}

/// Keys `address << bits | offset` of the outputs of `column` (a stretch of `out.addr` of at most
/// `2^bits` rows) that pay an address, sorted: by address, then output.
pub(crate) fn sorted_keys(column: &[u8], bits: u32) -> Vec<u64> {
    sort_keys(column, 4, bits, |row| {
        let address = read_u32(row, 0);
        (address != NO_ADDRESS).then_some(u64::from(address))
    })
}

/// Keys `output << bits | offset` of the inputs of `column` (a stretch of `in.spent` of at most
/// `2^bits` rows), sorted: by the output spent, then input. An output id is below 2^40 and `bits`
/// at most [`MAX_RUN_BITS`], so a key fits 64 bits.
pub(crate) fn sorted_spend_keys(column: &[u8], bits: u32) -> Vec<u64> {
    sort_keys(column, ID_BYTES, bits, |row| Some(read_id(row, 0)))
}

/// Keys `key(row) << bits | offset` of the rows of `column` (rows of `width` bytes) that have a
/// key, sorted.
fn sort_keys(
    column: &[u8],
    width: usize,
    bits: u32,
    key: impl Fn(&[u8]) -> Option<u64>,
) -> Vec<u64> {
    debug_assert!(column.len() / width <= 1 << bits, "offsets fit the key");
    let mut keys: Vec<u64> = column
        .chunks_exact(width)
        .enumerate()
        .filter_map(|(offset, row)| key(row).map(|key| key << bits | offset as u64))
        .collect();
    keys.sort_unstable();
    keys
}

/// The key (address or output) and offset of a key of [`sorted_keys`] or [`sorted_spend_keys`].
pub(crate) fn split_key(key: u64, bits: u32) -> (u64, u64) {
    (key >> bits, key & ((1 << bits) - 1))
}

/// The keys of [`sorted_keys`] or [`sorted_spend_keys`] whose key (address or output) is `key`.
pub(crate) fn keys_of(keys: &[u64], key: u64, bits: u32) -> &[u64] {
    let from = keys_from(keys, key, bits);
    &from[..from.partition_point(|at| *at >> bits <= key)]
}

/// The keys of [`sorted_keys`] or [`sorted_spend_keys`] from the first whose key (address or
/// output) is `key` or more to the end (one binary search, as [`entries_from`]).
pub(crate) fn keys_from(keys: &[u64], key: u64, bits: u32) -> &[u64] {
    &keys[keys.partition_point(|at| *at >> bits < key)..]
}

/// Keys `prefix << 64 | tx` of the txs of `column` (rows of `tx.txid`, the first being tx
/// `first`), sorted: by txid prefix, then tx.
pub(crate) fn sorted_txid_keys(column: &[u8], first: u64) -> Vec<u128> {
    let mut keys: Vec<u128> = column
        .chunks_exact(TXID_ROW)
        .zip(first..)
        .map(|(row, tx)| u128::from(read_u64(row, 0)) << 64 | u128::from(tx))
        .collect();
    keys.sort_unstable();
    keys
}

/// The txid prefix and tx of a key of [`sorted_txid_keys`].
#[allow(clippy::cast_possible_truncation, reason = "the halves of the key")]
pub(crate) fn split_txid_key(key: u128) -> (u64, u64) {
    ((key >> 64) as u64, key as u64)
}

/// The keys of [`sorted_txid_keys`] whose txid prefix is `prefix`.
pub(crate) fn txid_keys_of(keys: &[u128], prefix: u64) -> &[u128] {
    let start = keys.partition_point(|key| split_txid_key(*key).0 < prefix);
    let end = keys.partition_point(|key| split_txid_key(*key).0 <= prefix);
    &keys[start..end]
}

/// The entries of `key` in a run of `kind` (two binary searches).
pub(crate) fn entries_of(kind: Kind, run: &[u8], key: u64) -> &[u8] {
    let entry = kind.entry();
    let count = run.len() / entry;
    let key_at = |index: usize| kind.key(&run[index * entry..]);
    let start = partition_point(count, |index| key_at(index) < key);
    let end = partition_point(count, |index| key_at(index) <= key);
    &run[start * entry..end * entry]
}

/// The entries of a run of `kind` from the first whose key is `key` or more to the end (one binary
/// search): for a key with at most one entry, half the searches of [`entries_of`].
pub(crate) fn entries_from(kind: Kind, run: &[u8], key: u64) -> &[u8] {
    let entry = kind.entry();
    let start = partition_point(run.len() / entry, |index| kind.key(&run[index * entry..]) < key);
    &run[start * entry..]
}

/// The first of `0..count` for which `below` is false (`below` holds for a prefix).
fn partition_point(count: usize, below: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, count);
    while low < high {
        let middle = low + (high - low) / 2;
        if below(middle) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}

/// An entry of a history or spend run, in the first [`Kind::entry`] bytes: key (u32 address or
/// u40 output) · row id (u40).
fn keyed_entry(kind: Kind, key: u64, row: u64) -> [u8; 2 * ID_BYTES] {
    let key_bytes = kind.key_bytes();
    debug_assert!(kind != Kind::Txids && key >> (8 * key_bytes) == 0, "the key fits its bytes");
    let mut entry = [0u8; 2 * ID_BYTES];
    entry[..key_bytes].copy_from_slice(&key.to_le_bytes()[..key_bytes]);
    entry[key_bytes..][..ID_BYTES].copy_from_slice(&id_bytes(row));
    entry
}

/// A txid entry of a key of [`sorted_txid_keys`]: prefix (u64) · tx (u40).
fn txid_entry(key: u128) -> [u8; 8 + ID_BYTES] {
    let (prefix, tx) = split_txid_key(key);
    let mut entry = [0u8; 8 + ID_BYTES];
    entry[..8].copy_from_slice(&prefix.to_le_bytes());
    entry[8..].copy_from_slice(&id_bytes(tx));
    entry
}

/// A run file being written: `NAME.tmp`, renamed to its name by [`RunWriter::finish`].
struct RunWriter {
    temporary: PathBuf,
    path: PathBuf,
    out: std::io::BufWriter<fs::File>,
    entry: usize,
    /// Bytes of entries written.
    written: u64,
}

impl RunWriter {
    fn create(dir: &Path, kind: Kind, run: Run) -> Result<Self> {
        let path = dir.join(run.file_name(kind));
        let temporary = dir.join(format!("{}.tmp", run.file_name(kind)));
        let file = fs::File::create(&temporary)?;
        let out = std::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut writer = Self { temporary, path, out, entry: kind.entry(), written: 0 };
        // The count is written by `finish`.
        writer.write(&[0; HEADER])?;
        Ok(writer)
    }

    /// Appends whole entries.
    fn push(&mut self, entries: &[u8]) -> Result<()> {
        self.written += entries.len() as u64;
        self.write(entries)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|source| StoreError::MapIo { path: self.temporary.clone(), source })
    }

    /// Writes the header, renames the file into place and returns it, to be synced before the
    /// manifest that names it is written.
    fn finish(self) -> Result<fs::File> {
        let temporary = self.temporary;
        let io = |source| StoreError::MapIo { path: temporary.clone(), source };
        let file = self.out.into_inner().map_err(|error| io(error.into_error()))?;
        let count = self.written / self.entry as u64;
        std::os::unix::fs::FileExt::write_all_at(file.file(), &count.to_le_bytes(), 0)
            .map_err(io)?;
        fs::rename(&temporary, &self.path)?;
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BITS: u32 = 4;
    const UNIT: u64 = 1 << BITS;

    fn units(runs: &[Run]) -> Vec<(u64, u64)> {
        runs.iter().map(|run| (run.first / UNIT, run.span / UNIT)).collect()
    }

    #[test]
    fn runs_are_the_base_fan_in_digits_of_the_units_largest_first() {
        assert!(runs_for(0, BITS).is_empty());
        assert_eq!(units(&runs_for(UNIT, BITS)), [(0, 1)]);
        assert_eq!(units(&runs_for(3 * UNIT, BITS)), [(0, 1), (1, 1), (2, 1)]);
        assert_eq!(units(&runs_for(4 * UNIT, BITS)), [(0, 4)]);
        // 23 = 1·16 + 1·4 + 3·1
        assert_eq!(
            units(&runs_for(23 * UNIT, BITS)),
            [(0, 16), (16, 4), (20, 1), (21, 1), (22, 1)]
        );
        assert_eq!(covered_for(5 * UNIT + 7, BITS), 5 * UNIT);
        let run = Run { first: 16 * UNIT, span: 4 * UNIT };
        assert_eq!(run.file_name(Kind::History), "hist.256-320");
        assert_eq!(run.file_name(Kind::Txids), "txids.256-320");
        assert_eq!(run.file_name(Kind::Spends), "spends.256-320");
    }

    #[test]
    fn entries_of_finds_an_address_anywhere_in_a_run() {
        let mut run = Vec::new();
        let kind = Kind::History;
        for (address, output) in [(1, 5), (3, 1), (3, 9), (3, 12), (8, 2)] {
            run.extend_from_slice(&keyed_entry(kind, address, output)[..kind.entry()]);
        }
        let outputs = |address| {
            let found = entries_of(kind, &run, address);
            found.chunks_exact(kind.entry()).map(|entry| kind.row(entry)).collect::<Vec<_>>()
        };
        assert_eq!(outputs(3), [1, 9, 12]);
        assert_eq!(outputs(1), [5]);
        assert_eq!(outputs(8), [2]);
        assert!(outputs(0).is_empty() && outputs(2).is_empty() && outputs(9).is_empty());
    }

    #[test]
    fn keys_sort_by_address_then_output_and_skip_outputs_without_one() {
        let column: Vec<u8> =
            [7u32, NO_ADDRESS, 2, 7, 2].iter().flat_map(|address| address.to_le_bytes()).collect();
        let keys = sorted_keys(&column, BITS);
        let split: Vec<_> = keys.iter().map(|key| split_key(*key, BITS)).collect();
        assert_eq!(split, [(2, 2), (2, 4), (7, 0), (7, 3)]);
        assert_eq!(keys_of(&keys, 7, BITS).len(), 2);
        assert!(keys_of(&keys, 3, BITS).is_empty());
    }

    #[test]
    fn spend_keys_sort_by_output_then_input_and_entries_keep_both() {
        // Outputs past 2^32 (u40 ids) keep their order and their bytes.
        let spent = [1u64 << 39, 5, 1 << 32, 6];
        let column: Vec<u8> = spent.iter().flat_map(|output| id_bytes(*output)).collect();
        let keys = sorted_spend_keys(&column, BITS);
        let split: Vec<_> = keys.iter().map(|key| split_key(*key, BITS)).collect();
        assert_eq!(split, [(5, 1), (6, 3), (1 << 32, 2), (1 << 39, 0)]);
        assert_eq!(keys_of(&keys, 1 << 32, BITS), [keys[2]]);
        assert!(keys_of(&keys, 7, BITS).is_empty());
        assert_eq!(keys_from(&keys, 7, BITS), &keys[2..], "from the next output on");
        let kind = Kind::Spends;
        let run: Vec<u8> = split
            .iter()
            .flat_map(|(output, offset)| keyed_entry(kind, *output, 100 + offset)[..10].to_vec())
            .collect();
        let inputs = |output| {
            let found = entries_of(kind, &run, output);
            found.chunks_exact(kind.entry()).map(|entry| kind.row(entry)).collect::<Vec<_>>()
        };
        assert_eq!(inputs(1 << 39), [100]);
        assert_eq!(inputs(1 << 32), [102]);
        assert_eq!(inputs(6), [103]);
        assert!(inputs(0).is_empty() && inputs(7).is_empty());
    }

    #[test]
    fn txid_keys_sort_by_prefix_then_tx_and_entries_keep_both() {
        // Prefixes above 2^63 sort after smaller ones (unsigned), equal prefixes by tx.
        let prefixes = [u64::MAX, 7, 1 << 63, 7];
        let column: Vec<u8> = prefixes
            .iter()
            .flat_map(|prefix| {
                let mut row = [0u8; TXID_ROW];
                row[..8].copy_from_slice(&prefix.to_le_bytes());
                row
            })
            .collect();
        let keys = sorted_txid_keys(&column, 100);
        let split: Vec<_> = keys.iter().map(|key| split_txid_key(*key)).collect();
        assert_eq!(split, [(7, 101), (7, 103), (1 << 63, 102), (u64::MAX, 100)]);
        assert_eq!(txid_keys_of(&keys, 7).len(), 2);
        assert!(txid_keys_of(&keys, 8).is_empty());
        let kind = Kind::Txids;
        let run: Vec<u8> = keys.iter().flat_map(|key| txid_entry(*key)).collect();
        let rows = |prefix| {
            let found = entries_of(kind, &run, prefix);
            found.chunks_exact(kind.entry()).map(|entry| kind.row(entry)).collect::<Vec<_>>()
        };
        assert_eq!(rows(7), [101, 103]);
        assert_eq!(rows(u64::MAX), [100]);
        assert_eq!(rows(1 << 63), [102]);
        assert!(rows(0).is_empty() && rows(8).is_empty());
    }
}
