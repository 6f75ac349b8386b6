//! Block decoding: raw block bytes to flat transaction, input and output records.
//!
//! [`DecodedBlock::decode_into`] reuses the block's vectors, so decoding a chain allocates only
//! when a block is larger than every block before it. Transaction ids are hashed from the pieces of
//! the block buffer (no copy of the transaction). The decoder never panics: any malformed input is
//! a [`DecodeError`] carrying the byte offset inside the block where decoding failed.

use cointrail_types::{AddressKey, Hash32};
use sha2::{Digest, Sha256};

use crate::address::script_to_address;

/// Bytes in a block header.
const HEADER_LEN: usize = 80;
/// Fewest bytes one transaction can occupy (version, two empty counts, lock time).
const MIN_TX_LEN: usize = 10;
/// Fewest bytes one input can occupy (outpoint, empty script, sequence).
const MIN_INPUT_LEN: usize = 41;
/// Fewest bytes one output can occupy (value, empty script).
const MIN_OUTPUT_LEN: usize = 9;

/// Returns SHA-256 of SHA-256 of `data`.
pub(crate) fn double_sha256(data: &[u8]) -> Hash32 {
    Hash32(Sha256::digest(Sha256::digest(data)).into())
}

/// A parsed 80-byte block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockHeader {
    /// Block version (with BIP-9 signalling bits).
    pub version: i32,
    /// Hash of the previous block (all zero for genesis).
    pub prev_blockhash: Hash32,
    /// Merkle root of the block's transaction ids.
    pub merkle_root: Hash32,
    /// Block timestamp (Unix seconds, as the miner set it).
    pub time: u32,
    /// Compact encoding of the proof-of-work target (see [`crate::target_from_bits`]).
    pub bits: u32,
    /// Proof-of-work nonce.
    pub nonce: u32,
}

impl BlockHeader {
    /// Parses a serialized header.
    pub fn parse(bytes: &[u8; 80]) -> Self {
        let u32_at = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let hash_at = |at: usize| {
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&bytes[at..at + 32]);
            Hash32(hash)
        };
        Self {
            version: i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            prev_blockhash: hash_at(4),
            merkle_root: hash_at(36),
            time: u32_at(68),
            bits: u32_at(72),
            nonce: u32_at(76),
        }
    }

    /// Returns the block hash: double SHA-256 of the serialized header.
    pub fn block_hash(bytes: &[u8; 80]) -> Hash32 {
        double_sha256(bytes)
    }
}

/// One transaction of a [`DecodedBlock`]; its inputs and outputs are ranges of the block's vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedTx {
    /// Transaction id: double SHA-256 of the serialization without witness data.
    pub txid: Hash32,
    /// Index of the first input in [`DecodedBlock::inputs`].
    pub input_start: u32,
    /// Number of inputs (0 for a coinbase transaction).
    pub input_count: u32,
    /// Index of the first output in [`DecodedBlock::outputs`].
    pub output_start: u32,
    /// Number of outputs.
    pub output_count: u32,
    /// Whether this is the block's coinbase (first transaction, one input with a null prevout).
    pub is_coinbase: bool,
    /// `true` for Litecoin's MWEB integration transaction (HogEx), always the last of a block.
    pub is_hogex: bool,
    /// Serialized size in bytes, including witness data.
    pub size: u32,
}

/// A spending input: the output it spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedInput {
    /// Id of the transaction whose output is spent.
    pub prev_txid: Hash32,
    /// Index of the spent output in that transaction.
    pub prev_vout: u32,
}

/// A transaction output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedOutput {
    /// Value in satoshis.
    pub value: u64,
    /// What the output pays to; `None` for `OP_RETURN` outputs (see [`crate::script_to_address`]).
    pub address: Option<AddressKey>,
}

/// A decoded block: header, hash and flat vectors of transactions, inputs and outputs.
#[derive(Debug, Clone, Default)]
pub struct DecodedBlock {
    /// The parsed header.
    pub header: BlockHeader,
    /// The block hash.
    pub hash: Hash32,
    /// Transactions in block order.
    pub txs: Vec<DecodedTx>,
    /// Spending inputs of all transactions, in order (coinbase inputs are not included).
    pub inputs: Vec<DecodedInput>,
    /// Outputs of all transactions, in order.
    pub outputs: Vec<DecodedOutput>,
    /// Bytes of a Litecoin MWEB extension block skipped after the transactions (0 otherwise).
    pub extension_bytes: u32,
}

