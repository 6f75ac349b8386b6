//! Open-addressing hash indexes from a 64-bit key hash to a sequential `u32` id. A table of no
//! bytes (one the writer is rebuilding) finds nothing.
//!
//! A slot is a little-endian `u64`: the high 32 bits are a tag (the high half of the key hash),
//! the low 32 bits are `id + 1` (0 means empty). Collisions probe linearly. A tag match is
//! confirmed by the caller against the full key stored in its column, so the index itself never
//! stores keys.
//!
//! Inserting ids in increasing order makes the table a pure function of the key sequence, which
//! keeps the store byte-identical however ingestion was batched or interrupted. Entries whose id is
//! not committed are invisible to lookups of committed keys (they were inserted later, so no
//! committed key probes past them) and are cleared by recovery.

use crate::column::{read_u64, to_usize, write_u64};

/// Smallest table, in log2 slots.
pub(crate) const MIN_BITS: u32 = 12;

/// Tables of at least this many log2 slots (2^30, 8 GiB of 8-byte slots) are let fill to
/// [`LARGE_LOAD_PERCENT`] instead of [`LOAD_PERCENT`] before they double.
const LARGE_BITS: u32 = 30;
const LOAD_PERCENT: u64 = 70;
/// With linear probing, a lookup of a missing key at 0.85 load walks about 23 slots (three cache
/// lines of 8-byte slots), one of a present key about 4; at 0.7, 6 and 2. Doubling past 0.7
/// would turn a whole chain's address table (about 1.5 G addresses, 0.7 of 2^31 slots: 16 GiB)
/// into one of 32 GiB, more than the memory of the machine it must run on.
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

/// Returns the byte size of a table of `bits`.
pub(crate) fn table_bytes(bits: u32) -> u64 {
    (1u64 << bits) * 8
}

fn start_slot(hash: u64, bits: u32) -> u64 {
    hash & ((1u64 << bits) - 1)
}

fn tag_of(hash: u64) -> u64 {
    hash >> 32
}

/// Inserts `id` for `hash` into `table` (which must have a free slot).
pub(crate) fn insert(table: &mut [u8], bits: u32, hash: u64, id: u32) {
    let mask = (1u64 << bits) - 1;
    let mut slot = start_slot(hash, bits);
    let entry = (tag_of(hash) << 32) | (u64::from(id) + 1);
    loop {
        let at = to_usize(slot * 8);
        let current = read_u64(table, at);
        if current == 0 || current == entry {
            write_u64(table, at, entry);
            return;
        }
        slot = (slot + 1) & mask;
    }
}

/// Returns the highest id below `limit` whose tag matches and for which `is_key(id)` holds.
///
/// The highest, not the first: Bitcoin has two duplicated coinbase txids (BIP-0030) and the later
/// one is the spendable one.
pub(crate) fn find(
    table: &[u8],
    bits: u32,
    hash: u64,
    limit: u64,
    mut is_key: impl FnMut(u32) -> bool,
) -> Option<u32> {
    if table.is_empty() {
        return None;
    }
    let mask = (1u64 << bits) - 1;
    let mut slot = start_slot(hash, bits);
    let tag = tag_of(hash);
    let mut found = None;
    loop {
        let current = read_u64(table, to_usize(slot * 8));
        if current == 0 {
            return found;
        }
        let stored = current & 0xFFFF_FFFF;
        if current >> 32 == tag && stored <= limit {
            let id = u32::try_from(stored - 1).expect("low half of a slot fits in u32");
            if is_key(id) {
                found = Some(found.map_or(id, |best: u32| best.max(id)));
            }
        }
        slot = (slot + 1) & mask;
    }
}

/// Prefetches the cache line of `hash`'s start slot (see [`crate::column::prefetch`]).
#[inline]
pub(crate) fn prefetch_slot(table: &[u8], bits: u32, hash: u64) {
    crate::column::prefetch(table, to_usize(start_slot(hash, bits) * 8));
}

/// Calls `candidate(id)` for every id below `limit` whose tag matches `hash`, in probe order.
#[inline]
pub(crate) fn for_each_candidate(
    table: &[u8],
    bits: u32,
    hash: u64,
    limit: u64,
    mut candidate: impl FnMut(u32),
) {
    if table.is_empty() {
        return;
    }
    let mask = (1u64 << bits) - 1;
    let mut slot = start_slot(hash, bits);
    let tag = tag_of(hash);
    loop {
        let current = read_u64(table, to_usize(slot * 8));
        if current == 0 {
            return;
        }
        let stored = current & 0xFFFF_FFFF;
        if current >> 32 == tag && stored <= limit {
            candidate(u32::try_from(stored - 1).expect("low half of a slot fits in u32"));
        }
        slot = (slot + 1) & mask;
    }
}

/// Removes the entry of `id` for `hash`. Exact when entries are removed in reverse insertion order
/// (the entry removed is the latest present, so no other entry's probe sequence runs through it).
pub(crate) fn remove(table: &mut [u8], bits: u32, hash: u64, id: u32) {
    let mask = (1u64 << bits) - 1;
    let mut slot = start_slot(hash, bits);
    let entry = (tag_of(hash) << 32) | (u64::from(id) + 1);
    loop {
        let at = to_usize(slot * 8);
        let current = read_u64(table, at);
        if current == 0 {
            return;
        }
        if current == entry {
            write_u64(table, at, 0);
            return;
        }
        slot = (slot + 1) & mask;
    }
}

