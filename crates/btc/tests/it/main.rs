//! Integration tests of `cointrail-btc` against real Bitcoin data (see `tests/data/README.md`).

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions fail loudly too")]

mod address;
mod blk;
mod chain;
mod decode;
mod fuzz;

use std::path::PathBuf;

use cointrail_btc::Network;

/// Returns the path of a file in `crates/btc/tests/data`.
pub(crate) fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// Reads a file in `crates/btc/tests/data`.
pub(crate) fn data(name: &str) -> Vec<u8> {
    fs_err::read(data_path(name)).unwrap()
}

/// Reads the shared blk-framed fixture of mainnet heights 0-438 (`data/btc/mainnet-0-438.blk`).
pub(crate) fn mainnet_0_438() -> Vec<u8> {
    fs_err::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/btc/mainnet-0-438.blk"))
        .unwrap()
}

/// Splits blk-framed bytes into the blocks of its records.
pub(crate) fn blk_records(bytes: &[u8]) -> Vec<&[u8]> {
    let mut records = Vec::new();
    let mut pos = 0;
    while pos + 8 <= bytes.len() {
        assert_eq!(bytes[pos..pos + 4], Network::Mainnet.magic());
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        records.push(&bytes[pos + 8..pos + 8 + len]);
        pos += 8 + len;
    }
    assert_eq!(pos, bytes.len());
    records
}

/// A small deterministic pseudo-random generator (xorshift64*), for reproducible shuffles.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Returns a number below `n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
    }

    /// Returns a pseudo-random byte.
    pub(crate) fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[7]
    }

    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}