impl DecodedBlock {
    /// Decodes a serialized block (header, transaction count, transactions, nothing after).
    ///
    /// # Errors
    ///
    /// Returns [`DecodeError`] if the bytes are not exactly one well-formed block.
    pub fn decode(raw: &[u8]) -> Result<Self, DecodeError> {
        let mut block = Self::default();
        block.decode_into(raw)?;
        Ok(block)
    }

    /// Decodes a serialized block into `self`, clearing and refilling its vectors so that their
    /// allocations are reused. On error the contents of `self` are unspecified.
    ///
    /// # Errors
    ///
    /// Returns [`DecodeError`] if the bytes are not exactly one well-formed block.
    pub fn decode_into(&mut self, raw: &[u8]) -> Result<(), DecodeError> {
        self.decode_with(raw, false)
    }

    /// Decodes a Litecoin block: like [`DecodedBlock::decode_into`], and also accepts the
    /// MimbleWimble extension (MWEB, LIP-0002/0003): a HogEx transaction (transaction flag `0x08`
    /// with an empty MWEB part) and the MWEB block serialized after the last transaction. The MWEB
    /// block is confidential and is skipped whole ([`DecodedBlock::extension_bytes`] says how many
    /// bytes); an MWEB transaction body inside a block's transaction list is an error, never
    /// misread.
    ///
    /// # Errors
    ///
    /// As [`DecodedBlock::decode_into`].
    pub fn decode_litecoin_into(&mut self, raw: &[u8]) -> Result<(), DecodeError> {
        self.decode_with(raw, true)
    }

    fn decode_with(&mut self, raw: &[u8], litecoin: bool) -> Result<(), DecodeError> {
        self.extension_bytes = 0;
        self.txs.clear();
        self.inputs.clear();
        self.outputs.clear();
        if u32::try_from(raw.len()).is_err() {
            return Err(DecodeError { offset: 0, kind: DecodeErrorKind::BlockTooLarge });
        }
        let mut reader = Reader { data: raw, pos: 0 };
        let header: &[u8; HEADER_LEN] = reader.array("block header")?;
        self.header = BlockHeader::parse(header);
        self.hash = BlockHeader::block_hash(header);
        let tx_count = reader.count("transaction count", MIN_TX_LEN)?;
        if tx_count == 0 {
            return Err(DecodeError { offset: HEADER_LEN, kind: DecodeErrorKind::NoTransactions });
        }
        self.txs.reserve(tx_count);
        for index in 0..tx_count {
            let tx = self.decode_tx(&mut reader, index == 0, litecoin)?;
            self.txs.push(tx);
        }
        let hogex = self.txs.last().is_some_and(|tx| tx.is_hogex);
        if litecoin && hogex && reader.remaining() > 0 {
            // The MWEB block follows a block whose last transaction is the HogEx.
            self.extension_bytes = to_u32(reader.remaining());
            return Ok(());
        }
        if reader.remaining() > 0 {
            return Err(DecodeError {
                offset: reader.pos,
                kind: DecodeErrorKind::TrailingBytes { count: reader.remaining() },
            });
        }
        Ok(())
    }

