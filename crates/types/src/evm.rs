//! Vocabulary of EVM chains: 20-byte addresses, 32-byte hashes and exact 256-bit amounts.
//!
//! EVM hashes are shown in the order they are hashed (unlike Bitcoin's reversed txids), as
//! `0x` + 64 lower-case hex digits; addresses as `0x` + 40 lower-case hex digits (no EIP-55 case
//! checksum: forensic tools compare addresses, and the lower-case form is what nodes return in
//! logs). Amounts are [`U256`]: wei, token units or ERC-721 token ids, never floats.

use std::fmt;

/// A 20-byte EVM account address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EvmAddress(pub [u8; 20]);

/// A 32-byte EVM hash (block hash, transaction hash), in hashed order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct B256(pub [u8; 32]);

/// Text that is not the hex form of an EVM value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseHexError {
    /// What was expected (`address`, `hash`, `quantity`).
    pub expected: &'static str,
    /// The text given (cut to 80 characters).
    pub text: String,
}

impl fmt::Display for ParseHexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a hex {}: `{}`", self.expected, self.text)
    }
}

impl std::error::Error for ParseHexError {}

fn parse_error(expected: &'static str, text: &str) -> ParseHexError {
    ParseHexError { expected, text: text.chars().take(80).collect() }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes `0x`-prefixed hex of exactly `N` bytes.
fn fixed_hex<const N: usize>(text: &str, expected: &'static str) -> Result<[u8; N], ParseHexError> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"));
    let digits = digits.ok_or_else(|| parse_error(expected, text))?.as_bytes();
    if digits.len() != N * 2 {
        return Err(parse_error(expected, text));
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let high = hex_value(pair[0]).ok_or_else(|| parse_error(expected, text))?;
        let low = hex_value(pair[1]).ok_or_else(|| parse_error(expected, text))?;
        *byte = (high << 4) | low;
    }
    Ok(out)
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    f.write_str("0x")?;
    for byte in bytes {
        write!(f, "{byte:02x}")?;
    }
    Ok(())
}

impl EvmAddress {
    /// The zero address `0x0000…0000` (the `from` of token mints, the `to` of many token burns).
    pub const ZERO: Self = Self([0; 20]);

    /// Parses `0x` + 40 hex digits (any case).
    ///
    /// # Errors
    ///
    /// [`ParseHexError`] for anything else.
    pub fn from_hex(text: &str) -> Result<Self, ParseHexError> {
        fixed_hex(text, "address").map(Self)
    }

    /// Returns a well-mixed 64-bit hash of the address, for hash indexes. Addresses are mostly
    /// hash outputs, but not all (precompiles, vanity addresses), hence the mixing.
    pub fn hash64(&self) -> u64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        let mut last = [0u8; 8];
        last.copy_from_slice(&self.0[12..]);
        let mut mixed = u64::from_le_bytes(first) ^ u64::from_le_bytes(last).rotate_left(31);
        mixed ^= u64::from(u32::from_le_bytes([self.0[8], self.0[9], self.0[10], self.0[11]]));
        // splitmix64 finaliser
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }
}

impl fmt::Display for EvmAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for EvmAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl B256 {
    /// Parses `0x` + 64 hex digits (any case).
    ///
    /// # Errors
    ///
    /// [`ParseHexError`] for anything else.
    pub fn from_hex(text: &str) -> Result<Self, ParseHexError> {
        fixed_hex(text, "hash").map(Self)
    }

    /// Returns the first 8 bytes as a little-endian integer (a hash of a hash is well mixed).
    pub fn prefix_u64(&self) -> u64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(first)
    }
}

impl fmt::Display for B256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for B256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An unsigned 256-bit integer: the full range of EVM amounts, exact.
///
/// Four little-endian 64-bit limbs; stored on disk as 32 bytes big-endian
/// ([`U256::to_be_bytes`]), shown in decimal.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct U256([u64; 4]);

impl U256 {
    /// Zero.
    pub const ZERO: Self = Self([0; 4]);
    /// The largest value, 2^256 - 1.
    pub const MAX: Self = Self([u64::MAX; 4]);

    /// Creates a value from a `u64`.
    pub const fn from_u64(value: u64) -> Self {
        Self([value, 0, 0, 0])
    }

    /// Creates a value from a `u128`.
    #[expect(clippy::cast_possible_truncation, reason = "splitting into 64-bit limbs")]
    pub const fn from_u128(value: u128) -> Self {
        Self([value as u64, (value >> 64) as u64, 0, 0])
    }

