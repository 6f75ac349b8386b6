//! EVM chains in the store: one directory per chain under `DIR/evm/<chain>/`, with its own
//! manifest and fixed-width columns of blocks, transactions, value flows, addresses and assets.
//!
//! The layout is specified in `docs/store-format.md` ("EVM chains"). It follows the UTXO store's
//! rules: sequential ids in chain order, append-only columns plus a few in-place links that only
//! ever go from empty to a value past the committed counts, and one atomic commit (the manifest
//! rename). Start with [`EvmStoreWriter::open`] to append and [`EvmStore::open`] to read.

mod deposits;
mod view;
mod writer;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use cointrail_types::{B256, EvmAddress, U256};
use fs_err as fs;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

pub use deposits::{
    DEPOSITS_FORMAT_VERSION, DepositClusters, DepositManifest, StoredDeposit, StoredDepositLink,
    StoredDepositParams, StoredDepositUser, StoredForward, StoredHotWallet, StoredService,
    write_deposit_clusters,
};
pub use view::{AssetBalance, EvmStore, EvmView};
pub use writer::EvmStoreWriter;

/// Version of the EVM chain layout (independent of the UTXO store's [`crate::FORMAT_VERSION`]).
pub const EVM_FORMAT_VERSION: u64 = 1;

/// Sub-directory of a store that holds the EVM chains.
pub const EVM_DIR: &str = "evm";

/// Bytes per row of `blocks.dat`.
pub(crate) const BLOCK_ROW: usize = 104;
/// Bytes per row of `tx.hash`.
pub(crate) const TX_ROW: usize = 32;
/// Bytes per row of `flows.dat`.
pub(crate) const FLOW_ROW: usize = 64;
/// Bytes per row of `flows.next`.
pub(crate) const FLOW_NEXT_ROW: usize = 16;
/// Bytes per row of `addr.key`.
pub(crate) const ADDR_ROW: usize = 20;
/// Bytes per row of `addr.link`.
pub(crate) const ADDR_LINK_ROW: usize = 16;
/// Bytes per row of `assets.dat`.
pub(crate) const ASSET_ROW: usize = 64;
/// Longest symbol stored, in bytes.
pub(crate) const SYMBOL_BYTES: usize = 32;

/// Party id of "no account": the `from` of issued ether (withdrawals, block rewards) and the `to`
/// of burned ether (the EIP-1559 base fee, EIP-4844 blob fees). Shown as `mint` / `burn`.
pub(crate) const NO_ACCOUNT: u32 = u32::MAX;
/// `tx` field of a flow that belongs to no transaction (withdrawals, block rewards).
pub(crate) const NO_TX: u32 = u32::MAX;

/// Block flag: internal transfers (traces) are not covered for this block.
pub const FLAG_NO_TRACES: u32 = 1;

/// Data files of a chain directory, in a fixed order.
pub(crate) const FILES: [&str; 7] =
    ["blocks.dat", "tx.hash", "flows.dat", "flows.next", "addr.key", "addr.link", "assets.dat"];

pub(crate) fn tx_index_file(bits: u32) -> String {
    format!("tx.idx.{bits}")
}

pub(crate) fn address_index_file(bits: u32) -> String {
    format!("addr.idx.{bits}")
}

/// Returns the directory of chain `name` in the store at `store_dir`.
pub fn chain_dir(store_dir: &Path, name: &str) -> PathBuf {
    store_dir.join(EVM_DIR).join(name)
}

/// Lists the EVM chains of the store at `store_dir` (those with a manifest), sorted by name.
///
/// # Errors
///
/// An I/O error if the directory exists but cannot be listed.
pub fn evm_chains(store_dir: &Path) -> Result<Vec<String>> {
    let root = store_dir.join(EVM_DIR);
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(&root)? {
        let entry = entry?;
        if entry.path().join(MANIFEST).is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Checks that a chain name is usable as a directory name.
fn valid_chain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
}

/// The chain a directory holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmChainSpec {
    /// Name of the chain in the store (`ethereum`, `anvil`, ...): lower case, digits, `-`, `_`.
    pub name: String,
    /// EIP-155 chain id.
    pub chain_id: u64,
}

