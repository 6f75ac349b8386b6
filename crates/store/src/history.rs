//! Address history: which outputs pay each address, in sorted runs built from `out.addr`.
//!
//! A run holds the outputs of one aligned range of output ids that pay an address, as entries
//! `address (u32) · output (u40)` sorted by address, then output. A level-0 run covers
//! `2^history_run_bits` outputs (the manifest's; [`DEFAULT_RUN_BITS`] by default) and is built from
//! `out.addr` at the commit that first covers them; once [`FAN_IN`] runs of one level sit side by
//! side, they are merged into one run of the next level. So the runs of a store are a pure function
//! of the outputs they cover ([`runs_for`]): the base-[`FAN_IN`] digits of the number of level-0
//! runs covered, largest first, at most 18 files for a whole chain. The outputs after the last
//! whole run (fewer than a level-0 run holds) are the tail, which a reader sorts in memory when it
//! opens the store.
//!
//! Why runs instead of links: an ingest only appends `out.addr`, and each output is later written
//! a few times in sequence (once per level), where per-output history links (`out.next`, with a
//! per-address `addr.last`) cost a random read and two random writes for every output that pays
//! a known address: at chain scale, tens of GB touched at random, far beyond memory
//! (`docs/performance.md`).

use std::io::Write;
use std::path::{Path, PathBuf};

use fs_err as fs;

use crate::column::{ID_BYTES, RoFile, id_bytes, read_id, read_u32, read_u64, to_usize};
use crate::error::{Result, StoreError};
use crate::view::NO_ADDRESS;

/// Log2 of the outputs a level-0 run covers in a new store (the manifest's `history_run_bits`):
/// 2^20, so that a reader sorts at most a million outputs of the tail when it opens a store.
pub(crate) const DEFAULT_RUN_BITS: u32 = 20;
/// The largest `history_run_bits` (a tail key holds a u32 address and the offset).
pub(crate) const MAX_RUN_BITS: u32 = 24;
/// Runs of one level merged into one of the next.
pub(crate) const FAN_IN: u64 = 4;
/// Bytes of a run entry: address id (u32) · output id (u40).
pub(crate) const ENTRY: usize = 4 + ID_BYTES;
/// Bytes of a run file's header: its number of entries (u64), so that a cut file is found out.
const HEADER: usize = 8;

/// Buffer of a run file being written.
const WRITE_BUFFER: usize = 1 << 20;

/// One run: the outputs `first..first + span`, where `span` is the level-0 size times a power of
/// [`FAN_IN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) first: u64,
    pub(crate) span: u64,
}

impl Run {
    /// The first output past the run.
    pub(crate) fn end(self) -> u64 {
        self.first + self.span
    }

    /// Its file: `hist.FIRST-END` (output ids, decimal).
    pub(crate) fn file_name(self) -> String {
        format!("hist.{}-{}", self.first, self.end())
    }

    fn contains(self, other: Self) -> bool {
        self.first <= other.first && other.end() <= self.end()
    }

    fn children(self) -> impl Iterator<Item = Self> {
        let span = self.span / FAN_IN;
        (0..FAN_IN).map(move |child| Self { first: self.first + child * span, span })
    }
}

/// Whether `name` is a run file's name (`hist.` and anything after it: temporary files too).
pub(crate) fn is_run_file(name: &str) -> bool {
    name.starts_with("hist.")
}

/// The outputs whole runs of `2^bits` outputs cover when a store holds `outputs` outputs.
pub(crate) fn covered_for(outputs: u64, bits: u32) -> u64 {
    outputs >> bits << bits
}

/// The runs (level 0: `2^bits` outputs) that hold outputs `0..covered`, a multiple of `2^bits`,
/// in output order.
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

