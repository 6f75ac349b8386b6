//! Output scripts to address keys, and address keys to and from text.
//!
//! # Script rules (a stable contract: stored address ids depend on them)
//!
//! [`script_to_address`] maps an output script (`scriptPubKey`) to an [`AddressKey`]:
//!
//! | script | key |
//! |---|---|
//! | first byte `6a` (`OP_RETURN ...`, any length) | `None`: not an address |
//! | P2PKH `76 a9 14 <20 bytes> 88 ac` | `P2pkh(<20 bytes>)` |
//! | P2SH `a9 14 <20 bytes> 87` | `P2sh(<20 bytes>)` |
//! | P2WPKH `00 14 <20 bytes>` | `P2wpkh(<20 bytes>)` |
//! | P2WSH `00 20 <32 bytes>` | `P2wsh(<32 bytes>)` |
//! | P2TR `51 20 <32 bytes>` | `P2tr(<32 bytes>)` |
//! | P2PK `21 <33-byte key starting 02/03> ac` or `41 <65-byte key starting 04/06/07> ac` | `P2pkh(HASH160(key))` |
//! | bare multisig `OP_m <keys> OP_n ae` | `Multisig(SHA256(script))` |
//! | anything else (empty, other witness versions or lengths, P2A anchors, ...) | `Nonstandard(SHA256(script))` |
//!
//! P2PK outputs are keyed by the HASH160 of the key bytes exactly as they appear in the script, so
//! a P2PK output has the P2PKH address block explorers show for that key and clusters with the
//! key's other coins. In bare multisig, `m` and `n` are `OP_1`..`OP_16` or a one-byte push of
//! 17..=20, `1 <= m <= n <= 20`, and there are exactly `n` keys, each a direct push (`21` or `41`)
//! of a 33-byte key starting `02`/`03` or a 65-byte key starting `04`/`06`/`07` (Bitcoin Core's
//! `CPubKey::ValidSize`).
//!
//! # Address text
//!
//! [`Network::encode_address`] writes P2PKH and P2SH as base58check (version bytes `00`/`05` on
//! mainnet, `6f`/`c4` on the test networks and regtest), P2WPKH and P2WSH as bech32 (BIP-173) and
//! P2TR as bech32m (BIP-350) with human-readable part `bc` (mainnet), `tb` (testnet, testnet4,
//! signet) or `bcrt` (regtest). Multisig and nonstandard keys have no address text; they are
//! written `multisig-<64 hex>` and `nonstandard-<64 hex>` (lower-case hex of the SHA-256 payload),
//! the same on every network. [`Network::parse_address`] inverts this exactly.

use cointrail_types::{AddressKey, AddressKind};
use ripemd::Ripemd160;
use sha2::{Digest, Sha256};

use crate::network::Network;

const OP_RETURN: u8 = 0x6a;
const OP_CHECKSIG: u8 = 0xac;
const OP_CHECKMULTISIG: u8 = 0xae;
const MULTISIG_PREFIX: &str = "multisig-";
const NONSTANDARD_PREFIX: &str = "nonstandard-";

/// Maps an output script to the address it pays, following the module's script rules.
///
/// Returns `None` only for `OP_RETURN` outputs (first byte `6a`); every other script has a key.
pub fn script_to_address(script: &[u8]) -> Option<AddressKey> {
    let key = match script {
        [OP_RETURN, ..] => return None,
        [0x76, 0xa9, 0x14, hash @ .., 0x88, OP_CHECKSIG] if hash.len() == 20 => {
            AddressKey::new(AddressKind::P2pkh, hash)
        }
        [0xa9, 0x14, hash @ .., 0x87] if hash.len() == 20 => {
            AddressKey::new(AddressKind::P2sh, hash)
        }
        [0x00, 0x14, program @ ..] if program.len() == 20 => {
            AddressKey::new(AddressKind::P2wpkh, program)
        }
        [0x00, 0x20, program @ ..] if program.len() == 32 => {
            AddressKey::new(AddressKind::P2wsh, program)
        }
        [0x51, 0x20, program @ ..] if program.len() == 32 => {
            AddressKey::new(AddressKind::P2tr, program)
        }
        [push @ (0x21 | 0x41), key @ .., OP_CHECKSIG]
            if usize::from(*push) == key.len() && is_pubkey(key) =>
        {
            AddressKey::new(AddressKind::P2pkh, &hash160(key))
        }
        _ if is_bare_multisig(script) => {
            AddressKey::new(AddressKind::Multisig, &Sha256::digest(script))
        }
        _ => AddressKey::new(AddressKind::Nonstandard, &Sha256::digest(script)),
    };
    Some(key)
}

/// Returns whether `key` has a valid public key size for its first byte (Core's `ValidSize`).
fn is_pubkey(key: &[u8]) -> bool {
    match key.first() {
        Some(0x02 | 0x03) => key.len() == 33,
        Some(0x04 | 0x06 | 0x07) => key.len() == 65,
        _ => false,
    }
}

/// Returns RIPEMD-160 of SHA-256 of `data`.
fn hash160(data: &[u8]) -> [u8; 20] {
    Ripemd160::digest(Sha256::digest(data)).into()
}

