//! Open-addressing hash indexes from a 64-bit key hash to a sequential `u32` id. A table of no
//! bytes (one the writer is rebuilding) finds nothing.
//!
//! A slot is a little-endian integer of `W` bytes ([`Slots`]: 6 for the UTXO store's address
//! index, [`AddressSlots`], 8 for the EVM store's indexes, [`WideSlots`]): the low 32 bits are
//! `id + 1` (0 means empty), the bits above them a tag (the high `8 × W − 32` bits of the key
//! hash: 16 or 32). Collisions probe linearly. A tag match is
//! confirmed by the caller against the full key stored in its column, so the index itself never
//! stores keys; the tag only spares most of those confirmations.
//!
//! Inserting ids in increasing order makes the table a pure function of the key sequence, which
//! keeps the store byte-identical however ingestion was batched or interrupted. Entries whose id is
//! not committed are invisible to lookups of committed keys (they were inserted later, so no
//! committed key probes past them) and are cleared by recovery.

use crate::column::to_usize;

/// The functions of an index whose slots are `W` bytes: the id in the low 32 bits, the high
/// `8 × W − 32` bits of the key hash as the tag above them.
pub(crate) struct Slots<const W: usize>;

/// The UTXO store's address index: slots of 6 bytes, a 16-bit tag and a 32-bit id. With linear
/// probing a lookup of a missing key at 0.85 load passes about 22 full slots, so one in about
/// 3,000 such lookups confirms a false tag match against the key column (one in about 13,000 at
/// 0.7 load, 5 slots), while the table takes three quarters of the bytes of 8-byte slots: 12 GiB
/// instead of 16 GiB for a whole chain's 2^31 slots.
pub(crate) type AddressSlots = Slots<6>;

/// The EVM store's indexes: slots of 8 bytes, a 32-bit tag and a 32-bit id.
pub(crate) type WideSlots = Slots<8>;

/// Smallest table, in log2 slots.
pub(crate) const MIN_BITS: u32 = 12;

/// Tables of at least this many log2 slots (2^30) are let fill to [`LARGE_LOAD_PERCENT`] instead of
/// [`LOAD_PERCENT`] before they double.
const LARGE_BITS: u32 = 30;
const LOAD_PERCENT: u64 = 70;
/// With linear probing, a lookup of a missing key at 0.85 load walks about 23 slots (two to three
/// cache lines), one of a present key about 4; at 0.7, 6 and 2. Doubling past 0.7 would turn a
/// whole chain's address table (about 1.5 G addresses, 0.7 of 2^31 slots: 12 GiB) into one of
/// 24 GiB, the whole memory of the machine it must run on.
const LARGE_LOAD_PERCENT: u64 = 85;

/// Returns how many entries a table of `bits` log2 slots holds before it must grow.
pub(crate) fn max_entries(bits: u32) -> u64 {
    let load = if bits >= LARGE_BITS { LARGE_LOAD_PERCENT } else { LOAD_PERCENT };
    (1u64 << bits) * load / 100
}

/// Returns the log2 slot count a table needs to hold `count` entries.
pub(crate) fn bits_for(count: u64) -> u32 {
    let mut bits = MIN_BITS;
    while count > max_entries(bits) {
        bits += 1;
    }
    bits
}

fn start_slot(hash: u64, bits: u32) -> u64 {
    hash & ((1u64 << bits) - 1)
}

/// The id of a non-empty slot.
#[inline]
fn id_of(current: u64) -> u32 {
    u32::try_from((current & 0xFFFF_FFFF) - 1).expect("low 32 bits of a slot fit in u32")
}

impl<const W: usize> Slots<W> {
    /// Returns the byte size of a table of `bits` log2 slots of `W` bytes.
    pub(crate) fn table_bytes(bits: u32) -> u64 {
        (1u64 << bits) * W as u64
    }

    /// The entry of `id` for `hash` in a slot of `W` bytes.
    #[inline]
    fn entry(hash: u64, id: u32) -> u64 {
        (Self::tag_of(hash) << 32) | (u64::from(id) + 1)
    }

    #[inline]
    fn tag_of(hash: u64) -> u64 {
        hash >> (96 - 8 * W)
    }

    #[inline]
    fn read_slot(table: &[u8], slot: u64) -> u64 {
        let at = to_usize(slot) * W;
        let mut bytes = [0u8; 8];
        bytes[..W].copy_from_slice(&table[at..at + W]);
        u64::from_le_bytes(bytes)
    }

    #[inline]
    fn write_slot(table: &mut [u8], slot: u64, value: u64) {
        let at = to_usize(slot) * W;
        table[at..at + W].copy_from_slice(&value.to_le_bytes()[..W]);
    }

