//! Proof of work and best-chain selection over scanned headers.
//!
//! Blocks in blk files are in arrival order: forks, orphans and duplicates are mixed in, and a child
//! may be stored before its parent. [`best_chain`] links every header to its parent, keeps those
//! connected to genesis that pass their own proof-of-work check, and returns the path from genesis
//! to the tip with the most cumulative work, as Bitcoin Core would choose it (without the
//! consensus checks Core also applies: difficulty retargeting, timestamps, transactions).

use std::collections::HashMap;

use cointrail_types::Hash32;

use crate::blk::HeaderEntry;

/// A 256-bit unsigned integer as four little-endian 64-bit limbs.
type U256 = [u64; 4];

/// Decodes compact `bits` into a 256-bit target (Bitcoin Core's `arith_uint256::SetCompact`).
fn target_limbs(bits: u32) -> Option<U256> {
    let size = bits >> 24;
    let word = bits & 0x007f_ffff;
    if word == 0 {
        return None;
    }
    let negative = bits & 0x0080_0000 != 0;
    let overflow = size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32);
    if negative || overflow {
        return None;
    }
    let mut bytes = [0u8; 32];
    if size <= 3 {
        bytes[..4].copy_from_slice(&(word >> (8 * (3 - size))).to_le_bytes());
    } else {
        let shift = (size - 3) as usize;
        for (i, byte) in word.to_le_bytes().into_iter().take(3).enumerate() {
            // The overflow check above guarantees that only zero bytes fall off the end.
            if let Some(slot) = bytes.get_mut(shift + i) {
                *slot = byte;
            }
        }
    }
    let mut target = [0u64; 4];
    for (limb, chunk) in target.iter_mut().zip(bytes.chunks_exact(8)) {
        *limb = u64::from_le_bytes(chunk.try_into().expect("chunks of 8 bytes"));
    }
    (target != [0; 4]).then_some(target)
}

/// Decodes compact `bits` into the proof-of-work target as a little-endian 256-bit integer.
///
/// Returns `None` for targets Bitcoin Core treats as invalid: negative, overflowing or zero.
pub fn target_from_bits(bits: u32) -> Option<[u8; 32]> {
    let limbs = target_limbs(bits)?;
    let mut out = [0u8; 32];
    for (chunk, limb) in out.chunks_exact_mut(8).zip(limbs) {
        chunk.copy_from_slice(&limb.to_le_bytes());
    }
    Some(out)
}

/// Returns whether `hash`, read as a little-endian 256-bit integer, is at most the target of
/// `bits` (false for an invalid target).
pub fn meets_target(hash: &Hash32, bits: u32) -> bool {
    let Some(target) = target_from_bits(bits) else {
        return false;
    };
    hash.0.iter().rev().cmp(target.iter().rev()).is_le()
}

/// Returns the expected number of hashes to find a block with `bits`: `floor(2^256 / (target + 1))`
/// like Bitcoin Core's `GetBlockProof`, saturating at `u128::MAX`; 0 for an invalid target.
pub fn block_work(bits: u32) -> u128 {
    let Some(target) = target_limbs(bits) else {
        return 0;
    };
    // divisor = target + 1 (cannot overflow: valid targets are below 2^256 - 1).
    let mut divisor = target;
    for limb in &mut divisor {
        let (sum, carry) = limb.overflowing_add(1);
        *limb = sum;
        if !carry {
            break;
        }
    }
    // If divisor <= 2^128 the quotient is at least 2^128: saturate.
    if divisor[3] == 0
        && (divisor[2] == 0 || (divisor[2] == 1 && divisor[1] == 0 && divisor[0] == 0))
    {
        return u128::MAX;
    }
    // Long division of 2^256 by divisor (> 2^128). The quotient fits 128 bits, so the remainder
    // after the top 128 dividend bits is 2^128; the remaining 128 dividend bits are zero.
    let mut remainder: U256 = [0, 0, 1, 0];
    let mut quotient = 0u128;
    for _ in 0..128 {
        let top = remainder[3] >> 63;
        remainder = [
            remainder[0] << 1,
            (remainder[1] << 1) | (remainder[0] >> 63),
            (remainder[2] << 1) | (remainder[1] >> 63),
            (remainder[3] << 1) | (remainder[2] >> 63),
        ];
        quotient <<= 1;
        if top == 1 || ge(&remainder, &divisor) {
            remainder = wrapping_sub(&remainder, &divisor);
            quotient |= 1;
        }
    }
    quotient
}

fn ge(a: &U256, b: &U256) -> bool {
    a.iter().rev().cmp(b.iter().rev()).is_ge()
}

fn wrapping_sub(a: &U256, b: &U256) -> U256 {
    let mut out = [0u64; 4];
    let mut borrow = false;
    for i in 0..4 {
        let (diff, b1) = a[i].overflowing_sub(b[i]);
        let (diff, b2) = diff.overflowing_sub(u64::from(borrow));
        out[i] = diff;
        borrow = b1 || b2;
    }
    out
}

/// The chain with the most work among scanned headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BestChain {
    /// Indices into the headers slice in height order; `blocks[0]` is genesis.
    pub blocks: Vec<usize>,
    /// Headers passing proof of work but not on the best chain (forks, orphans, duplicates).
    pub ignored: usize,
    /// Headers whose hash does not meet their own target.
    pub failed_pow: usize,
}

/// Why no best chain could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The network's genesis block is not among the headers.
    #[error(
        "genesis block {genesis} not found among the scanned headers (wrong network or blocks directory?)"
    )]
    GenesisNotFound {
        /// The genesis hash looked for.
        genesis: Hash32,
    },
}