/// Reads a multisig count (`OP_1`..`OP_16`, or a one-byte push of 17..=20) at the start of
/// `script`, returning the count and the rest of the script.
fn multisig_count(script: &[u8]) -> Option<(usize, &[u8])> {
    match script {
        [op @ 0x51..=0x60, rest @ ..] => Some((usize::from(op - 0x50), rest)),
        [0x01, n @ 17..=20, rest @ ..] => Some((usize::from(*n), rest)),
        _ => None,
    }
}

/// Returns whether `script` is `OP_m <n keys> OP_n OP_CHECKMULTISIG` with `1 <= m <= n <= 20`.
fn is_bare_multisig(script: &[u8]) -> bool {
    let Some((required, mut rest)) = multisig_count(script) else {
        return false;
    };
    let mut keys = 0usize;
    loop {
        match rest {
            [len @ (0x21 | 0x41), tail @ ..] if tail.len() >= usize::from(*len) => {
                let (key, after) = tail.split_at(usize::from(*len));
                if !is_pubkey(key) {
                    return false;
                }
                keys += 1;
                rest = after;
            }
            _ => break,
        }
    }
    match multisig_count(rest) {
        Some((total, [OP_CHECKMULTISIG])) => {
            required >= 1 && required <= total && total <= 20 && keys == total
        }
        _ => false,
    }
}

/// Writes the address text of `key` on `network` (see the module docs).
pub(crate) fn encode(network: Network, key: &AddressKey) -> String {
    let (p2pkh_version, p2sh_version) = network.base58_versions();
    let hrp = network.bech32_hrp();
    match key.kind {
        AddressKind::P2pkh => base58(p2pkh_version, key.payload()),
        AddressKind::P2sh => base58(p2sh_version, key.payload()),
        AddressKind::P2wpkh | AddressKind::P2wsh => bech32::segwit::encode_v0(hrp, key.payload())
            .expect("20- and 32-byte v0 witness programs are always encodable"),
        AddressKind::P2tr => bech32::segwit::encode_v1(hrp, key.payload())
            .expect("32-byte v1 witness programs are always encodable"),
        AddressKind::Multisig => format!("{MULTISIG_PREFIX}{}", to_hex(key.payload())),
        AddressKind::Nonstandard => format!("{NONSTANDARD_PREFIX}{}", to_hex(key.payload())),
    }
}

fn base58(version: u8, payload: &[u8]) -> String {
    bs58::encode(payload).with_check_version(version).into_string()
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        write!(out, "{byte:02x}").expect("writing to a String cannot fail");
    }
    out
}

fn from_hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *slot = u8::try_from(high * 16 + low).ok()?;
    }
    Some(out)
}

/// Names the networks whose addresses use the given bech32 human-readable part.
fn hrp_networks(hrp: &bech32::Hrp) -> &'static str {
    if *hrp == bech32::hrp::BC {
        "mainnet"
    } else if *hrp == bech32::hrp::TB {
        "testnet, testnet4 or signet"
    } else if *hrp == bech32::hrp::BCRT {
        "regtest"
    } else if hrp.as_str() == "ltc" {
        "litecoin"
    } else if hrp.as_str() == "tltc" {
        "litecoin-testnet"
    } else if hrp.as_str() == "rltc" {
        "litecoin-regtest"
    } else {
        "an unknown network"
    }
}

/// Parses address text of `network` (see the module docs).
pub(crate) fn parse(network: Network, text: &str) -> Result<AddressKey, AddressError> {
    if let Some(hex) = text.strip_prefix(MULTISIG_PREFIX) {
        return from_hex32(hex)
            .map(|payload| AddressKey::new(AddressKind::Multisig, &payload))
            .ok_or_else(|| AddressError::BadScriptId { text: text.to_owned() });
    }
    if let Some(hex) = text.strip_prefix(NONSTANDARD_PREFIX) {
        return from_hex32(hex)
            .map(|payload| AddressKey::new(AddressKind::Nonstandard, &payload))
            .ok_or_else(|| AddressError::BadScriptId { text: text.to_owned() });
    }
    let lower = text.to_ascii_lowercase();
    if ["bc1", "tb1", "bcrt1", "ltc1", "tltc1", "rltc1"]
        .iter()
        .any(|prefix| lower.starts_with(prefix))
    {
        parse_segwit(network, text)
    } else {
        parse_base58(network, text)
    }
}

fn parse_segwit(network: Network, text: &str) -> Result<AddressKey, AddressError> {
    let (hrp, version, program) = bech32::segwit::decode(text)
        .map_err(|err| AddressError::Bech32 { text: text.to_owned(), reason: err.to_string() })?;
    if hrp != network.bech32_hrp() {
        return Err(AddressError::WrongNetwork {
            text: text.to_owned(),
            network: network.name(),
            address_network: hrp_networks(&hrp),
        });
    }
    let kind = match (version.to_u8(), program.len()) {
        (0, 20) => AddressKind::P2wpkh,
        (0, 32) => AddressKind::P2wsh,
        (1, 32) => AddressKind::P2tr,
        (version, len) => {
            return Err(AddressError::UnsupportedWitness { text: text.to_owned(), version, len });
        }
    };
    Ok(AddressKey::new(kind, &program))
}

