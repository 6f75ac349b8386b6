//! Script kinds, their sizes, and the bytes of output scripts, scriptSigs and witnesses.
//!
//! Signatures and keys are dummies of realistic size: a 72-byte DER-shaped ECDSA signature with
//! its sighash byte, a 33-byte compressed key, a 64-byte Schnorr signature. They are not valid.

use cointrail_types::{AddressKey, AddressKind};

use crate::rng::{Rng, mix64};

/// The kinds of destination the generator pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ScriptKind {
    /// Pay to public key hash (legacy).
    P2pkh = 0,
    /// Pay to script hash; spent as P2SH-P2WPKH (nested segwit).
    P2sh = 1,
    /// Native segwit v0 key hash.
    P2wpkh = 2,
    /// Native segwit v0 script hash; spent as 2-of-3 multisig.
    P2wsh = 3,
    /// Taproot; spent by key path.
    P2tr = 4,
}

impl ScriptKind {
    /// Every kind, in `repr` order.
    pub(crate) const ALL: [Self; 5] =
        [Self::P2pkh, Self::P2sh, Self::P2wpkh, Self::P2wsh, Self::P2tr];

    pub(crate) fn from_u8(value: u8) -> Self {
        Self::ALL.get(usize::from(value)).copied().unwrap_or(Self::P2wpkh)
    }

    pub(crate) fn address_kind(self) -> AddressKind {
        match self {
            Self::P2pkh => AddressKind::P2pkh,
            Self::P2sh => AddressKind::P2sh,
            Self::P2wpkh => AddressKind::P2wpkh,
            Self::P2wsh => AddressKind::P2wsh,
            Self::P2tr => AddressKind::P2tr,
        }
    }

    /// Serialized size of an output paying this kind (value, length byte, script).
    pub(crate) const fn output_size(self) -> u64 {
        match self {
            Self::P2pkh => 34,
            Self::P2sh => 32,
            Self::P2wpkh => 31,
            Self::P2wsh | Self::P2tr => 43,
        }
    }

    /// Non-witness bytes of an input spending this kind.
    pub(crate) const fn input_base_size(self) -> u64 {
        match self {
            Self::P2pkh => 41 + 107,
            Self::P2sh => 41 + 23,
            Self::P2wpkh | Self::P2wsh | Self::P2tr => 41,
        }
    }

    /// Witness bytes of an input spending this kind (item count included; 1 for an empty witness).
    pub(crate) const fn input_witness_size(self) -> u64 {
        match self {
            Self::P2pkh => 1,
            Self::P2sh | Self::P2wpkh => 1 + 1 + 72 + 1 + 33,
            Self::P2wsh => 1 + 1 + 1 + 72 + 1 + 72 + 1 + 105,
            Self::P2tr => 1 + 1 + 64,
        }
    }

    pub(crate) const fn is_segwit_spend(self) -> bool {
        !matches!(self, Self::P2pkh)
    }
}

/// Length of a witness program or hash of `kind`.
const fn payload_len(kind: ScriptKind) -> usize {
    match kind {
        ScriptKind::P2pkh | ScriptKind::P2sh | ScriptKind::P2wpkh => 20,
        ScriptKind::P2wsh | ScriptKind::P2tr => 32,
    }
}

