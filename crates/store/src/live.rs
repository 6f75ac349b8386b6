//! The writer's map of live transactions: txid → tx number, for the transactions that still have
//! an unspent output, with how many they have.
//!
//! Inputs are resolved through this map instead of the txid runs (`crate::runs`), which serve
//! readers. Once a chain is old, most of its transactions have had all their outputs spent, so the
//! table an ingest probes for every input holds only a part of the transactions, and can stay in
//! memory when a hash index of every txid of a whole chain (16 GiB) could not.
//!
//! It is never stored: the writer rebuilds it from `tx.io` and `in.spent` when it opens a store,
//! so its layout (open addressing, linear probing, deletion by backward shift) is free to change.
//! A slot is 32 bytes (two to a cache line): the txid's first 16 bytes, its [`TxKey`] · tx
//! number (u32) · state (u32, below) · first output id (u40) · number of outputs (u24,
//! [`MANY_OUTPUTS`] for that many or more). The outputs spare an input a read of `tx.io`.
//!
//! The state says which outputs are unspent, so that an input is checked against a double spend
//! without reading the store (until format 8 it read `out.spent`, a random read of a column of
//! 17.5 GB at chain scale for every input): 0 for an empty slot, else [`LIVE`] plus [`TWIN`] if
//! marked, plus either a bitmap of the unspent outputs (bit `i` for output `i`) of a transaction
//! with at most [`SMALL_OUTPUTS`], or [`WIDE`] and the count of unspent outputs of a larger one,
//! whose bitmap is kept beside the table by tx number (at most a few percent of transactions:
//! batched payouts, CoinJoins).
//!
//! The 16 bytes of the key identify a live transaction: a lookup whose key matches an entry's is
//! that transaction, and reads nothing else. Before, the key was 8 bytes and every match was
//! confirmed against `tx.txid`, a random read of a column of 45 GB at chain scale for every input.
//! Two different txids whose first 16 bytes are equal (SHA-256d outputs: n txids have n^2 / 2^129
//! such pairs expected, 3 × 10^-21 for mainnet's 1.4 G) are still told apart: when an insertion
//! finds a live entry with its key that is another transaction (the caller's `is_key` reads
//! `tx.txid` then, as it does for a BIP-0030 duplicate), both entries are marked [`TWIN`], and a
//! lookup that matches a twin confirms it against `tx.txid` as before.
//!
//! What 16 bytes cannot tell is a txid that is not live (spent, or nowhere in the chain) but
//! shares its first 16 bytes with a live transaction that is not marked (it was added after the
//! other had been spent): only an input of an invalid block can name one. The writer checks that
//! prevouts exist and are unspent, not scripts or signatures: it trusts the proof of work of the
//! chain it is given (`docs/store-format.md`, "Address hash index", states both limits).
//!
//! A removed entry leaves no tombstone: the entries after it in its cluster that may move back
//! are shifted into the hole (Knuth's algorithm R for linear probing). So the table holds only
//! live entries and grows only when they do; with tombstones, a chain whose live count stays level
//! filled its table with them and was rebuilt (a new table zeroed, every entry moved) again and
//! again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::column::{
    ID_BYTES, ScratchTable, prefetch, read_id, read_u32, read_u64, to_usize, write_id, write_u32,
    write_u64,
};
use fs_err as fs;

use crate::error::Result;
use crate::index;
use crate::memory;
use crate::view::TXID_ROW;

const SLOT: usize = 32;
/// Buffer of a table's entries copied out to a file and read back ([`Place::Spill`]).
const SPILL_BUFFER: usize = 1 << 20;
/// Byte offsets in a slot.
const TX: usize = 16;
const STATE: usize = 20;
const FIRST_OUTPUT: usize = 24;
const OUTPUT_COUNT: usize = FIRST_OUTPUT + ID_BYTES;
/// The output count of a transaction with at least this many outputs (no Bitcoin transaction
/// comes near): its outputs are read from `tx.io` instead.
pub(crate) const MANY_OUTPUTS: u32 = (1 << 24) - 1;
const EMPTY: u32 = 0;
/// The state bit of every live entry.
const LIVE: u32 = 1 << 29;
/// The state bit of an entry of more than [`SMALL_OUTPUTS`] outputs: the low bits count its
/// unspent outputs, and its bitmap is in [`LiveTxs::wide`].
const WIDE: u32 = 1 << 30;
/// The state bit of an entry whose key another live transaction has had: a match is confirmed by
/// the caller's `is_key` (against `tx.txid`).
pub(crate) const TWIN: u32 = 1 << 31;
/// The most outputs whose bitmap fits in the state (its bits below [`LIVE`]).
pub(crate) const SMALL_OUTPUTS: u32 = 29;
/// The state bits below the flags: a bitmap, or a count for a [`WIDE`] entry.
const LOW: u32 = LIVE - 1;

/// A transaction's key in the map: its txid's first 16 bytes, as two little-endian u64s. The
/// first is also the txid runs' key, and its low bits the entry's home slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TxKey {
    pub(crate) low: u64,
    pub(crate) high: u64,
}

impl TxKey {
    /// The key of a txid (32 bytes, internal byte order, as `tx.txid` stores it).
    pub(crate) fn of(txid: &[u8]) -> Self {
        Self { low: read_u64(txid, 0), high: read_u64(txid, 8) }
    }