fn parse_base58(network: Network, text: &str) -> Result<AddressKey, AddressError> {
    let bytes = bs58::decode(text)
        .with_check(None)
        .into_vec()
        .map_err(|err| AddressError::Base58 { text: text.to_owned(), reason: err.to_string() })?;
    let [version, payload @ ..] = bytes.as_slice() else {
        return Err(AddressError::Base58 { text: text.to_owned(), reason: "empty".to_owned() });
    };
    if payload.len() != 20 {
        return Err(AddressError::BadLength { text: text.to_owned(), len: payload.len() });
    }
    let (p2pkh_version, p2sh_version) = network.base58_versions();
    let kind = match *version {
        v if v == p2pkh_version => AddressKind::P2pkh,
        v if v == p2sh_version || Some(v) == network.legacy_p2sh_version() => AddressKind::P2sh,
        0x00 | 0x05 | 0x6f | 0xc4 | 0x30 | 0x32 | 0x3a => {
            return Err(AddressError::WrongNetwork {
                text: text.to_owned(),
                network: network.name(),
                address_network: match *version {
                    0x00 | 0x05 => "mainnet",
                    0x30 | 0x32 => "litecoin",
                    0x3a => "litecoin-testnet or litecoin-regtest",
                    _ => "testnet, testnet4, signet or regtest",
                },
            });
        }
        other => {
            return Err(AddressError::UnknownVersion { text: text.to_owned(), version: other });
        }
    };
    Ok(AddressKey::new(kind, payload))
}

/// Text that [`Network::parse_address`] cannot turn into an address key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// A valid address, but of another network.
    #[error("address {text} is a {address_network} address, not a {network} address")]
    WrongNetwork {
        /// The address text.
        text: String,
        /// The network the address was parsed for.
        network: &'static str,
        /// The network(s) the address belongs to.
        address_network: &'static str,
    },
    /// Text starting like a segwit address that is not valid bech32/bech32m.
    #[error("invalid segwit address {text}: {reason}")]
    Bech32 {
        /// The address text.
        text: String,
        /// What the bech32 decoder reported.
        reason: String,
    },
    /// A segwit address of a witness version or program length with no address kind.
    #[error(
        "unsupported segwit address {text}: witness version {version} with a {len}-byte program"
    )]
    UnsupportedWitness {
        /// The address text.
        text: String,
        /// The witness version.
        version: u8,
        /// The witness program length in bytes.
        len: usize,
    },
    /// Text that is not valid base58check.
    #[error("invalid address {text}: {reason}")]
    Base58 {
        /// The address text.
        text: String,
        /// What the base58check decoder reported.
        reason: String,
    },
    /// Base58check text whose payload is not 20 bytes.
    #[error("invalid address {text}: payload is {len} bytes, expected 20")]
    BadLength {
        /// The address text.
        text: String,
        /// The payload length in bytes (after the version byte).
        len: usize,
    },
    /// Base58check text with a version byte that is not a Bitcoin P2PKH/P2SH version.
    #[error("invalid address {text}: unknown base58 version byte {version:#04x}")]
    UnknownVersion {
        /// The address text.
        text: String,
        /// The version byte.
        version: u8,
    },
    /// `multisig-...` or `nonstandard-...` text without 64 hex digits after the prefix.
    #[error("invalid script id {text}: expected the prefix then 64 hex digits")]
    BadScriptId {
        /// The text.
        text: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        hex::decode(text).unwrap()
    }

    #[test]
    fn multisig_counts_and_keys() {
        let key33 = format!("21{}", "02".repeat(33));
        let one_of_one = hex(&format!("51{key33}51ae"));
        assert_eq!(script_to_address(&one_of_one).unwrap().kind, AddressKind::Multisig);
        // m > n, key count != n, m == 0, missing OP_CHECKMULTISIG, trailing byte.
        for bad in [
            format!("52{key33}51ae"),
            format!("51{key33}52ae"),
            format!("00{key33}51ae"),
            format!("51{key33}51"),
            format!("51{key33}51ae00"),
            format!("5121{}51ae", "05".repeat(33)),
        ] {
            let key = script_to_address(&hex(&bad)).unwrap();
            assert_eq!(key.kind, AddressKind::Nonstandard, "{bad}");
        }
        let seventeen = format!("0111{}0111ae", key33.repeat(17));
        assert_eq!(script_to_address(&hex(&seventeen)).unwrap().kind, AddressKind::Multisig);
    }

    #[test]
    fn hex_helpers_round_trip() {
        let bytes: Vec<u8> = (0..32).map(|i| i * 7).collect();
        let text = to_hex(&bytes);
        assert_eq!(from_hex32(&text).unwrap().as_slice(), bytes.as_slice());
        assert_eq!(from_hex32(&text.to_uppercase()).unwrap().as_slice(), bytes.as_slice());
        assert!(from_hex32("zz").is_none());
        assert!(from_hex32(&"g".repeat(64)).is_none());
    }
}
