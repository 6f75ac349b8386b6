//! Chain-agnostic vocabulary of cointrail: sequential ids, amounts, hashes and address keys.
//!
//! Every other `cointrail-*` crate speaks these types. This crate does no I/O and depends on no other
//! `cointrail-*` crate, on no chain library and on no storage backend. Start with [`AddressKey`]
//! (what an output pays to) and the sequential ids [`TxNum`], [`OutputId`], [`InputId`],
//! [`AddressId`].

use std::fmt;

pub mod evm;
pub mod graph;
mod label;

pub use evm::{B256, EvmAddress, U256};
pub use graph::ChainGraph;
pub use label::Label;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident($inner:ty)) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(transparent))]
        pub struct $name($inner);

        impl $name {
            /// Creates the id from its raw number.
            pub const fn new(value: $inner) -> Self {
                Self(value)
            }

            /// Returns the raw number.
            pub const fn get(self) -> $inner {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

id_type!(
    /// Height of a block in its chain (genesis is 0).
    Height(u32)
);
id_type!(
    /// Sequential number of a transaction in chain order (the genesis coinbase is 0).
    TxNum(u32)
);
id_type!(
    /// Sequential number of a transaction output in chain order.
    OutputId(u64)
);
id_type!(
    /// Sequential number of a spending transaction input in chain order (coinbase inputs have none).
    InputId(u64)
);
id_type!(
    /// Sequential number of an address, assigned when the address first receives.
    AddressId(u32)
);

/// An amount in satoshis (or the smallest unit of a UTXO chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Sats(u64);

impl Sats {
    /// Zero satoshis.
    pub const ZERO: Self = Self(0);

    /// Creates an amount from satoshis.
    pub const fn from_sat(sat: u64) -> Self {
        Self(sat)
    }

    /// Returns the amount in satoshis.
    pub const fn to_sat(self) -> u64 {
        self.0
    }

    /// Adds, returning `None` on overflow.
    pub const fn checked_add(self, other: Self) -> Option<Self> {
        match self.0.checked_add(other.0) {
            Some(sum) => Some(Self(sum)),
            None => None,
        }
    }
}

impl fmt::Display for Sats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:08}", self.0 / 100_000_000, self.0 % 100_000_000)
    }
}

/// A 32-byte hash in internal byte order (as hashed), displayed reversed as Bitcoin Core does.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// Parses the displayed (byte-reversed) hex form, as Bitcoin Core prints txids and block hashes.
    ///
    /// # Errors
    ///
    /// Returns [`ParseHashError`] if the text is not 64 hex digits.
    pub fn from_display_hex(text: &str) -> Result<Self, ParseHashError> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(ParseHashError { text: text.to_owned() });
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let high =
                hex_digit(pair[0]).ok_or_else(|| ParseHashError { text: text.to_owned() })?;
            let low = hex_digit(pair[1]).ok_or_else(|| ParseHashError { text: text.to_owned() })?;
            out[31 - i] = (high << 4) | low;
        }
        Ok(Self(out))
    }

    /// Returns the first 8 bytes as a little-endian integer: a well-mixed hash of a hash.
    pub fn prefix_u64(&self) -> u64 {
        u64::from_le_bytes([
            self.0[0], self.0[1], self.0[2], self.0[3], self.0[4], self.0[5], self.0[6], self.0[7],
        ])
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0.iter().rev() {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Text that is not a 64-digit hex hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseHashError {
    /// The text that failed to parse.
    pub text: String,
}

impl fmt::Display for ParseHashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a 64-digit hex hash", self.text)
    }
}

impl std::error::Error for ParseHashError {}

/// What kind of destination an [`AddressKey`] is. The numbers are stored on disk: never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum AddressKind {
    /// Pay to public key hash (also used for P2PK outputs, keyed by the hash of their key).
    P2pkh = 1,
    /// Pay to script hash (BIP-0016).
    P2sh = 2,
    /// Pay to witness public key hash (BIP-0141, witness v0, 20 bytes).
    P2wpkh = 3,
    /// Pay to witness script hash (BIP-0141, witness v0, 32 bytes).
    P2wsh = 4,
    /// Pay to taproot (BIP-0341, witness v1, 32 bytes).
    P2tr = 5,
    /// Bare multisig (`OP_m <keys> OP_n OP_CHECKMULTISIG`), keyed by SHA-256 of the script.
    Multisig = 6,
    /// Any other spendable script, keyed by SHA-256 of the script.
    Nonstandard = 7,
}

