//! How address keys are stored (store format 6): a 21-byte row of `addr.key` per address, and a
//! 16-byte row of `addr.rest` per address whose payload is 32 bytes.
//!
//! - A key with a 20-byte payload (P2PKH, P2SH, P2WPKH) is its kind byte and its payload.
//! - A key with a 32-byte payload (P2WSH, P2TR, bare multisig, non-standard) is its kind byte, the
//!   first 16 bytes of its payload and, as a little-endian `u32`, the row of `addr.rest` that
//!   holds the other 16. `addr.rest` rows are appended in address order.
//!
//! Most addresses have 20-byte payloads (about 80 % of the synthetic chains', more on mainnet),
//! so this takes about a quarter off the 33 bytes per address that a fixed row of kind and padded
//! payload takes. The hash of a key ([`AddressKey::hash64`]) reads only its kind and the first 16
//! bytes of its payload, so the address index is built from `addr.key` alone; the rest is read
//! only when those 17 bytes match.

use cointrail_types::{AddressKey, AddressKind};

use crate::column::{read_u32, to_usize};
use crate::error::{Result, StoreError};

/// Bytes per row of `addr.key`.
pub(crate) const ADDR_KEY_ROW: usize = 21;
/// Bytes per row of `addr.rest`.
pub(crate) const ADDR_REST_ROW: usize = 16;
/// Payload bytes of a 32-byte payload kept in its `addr.key` row.
const HEAD: usize = 16;

/// Whether `kind`'s keys take a row of `addr.rest`.
pub(crate) fn is_wide(kind: AddressKind) -> bool {
    kind.payload_len() > ADDR_KEY_ROW - 1
}

/// Whether the `addr.key` row `row` takes a row of `addr.rest` (an unknown kind does not).
pub(crate) fn is_wide_row(row: &[u8]) -> bool {
    AddressKind::from_u8(row[0]).is_some_and(is_wide)
}

/// Row `id` of the `addr.key` column `keys`.
pub(crate) fn row(keys: &[u8], id: u64) -> &[u8] {
    &keys[to_usize(id) * ADDR_KEY_ROW..][..ADDR_KEY_ROW]
}

/// The `addr.key` row of `key`, and its `addr.rest` row if it takes one: `rest` is that row's
/// number.
pub(crate) fn encode(
    key: &AddressKey,
    rest: u32,
) -> ([u8; ADDR_KEY_ROW], Option<[u8; ADDR_REST_ROW]>) {
    let mut row = [0u8; ADDR_KEY_ROW];
    row[0] = key.kind as u8;
    if !is_wide(key.kind) {
        row[1..].copy_from_slice(&key.payload[..ADDR_KEY_ROW - 1]);
        return (row, None);
    }
    row[1..=HEAD].copy_from_slice(&key.payload[..HEAD]);
    row[HEAD + 1..].copy_from_slice(&rest.to_le_bytes());
    let mut tail = [0u8; ADDR_REST_ROW];
    tail.copy_from_slice(&key.payload[HEAD..]);
    (row, Some(tail))
}

fn kind_of(row: &[u8]) -> Result<AddressKind> {
    AddressKind::from_u8(row[0])
        .ok_or_else(|| StoreError::Corrupt { what: format!("unknown address kind {}", row[0]) })
}

/// The hash of the key stored in `row` ([`AddressKey::hash64`]), from the row alone.
///
/// # Errors
///
/// [`StoreError::Corrupt`] if the kind byte is unknown.
pub(crate) fn hash_of_row(row: &[u8]) -> Result<u64> {
    let kind = kind_of(row)?;
    Ok(AddressKey::new(kind, &row[1..=HEAD]).hash64())
}

/// The key stored in `row`, with the `addr.rest` column `rest` for a 32-byte payload.
///
/// # Errors
///
/// [`StoreError::Corrupt`] if the kind byte is unknown or the row points past `rest`.
pub(crate) fn decode(row: &[u8], rest: &[u8]) -> Result<AddressKey> {
    let kind = kind_of(row)?;
    if !is_wide(kind) {
        return Ok(AddressKey::new(kind, &row[1..]));
    }
    let mut payload = [0u8; 32];
    payload[..HEAD].copy_from_slice(&row[1..=HEAD]);
    let at = to_usize(u64::from(read_u32(row, HEAD + 1))) * ADDR_REST_ROW;
    let tail = rest.get(at..at + ADDR_REST_ROW).ok_or_else(|| StoreError::Corrupt {
        what: format!("address key points at addr.rest byte {at}, past its {} bytes", rest.len()),
    })?;
    payload[HEAD..].copy_from_slice(tail);
    Ok(AddressKey { kind, payload })
}