/// What a flow is. Codes are stable (stored in `flows.dat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum FlowKind {
    /// The value of a successful transaction, sender to recipient (or the created contract).
    Native = 1,
    /// Gas paid to the block's fee recipient (`miner`): all of it before EIP-1559, the priority
    /// fee after.
    Fee = 2,
    /// Ether burned: the EIP-1559 base fee part of the gas and EIP-4844 blob gas, to `burn`.
    Burn = 3,
    /// A value transfer inside a transaction (call with value, create with endowment,
    /// self-destruct), from traces.
    Internal = 4,
    /// An EIP-20 `Transfer` log: the token contract is the asset, the amount in token units.
    Erc20 = 5,
    /// An EIP-721 `Transfer` log: the amount field holds the token id.
    Erc721 = 6,
    /// An EIP-4895 withdrawal from the beacon chain, from `mint` (amount in wei).
    Withdrawal = 7,
    /// A block or uncle reward (from `trace_block` reward traces), from `mint`.
    Reward = 8,
}

impl FlowKind {
    /// Returns the kind of a stored code.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Native,
            2 => Self::Fee,
            3 => Self::Burn,
            4 => Self::Internal,
            5 => Self::Erc20,
            6 => Self::Erc721,
            7 => Self::Withdrawal,
            8 => Self::Reward,
            _ => return None,
        })
    }

    /// Returns the lower-case name (`native`, `fee`, `burn`, `internal`, `erc20`, `erc721`,
    /// `withdrawal`, `reward`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Fee => "fee",
            Self::Burn => "burn",
            Self::Internal => "internal",
            Self::Erc20 => "erc20",
            Self::Erc721 => "erc721",
            Self::Withdrawal => "withdrawal",
            Self::Reward => "reward",
        }
    }
}

impl std::fmt::Display for FlowKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A stored block of an EVM chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvmBlock {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Parent block hash.
    pub parent_hash: B256,
    /// Timestamp (seconds since the Unix epoch).
    pub timestamp: u64,
    /// Whether internal transfers (traces) are covered for this block.
    pub traced: bool,
}

/// A stored block with its position in the other columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvmBlockInfo {
    /// The block.
    pub block: EvmBlock,
    /// Number of the block's first transaction; its transactions end where the next block's
    /// begin.
    pub first_tx: u32,
    /// Number of transactions.
    pub tx_count: u32,
    /// First flow id of the block.
    pub first_flow: u64,
    /// Number of flows.
    pub flow_count: u64,
}

/// A stored transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvmTxInfo {
    /// Sequential number in the stored chain.
    pub number: u32,
    /// Transaction hash.
    pub hash: B256,
    /// Number of the block that holds it.
    pub block: u64,
    /// Index in its block (`transactionIndex`).
    pub index: u32,
}

/// The asset a flow moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Asset {
    /// The chain's native currency (ether on Ethereum), in wei. Asset id 0.
    Native,
    /// A token contract.
    Token(EvmAddress),
}

/// A token contract and what it says of itself (`symbol()`, `decimals()`; `None` where the call
/// failed or answered garbage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetInfo {
    /// Contract address.
    pub contract: EvmAddress,
    /// Whether its transfers are EIP-721 (token ids) rather than EIP-20 (amounts).
    pub erc721: bool,
    /// Symbol (at most 32 bytes of UTF-8 are stored).
    pub symbol: Option<String>,
    /// Decimals.
    pub decimals: Option<u8>,
}