impl AddressKind {
    /// Every kind, in the order of their numbers.
    pub const ALL: [Self; 7] = [
        Self::P2pkh,
        Self::P2sh,
        Self::P2wpkh,
        Self::P2wsh,
        Self::P2tr,
        Self::Multisig,
        Self::Nonstandard,
    ];

    /// Returns the kind for its stored number.
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => Self::P2pkh,
            2 => Self::P2sh,
            3 => Self::P2wpkh,
            4 => Self::P2wsh,
            5 => Self::P2tr,
            6 => Self::Multisig,
            7 => Self::Nonstandard,
            _ => return None,
        })
    }

    /// Returns how many bytes of the payload are meaningful (20 or 32).
    pub const fn payload_len(self) -> usize {
        match self {
            Self::P2pkh | Self::P2sh | Self::P2wpkh => 20,
            Self::P2wsh | Self::P2tr | Self::Multisig | Self::Nonstandard => 32,
        }
    }

    /// Returns a short lower-case name (`p2pkh`, `multisig`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::P2pkh => "p2pkh",
            Self::P2sh => "p2sh",
            Self::P2wpkh => "p2wpkh",
            Self::P2wsh => "p2wsh",
            Self::P2tr => "p2tr",
            Self::Multisig => "multisig",
            Self::Nonstandard => "nonstandard",
        }
    }
}

/// The identity of a destination: its kind and a 20- or 32-byte payload (zero-padded to 32).
///
/// Two outputs pay the same address exactly when their keys are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddressKey {
    /// The kind of destination.
    pub kind: AddressKind,
    /// The hash or program; bytes past [`AddressKind::payload_len`] are zero.
    pub payload: [u8; 32],
}

impl AddressKey {
    /// Creates a key from a kind and its payload (20 or 32 bytes; shorter payloads are zero-padded).
    ///
    /// # Panics
    ///
    /// Panics if `payload` is longer than 32 bytes.
    pub fn new(kind: AddressKind, payload: &[u8]) -> Self {
        let mut padded = [0u8; 32];
        padded[..payload.len()].copy_from_slice(payload);
        Self { kind, payload: padded }
    }

    /// Returns the meaningful payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload[..self.kind.payload_len()]
    }

    /// Returns a well-mixed 64-bit hash of the key (payloads are hashes already; the kind is mixed
    /// in so that P2PKH and P2WPKH of one key differ). It reads only the kind and the first 16
    /// bytes of the payload: the store hashes keys from rows that hold no more (never change that
    /// without a new store format).
    pub fn hash64(&self) -> u64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.payload[..8]);
        let mut second = [0u8; 8];
        second.copy_from_slice(&self.payload[8..16]);
        let mixed = u64::from_le_bytes(first) ^ u64::from_le_bytes(second).rotate_left(29);
        (mixed ^ u64::from(self.kind as u8)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_display_round_trips_reversed() {
        let text = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
        let hash = Hash32::from_display_hex(text).unwrap();
        assert_eq!(hash.0[31], 0x00);
        assert_eq!(hash.0[0], 0x6f);
        assert_eq!(hash.to_string(), text);
        assert!(Hash32::from_display_hex("zz").is_err());
    }

    #[test]
    fn all_kinds_are_listed_in_the_order_of_their_numbers() {
        let numbered: Vec<_> = (0..=u8::MAX).filter_map(AddressKind::from_u8).collect();
        assert_eq!(numbered, AddressKind::ALL);
        assert!(AddressKind::ALL.iter().zip(1..).all(|(kind, number)| *kind as u8 == number));
    }

    #[test]
    fn address_key_hash_mixes_the_kind_and_reads_16_payload_bytes() {
        let key = AddressKey::new(AddressKind::P2wpkh, &[7u8; 20]);
        assert_eq!(key.payload(), &[7u8; 20]);
        assert_eq!(&key.payload[20..], &[0u8; 12]);
        assert_ne!(key.hash64(), AddressKey::new(AddressKind::P2pkh, &[7u8; 20]).hash64());
        let mut differs_after_16 = key;
        differs_after_16.payload[16] = 1;
        assert_eq!(key.hash64(), differs_after_16.hash64());
        let mut differs_before_16 = key;
        differs_before_16.payload[15] = 1;
        assert_ne!(key.hash64(), differs_before_16.hash64());
    }

    #[test]
    fn sats_display_in_coins() {
        assert_eq!(Sats::from_sat(5_000_000_000).to_string(), "50.00000000");
        assert_eq!(Sats::from_sat(1).to_string(), "0.00000001");
    }
}