/// Returns the first id below `limit` whose tag matches and for which `is_key(id)` holds: for keys
/// that are never inserted twice (addresses), this stops at the match instead of probing on.
pub(crate) fn find_first(
    table: &[u8],
    bits: u32,
    hash: u64,
    limit: u64,
    mut is_key: impl FnMut(u32) -> bool,
) -> Option<u32> {
    if table.is_empty() {
        return None;
    }
    let mask = (1u64 << bits) - 1;
    let mut slot = start_slot(hash, bits);
    let tag = tag_of(hash);
    loop {
        let current = read_u64(table, to_usize(slot * 8));
        if current == 0 {
            return None;
        }
        let stored = current & 0xFFFF_FFFF;
        if current >> 32 == tag && stored <= limit {
            let id = u32::try_from(stored - 1).expect("low half of a slot fits in u32");
            if is_key(id) {
                return Some(id);
            }
        }
        slot = (slot + 1) & mask;
    }
}

/// Clears every entry whose id is `limit` or more (entries of an interrupted batch), and returns
/// how many it cleared.
///
/// Clearing is exact because uncommitted entries were inserted after every committed one: no
/// committed key's probe sequence runs through them.
pub(crate) fn clear_from(table: &mut [u8], limit: u64) -> u64 {
    let mut cleared = 0;
    for chunk in table.chunks_exact_mut(8) {
        let current = read_u64(chunk, 0);
        if current != 0 && (current & 0xFFFF_FFFF) > limit {
            write_u64(chunk, 0, 0);
            cleared += 1;
        }
    }
    cleared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_of_no_bytes_finds_nothing() {
        let mut calls = 0;
        assert_eq!(find(&[], 0, 7, 10, |_| true), None);
        assert_eq!(find_first(&[], 0, 7, 10, |_| true), None);
        for_each_candidate(&[], 0, 7, 10, |_| calls += 1);
        assert_eq!(calls, 0);
    }

    #[test]
    fn slot_layout_is_stable() {
        let mut table = vec![0u8; to_usize(table_bytes(MIN_BITS))];
        insert(&mut table, MIN_BITS, 0xAABB_CCDD_0000_0003, 41);
        // Slot 3: tag 0xAABBCCDD in the high half, id + 1 = 42 in the low half.
        assert_eq!(&table[24..32], &[42, 0, 0, 0, 0xDD, 0xCC, 0xBB, 0xAA]);
    }

    #[test]
    fn finds_through_collisions_and_prefers_the_later_duplicate() {
        let bits = MIN_BITS;
        let mut table = vec![0u8; to_usize(table_bytes(bits))];
        let keys: Vec<u64> = vec![5, 5 | (1 << 40), 5 | (2 << 40), 6];
        for (id, hash) in keys.iter().enumerate() {
            insert(&mut table, bits, *hash, u32::try_from(id).unwrap());
        }
        // Same hash twice (a duplicated txid): both stored, the later wins.
        insert(&mut table, bits, 5, 4);
        let is = |want: &'static [u32]| move |id: u32| want.contains(&id);
        assert_eq!(find(&table, bits, 5, 10, is(&[0, 4])), Some(4));
        assert_eq!(find(&table, bits, 5, 4, is(&[0, 4])), Some(0), "limit hides id 4");
        assert_eq!(find(&table, bits, 5 | (2 << 40), 10, is(&[2])), Some(2));
        assert_eq!(find(&table, bits, 6, 10, is(&[3])), Some(3));
        assert_eq!(find(&table, bits, 7, 10, |_| false), None);
    }

    #[test]
    fn clearing_uncommitted_entries_restores_the_committed_table() {
        let bits = MIN_BITS;
        let hashes: Vec<u64> =
            (0..2000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
        let mut committed = vec![0u8; to_usize(table_bytes(bits))];
        for (id, hash) in hashes[..1000].iter().enumerate() {
            insert(&mut committed, bits, *hash, u32::try_from(id).unwrap());
        }
        let mut crashed = committed.clone();
        for (id, hash) in hashes.iter().enumerate().skip(1000) {
            insert(&mut crashed, bits, *hash, u32::try_from(id).unwrap());
        }
        assert_eq!(clear_from(&mut crashed, 1000), 1000);
        assert_eq!(crashed, committed);
    }

    #[test]
    fn sizes_keep_load_under_seven_tenths_and_large_tables_under_85_percent() {
        assert_eq!(bits_for(0), MIN_BITS);
        assert_eq!(bits_for(2867), 12);
        assert_eq!(bits_for(2868), 13);
        assert_eq!(bits_for(max_entries(29)), 29);
        assert_eq!(max_entries(29), (1 << 29) * 7 / 10);
        assert_eq!(bits_for(max_entries(29) + 1), 30);
        // Past 2^30 slots, 0.85: mainnet's addresses (about 1.5 G) stay in 2^31 slots.
        assert_eq!(bits_for(1_400_000_000), 31);
        assert_eq!(bits_for(1_800_000_000), 31);
        assert_eq!(bits_for((1 << 31) * 85 / 100 + 1), 32);
        assert_eq!(bits_for((1 << 30) * 85 / 100), 30);
    }
}