    /// The key of tx number `tx` in `txids` (the `tx.txid` column).
    pub(crate) fn of_tx(txids: &[u8], tx: u64) -> Self {
        Self::of(&txids[to_usize(tx) * TXID_ROW..])
    }
}

/// A live transaction's place in the table: valid until the next [`LiveTxs::insert`] or
/// [`LiveTxs::remove`] (which may move entries; it keeps [`LiveTxs::current`] up to date).
pub(crate) type Slot = usize;

/// The writer's live transactions (see the module docs).
#[derive(Debug)]
pub(crate) struct LiveTxs {
    /// In anonymous memory, or in the scratch file at `scratch` when it does not fit ([`place`]).
    table: ScratchTable,
    /// Where a table too large for memory lives, and where a table being moved is copied out to.
    scratch: PathBuf,
    /// How the memory is judged when the table grows.
    memory: Memory,
    bits: u32,
    /// Live entries.
    live: u64,
    /// The entry of the last transaction inserted (its outputs are counted into it).
    pub(crate) current: Option<Slot>,
    /// The output the last successful lookup found unspent, its transaction's entry and its index
    /// in it: the input that is pushed next spends it.
    pub(crate) found: Option<(u64, Slot, u32)>,
    /// The bitmaps of unspent outputs of the [`WIDE`] entries, by tx number.
    wide: HashMap<u32, Vec<u64>>,
    /// Transactions added back by a lookup that found them unspent outside the map.
    pub(crate) repairs: u64,
    /// Entries ever marked [`TWIN`].
    pub(crate) twins: u64,
    /// Tables copied out to a file before they were moved into a bigger one ([`Place::Spill`]).
    pub(crate) spills: u64,
}

/// How the memory is judged when the live map makes a table.
#[derive(Debug, Clone, Copy)]
enum Memory {
    /// By this process's figures: [`memory::available`] and [`memory::anonymous_now`].
    Process,
    /// `available` bytes, of which `other` are held as anonymous memory besides the table.
    #[cfg(test)]
    Fixed { available: u64, other: u64 },
}

impl Memory {
    /// Where a table of `new` bytes goes that replaces one of `old` bytes of anonymous memory.
    fn place(self, new: u64, old: u64) -> Place {
        match self {
            Self::Process => place(new, old, memory::available(), memory::anonymous_now()),
            #[cfg(test)]
            Self::Fixed { available, other } => place(new, old, available, other + old),
        }
    }
}

/// Where a new table of the live map goes ([`place`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In anonymous memory, made while the old table is still held.
    Memory,
    /// In anonymous memory, made once the old table's entries are copied out to a file and the old
    /// table is gone: the two would not fit together.
    Spill,
    /// In a scratch file: the table does not fit in memory even alone.
    Scratch,
}

/// Where a table of `new` bytes goes that replaces one of `old` bytes of anonymous memory (0 if
/// the old one is a scratch file), for a process that may use `available` bytes (0: unknown) and
/// holds `anonymous` bytes of anonymous memory, the old table included.
///
/// In memory while that leaves an eighth of `available` for the page cache, which is more than the
/// address index is allowed (`column::table_limit`) because the live map is the hotter table: every
/// input reads and writes a random slot, every transaction inserts one. In a scratch file, those
/// writes make dirty pages all over the file, which the kernel writes back and reads again: a
/// 16 GB chain under 1,536 MiB, whose 512 MiB table went there, took ten times as long as without
/// a limit (`docs/performance.md`, "The live map under a memory limit"). But the table must not
/// outgrow the memory: a whole chain's live map grows to 4-8 GiB while its address index holds
/// 12 GiB, and the move from a table of 4 GiB to one of 8 GiB held both, 24 GiB of anonymous
/// memory on a 24 GiB machine, which has an ingest killed. So a table that fits only once the old one is gone is made after the old one's
/// entries are copied out to a file ([`Place::Spill`]), and one that does not fit at all is a
/// scratch file: slow where memory is that short, but not killed.
fn place(new: u64, old: u64, available: u64, anonymous: u64) -> Place {
    if available == 0 {
        // Nothing known to fit against: as before there was a rule, in memory.
        return Place::Memory;
    }
    let line = available - available / 8;
    if anonymous.saturating_add(new) <= line {
        Place::Memory
    } else if anonymous.saturating_sub(old).saturating_add(new) <= line {
        Place::Spill
    } else {
        Place::Scratch
    }
}

impl LiveTxs {
    /// An empty map, whose tables are in memory unless one does not fit ([`place`]); then it is a
    /// scratch file at `scratch`.
    pub(crate) fn new(scratch: &Path) -> Result<Self> {
        Self::empty(scratch, Memory::Process)
    }

    /// An empty map whose tables are placed as if the process could use `available` bytes and
    /// held `other` bytes of anonymous memory besides the table.
    #[cfg(test)]
    pub(crate) fn with_memory(scratch: &Path, available: u64, other: u64) -> Result<Self> {
        Self::empty(scratch, Memory::Fixed { available, other })
    }

    fn empty(scratch: &Path, memory: Memory) -> Result<Self> {
        let in_memory = memory.place((SLOT << index::MIN_BITS) as u64, 0) != Place::Scratch;
        Self::with_bits(index::MIN_BITS, scratch, memory, in_memory)
    }