/// Whether `row` (with the `addr.rest` column `rest`) stores `key`. The rest is read only when
/// the kind and the first 16 bytes match.
pub(crate) fn row_is(row: &[u8], rest: &[u8], key: &AddressKey) -> bool {
    if row[0] != key.kind as u8 {
        return false;
    }
    if !is_wide(key.kind) {
        return row[1..] == key.payload[..ADDR_KEY_ROW - 1];
    }
    if row[1..=HEAD] != key.payload[..HEAD] {
        return false;
    }
    let at = to_usize(u64::from(read_u32(row, HEAD + 1))) * ADDR_REST_ROW;
    rest.get(at..at + ADDR_REST_ROW) == Some(&key.payload[HEAD..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: AddressKind, seed: u8) -> AddressKey {
        let payload: Vec<u8> = (0..kind.payload_len())
            .map(|i| seed.wrapping_mul(31) ^ u8::try_from(i).unwrap())
            .collect();
        AddressKey::new(kind, &payload)
    }

    #[test]
    fn every_kind_round_trips_and_hashes_from_its_row_alone() {
        let mut keys = Vec::new();
        let mut rest = Vec::new();
        for (seed, kind) in (1..).zip(AddressKind::ALL) {
            let key = key(kind, seed);
            let (row, tail) = encode(&key, u32::try_from(rest.len() / ADDR_REST_ROW).unwrap());
            assert_eq!(tail.is_some(), kind.payload_len() == 32, "{kind:?}");
            keys.extend_from_slice(&row);
            if let Some(tail) = tail {
                rest.extend_from_slice(&tail);
            }
        }
        // P2WSH, P2TR, multisig and non-standard keys take a row of addr.rest each.
        assert_eq!(rest.len(), 4 * ADDR_REST_ROW);
        for (id, kind) in (0..).zip(AddressKind::ALL) {
            let key = key(kind, u8::try_from(id + 1).unwrap());
            let stored = row(&keys, id);
            assert_eq!(decode(stored, &rest).unwrap(), key);
            assert_eq!(hash_of_row(stored).unwrap(), key.hash64());
            assert!(row_is(stored, &rest, &key));
        }
    }

    #[test]
    fn keys_that_share_their_row_but_not_their_rest_are_told_apart() {
        let first = key(AddressKind::P2tr, 7);
        let mut second = first;
        second.payload[31] ^= 1;
        let (row_a, rest_a) = encode(&first, 0);
        let (row_b, rest_b) = encode(&second, 1);
        assert_eq!(row_a[..=HEAD], row_b[..=HEAD]);
        let rest = [rest_a.unwrap(), rest_b.unwrap()].concat();
        assert!(row_is(&row_a, &rest, &first) && !row_is(&row_a, &rest, &second));
        assert!(row_is(&row_b, &rest, &second) && !row_is(&row_b, &rest, &first));
        assert_eq!(hash_of_row(&row_a).unwrap(), hash_of_row(&row_b).unwrap());
        // A P2WPKH key with the same first 20 bytes is another key too.
        let narrow = AddressKey::new(AddressKind::P2wpkh, &first.payload[..20]);
        assert!(!row_is(&row_a, &rest, &narrow));
    }

    #[test]
    fn corrupt_rows_are_errors_not_panics() {
        let mut row = encode(&key(AddressKind::P2tr, 3), 5).0;
        assert!(matches!(decode(&row, &[0; 2 * ADDR_REST_ROW]), Err(StoreError::Corrupt { .. })));
        assert!(!row_is(&row, &[0; 2 * ADDR_REST_ROW], &key(AddressKind::P2tr, 3)));
        row[0] = 99;
        assert!(matches!(hash_of_row(&row), Err(StoreError::Corrupt { .. })));
        assert!(matches!(decode(&row, &[]), Err(StoreError::Corrupt { .. })));
    }
}