/// Opens the run files of `covered` outputs in `dir`, in output order.
///
/// # Errors
///
/// An I/O error (a missing file among them), or [`StoreError::Corrupt`] for a file whose length
/// is not that of the entries its header counts.
pub(crate) fn open_runs(dir: &Path, covered: u64, bits: u32) -> Result<Vec<RoFile>> {
    runs_for(covered, bits)
        .into_iter()
        .map(|run| {
            let path = dir.join(run.file_name());
            let file = RoFile::open(&path)?;
            let bytes = file.bytes();
            let counted = bytes.get(..HEADER).map(|header| read_u64(header, 0));
            let found = bytes.len() as u64;
            if counted.is_none_or(|entries| found != HEADER as u64 + entries * ENTRY as u64) {
                return Err(StoreError::Corrupt {
                    what: format!(
                        "history run {} is {found} bytes, not the {HEADER}-byte header and the \
                         {ENTRY}-byte entries it counts ({})",
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

/// Deletes the files of `dir` that look like run files but are not runs of `covered` outputs (a
/// commit interrupted before its manifest, temporary files) and returns how many it deleted.
///
/// # Errors
///
/// An I/O error listing or deleting.
pub(crate) fn remove_stray_runs(dir: &Path, covered: u64, bits: u32) -> Result<u64> {
    let keep: Vec<String> = runs_for(covered, bits).into_iter().map(Run::file_name).collect();
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if is_run_file(&name) && !keep.contains(&name) {
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

/// Writes the runs of `covered` outputs that the runs of `committed` outputs (the last commit's)
/// lack, from `out_addr` (the column, at least `covered` rows): a level-0 run by sorting its
/// outputs, a larger one by merging its [`FAN_IN`] children (written first as needed), a run
/// inside a committed one (after an unwinding) by filtering that one. Each is written to a
/// temporary file and renamed into place (a reader mapping an earlier file of the same name
/// keeps it).
pub(crate) fn write_runs(
    dir: &Path,
    out_addr: &[u8],
    committed: u64,
    covered: u64,
    bits: u32,
) -> Result<RunsWritten> {
    let mut written = RunsWritten::default();
    let old = runs_for(committed, bits);
    let want = runs_for(covered, bits);
    // Runs on disk this call may use: the committed ones, then those it writes.
    let mut have = old.clone();
    for run in &want {
        ensure(dir, out_addr, *run, bits, &old, &mut have, &mut written)?;
    }
    for run in have {
        if !want.contains(&run) {
            written.stale.push(dir.join(run.file_name()));
        }
    }
    Ok(written)
}

/// Writes `run` unless it is in `have` (after the children it is merged from), and adds it there.
fn ensure(
    dir: &Path,
    out_addr: &[u8],
    run: Run,
    bits: u32,
    old: &[Run],
    have: &mut Vec<Run>,
    written: &mut RunsWritten,
) -> Result<()> {
    if have.contains(&run) {
        return Ok(());
    }
    let mut out = RunWriter::create(dir, run)?;
    if let Some(parent) = old.iter().find(|parent| parent.contains(run)) {
        let parent = RoFile::open(&dir.join(parent.file_name()))?;
        for entry in entries(parent.bytes()).chunks_exact(ENTRY) {
            let output = entry_output(entry);
            if run.first <= output && output < run.end() {
                out.push_raw(entry)?;
            }
        }
    } else if run.span == 1 << bits {
        let column = &out_addr[to_usize(run.first) * 4..to_usize(run.end()) * 4];
        for key in sorted_keys(column, bits) {
            let (address, offset) = split_key(key, bits);
            out.push(address, run.first + offset)?;
        }
    } else {
        let children: Vec<Run> = run.children().collect();
        for child in &children {
            ensure(dir, out_addr, *child, bits, old, have, written)?;
        }
        let files = children
            .iter()
            .map(|child| RoFile::open(&dir.join(child.file_name())))
            .collect::<Result<Vec<_>>>()?;
        merge(files.iter().map(|file| entries(file.bytes())).collect(), &mut out)?;
    }
    written.new.push(out.finish()?);
    have.push(run);
    Ok(())
}

/// Merges runs of consecutive output ranges (each sorted by address, then output) into `out`.
fn merge(mut runs: Vec<&[u8]>, out: &mut RunWriter) -> Result<()> {
    loop {
        // The run whose next address is the smallest, the earliest on ties (its outputs come
        // first); then all its entries of that address at once.
        let mut best: Option<(u32, usize)> = None;
        for (position, run) in runs.iter().enumerate() {
            if run.len() >= ENTRY {
                let address = read_u32(run, 0);
                if best.is_none_or(|(smallest, _)| address < smallest) {
                    best = Some((address, position));
                }
            }
        }
        let Some((address, position)) = best else { return Ok(()) };
        let run = &mut runs[position];
        let count =
            run.chunks_exact(ENTRY).take_while(|entry| read_u32(entry, 0) == address).count();
        out.push_raw(&run[..count * ENTRY])?;
        *run = &run[count * ENTRY..];
    }
}

/// Keys `address << bits | offset` of the outputs of `column` (a stretch of `out.addr` of at most
/// `2^bits` rows) that pay an address, sorted: by address, then output.
pub(crate) fn sorted_keys(column: &[u8], bits: u32) -> Vec<u64> {
    debug_assert!(column.len() / 4 <= 1 << bits, "offsets fit the key");
    let mut keys: Vec<u64> = column
        .chunks_exact(4)
        .enumerate()
        .filter_map(|(offset, row)| {
            let address = read_u32(row, 0);
            (address != NO_ADDRESS).then(|| u64::from(address) << bits | offset as u64)
        })
        .collect();
    keys.sort_unstable();
    keys
}

/// The address and offset of a key of [`sorted_keys`].
pub(crate) fn split_key(key: u64, bits: u32) -> (u32, u64) {
    let address = u32::try_from(key >> bits).expect("keys hold a u32 address");
    (address, key & ((1 << bits) - 1))
}

/// The keys of [`sorted_keys`] that belong to `address`.
pub(crate) fn keys_of(keys: &[u64], address: u32, bits: u32) -> &[u64] {
    let address = u64::from(address);
    let start = keys.partition_point(|key| *key >> bits < address);
    let end = keys.partition_point(|key| *key >> bits <= address);
    &keys[start..end]
}

/// The entries of `address` in a run (two binary searches).
pub(crate) fn entries_of(run: &[u8], address: u32) -> &[u8] {
    let count = run.len() / ENTRY;
    let address_at = |index: usize| read_u32(run, index * ENTRY);
    let start = partition_point(count, |index| address_at(index) < address);
    let end = partition_point(count, |index| address_at(index) <= address);
    &run[start * ENTRY..end * ENTRY]
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

/// The output id of a run entry.
pub(crate) fn entry_output(entry: &[u8]) -> u64 {
    read_id(entry, 4)
}

/// A run file being written: `NAME.tmp`, renamed to its name by [`RunWriter::finish`].
struct RunWriter {
    temporary: PathBuf,
    path: PathBuf,
    out: std::io::BufWriter<fs::File>,
    /// Bytes of entries written.
    written: u64,
}

impl RunWriter {
    fn create(dir: &Path, run: Run) -> Result<Self> {
        let path = dir.join(run.file_name());
        let temporary = dir.join(format!("{}.tmp", run.file_name()));
        let file = fs::File::create(&temporary)?;
        let out = std::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut writer = Self { temporary, path, out, written: 0 };
        // The count is written by `finish`.
        writer.write(&[0; HEADER])?;
        Ok(writer)
    }

    fn push(&mut self, address: u32, output: u64) -> Result<()> {
        let mut entry = [0u8; ENTRY];
        entry[..4].copy_from_slice(&address.to_le_bytes());
        entry[4..].copy_from_slice(&id_bytes(output));
        self.push_raw(&entry)
    }

    fn push_raw(&mut self, entries: &[u8]) -> Result<()> {
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
        let count = self.written / ENTRY as u64;
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
        assert_eq!(run.file_name(), "hist.256-320");
    }

    #[test]
    fn entries_of_finds_an_address_anywhere_in_a_run() {
        let mut run = Vec::new();
        for (address, output) in [(1u32, 5u64), (3, 1), (3, 9), (3, 12), (8, 2)] {
            run.extend_from_slice(&address.to_le_bytes());
            run.extend_from_slice(&id_bytes(output));
        }
        let outputs = |address| {
            entries_of(&run, address).chunks_exact(ENTRY).map(entry_output).collect::<Vec<_>>()
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
}