const NONE: usize = usize::MAX;

/// Chooses the best chain among `headers` (in any order): duplicates of a hash keep their first
/// entry, headers failing proof of work are dropped, each block's cumulative work is its parent's
/// plus [`block_work`], only blocks connected to `genesis` count, and the tip with the most work
/// wins (ties: the first in `headers`). Iterative and linear in the number of headers.
///
/// # Errors
///
/// Returns [`ChainError::GenesisNotFound`] if no header (passing proof of work) has hash `genesis`.
pub fn best_chain(headers: &[HeaderEntry], genesis: Hash32) -> Result<BestChain, ChainError> {
    let mut failed_pow = 0usize;
    let mut index_of: HashMap<Hash32, usize> = HashMap::with_capacity(headers.len());
    let mut last_bits = None;
    let mut bits_of = |entry: &HeaderEntry| {
        let bits = u32::from_le_bytes([
            entry.header[72],
            entry.header[73],
            entry.header[74],
            entry.header[75],
        ]);
        // Difficulty changes rarely: remember the last computation.
        match last_bits {
            Some((last, work)) if last == bits => (bits, work),
            _ => {
                let work = block_work(bits);
                last_bits = Some((bits, work));
                (bits, work)
            }
        }
    };
    let mut work = vec![0u128; headers.len()];
    for (i, entry) in headers.iter().enumerate() {
        let (bits, block_work) = bits_of(entry);
        if !meets_target(&entry.hash, bits) {
            failed_pow += 1;
            continue;
        }
        work[i] = block_work;
        index_of.entry(entry.hash).or_insert(i);
    }
    let root = *index_of.get(&genesis).ok_or(ChainError::GenesisNotFound { genesis })?;

    // Children as linked lists: first_child[parent] and next_sibling[child].
    let mut first_child = vec![NONE; headers.len()];
    let mut next_sibling = vec![NONE; headers.len()];
    let mut parent = vec![NONE; headers.len()];
    for (&hash, &i) in &index_of {
        if i == root {
            continue;
        }
        let mut prev = [0u8; 32];
        prev.copy_from_slice(&headers[i].header[4..36]);
        if let Some(&p) = index_of.get(&Hash32(prev)) {
            debug_assert_ne!(headers[p].hash, hash);
            parent[i] = p;
            next_sibling[i] = first_child[p];
            first_child[p] = i;
        }
    }

    // Walk the tree from genesis, accumulating work; each node is visited once.
    let mut best = (work[root], root);
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        let mut child = first_child[node];
        while child != NONE {
            work[child] = work[child].saturating_add(work[node]);
            let candidate = work[child];
            if candidate > best.0 || (candidate == best.0 && child < best.1) {
                best = (candidate, child);
            }
            stack.push(child);
            child = next_sibling[child];
        }
    }

    let mut blocks = Vec::new();
    let mut node = best.1;
    while node != NONE {
        blocks.push(node);
        node = if node == root { NONE } else { parent[node] };
    }
    blocks.reverse();
    let ignored = headers.len() - failed_pow - blocks.len();
    Ok(BestChain { blocks, ignored, failed_pow })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_block_work() {
        assert_eq!(block_work(0x1d00_ffff), 4_295_032_833);
        assert_eq!(block_work(0x207f_ffff), 2);
        assert_eq!(block_work(0), 0);
        assert_eq!(block_work(0x0180_0000), 0, "negative");
        assert_eq!(block_work(0xff12_3456), 0, "overflow");
        assert_eq!(block_work(0x0300_0001), u128::MAX, "target 1: work 2^255 saturates");
        // Mainnet block 481829: bits 0x18013ce9 (value from Python's exact integer division).
        assert_eq!(block_work(0x1801_3ce9), 3_814_727_283_971_761_869_673);
    }

    #[test]
    fn work_matches_float_estimate() {
        for bits in [0x1d00_ffffu32, 0x1b04_864c, 0x1801_3ce9, 0x1703_a30c, 0x1a05_db8b] {
            let size = i32::try_from(bits >> 24).unwrap();
            let mantissa = f64::from(bits & 0x007f_ffff);
            let target = mantissa * 2f64.powi(8 * (size - 3));
            let estimate = 2f64.powi(256) / (target + 1.0);
            let exact = block_work(bits) as f64;
            assert!((exact / estimate - 1.0).abs() < 1e-9, "{bits:#x}: {exact} vs {estimate}");
        }
    }

    #[test]
    fn targets_decode_like_core() {
        let target = target_from_bits(0x1d00_ffff).unwrap();
        assert_eq!(&target[26..28], &[0xff, 0xff]);
        assert!(target[..26].iter().all(|&b| b == 0) && target[28..].iter().all(|&b| b == 0));
        assert_eq!(target_from_bits(0x0312_3456).unwrap()[..3], [0x56, 0x34, 0x12]);
        assert_eq!(target_from_bits(0x0212_3456).unwrap()[..2], [0x34, 0x12]);
        assert_eq!(target_from_bits(0x0100_0056), None, "shifted to zero");
        assert_eq!(target_from_bits(0x0492_3456), None, "negative");
        let genesis = Hash32::from_display_hex(
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
        )
        .unwrap();
        assert!(meets_target(&genesis, 0x1d00_ffff));
        assert!(!meets_target(&genesis, 0x1b00_ffff));
        assert!(!meets_target(&genesis, 0));
    }
}