/// A value flow to append (addresses as keys; the writer assigns ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewFlow {
    /// Block number.
    pub block: u64,
    /// Transaction number in the stored chain, `None` for block-level flows.
    pub tx: Option<u32>,
    /// Position: log index for token transfers, call-frame index (depth first, the top-level call
    /// is 0) for internal transfers, withdrawal index, reward trace index; 0 otherwise.
    pub position: u32,
    /// Kind.
    pub kind: FlowKind,
    /// Sender, `None` for `mint`.
    pub from: Option<EvmAddress>,
    /// Recipient, `None` for `burn`.
    pub to: Option<EvmAddress>,
    /// Asset id: 0 for native, otherwise what [`EvmStoreWriter::push_asset`] returned.
    pub asset: u32,
    /// Amount (token id for EIP-721).
    pub amount: U256,
}

/// A stored value flow, with addresses resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRecord {
    /// Flow id (its row).
    pub id: u64,
    /// Block number.
    pub block: u64,
    /// Transaction number, `None` for block-level flows.
    pub tx: Option<u32>,
    /// Position (see [`NewFlow::position`]).
    pub position: u32,
    /// Kind.
    pub kind: FlowKind,
    /// Sender, `None` for `mint`.
    pub from: Option<EvmAddress>,
    /// Recipient, `None` for `burn`.
    pub to: Option<EvmAddress>,
    /// Asset id (0 = native).
    pub asset: u32,
    /// Amount (token id for EIP-721).
    pub amount: U256,
}

/// Committed row counts of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EvmCounts {
    /// Blocks.
    pub blocks: u64,
    /// Transactions.
    pub txs: u64,
    /// Value flows.
    pub flows: u64,
    /// Distinct addresses.
    pub addresses: u64,
    /// Token contracts.
    pub assets: u64,
}

/// The stored tip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvmTip {
    /// Block number.
    pub number: u64,
    /// Block hash (`0x` hex).
    #[serde(with = "hex_hash")]
    pub hash: B256,
}

mod hex_hash {
    use cointrail_types::B256;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(hash: &B256, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hash.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<B256, D::Error> {
        let text = String::deserialize(deserializer)?;
        B256::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

pub(crate) const MANIFEST: &str = "MANIFEST";

/// The manifest of a chain directory (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EvmManifest {
    pub(crate) format_version: u64,
    pub(crate) chain: String,
    pub(crate) chain_id: u64,
    /// Number of the block in row 0 (`None` while the chain holds no block).
    pub(crate) first_block: Option<u64>,
    pub(crate) tip: Option<EvmTip>,
    pub(crate) counts: EvmCounts,
    pub(crate) tx_index_bits: u32,
    pub(crate) address_index_bits: u32,
}

impl EvmManifest {
    pub(crate) fn read(dir: &Path) -> Result<Option<Self>> {
        crate::manifest::read_versioned(dir, MANIFEST, EVM_FORMAT_VERSION)
    }

    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        crate::manifest::write_json(dir, MANIFEST, self)
    }
}

/// Byte length of every file in [`FILES`] for the given counts.
pub(crate) fn committed_lengths(counts: &EvmCounts) -> [u64; 7] {
    let row = |count: u64, width: usize| count * width as u64;
    [
        row(counts.blocks, BLOCK_ROW),
        row(counts.txs, TX_ROW),
        row(counts.flows, FLOW_ROW),
        row(counts.flows, FLOW_NEXT_ROW),
        row(counts.addresses, ADDR_ROW),
        row(counts.addresses, ADDR_LINK_ROW),
        row(counts.assets, ASSET_ROW),
    ]
}

/// Encodes a block row: number u64 · hash 32 · parent hash 32 · timestamp u64 · first flow u64 ·
/// first tx u32 · first address u32 · first asset u32 · flags u32.
pub(crate) fn encode_block(block: &EvmBlock, first: &EvmCounts) -> Result<[u8; BLOCK_ROW]> {
    let narrow = |value: u64, what: &'static str| {
        u32::try_from(value).map_err(|_| StoreError::Capacity { what })
    };
    let mut row = [0u8; BLOCK_ROW];
    row[..8].copy_from_slice(&block.number.to_le_bytes());
    row[8..40].copy_from_slice(&block.hash.0);
    row[40..72].copy_from_slice(&block.parent_hash.0);
    row[72..80].copy_from_slice(&block.timestamp.to_le_bytes());
    row[80..88].copy_from_slice(&first.flows.to_le_bytes());
    row[88..92].copy_from_slice(&narrow(first.txs, "evm tx count")?.to_le_bytes());
    row[92..96].copy_from_slice(&narrow(first.addresses, "evm address count")?.to_le_bytes());
    row[96..100].copy_from_slice(&narrow(first.assets, "evm asset count")?.to_le_bytes());
    let flags = if block.traced { 0 } else { FLAG_NO_TRACES };
    row[100..104].copy_from_slice(&flags.to_le_bytes());
    Ok(row)
}