    /// Reads 32 big-endian bytes.
    pub fn from_be_bytes(bytes: [u8; 32]) -> Self {
        let mut limbs = [0u64; 4];
        for (index, limb) in limbs.iter_mut().enumerate() {
            let start = 32 - (index + 1) * 8;
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[start..start + 8]);
            *limb = u64::from_be_bytes(word);
        }
        Self(limbs)
    }

    /// Returns the 32 big-endian bytes.
    pub fn to_be_bytes(self) -> [u8; 32] {
        let mut bytes = [0u8; 32];
        for (index, limb) in self.0.iter().enumerate() {
            let start = 32 - (index + 1) * 8;
            bytes[start..start + 8].copy_from_slice(&limb.to_be_bytes());
        }
        bytes
    }

    /// Reads up to 32 big-endian bytes (shorter slices are left-padded with zeros).
    ///
    /// Returns `None` for more than 32 bytes.
    pub fn from_be_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > 32 {
            return None;
        }
        let mut full = [0u8; 32];
        full[32 - bytes.len()..].copy_from_slice(bytes);
        Some(Self::from_be_bytes(full))
    }

    /// Parses a JSON-RPC quantity: `0x` followed by 1 to 64 hex digits (leading zeros allowed).
    ///
    /// # Errors
    ///
    /// [`ParseHexError`] for anything else, including values above 2^256 - 1.
    pub fn from_hex_quantity(text: &str) -> Result<Self, ParseHexError> {
        let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"));
        let digits = digits.ok_or_else(|| parse_error("quantity", text))?.as_bytes();
        let significant = match digits.iter().position(|digit| *digit != b'0') {
            Some(start) => &digits[start..],
            None if digits.is_empty() => return Err(parse_error("quantity", text)),
            None => &[],
        };
        if significant.len() > 64 {
            return Err(parse_error("quantity", text));
        }
        let mut limbs = [0u64; 4];
        for (position, digit) in significant.iter().rev().enumerate() {
            let value = hex_value(*digit).ok_or_else(|| parse_error("quantity", text))?;
            limbs[position / 16] |= u64::from(value) << ((position % 16) * 4);
        }
        Ok(Self(limbs))
    }

    /// Parses a decimal number.
    ///
    /// Returns `None` for an empty string, a non-digit or a value above 2^256 - 1.
    pub fn from_dec_str(text: &str) -> Option<Self> {
        if text.is_empty() {
            return None;
        }
        let mut value = Self::ZERO;
        for digit in text.bytes() {
            if !digit.is_ascii_digit() {
                return None;
            }
            value = value.checked_mul(Self::from_u64(10))?;
            value = value.checked_add(Self::from_u64(u64::from(digit - b'0')))?;
        }
        Some(value)
    }

    /// Returns true for zero.
    pub fn is_zero(self) -> bool {
        self.0 == [0; 4]
    }

    /// Returns the value as a `u64` if it fits.
    pub fn to_u64(self) -> Option<u64> {
        (self.0[1..] == [0; 3]).then_some(self.0[0])
    }

    /// Adds, returning `None` on overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        let mut out = [0u64; 4];
        let mut carry = false;
        for (index, limb) in out.iter_mut().enumerate() {
            let (sum, first) = self.0[index].overflowing_add(other.0[index]);
            let (sum, second) = sum.overflowing_add(u64::from(carry));
            *limb = sum;
            carry = first || second;
        }
        (!carry).then_some(Self(out))
    }

    /// Subtracts, returning `None` if `other` is larger.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        let mut out = [0u64; 4];
        let mut borrow = false;
        for (index, limb) in out.iter_mut().enumerate() {
            let (difference, first) = self.0[index].overflowing_sub(other.0[index]);
            let (difference, second) = difference.overflowing_sub(u64::from(borrow));
            *limb = difference;
            borrow = first || second;
        }
        (!borrow).then_some(Self(out))
    }

    /// Multiplies, returning `None` on overflow.
    #[expect(clippy::cast_possible_truncation, reason = "taking the low and high limbs")]
    pub fn checked_mul(self, other: Self) -> Option<Self> {
        let mut out = [0u64; 8];
        for (i, left) in self.0.iter().enumerate() {
            let mut carry = 0u128;
            for (j, right) in other.0.iter().enumerate() {
                let product =
                    u128::from(*left) * u128::from(*right) + u128::from(out[i + j]) + carry;
                out[i + j] = product as u64;
                carry = product >> 64;
            }
            out[i + 4] = carry as u64;
        }
        (out[4..] == [0; 4]).then_some(Self([out[0], out[1], out[2], out[3]]))
    }

    /// Divides by a small divisor, returning the quotient and the remainder.
    #[expect(clippy::cast_possible_truncation, reason = "quotient limbs fit u64 by construction")]
    fn div_rem_u64(self, divisor: u64) -> (Self, u64) {
        let mut out = [0u64; 4];
        let mut remainder = 0u128;
        for index in (0..4).rev() {
            let current = (remainder << 64) | u128::from(self.0[index]);
            out[index] = (current / u128::from(divisor)) as u64;
            remainder = current % u128::from(divisor);
        }
        (Self(out), remainder as u64)
    }
}