    /// Decodes one transaction at the reader's position, appending its inputs and outputs.
    fn decode_tx(
        &mut self,
        reader: &mut Reader<'_>,
        first: bool,
        litecoin: bool,
    ) -> Result<DecodedTx, DecodeError> {
        let tx_start = reader.pos;
        let version = reader.take(4, "transaction version")?;
        let mut mweb = false;
        let segwit = match reader.data.get(reader.pos) {
            Some(0) => match reader.data.get(reader.pos + 1) {
                Some(1) => true,
                Some(&flag) if litecoin && (flag == 8 || flag == 9) => {
                    mweb = true;
                    flag == 9
                }
                Some(&flag) => {
                    return Err(DecodeError {
                        offset: reader.pos + 1,
                        kind: DecodeErrorKind::BadSegwitFlag { flag },
                    });
                }
                None => {
                    return Err(DecodeError {
                        offset: reader.pos + 1,
                        kind: DecodeErrorKind::Truncated { what: "segwit flag" },
                    });
                }
            },
            _ => false,
        };
        if segwit || mweb {
            reader.pos += 2;
        }

        let body_start = reader.pos;
        let input_count = reader.count("input count", MIN_INPUT_LEN)?;
        let input_start = self.inputs.len();
        let mut is_coinbase = false;
        for _ in 0..input_count {
            let prev_txid = Hash32(*reader.array::<32>("input prevout txid")?);
            let prev_vout = reader.u32("input prevout index")?;
            let script_len = reader.compact("input script length")?;
            reader.take_u64(script_len, "input script")?;
            reader.take(4, "input sequence")?;
            if first && input_count == 1 && prev_vout == u32::MAX && prev_txid == Hash32::default()
            {
                is_coinbase = true;
            } else {
                self.inputs.push(DecodedInput { prev_txid, prev_vout });
            }
        }

        let output_count = reader.count("output count", MIN_OUTPUT_LEN)?;
        let output_start = self.outputs.len();
        self.outputs.reserve(output_count);
        for _ in 0..output_count {
            let value = u64::from_le_bytes(*reader.array::<8>("output value")?);
            let script_len = reader.compact("output script length")?;
            let script = reader.take_u64(script_len, "output script")?;
            self.outputs.push(DecodedOutput { value, address: script_to_address(script) });
        }
        let body_end = reader.pos;

        if segwit {
            for _ in 0..input_count {
                let items = reader.count("witness item count", 1)?;
                for _ in 0..items {
                    let len = reader.compact("witness item length")?;
                    reader.take_u64(len, "witness item")?;
                }
            }
        }
        let mut is_hogex = false;
        if mweb {
            // An MWEB part that is empty marks the HogEx; a full one has no place in a block.
            let present = *reader.array::<1>("mweb transaction flag")?;
            if present[0] != 0 {
                return Err(DecodeError {
                    offset: reader.pos - 1,
                    kind: DecodeErrorKind::MwebTransaction,
                });
            }
            is_hogex = true;
        }
        let lock_time = reader.take(4, "transaction lock time")?;

        let mut hasher = Sha256::new();
        hasher.update(version);
        hasher.update(&reader.data[body_start..body_end]);
        hasher.update(lock_time);
        let txid = Hash32(Sha256::digest(hasher.finalize()).into());

        Ok(DecodedTx {
            txid,
            input_start: to_u32(input_start),
            input_count: to_u32(self.inputs.len() - input_start),
            output_start: to_u32(output_start),
            output_count: to_u32(output_count),
            is_coinbase,
            is_hogex,
            size: to_u32(reader.pos - tx_start),
        })
    }

    /// Recomputes the merkle root from the transaction ids (an odd level duplicates its last
    /// hash, as Bitcoin does). Returns all zeros for a block without transactions.
    pub fn merkle_root(&self) -> Hash32 {
        let mut level: Vec<[u8; 32]> = self.txs.iter().map(|tx| tx.txid.0).collect();
        while level.len() > 1 {
            if level.len() % 2 == 1
                && let Some(&last) = level.last()
            {
                level.push(last);
            }
            let pairs = level.len() / 2;
            for i in 0..pairs {
                let mut concat = [0u8; 64];
                concat[..32].copy_from_slice(&level[2 * i]);
                concat[32..].copy_from_slice(&level[2 * i + 1]);
                level[i] = double_sha256(&concat).0;
            }
            level.truncate(pairs);
        }
        level.first().map_or_else(Hash32::default, |root| Hash32(*root))
    }

    /// Returns the spending inputs of `tx` (empty for a coinbase).
    pub fn inputs_of(&self, tx: &DecodedTx) -> &[DecodedInput] {
        range(&self.inputs, tx.input_start, tx.input_count)
    }

    /// Returns the outputs of `tx`.
    pub fn outputs_of(&self, tx: &DecodedTx) -> &[DecodedOutput] {
        range(&self.outputs, tx.output_start, tx.output_count)
    }
}

/// Returns `items[start..start + count]`, or an empty slice if that is out of range (a `DecodedTx`
/// of another block).
fn range<T>(items: &[T], start: u32, count: u32) -> &[T] {
    let start = start as usize;
    let end = start.saturating_add(count as usize);
    items.get(start..end).unwrap_or_default()
}

/// Converts a length bounded by the block length (checked to fit `u32`) to `u32`.
fn to_u32(value: usize) -> u32 {
    u32::try_from(value)
        .expect("lengths and counts are bounded by the block length, which fits u32")
}