/// Derives the 32-byte payload of address number `id`: four mixes of distinct inputs, the first
/// word a bijection of `id`, so that distinct ids never collide.
pub(crate) fn payload(salt: u64, id: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    let base = salt.wrapping_add(u64::from(id));
    for (j, chunk) in out.chunks_exact_mut(8).enumerate() {
        let word = mix64(base ^ ((j as u64) << 56).wrapping_mul(0x9e37_79b9));
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// Returns the cointrail address key of address `id` of `kind`.
pub(crate) fn address_key(salt: u64, id: u32, kind: ScriptKind) -> AddressKey {
    let payload = payload(salt, id);
    AddressKey::new(kind.address_kind(), &payload[..payload_len(kind)])
}

/// Appends the output script (with its length byte) of address `id` of `kind`.
pub(crate) fn write_script_pubkey(out: &mut Vec<u8>, salt: u64, id: u32, kind: ScriptKind) {
    let payload = payload(salt, id);
    match kind {
        ScriptKind::P2pkh => {
            out.extend_from_slice(&[25, 0x76, 0xa9, 0x14]);
            out.extend_from_slice(&payload[..20]);
            out.extend_from_slice(&[0x88, 0xac]);
        }
        ScriptKind::P2sh => {
            out.extend_from_slice(&[23, 0xa9, 0x14]);
            out.extend_from_slice(&payload[..20]);
            out.push(0x87);
        }
        ScriptKind::P2wpkh => {
            out.extend_from_slice(&[22, 0x00, 0x14]);
            out.extend_from_slice(&payload[..20]);
        }
        ScriptKind::P2wsh => {
            out.extend_from_slice(&[34, 0x00, 0x20]);
            out.extend_from_slice(&payload);
        }
        ScriptKind::P2tr => {
            out.extend_from_slice(&[34, 0x51, 0x20]);
            out.extend_from_slice(&payload);
        }
    }
}

/// Appends a dummy 72-byte DER-shaped signature push (`0x48` + 72 bytes).
fn push_sig(out: &mut Vec<u8>, rng: &mut Rng) {
    let mut r = [0u8; 64];
    rng.fill(&mut r);
    out.extend_from_slice(&[0x48, 0x30, 0x45, 0x02, 0x21, 0x00]);
    out.extend_from_slice(&r[..32]);
    out.extend_from_slice(&[0x02, 0x20]);
    out.extend_from_slice(&r[32..]);
    out.push(0x01);
}

/// Appends a dummy compressed key push (`0x21` + 33 bytes) derived from address `id`.
fn push_key(out: &mut Vec<u8>, salt: u64, id: u32) {
    let key = payload(salt ^ 0x5bd1_e995, id);
    out.push(0x21);
    out.push(0x02 | (key[31] & 1));
    out.extend_from_slice(&key);
}

/// Appends the scriptSig (with its length) of an input spending address `id` of `kind`.
pub(crate) fn write_script_sig(
    out: &mut Vec<u8>,
    salt: u64,
    id: u32,
    kind: ScriptKind,
    rng: &mut Rng,
) {
    match kind {
        ScriptKind::P2pkh => {
            out.push(107);
            push_sig(out, rng);
            push_key(out, salt, id);
        }
        ScriptKind::P2sh => {
            // The redeem script of P2SH-P2WPKH: OP_0 <20-byte key hash>.
            out.extend_from_slice(&[23, 0x16, 0x00, 0x14]);
            let key = payload(salt ^ 0x5bd1_e995, id);
            out.extend_from_slice(&key[..20]);
        }
        ScriptKind::P2wpkh | ScriptKind::P2wsh | ScriptKind::P2tr => out.push(0),
    }
}

/// Appends the witness of an input spending address `id` of `kind`.
pub(crate) fn write_witness(
    out: &mut Vec<u8>,
    salt: u64,
    id: u32,
    kind: ScriptKind,
    rng: &mut Rng,
) {
    match kind {
        ScriptKind::P2pkh => out.push(0),
        ScriptKind::P2sh | ScriptKind::P2wpkh => {
            out.push(2);
            push_sig(out, rng);
            push_key(out, salt, id);
        }
        ScriptKind::P2wsh => {
            out.extend_from_slice(&[4, 0]);
            push_sig(out, rng);
            push_sig(out, rng);
            // 2-of-3 multisig witness script: OP_2 <key> <key> <key> OP_3 OP_CHECKMULTISIG.
            out.extend_from_slice(&[105, 0x52]);
            for k in 0..3u32 {
                push_key(out, salt, id.wrapping_mul(3).wrapping_add(k));
            }
            out.extend_from_slice(&[0x53, 0xae]);
        }
        ScriptKind::P2tr => {
            out.extend_from_slice(&[1, 64]);
            let mut sig = [0u8; 64];
            rng.fill(&mut sig);
            out.extend_from_slice(&sig);
        }
    }
}

/// Appends a Bitcoin compact-size integer.
pub(crate) fn write_varint(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(u8::try_from(n).unwrap_or(0)),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&u16::try_from(n).unwrap_or(0).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&u32::try_from(n).unwrap_or(0).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// Size of a compact-size integer.
pub(crate) const fn varint_size(n: u64) -> u64 {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cointrail_btc::script_to_address;

    #[test]
    fn scripts_map_to_their_keys_and_sizes_match() {
        let mut rng = Rng::new(1);
        for kind in ScriptKind::ALL {
            let mut out = Vec::new();
            write_script_pubkey(&mut out, 42, 9, kind);
            assert_eq!(out.len() as u64 + 8, kind.output_size());
            assert_eq!(script_to_address(&out[1..]), Some(address_key(42, 9, kind)));
            let mut sig = Vec::new();
            write_script_sig(&mut sig, 42, 9, kind, &mut rng);
            assert_eq!(sig.len() as u64 + 40, kind.input_base_size());
            let mut wit = Vec::new();
            write_witness(&mut wit, 42, 9, kind, &mut rng);
            assert_eq!(wit.len() as u64, kind.input_witness_size());
        }
        assert_ne!(payload(1, 1), payload(1, 2));
    }
}