impl PartialOrd for U256 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for U256 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.iter().rev().cmp(other.0.iter().rev())
    }
}

impl fmt::Display for U256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const CHUNK: u64 = 10_000_000_000_000_000_000; // 10^19
        if self.is_zero() {
            return f.pad("0");
        }
        let mut chunks = Vec::with_capacity(4);
        let mut rest = *self;
        while !rest.is_zero() {
            let (quotient, remainder) = rest.div_rem_u64(CHUNK);
            chunks.push(remainder);
            rest = quotient;
        }
        let mut text = String::with_capacity(78);
        for (index, chunk) in chunks.iter().rev().enumerate() {
            if index == 0 {
                text.push_str(&chunk.to_string());
            } else {
                text.push_str(&format!("{chunk:019}"));
            }
        }
        f.pad(&text)
    }
}

impl fmt::Debug for U256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<u64> for U256 {
    fn from(value: u64) -> Self {
        Self::from_u64(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_formatting_covers_the_full_range() {
        assert_eq!(U256::ZERO.to_string(), "0");
        assert_eq!(U256::from_u64(405_738_107_000_000_000).to_string(), "405738107000000000");
        assert_eq!(
            U256::MAX.to_string(),
            "115792089237316195423570985008687907853269984665640564039457584007913129639935"
        );
        assert_eq!(U256::from_u128(1 << 64).to_string(), "18446744073709551616");
        assert_eq!(format!("{:>5}", U256::from_u64(7)), "    7");
    }

    #[test]
    fn hex_quantities_parse_exactly() {
        assert_eq!(U256::from_hex_quantity("0x0").unwrap(), U256::ZERO);
        assert_eq!(
            U256::from_hex_quantity("0x5a178a89b930e00").unwrap().to_string(),
            "405738107000000000"
        );
        let max = format!("0x{}", "f".repeat(64));
        assert_eq!(U256::from_hex_quantity(&max).unwrap(), U256::MAX);
        assert_eq!(U256::from_hex_quantity(&format!("0x00{}", "f".repeat(64))).unwrap(), U256::MAX);
        for bad in ["", "0x", "12", "0xg", &format!("0x1{}", "0".repeat(64))] {
            assert!(U256::from_hex_quantity(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arithmetic_checks_overflow() {
        let a = U256::from_u64(u64::MAX);
        assert_eq!(a.checked_add(U256::from_u64(1)).unwrap(), U256::from_u128(1 << 64));
        assert_eq!(U256::MAX.checked_add(U256::from_u64(1)), None);
        assert_eq!(U256::ZERO.checked_sub(U256::from_u64(1)), None);
        assert_eq!(
            U256::from_u128(1 << 64).checked_sub(U256::from_u64(1)).unwrap(),
            U256::from_u64(u64::MAX)
        );
        assert_eq!(
            a.checked_mul(a).unwrap().to_string(),
            "340282366920938463426481119284349108225"
        );
        assert_eq!(U256::MAX.checked_mul(U256::from_u64(2)), None);
        assert_eq!(U256::from_dec_str(&U256::MAX.to_string()), Some(U256::MAX));
        assert!(U256::from_u64(2) > U256::from_u64(1));
        assert!(U256::from_u128(1 << 64) > U256::from_u64(u64::MAX));
    }

    #[test]
    fn bytes_are_big_endian() {
        let value = U256::from_u64(0x0102);
        let bytes = value.to_be_bytes();
        assert_eq!(bytes[30..], [1, 2]);
        assert_eq!(U256::from_be_bytes(bytes), value);
        assert_eq!(U256::from_be_slice(&[1, 2]), Some(value));
        assert_eq!(U256::from_be_slice(&[0; 33]), None);
    }

    #[test]
    fn addresses_and_hashes_round_trip_lower_case() {
        let text = "0xBB9bc244D798123fDe783fCc1C72d3Bb8C189413";
        let address = EvmAddress::from_hex(text).unwrap();
        assert_eq!(address.to_string(), text.to_lowercase());
        assert!(EvmAddress::from_hex("0x1234").is_err());
        let hash = "0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d";
        assert_eq!(B256::from_hex(hash).unwrap().to_string(), hash);
        assert!(B256::from_hex(&hash[2..]).is_err());
    }
}