/// A bounds-checked cursor over the block bytes.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn truncated(&self, what: &'static str) -> DecodeError {
        DecodeError { offset: self.pos, kind: DecodeErrorKind::Truncated { what } }
    }

    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if len > self.remaining() {
            return Err(self.truncated(what));
        }
        let bytes = &self.data[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    fn take_u64(&mut self, len: u64, what: &'static str) -> Result<&'a [u8], DecodeError> {
        match usize::try_from(len) {
            Ok(len) => self.take(len, what),
            Err(_) => Err(self.truncated(what)),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<&'a [u8; N], DecodeError> {
        let bytes = self.take(N, what)?;
        Ok(bytes.try_into().expect("take returned exactly N bytes"))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(*self.array::<4>(what)?))
    }

    /// Reads a Bitcoin CompactSize, rejecting non-canonical encodings as Bitcoin Core does.
    fn compact(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let start = self.pos;
        let first = self.take(1, what)?[0];
        let (value, min) = match first {
            0xfd => (u64::from(u16::from_le_bytes(*self.array::<2>(what)?)), 0xfd),
            0xfe => (u64::from(self.u32(what)?), 0x1_0000),
            0xff => (u64::from_le_bytes(*self.array::<8>(what)?), 0x1_0000_0000),
            small => return Ok(u64::from(small)),
        };
        if value < min {
            return Err(DecodeError {
                offset: start,
                kind: DecodeErrorKind::NonCanonicalCompactSize { what },
            });
        }
        Ok(value)
    }

    /// Reads a count of items that each take at least `min_len` bytes, rejecting counts that
    /// cannot fit in the remaining bytes.
    fn count(&mut self, what: &'static str, min_len: usize) -> Result<usize, DecodeError> {
        let start = self.pos;
        let count = self.compact(what)?;
        let fits = usize::try_from(count)
            .ok()
            .filter(|&count| count.saturating_mul(min_len) <= self.remaining());
        fits.ok_or(DecodeError {
            offset: start,
            kind: DecodeErrorKind::CountTooLarge { what, count },
        })
    }
}

/// A block that could not be decoded, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
#[non_exhaustive]
pub struct DecodeError {
    /// Byte offset inside the block where decoding failed.
    pub offset: usize,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

/// What was wrong with a block (see [`DecodeError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The block ended in the middle of a field.
    #[error("block truncated in {what}")]
    Truncated {
        /// The field being read.
        what: &'static str,
    },
    /// A count larger than the remaining bytes could hold.
    #[error("{what} {count} is larger than the remaining bytes could hold")]
    CountTooLarge {
        /// The count being read.
        what: &'static str,
        /// The count as read.
        count: u64,
    },
    /// A CompactSize integer encoded in more bytes than needed.
    #[error("non-canonical compact size in {what}")]
    NonCanonicalCompactSize {
        /// The field being read.
        what: &'static str,
    },
    /// A segwit marker (`00`) followed by a flag other than `01`.
    #[error("unknown segwit flag {flag:#04x}")]
    BadSegwitFlag {
        /// The flag byte.
        flag: u8,
    },
    /// A block with zero transactions.
    #[error("block has no transactions")]
    NoTransactions,
    /// A Litecoin transaction with an MWEB body inside the block's transaction list.
    #[error("litecoin transaction with an mweb body in the block's transaction list")]
    MwebTransaction,
    /// Bytes left over after the last transaction.
    #[error("{count} trailing bytes after the last transaction")]
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
    /// A block of 4 GiB or more.
    #[error("block is 4 GiB or larger")]
    BlockTooLarge,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mainnet genesis block.
    const GENESIS: &str = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c0101000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000";

    #[test]
    fn decodes_genesis() {
        let raw = hex::decode(GENESIS).unwrap();
        let block = DecodedBlock::decode(&raw).unwrap();
        assert_eq!(
            block.hash.to_string(),
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
        );
        assert_eq!(block.txs.len(), 1);
        let tx = block.txs[0];
        assert!(tx.is_coinbase);
        assert_eq!(tx.input_count, 0);
        assert_eq!(tx.size as usize, raw.len() - 81);
        assert_eq!(
            tx.txid.to_string(),
            "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
        );
        assert_eq!(block.merkle_root(), block.header.merkle_root);
        assert_eq!(block.header.bits, 0x1d00_ffff);
        assert_eq!(block.header.time, 1_231_006_505);
        assert_eq!(block.outputs_of(&tx)[0].value, 5_000_000_000);
        assert!(block.inputs_of(&tx).is_empty());
    }

    #[test]
    fn rejects_malformed_blocks_with_offsets() {
        let raw = hex::decode(GENESIS).unwrap();
        let mut trailing = raw.clone();
        trailing.push(0);
        let err = DecodedBlock::decode(&trailing).unwrap_err();
        assert_eq!(err.offset, raw.len());
        assert_eq!(err.kind, DecodeErrorKind::TrailingBytes { count: 1 });
        assert!(err.to_string().ends_with(&format!("at byte {}", raw.len())), "{err}");

        let err = DecodedBlock::decode(&raw[..50]).unwrap_err();
        assert_eq!(
            (err.offset, err.kind),
            (0, DecodeErrorKind::Truncated { what: "block header" })
        );

        let mut huge = raw[..80].to_vec();
        huge.extend_from_slice(&[0xfe, 0xff, 0xff, 0xff, 0x7f]);
        let err = DecodedBlock::decode(&huge).unwrap_err();
        assert_eq!(err.offset, 80);
        assert!(matches!(err.kind, DecodeErrorKind::CountTooLarge { .. }), "{err}");

        let mut non_canonical = raw[..80].to_vec();
        non_canonical.extend_from_slice(&[0xfd, 0x01, 0x00]);
        let err = DecodedBlock::decode(&non_canonical).unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::NonCanonicalCompactSize { .. }), "{err}");

        let mut empty = raw[..80].to_vec();
        empty.push(0);
        let err = DecodedBlock::decode(&empty).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::NoTransactions);
    }

    #[test]
    fn merkle_root_duplicates_the_last_hash() {
        let mut block = DecodedBlock::default();
        let tx = |byte: u8| DecodedTx {
            txid: Hash32([byte; 32]),
            input_start: 0,
            input_count: 0,
            output_start: 0,
            output_count: 0,
            is_coinbase: false,
            is_hogex: false,
            size: 0,
        };
        block.txs = vec![tx(1), tx(2), tx(3)];
        let pair = |a: [u8; 32], b: [u8; 32]| {
            let mut concat = [0u8; 64];
            concat[..32].copy_from_slice(&a);
            concat[32..].copy_from_slice(&b);
            double_sha256(&concat).0
        };
        let expected = pair(pair([1; 32], [2; 32]), pair([3; 32], [3; 32]));
        assert_eq!(block.merkle_root(), Hash32(expected));
        block.txs.clear();
        assert_eq!(block.merkle_root(), Hash32::default());
    }

    /// A Litecoin block after MWEB activation: the HogEx (flag 0x08, empty MWEB part) ends the
    /// transaction list and the MWEB block follows; both are handled explicitly, never misread.
    #[test]
    fn litecoin_hogex_and_extension_block_are_skipped_explicitly() {
        let coinbase: Vec<u8> = [
            &[1u8, 0, 0, 0][..],
            &[1],
            &[0u8; 32],
            &[0xff; 4],
            &[2, 0x51, 0x00],
            &[0xff; 4],
            &[1],
            &50_0000_0000u64.to_le_bytes(),
            &[1, 0x51],
            &[0; 4],
        ]
        .concat();
        let hogex = |mweb_part: u8| -> Vec<u8> {
            [
                &[2u8, 0, 0, 0][..],
                &[0x00, 0x08],
                &[1],
                &[7u8; 32],
                &[0, 0, 0, 0],
                &[0],
                &[0xff; 4],
                &[1],
                &1000u64.to_le_bytes(),
                &[1, 0x51],
                &[mweb_part],
                &[0; 4],
            ]
            .concat()
        };
        let block = |hogex: Vec<u8>, extension: &[u8]| -> Vec<u8> {
            [&[0u8; 80][..], &[2], &coinbase, &hogex, extension].concat()
        };
        let raw = block(hogex(0), &[1, 0xAA, 0xBB, 0xCC]);
        let mut decoded = DecodedBlock::default();
        decoded.decode_litecoin_into(&raw).unwrap();
        assert_eq!(decoded.txs.len(), 2);
        assert!(decoded.txs[1].is_hogex);
        assert_eq!(decoded.extension_bytes, 4);
        assert_eq!(decoded.outputs_of(&decoded.txs[1])[0].value, 1000);
        // Bitcoin rules: the flag is unknown.
        let error = decoded.decode_into(&raw).unwrap_err();
        assert!(matches!(error.kind, DecodeErrorKind::BadSegwitFlag { flag: 8 }));
        // An MWEB body inside the transaction list is an error, not a guess.
        let error = decoded.decode_litecoin_into(&block(hogex(1), &[])).unwrap_err();
        assert_eq!(error.kind, DecodeErrorKind::MwebTransaction);
        // Without a HogEx, trailing bytes are still an error.
        let plain = [&[0u8; 80][..], &[1], &coinbase, &[9]].concat();
        let error = decoded.decode_litecoin_into(&plain).unwrap_err();
        assert!(matches!(error.kind, DecodeErrorKind::TrailingBytes { count: 1 }));
    }
}