    /// The slot of `entry` on `hash`'s probe sequence, or the empty slot that ends it, and whether
    /// it holds `entry`.
    fn probe(table: &[u8], bits: u32, hash: u64, entry: u64) -> (u64, bool) {
        let mask = (1u64 << bits) - 1;
        let mut slot = start_slot(hash, bits);
        loop {
            let current = Self::read_slot(table, slot);
            if current == 0 || current == entry {
                return (slot, current == entry);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Inserts `id` for `hash` into `table` (which must have a free slot).
    pub(crate) fn insert(table: &mut [u8], bits: u32, hash: u64, id: u32) {
        let entry = Self::entry(hash, id);
        let (slot, _) = Self::probe(table, bits, hash, entry);
        Self::write_slot(table, slot, entry);
    }

    /// Returns the highest id below `limit` whose tag matches and for which `is_key(id)` holds.
    ///
    /// The highest, not the first: Bitcoin has two duplicated coinbase txids (BIP-0030) and the
    /// later one is the spendable one.
    pub(crate) fn find(
        table: &[u8],
        bits: u32,
        hash: u64,
        limit: u64,
        is_key: impl FnMut(u32) -> bool,
    ) -> Option<u32> {
        Self::find_matching(table, bits, hash, limit, is_key, false)
    }

    /// Prefetches the cache line of `hash`'s start slot (see [`crate::column::prefetch`]).
    #[inline]
    pub(crate) fn prefetch_slot(table: &[u8], bits: u32, hash: u64) {
        crate::column::prefetch(table, to_usize(start_slot(hash, bits)) * W);
    }

    /// Calls `candidate(id)` for every id below `limit` whose tag matches `hash`, in probe order,
    /// until it returns `false`.
    #[inline]
    pub(crate) fn for_each_candidate(
        table: &[u8],
        bits: u32,
        hash: u64,
        limit: u64,
        mut candidate: impl FnMut(u32) -> bool,
    ) {
        if table.is_empty() {
            return;
        }
        let mask = (1u64 << bits) - 1;
        let mut slot = start_slot(hash, bits);
        let tag = Self::tag_of(hash);
        loop {
            let current = Self::read_slot(table, slot);
            if current == 0 {
                return;
            }
            if current >> 32 == tag && current & 0xFFFF_FFFF <= limit && !candidate(id_of(current))
            {
                return;
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Removes the entry of `id` for `hash`. Exact when entries are removed in reverse insertion
    /// order (the entry removed is the latest present, so no other entry's probe sequence runs
    /// through it).
    pub(crate) fn remove(table: &mut [u8], bits: u32, hash: u64, id: u32) {
        let (slot, present) = Self::probe(table, bits, hash, Self::entry(hash, id));
        if present {
            Self::write_slot(table, slot, 0);
        }
    }

    /// Returns the first id below `limit` whose tag matches and for which `is_key(id)` holds: for
    /// keys that are never inserted twice (addresses), this stops at the match instead of probing
    /// on.
    pub(crate) fn find_first(
        table: &[u8],
        bits: u32,
        hash: u64,
        limit: u64,
        is_key: impl FnMut(u32) -> bool,
    ) -> Option<u32> {
        Self::find_matching(table, bits, hash, limit, is_key, true)
    }

    /// The highest id of the candidates for `hash` below `limit` for which `is_key(id)` holds,
    /// probing no further than the first such id when `first` ([`Self::find_first`]).
    #[inline]
    fn find_matching(
        table: &[u8],
        bits: u32,
        hash: u64,
        limit: u64,
        mut is_key: impl FnMut(u32) -> bool,
        first: bool,
    ) -> Option<u32> {
        let mut found = None;
        Self::for_each_candidate(table, bits, hash, limit, |id| {
            if is_key(id) {
                found = Some(found.map_or(id, |best: u32| best.max(id)));
            }
            !(first && found.is_some())
        });
        found
    }

    /// Clears every entry whose id is `limit` or more (entries of an interrupted batch), and
    /// returns how many it cleared.
    ///
    /// Clearing is exact because uncommitted entries were inserted after every committed one: no
    /// committed key's probe sequence runs through them.
    pub(crate) fn clear_from(table: &mut [u8], limit: u64) -> u64 {
        let mut cleared = 0;
        for chunk in table.chunks_exact_mut(W) {
            let current = Self::read_slot(chunk, 0);
            if current != 0 && (current & 0xFFFF_FFFF) > limit {
                chunk.fill(0);
                cleared += 1;
            }
        }
        cleared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_of_no_bytes_finds_nothing() {
        let mut calls = 0;
        assert_eq!(AddressSlots::find(&[], 0, 7, 10, |_| true), None);
        assert_eq!(WideSlots::find_first(&[], 0, 7, 10, |_| true), None);
        AddressSlots::for_each_candidate(&[], 0, 7, 10, |_| {
            calls += 1;
            true
        });
        assert_eq!(calls, 0);
    }

    #[test]
    fn slot_layout_is_stable() {
        let hash = 0xAABB_CCDD_0000_0003;
        let mut table = vec![0u8; to_usize(WideSlots::table_bytes(MIN_BITS))];
        WideSlots::insert(&mut table, MIN_BITS, hash, 41);
        // Slot 3: tag 0xAABBCCDD in the high half, id + 1 = 42 in the low half.
        assert_eq!(&table[24..32], &[42, 0, 0, 0, 0xDD, 0xCC, 0xBB, 0xAA]);
        let mut table = vec![0u8; to_usize(AddressSlots::table_bytes(MIN_BITS))];
        assert_eq!(table.len(), 6 << MIN_BITS);
        AddressSlots::insert(&mut table, MIN_BITS, hash, 41);
        // Slot 3 of 6 bytes: id + 1 = 42, then the hash's high 16 bits as the tag.
        assert_eq!(&table[18..24], &[42, 0, 0, 0, 0xBB, 0xAA]);
        assert!(table[..18].iter().chain(&table[24..]).all(|byte| *byte == 0));
    }

    fn finds_through_collisions<const W: usize>() {
        let bits = MIN_BITS;
        let mut table = vec![0u8; to_usize(Slots::<W>::table_bytes(bits))];
        let keys: Vec<u64> = vec![5, 5 | (1 << 40), 5 | (2 << 40), 6];
        for (id, hash) in keys.iter().enumerate() {
            Slots::<W>::insert(&mut table, bits, *hash, u32::try_from(id).unwrap());
        }
        // Same hash twice (a duplicated txid): both stored, the later wins.
        Slots::<W>::insert(&mut table, bits, 5, 4);
        let is = |want: &'static [u32]| move |id: u32| want.contains(&id);
        assert_eq!(Slots::<W>::find(&table, bits, 5, 10, is(&[0, 4])), Some(4));
        assert_eq!(Slots::<W>::find(&table, bits, 5, 4, is(&[0, 4])), Some(0), "limit hides id 4");
        assert_eq!(Slots::<W>::find_first(&table, bits, 5, 10, is(&[0, 4])), Some(0));
        assert_eq!(Slots::<W>::find(&table, bits, 5 | (2 << 40), 10, is(&[2])), Some(2));
        assert_eq!(Slots::<W>::find(&table, bits, 6, 10, is(&[3])), Some(3));
        assert_eq!(Slots::<W>::find(&table, bits, 7, 10, |_| false), None);
        // A different tag is no candidate, whatever the start slot.
        let mut seen = Vec::new();
        Slots::<W>::for_each_candidate(&table, bits, 5 | (0xFFFF << 48), 10, |id| {
            seen.push(id);
            true
        });
        assert!(seen.is_empty(), "{seen:?}");
        // Removal in reverse order of insertion restores the table without the entry.
        Slots::<W>::remove(&mut table, bits, 5, 4);
        assert_eq!(Slots::<W>::find(&table, bits, 5, 10, is(&[0, 4])), Some(0));
    }

    #[test]
    fn finds_through_collisions_and_prefers_the_later_duplicate() {
        finds_through_collisions::<6>();
        finds_through_collisions::<8>();
    }

    fn clearing_restores<const W: usize>() {
        let bits = MIN_BITS;
        let hashes: Vec<u64> =
            (0..2000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
        let mut committed = vec![0u8; to_usize(Slots::<W>::table_bytes(bits))];
        for (id, hash) in hashes[..1000].iter().enumerate() {
            Slots::<W>::insert(&mut committed, bits, *hash, u32::try_from(id).unwrap());
        }
        let mut crashed = committed.clone();
        for (id, hash) in hashes.iter().enumerate().skip(1000) {
            Slots::<W>::insert(&mut crashed, bits, *hash, u32::try_from(id).unwrap());
        }
        for (id, hash) in hashes.iter().enumerate() {
            let id = u32::try_from(id).unwrap();
            assert_eq!(Slots::<W>::find_first(&crashed, bits, *hash, 2000, |x| x == id), Some(id));
        }
        assert_eq!(Slots::<W>::clear_from(&mut crashed, 1000), 1000);
        assert_eq!(crashed, committed);
    }

    #[test]
    fn clearing_uncommitted_entries_restores_the_committed_table() {
        clearing_restores::<6>();
        clearing_restores::<8>();
    }

    #[test]
    fn sizes_keep_load_under_seven_tenths_and_large_tables_under_85_percent() {
        assert_eq!(bits_for(0), MIN_BITS);
        assert_eq!(bits_for(2867), 12);
        assert_eq!(bits_for(2868), 13);
        assert_eq!(bits_for(max_entries(29)), 29);
        assert_eq!(max_entries(29), (1 << 29) * 7 / 10);
        assert_eq!(bits_for(max_entries(29) + 1), 30);
        // Past 2^30 slots, 0.85: mainnet's addresses (about 1.5 G) stay in 2^31 slots, 12 GiB of
        // address slots.
        assert_eq!(bits_for(1_400_000_000), 31);
        assert_eq!(bits_for(1_800_000_000), 31);
        assert_eq!(AddressSlots::table_bytes(31), 12 << 30);
        assert_eq!(bits_for((1 << 31) * 85 / 100 + 1), 32);
        assert_eq!(bits_for((1 << 30) * 85 / 100), 30);
    }
}