    /// An empty map of `2^bits` slots, in memory or in a scratch file at `scratch` (which unlinks
    /// whatever file was there: a mapping of it keeps its pages until it is dropped).
    fn with_bits(bits: u32, scratch: &Path, memory: Memory, in_memory: bool) -> Result<Self> {
        let len = (SLOT << bits) as u64;
        let limit = if in_memory { u64::MAX } else { 0 };
        let table = ScratchTable::create_within(scratch, len, None, limit)?;
        Ok(Self {
            table,
            scratch: scratch.to_owned(),
            memory,
            bits,
            live: 0,
            current: None,
            found: None,
            wide: HashMap::new(),
            repairs: 0,
            twins: 0,
            spills: 0,
        })
    }

    /// Number of live transactions.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.live
    }

    /// Bytes of the table.
    pub(crate) fn table_bytes(&self) -> usize {
        self.table.len()
    }

    /// Whether the table is in anonymous memory rather than in a scratch file.
    pub(crate) fn in_memory(&self) -> bool {
        self.table.in_memory()
    }

    fn mask(&self) -> u64 {
        (1u64 << self.bits) - 1
    }

    fn state(&self, slot: Slot) -> u32 {
        read_u32(&self.table, slot * SLOT + STATE)
    }

    fn set_state(&mut self, slot: Slot, state: u32) {
        write_u32(&mut self.table, slot * SLOT + STATE, state);
    }

    fn key(&self, slot: Slot) -> TxKey {
        TxKey {
            low: read_u64(&self.table, slot * SLOT),
            high: read_u64(&self.table, slot * SLOT + 8),
        }
    }

    /// Whether a live entry is marked [`TWIN`]: another transaction has had its key.
    pub(crate) fn is_twin(&self, slot: Slot) -> bool {
        self.state(slot) & TWIN != 0
    }

    fn mark_twin(&mut self, slot: Slot) {
        if !self.is_twin(slot) {
            self.twins += 1;
            self.set_state(slot, self.state(slot) | TWIN);
        }
    }

    /// The tx number of a live entry.
    pub(crate) fn tx(&self, slot: Slot) -> u32 {
        read_u32(&self.table, slot * SLOT + TX)
    }

    /// The outputs of a live entry: its first output id and how many it has, `None` when it has
    /// [`MANY_OUTPUTS`] or more (read `tx.io`).
    pub(crate) fn outputs(&self, slot: Slot) -> Option<(u64, u32)> {
        let count = self.output_count(slot);
        (count < MANY_OUTPUTS).then(|| (read_id(&self.table, slot * SLOT + FIRST_OUTPUT), count))
    }

    fn output_count(&self, slot: Slot) -> u32 {
        // The u24 after the first output: the high three bytes of the u32 that ends the slot.
        read_u32(&self.table, slot * SLOT + OUTPUT_COUNT - 1) >> 8
    }

    fn set_outputs(&mut self, slot: Slot, first: u64, count: u32) {
        write_id(&mut self.table, slot * SLOT + FIRST_OUTPUT, first);
        self.set_output_count(slot, count);
    }

    fn set_output_count(&mut self, slot: Slot, count: u32) {
        let count = count.min(MANY_OUTPUTS).to_le_bytes();
        self.table[slot * SLOT + OUTPUT_COUNT..][..3].copy_from_slice(&count[..3]);
    }

    /// Unspent outputs of a live entry.
    #[cfg(test)]
    fn unspent(&self, slot: Slot) -> u32 {
        let state = self.state(slot);
        if state & WIDE == 0 { (state & LOW).count_ones() } else { state & LOW }
    }

    /// Whether output `vout` of a live entry is unspent.
    pub(crate) fn is_unspent(&self, slot: Slot, vout: u32) -> bool {
        let state = self.state(slot);
        if state & WIDE == 0 {
            vout < SMALL_OUTPUTS && state & (1 << vout) != 0
        } else {
            self.wide.get(&self.tx(slot)).is_some_and(|bits| bit(bits, vout))
        }
    }

    /// Returns the live entry of the transaction with `key`. `is_key(tx)` confirms a match only
    /// when the entry is a [`TWIN`] (it reads the txid of tx number `tx`).
    pub(crate) fn find(&self, key: TxKey, mut is_key: impl FnMut(u32) -> bool) -> Option<Slot> {
        let mask = self.mask();
        let mut slot = key.low & mask;
        loop {
            let at = to_usize(slot);
            match self.state(at) {
                EMPTY => return None,
                state if self.key(at) == key && (state & TWIN == 0 || is_key(self.tx(at))) => {
                    return Some(at);
                }
                _ => {}
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Returns the live entry of tx number `tx`, whose key is `key`.
    pub(crate) fn find_tx(&self, key: TxKey, tx: u32) -> Option<Slot> {
        let mask = self.mask();
        let mut slot = key.low & mask;
        loop {
            let at = to_usize(slot);
            if self.state(at) == EMPTY {
                return None;
            }
            if self.key(at) == key && self.tx(at) == tx {
                return Some(at);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Prefetches the cache line of `key`'s start slot.
    #[inline]
    pub(crate) fn prefetch(&self, key: TxKey) {
        prefetch(&self.table, to_usize(key.low & self.mask()) * SLOT);
    }

    /// Adds transaction `tx` with its `outputs` (first id, count), of which those whose index
    /// `unspent` gives are unspent, and returns its entry. An entry with the same key is asked
    /// `is_key` (which reads `tx.txid`): one with the same txid is replaced, since of two
    /// transactions with one txid (BIP-0030) only the later can be spent; one with another txid is
    /// a [`TWIN`], and so is the new entry. One walk of the probe sequence does it all: it stops at
    /// the same-txid entry (there is at most one), whose slot the new entry takes (same key, same
    /// probe sequence), or at an empty slot.
    pub(crate) fn insert(
        &mut self,
        key: TxKey,
        tx: u32,
        outputs: (u64, u32),
        unspent: impl Fn(u32) -> bool,
        mut is_key: impl FnMut(u32) -> bool,
    ) -> Result<Slot> {
        if self.live + 1 > index::max_entries(self.bits) {
            self.resize()?;
        }
        let mask = self.mask();
        let mut slot = key.low & mask;
        let mut twin = false;
        let at = loop {
            let at = to_usize(slot);
            if self.state(at) == EMPTY {
                break at;
            }
            if self.key(at) == key {
                if is_key(self.tx(at)) {
                    // Replaced in place: as a removal and an insertion into the hole.
                    twin |= self.is_twin(at);
                    self.live -= 1;
                    if self.current == Some(at) {
                        self.current = None;
                    }
                    self.found = None;
                    self.wide.remove(&self.tx(at));
                    break at;
                }
                self.mark_twin(at);
                twin = true;
            }
            slot = (slot + 1) & mask;
        };
        write_u64(&mut self.table, at * SLOT, key.low);
        write_u64(&mut self.table, at * SLOT + 8, key.high);
        write_u32(&mut self.table, at * SLOT + TX, tx);
        let state = if outputs.1 <= SMALL_OUTPUTS {
            (0..outputs.1).filter(|vout| unspent(*vout)).fold(LIVE, |state, vout| state | 1 << vout)
        } else {
            let mut bits = vec![0u64; to_usize(u64::from(outputs.1).div_ceil(64))];
            let mut count = 0;
            for vout in (0..outputs.1).filter(|vout| unspent(*vout)) {
                set_bit(&mut bits, vout, true);
                count += 1;
            }
            self.wide.insert(tx, bits);
            LIVE | WIDE | count
        };
        self.set_state(at, if twin { state | TWIN } else { state });
        self.twins += u64::from(twin);
        self.set_outputs(at, outputs.0, outputs.1);
        self.live += 1;
        Ok(at)
    }

    /// Adds a new (unspent) output to the live entry of the transaction being written.
    pub(crate) fn add_output(&mut self, slot: Slot) {
        let count = self.output_count(slot);
        debug_assert!(count < MANY_OUTPUTS, "no transaction comes near");
        if count == SMALL_OUTPUTS {
            // The bitmap moves beside the table.
            let state = self.state(slot);
            let bitmap = state & LOW;
            self.wide.insert(self.tx(slot), vec![u64::from(bitmap)]);
            self.set_state(slot, (state & TWIN) | LIVE | WIDE | bitmap.count_ones());
        }
        self.set_output_count(slot, count + 1);
        self.unspend(slot, count);
    }

    /// Marks output `vout` of a live entry unspent: a new one ([`LiveTxs::add_output`]) or one an
    /// unwinding removed the spender of.
    pub(crate) fn unspend(&mut self, slot: Slot, vout: u32) {
        let state = self.state(slot);
        debug_assert!(state & LIVE != 0, "outputs are counted into live entries");
        if state & WIDE == 0 {
            self.set_state(slot, state | 1 << vout);
        } else {
            let bits = self.wide.entry(self.tx(slot)).or_default();
            let words = to_usize(u64::from(vout) / 64 + 1);
            if bits.len() < words {
                bits.resize(words, 0);
            }
            if !bit(bits, vout) {
                set_bit(bits, vout, true);
                self.set_state(slot, state + 1);
            }
        }
    }

    /// Marks output `vout` of a live entry spent, removing the entry when none is left. Returns
    /// `false` (and changes nothing) if it was not unspent.
    pub(crate) fn spend(&mut self, slot: Slot, vout: u32) -> bool {
        if !self.is_unspent(slot, vout) {
            return false;
        }
        let state = self.state(slot);
        let state = if state & WIDE == 0 {
            state & !(1 << vout)
        } else {
            set_bit(
                self.wide.get_mut(&self.tx(slot)).expect("wide entries have bits"),
                vout,
                false,
            );
            state - 1
        };
        if state & LOW == 0 {
            self.remove(slot);
        } else {
            self.set_state(slot, state);
        }
        true
    }

    /// Removes a live entry, and shifts back the entries after it in its cluster that may move
    /// into the hole (each to the first place it may take on its probe sequence), so that no
    /// lookup walks past an empty slot to reach them. [`LiveTxs::current`] follows its entry.
    pub(crate) fn remove(&mut self, slot: Slot) {
        let state = self.state(slot);
        if state == EMPTY {
            return;
        }
        if state & WIDE != 0 {
            self.wide.remove(&self.tx(slot));
        }
        self.live -= 1;
        if self.current == Some(slot) {
            self.current = None;
        }
        self.found = None;
        let mask = self.mask();
        let mut hole = slot as u64;
        let mut next = (hole + 1) & mask;
        while self.state(to_usize(next)) != EMPTY {
            let home = self.key(to_usize(next)).low & mask;
            // The entry at `next` may fill the hole if the hole lies on its probe sequence, from
            // its home slot up to where it is.
            if (hole.wrapping_sub(home) & mask) < (next.wrapping_sub(home) & mask) {
                let (from, to) = (to_usize(next), to_usize(hole));
                self.table.copy_within(from * SLOT..(from + 1) * SLOT, to * SLOT);
                if self.current == Some(from) {
                    self.current = Some(to);
                }
                hole = next;
            }
            next = (next + 1) & mask;
        }
        let hole = to_usize(hole);
        self.table[hole * SLOT..(hole + 1) * SLOT].fill(0);
    }

    /// Moves the live entries into a table sized for one and a half times their number, placed by
    /// [`place`]: made while the old table is held, or after its entries were copied out to an
    /// unlinked file (then read back in order). Entries keep their keys, so no txid is read again.
    fn resize(&mut self) -> Result<()> {
        let room = self.live + self.live / 2 + 1;
        let bits = index::bits_for(room);
        let old = if self.table.in_memory() { self.table.len() as u64 } else { 0 };
        let place = self.memory.place((SLOT << bits) as u64, old);
        let current = self.current;
        let mut bigger = if place == Place::Spill {
            let (file, current) = self.spill(current)?;
            // The old table goes before the new one is made.
            self.table = ScratchTable::none();
            let mut bigger = Self::with_bits(bits, &self.scratch, self.memory, true)?;
            let mut reader = std::io::BufReader::with_capacity(SPILL_BUFFER, file);
            let mut entry = [0u8; SLOT];
            for ordinal in 0..self.live {
                std::io::Read::read_exact(&mut reader, &mut entry)?;
                let to = bigger.put(&entry);
                if current == Some(ordinal) {
                    bigger.current = Some(to);
                }
            }
            bigger.spills = self.spills + 1;
            bigger
        } else {
            let mut bigger =
                Self::with_bits(bits, &self.scratch, self.memory, place == Place::Memory)?;
            for (at, entry) in self.entries() {
                let to = bigger.put(entry);
                if current == Some(at) {
                    bigger.current = Some(to);
                }
            }
            bigger.spills = self.spills;
            bigger
        };
        bigger.repairs = self.repairs;
        bigger.twins = self.twins;
        bigger.wide = std::mem::take(&mut self.wide);
        *self = bigger;
        Ok(())
    }

    /// The live entries' slots and bytes, in slot order.
    fn entries(&self) -> impl Iterator<Item = (Slot, &[u8])> {
        (0..1usize << self.bits)
            .filter(|&at| self.state(at) != EMPTY)
            .map(|at| (at, &self.table[at * SLOT..][..SLOT]))
    }

    /// Puts a whole slot's bytes into the first empty slot from its key's home; returns that slot.
    fn put(&mut self, entry: &[u8]) -> Slot {
        let mask = self.mask();
        let mut slot = read_u64(entry, 0) & mask;
        while self.state(to_usize(slot)) != EMPTY {
            slot = (slot + 1) & mask;
        }
        let to = to_usize(slot);
        self.table[to * SLOT..][..SLOT].copy_from_slice(entry);
        self.live += 1;
        to
    }

    /// Writes the live entries, in slot order, to a new file at the scratch path (never synced:
    /// it is read back at once), unlinks it and returns it open at its start, with the ordinal of
    /// the entry in slot `current`.
    fn spill(&self, current: Option<Slot>) -> Result<(fs::File, Option<u64>)> {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.scratch)?;
        let mut writer = std::io::BufWriter::with_capacity(SPILL_BUFFER, file);
        let mut current_ordinal = None;
        for (ordinal, (at, entry)) in (0u64..).zip(self.entries()) {
            std::io::Write::write_all(&mut writer, entry)?;
            if current == Some(at) {
                current_ordinal = Some(ordinal);
            }
        }
        let mut file = writer.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        std::io::Seek::rewind(&mut file)?;
        // Unlinked at once: read through the open file, then gone, even after a crash.
        fs::remove_file(&self.scratch)?;
        Ok((file, current_ordinal))
    }
}

/// Bit `index` of a bitmap of u64 words (`false` past its end).
fn bit(bits: &[u64], index: u32) -> bool {
    bits.get(to_usize(u64::from(index) / 64)).is_some_and(|word| word >> (index % 64) & 1 != 0)
}

fn set_bit(bits: &mut [u64], index: u32, value: bool) {
    let word = &mut bits[to_usize(u64::from(index) / 64)];
    if value {
        *word |= 1 << (index % 64);
    } else {
        *word &= !(1 << (index % 64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty map whose tables are all in memory (its scratch path is never created).
    fn in_memory() -> LiveTxs {
        let dir = tempfile::tempdir().unwrap();
        LiveTxs::with_memory(&dir.path().join("live.work"), u64::MAX / 2, 0).unwrap()
    }

    /// A key whose home slot is `low`'s low bits, with a second half of `high`.
    fn key(low: u64, high: u64) -> TxKey {
        TxKey { low, high }
    }

    #[test]
    fn entries_are_found_counted_spent_and_removed() {
        let mut live = in_memory();
        let a = live.insert(key(7, 1), 0, (0, 2), |vout| vout < 2, |_| false).unwrap();
        let b = live.insert(key(7 | (1 << 40), 1), 1, (2, 1), |vout| vout < 1, |_| false).unwrap();
        // Same first half, another second half: another key, found without a confirmation.
        let c = live.insert(key(7, 2), 2, (3, 0), |_| false, |_| false).unwrap();
        assert_eq!(live.len(), 3);
        assert_eq!(live.twins, 0);
        assert_eq!(live.outputs(b), Some((2, 1)));
        let many =
            live.insert(key(8, 0), 3, (4, MANY_OUTPUTS + 5), |vout| vout < 1, |_| false).unwrap();
        assert_eq!(live.outputs(many), None, "read from tx.io");
        live.remove(many);
        let never = |_| panic!("no twin, so no confirmation");
        assert_eq!(live.find(key(7, 1), never), Some(a));
        assert_eq!(live.find(key(7, 2), never), Some(c));
        assert_eq!(live.find(key(7, 3), never), None);
        assert_eq!(live.find(key(7 | (1 << 40), 1), never), Some(b));
        assert_eq!(live.find_tx(key(7, 2), 2), Some(c));
        assert_eq!(live.find_tx(key(7, 2), 0), None, "tx 0 has another key");
        live.add_output(c);
        assert_eq!(live.unspent(c), 1);
        assert_eq!(live.outputs(c), Some((3, 1)), "a new output is counted");
        assert!(live.is_unspent(c, 0) && !live.is_unspent(c, 1));
        assert!(live.spend(b, 0));
        assert_eq!(live.find(key(7 | (1 << 40), 1), never), None);
        assert!(live.spend(a, 1));
        assert_eq!(live.unspent(a), 1);
        assert!(!live.spend(a, 1), "spent already");
        assert!(live.is_unspent(a, 0) && !live.is_unspent(a, 1));
        live.unspend(a, 1);
        assert_eq!(live.unspent(a), 2, "an unwinding gives it back");
        assert!(live.spend(a, 1));
        assert!(live.spend(a, 0));
        assert_eq!(live.find(key(7, 1), never), None, "fully spent");
        assert_eq!(live.len(), 1);
        // The entry after the removed one is still reachable (shifted back into its place).
        let c = live.find(key(7, 2), never).expect("still live");
        assert_eq!(c, a, "moved into the hole");
        assert_eq!(live.outputs(c), Some((3, 1)));
    }

    #[test]
    fn a_transaction_of_many_outputs_keeps_its_bitmap_beside_the_table() {
        let mut live = in_memory();
        let slot = live.insert(key(3, 3), 7, (100, 0), |_| false, |_| false).unwrap();
        live.current = Some(slot);
        for _ in 0..40 {
            live.add_output(slot);
        }
        assert_eq!((live.unspent(slot), live.outputs(slot)), (40, Some((100, 40))));
        assert_eq!(live.wide.len(), 1, "past {SMALL_OUTPUTS} outputs");
        assert!((0..40).all(|vout| live.is_unspent(slot, vout)) && !live.is_unspent(slot, 40));
        assert!(live.spend(slot, 35) && live.spend(slot, 2));
        assert!(!live.spend(slot, 35), "spent already");
        assert_eq!(live.unspent(slot), 38);
        live.unspend(slot, 35);
        assert!(live.is_unspent(slot, 35));
        // Inserted with its bitmap (as at open, or by an unwinding): the same entry.
        let other = live.insert(key(4, 4), 8, (200, 70), |vout| vout % 7 == 0, |_| false).unwrap();
        assert_eq!(live.unspent(other), 10);
        assert!(live.is_unspent(other, 63) && !live.is_unspent(other, 64));
        for vout in (0..70).filter(|vout| vout % 7 == 0) {
            assert!(live.spend(other, vout));
        }
        assert_eq!(live.find_tx(key(4, 4), 8), None, "fully spent");
        assert_eq!(live.wide.len(), 1, "its bitmap went with it");
        // A replacing insert drops the bitmap of the entry it replaces.
        live.insert(key(3, 3), 9, (300, 1), |_| true, |tx| tx == 7 || tx == 9).unwrap();
        assert!(live.wide.is_empty());
    }

    #[test]
    fn a_duplicated_txid_replaces_the_earlier_transaction() {
        let mut live = in_memory();
        live.insert(key(99, 5), 10, (0, 1), |vout| vout < 1, |_| false).unwrap();
        let later = live
            .insert(key(99, 5), 20, (5, 1), |vout| vout < 1, |tx| tx == 10 || tx == 20)
            .unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!(live.twins, 0, "the same txid is no twin");
        assert_eq!(live.find(key(99, 5), |_| true).map(|slot| live.tx(slot)), Some(20));
        assert_eq!(live.find(key(99, 5), |_| false), Some(later), "not a twin: not confirmed");
    }

    #[test]
    fn a_replacing_insert_takes_the_slot_of_the_earlier_entry() {
        let mut live = in_memory();
        let first = live.insert(key(5, 0), 1, (0, 1), |vout| vout < 1, |_| false).unwrap();
        let earlier = live.insert(key(5, 1), 2, (1, 1), |vout| vout < 1, |_| false).unwrap();
        live.current = Some(earlier);
        let later =
            live.insert(key(5, 1), 3, (2, 1), |vout| vout < 1, |tx| tx == 2 || tx == 3).unwrap();
        assert_eq!(later, earlier, "replaced in place");
        assert_eq!(live.current, None, "the replaced entry is no longer current");
        assert_eq!(live.len(), 2);
        assert_eq!(live.find_tx(key(5, 1), 2), None, "the earlier tx is gone");
        assert_eq!(live.find_tx(key(5, 1), 3), Some(later));
        assert_eq!(live.find(key(5, 0), |_| false), Some(first));
    }

    #[test]
    fn twins_are_marked_and_told_apart_by_their_txids() {
        let mut live = in_memory();
        // Three txs with one key and three txids (tx numbers stand for the txids here).
        let a = live.insert(key(42, 9), 1, (0, 1), |vout| vout < 1, |tx| tx == 1).unwrap();
        assert!(!live.is_twin(a));
        let b = live.insert(key(42, 9), 2, (1, 1), |vout| vout < 1, |tx| tx == 2).unwrap();
        assert!(live.is_twin(a) && live.is_twin(b), "both are marked");
        let c = live.insert(key(42, 9), 3, (2, 2), |vout| vout < 2, |tx| tx == 3).unwrap();
        assert!(live.is_twin(c));
        assert_eq!(live.twins, 3);
        assert_eq!(live.len(), 3);
        for (tx, slot) in [(1, a), (2, b), (3, c)] {
            assert_eq!(live.find(key(42, 9), |other| other == tx), Some(slot), "tx {tx}");
        }
        assert_eq!(live.find(key(42, 9), |_| false), None, "a txid of none of them");
        // A BIP-0030 duplicate of a twin replaces it and stays a twin.
        let b2 =
            live.insert(key(42, 9), 4, (4, 1), |vout| vout < 1, |tx| tx == 2 || tx == 4).unwrap();
        assert_eq!(b2, b);
        assert!(live.is_twin(b2));
        assert_eq!(live.find(key(42, 9), |tx| tx == 2 || tx == 4).map(|s| live.tx(s)), Some(4));
        // Spending keeps the mark and the count apart.
        assert!(live.spend(c, 0));
        assert_eq!(live.unspent(c), 1);
        assert!(live.is_twin(c));
        assert!(live.spend(c, 1));
        assert_eq!(live.find(key(42, 9), |tx| tx == 3), None, "fully spent");
        assert_eq!(live.find(key(42, 9), |tx| tx == 1), Some(a));
    }

    /// A map of 2^12 slots (`index::MIN_BITS`) whose entries are placed by hand: `home` is the
    /// start slot, the key's low bits.
    fn key_at(home: u64, n: u64) -> TxKey {
        key((n << 32) | home, n)
    }

    #[test]
    fn removing_shifts_back_what_may_move_and_keeps_the_rest_and_the_current_entry() {
        let mut live = in_memory();
        let last = (1u64 << index::MIN_BITS) - 1;
        // A cluster that wraps around the end of the table: homes last, last, 0, 1, 1, 4096 - 3.
        let entries = [(last, 0u32), (last, 1), (0, 2), (1, 3), (1, 4)];
        let slots: Vec<Slot> = entries
            .iter()
            .map(|(home, tx)| {
                let key = key_at(*home, u64::from(*tx));
                live.insert(key, *tx, (u64::from(*tx), 1), |vout| vout < 1, |_| false).unwrap()
            })
            .collect();
        let last_slot = to_usize(last);
        assert_eq!(slots, [last_slot, 0, 1, 2, 3]);
        live.current = Some(3); // tx 4, the last of the cluster
        // Remove tx 0 at the last slot: tx 1 (home last, at 0) moves back to it; tx 2 (home 0)
        // into 0; tx 3 (home 1, at 2) into 1; tx 4 (home 1, at 3) into 2.
        live.spend(slots[0], 0);
        let at = |live: &LiveTxs, tx: u32| {
            live.find_tx(key_at(entries[tx as usize].0, u64::from(tx)), tx)
        };
        assert_eq!(at(&live, 0), None);
        let found = [1, 2, 3, 4].map(|tx| at(&live, tx));
        assert_eq!(found, [Some(last_slot), Some(0), Some(1), Some(2)]);
        assert_eq!(live.current, Some(2), "the current entry followed its tx");
        assert_eq!(live.outputs(2), Some((4, 1)));
        assert_eq!(live.state(3), EMPTY, "the last hole is emptied");
        // An entry at its home slot does not move: remove tx 2 (home 0, at 0); tx 3 and tx 4
        // (home 1, at 1 and 2) stay, and 0 is left empty.
        live.spend(at(&live, 2).unwrap(), 0);
        assert_eq!([1, 3, 4].map(|tx| at(&live, tx)), [Some(last_slot), Some(1), Some(2)]);
        assert_eq!(live.state(0), EMPTY);
        assert_eq!(live.len(), 3);
    }

    #[test]
    fn growing_keeps_every_live_entry_the_twins_and_the_current_one() {
        grow_and_check(&mut in_memory());
    }

    #[test]
    fn a_table_too_large_for_memory_is_a_scratch_file_that_works_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = dir.path().join("live.work");
        // 512 KiB of memory, an eighth kept free: the tables of 2^12 and 2^13 slots (128 and
        // 256 KiB) fit together, the next ones (512 KiB, 1 MiB) not even alone.
        let mut in_file = LiveTxs::with_memory(&scratch, 512 << 10, 0).unwrap();
        assert!(in_file.in_memory() && !scratch.exists(), "a small table is in memory");
        grow_and_check(&mut in_file);
        assert!(!in_file.in_memory(), "the grown table is a scratch file");
        assert_eq!(fs_err::metadata(&scratch).unwrap().len(), in_file.table_bytes() as u64);
        assert_eq!(in_file.spills, 0);
        let mut in_memory = in_memory();
        grow_and_check(&mut in_memory);
        assert!(in_memory.in_memory());
        assert!(in_file.table[..] == in_memory.table[..], "the same entries in the same slots");

        // A table that fits again (memory freed) leaves the file behind.
        in_file.memory = Memory::Fixed { available: u64::MAX / 2, other: 0 };
        for n in 20_000..40_000u32 {
            in_file.insert(key(u64::from(n) << 20, 0), n, (0, 1), |_| true, |_| false).unwrap();
        }
        assert!(in_file.in_memory() && !scratch.exists());
    }

    #[test]
    fn a_table_that_fits_only_alone_is_made_after_the_old_one_is_copied_out() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = dir.path().join("live.work");
        // 1.25 MiB of memory, an eighth kept free (1,120 KiB): 512 and 1,024 KiB do not fit
        // together, 1,024 KiB alone does.
        let mut spilled = LiveTxs::with_memory(&scratch, 1280 << 10, 0).unwrap();
        grow_and_check(&mut spilled);
        assert_eq!(spilled.table_bytes(), 1 << 20);
        assert!(spilled.in_memory(), "in memory once the old table is gone");
        assert_eq!(spilled.spills, 1, "the move from 512 KiB");
        assert!(!scratch.exists(), "the copy is removed");
        let mut in_memory = in_memory();
        grow_and_check(&mut in_memory);
        assert_eq!(in_memory.spills, 0);
        assert!(spilled.table[..] == in_memory.table[..], "the same entries in the same slots");
    }

    #[test]
    fn tables_stay_in_memory_while_an_eighth_is_left_then_spill_then_go_to_a_file() {
        const GIB: u64 = 1 << 30;
        // A whole chain on 24 GiB: a 12 GiB address index and half a GiB of other memory beside a
        // 4 GiB live map that grows to 8 GiB. Together 24.5 GiB; without the old table 20.5.
        assert_eq!(place(8 * GIB, 4 * GIB, 24 * GIB, 16 * GIB + GIB / 2), Place::Spill);
        // Before the index grew (6 GiB), the same move fits beside the old table.
        assert_eq!(place(8 * GIB, 4 * GIB, 24 * GIB, 10 * GIB + GIB / 2), Place::Memory);
        // A 16 GB chain's 512 MiB live map beside a 768 MiB index, under 1,792 and 1,536 MiB.
        let mib = |n: u64| n << 20;
        assert_eq!(place(mib(512), mib(256), mib(1792), mib(768 + 256 + 100)), Place::Spill);
        assert_eq!(place(mib(512), mib(256), mib(1536), mib(768 + 256 + 100)), Place::Scratch);
        // A scratch-file table frees no memory when it is replaced.
        assert_eq!(place(mib(512), 0, mib(1536), mib(768 + 100)), Place::Scratch);
        assert_eq!(place(mib(512), 0, mib(2048), mib(768 + 100)), Place::Memory);
        // Memory unknown: in memory, as before there was a rule.
        assert_eq!(place(8 * GIB, 4 * GIB, 0, 30 * GIB), Place::Memory);
    }

    /// Inserts 20,000 transactions into `live` (which grows), spends a third, and checks every one.
    fn grow_and_check(live: &mut LiveTxs) {
        let low = |n: u64| n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let key_of = |n: u32| key(low(u64::from(n / 2)), u64::from(n / 2));
        for n in 0..20_000u32 {
            // Txs 2k and 2k + 1 of the last 1,000 are twins.
            let key = if n >= 19_000 { key_of(n) } else { key(low(u64::from(n)), 0) };
            let slot =
                live.insert(key, n, (u64::from(n) * 3, 1), |vout| vout < 1, |tx| tx == n).unwrap();
            live.current = Some(slot);
            live.add_output(slot);
            if n % 3 == 0 {
                live.spend(slot, 1);
                live.spend(slot, 0);
            }
        }
        assert!(live.table_bytes() >= SLOT << 15, "grew past the first table");
        for n in 0..20_000u32 {
            let key = if n >= 19_000 { key_of(n) } else { key(low(u64::from(n)), 0) };
            let found = live.find_tx(key, n);
            assert_eq!(found.is_some(), n % 3 != 0, "tx {n}");
            if let Some(slot) = found {
                // The key finds it: a twin by its txid, any other alone.
                assert_eq!(live.find(key, |tx| tx == n), found, "tx {n}");
                assert_eq!(live.unspent(slot), 2);
                assert_eq!(live.outputs(slot), Some((u64::from(n) * 3, 2)), "tx {n}");
                // A twin whose other half was spent before it was inserted is not marked.
                let other_live = n % 2 == 0 || (n - 1) % 3 != 0;
                assert_eq!(live.is_twin(slot), n >= 19_000 && other_live, "tx {n}");
            }
        }
        assert_eq!(live.len(), 20_000 - 6_667);
    }
}