/// The counts before a block (its "first" fields) and the block itself.
pub(crate) fn decode_block(row: &[u8]) -> (EvmBlock, EvmCounts) {
    use crate::column::{read_u32, read_u64};
    let hash = |at: usize| {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&row[at..at + 32]);
        B256(bytes)
    };
    let block = EvmBlock {
        number: read_u64(row, 0),
        hash: hash(8),
        parent_hash: hash(40),
        timestamp: read_u64(row, 72),
        traced: read_u32(row, 100) & FLAG_NO_TRACES == 0,
    };
    let first = EvmCounts {
        blocks: 0,
        flows: read_u64(row, 80),
        txs: u64::from(read_u32(row, 88)),
        addresses: u64::from(read_u32(row, 92)),
        assets: u64::from(read_u32(row, 96)),
    };
    (block, first)
}

/// Encodes a flow row: block u64 · tx u32 · position u32 · kind u8 · 3 zero bytes · from u32 ·
/// to u32 · asset u32 · amount (32 bytes, big-endian).
pub(crate) fn encode_flow(flow: &NewFlow, from: u32, to: u32) -> [u8; FLOW_ROW] {
    let mut row = [0u8; FLOW_ROW];
    row[..8].copy_from_slice(&flow.block.to_le_bytes());
    row[8..12].copy_from_slice(&flow.tx.unwrap_or(NO_TX).to_le_bytes());
    row[12..16].copy_from_slice(&flow.position.to_le_bytes());
    row[16] = flow.kind as u8;
    row[20..24].copy_from_slice(&from.to_le_bytes());
    row[24..28].copy_from_slice(&to.to_le_bytes());
    row[28..32].copy_from_slice(&flow.asset.to_le_bytes());
    row[32..64].copy_from_slice(&flow.amount.to_be_bytes());
    row
}

/// Encodes an asset row: contract 20 · flags u8 (bit 0 decimals known, bit 1 symbol known, bit 2
/// EIP-721) · decimals u8 · symbol length u8 · symbol 32 (zero-padded) · 9 zero bytes.
pub(crate) fn encode_asset(asset: &AssetInfo) -> [u8; ASSET_ROW] {
    let mut row = [0u8; ASSET_ROW];
    row[..20].copy_from_slice(&asset.contract.0);
    let mut flags = 0u8;
    if let Some(decimals) = asset.decimals {
        flags |= 1;
        row[21] = decimals;
    }
    if let Some(symbol) = &asset.symbol {
        flags |= 2;
        let mut end = symbol.len().min(SYMBOL_BYTES);
        while !symbol.is_char_boundary(end) {
            end -= 1;
        }
        row[22] = u8::try_from(end).expect("at most 32");
        row[23..23 + end].copy_from_slice(&symbol.as_bytes()[..end]);
    }
    if asset.erc721 {
        flags |= 4;
    }
    row[20] = flags;
    row
}

pub(crate) fn decode_asset(row: &[u8]) -> AssetInfo {
    let mut contract = [0u8; 20];
    contract.copy_from_slice(&row[..20]);
    let flags = row[20];
    let length = usize::from(row[22]).min(SYMBOL_BYTES);
    AssetInfo {
        contract: EvmAddress(contract),
        erc721: flags & 4 != 0,
        decimals: (flags & 1 != 0).then_some(row[21]),
        symbol: (flags & 2 != 0)
            .then(|| String::from_utf8_lossy(&row[23..23 + length]).into_owned()),
    }
}
