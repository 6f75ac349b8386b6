//! `show address|tx` and `status` for the EVM chains of a store (`DIR/evm/<chain>/`): which chain
//! a request goes to, and the documents.

use std::path::Path;

use cointrail_store::evm::{
    AssetBalance, EvmCounts, EvmStore, EvmView, FlowRecord, chain_dir, evm_chains,
};
use cointrail_store::{LabelTable, StoreError};
use cointrail_types::{B256, EvmAddress, Label};
use serde::Serialize;

use crate::{QueryError, Result};

/// Flows listed by [`evm_address`] (the latest ones).
pub const EVM_ADDRESS_FLOWS: usize = 100;

/// An EVM address (`show address 0x…`).
#[derive(Debug, Clone, Serialize)]
pub struct EvmAddressJson {
    /// The address, lower-case `0x` hex.
    pub address: String,
    /// The EVM chain answered from.
    pub chain: String,
    /// What it received and sent, per asset (native first, then tokens by first appearance).
    pub balances: Vec<EvmBalanceJson>,
    /// Flows in and out.
    pub flow_count: u64,
    /// Block of its first flow.
    pub first_block: Option<u64>,
    /// Block of its last flow.
    pub last_block: Option<u64>,
    /// Labels whose address text is this address (lower-case `0x` hex).
    pub labels: Vec<Label>,
    /// The latest flows (at most [`EVM_ADDRESS_FLOWS`]), in chain order.
    pub flows: Vec<EvmFlowJson>,
    /// `true` when older flows were left out of `flows`.
    pub flows_truncated: bool,
    /// Its deposit-address cluster and role, when `cointrail cluster --chain` ran on this chain.
    pub clustering: Option<crate::EvmClusteringJson>,
    /// Why `clustering` is missing although the chain was clustered (e.g. stale after a
    /// reorganisation).
    pub clustering_note: Option<String>,
}

/// An asset of an EVM chain.
#[derive(Debug, Clone, Serialize)]
pub struct EvmAssetJson {
    /// Asset id in the store (0 = the native currency).
    pub id: u32,
    /// `native`, `erc20` or `erc721`.
    pub kind: &'static str,
    /// Token contract (`None` for the native currency).
    pub contract: Option<String>,
    /// Symbol (the native currency's, or what the token answered).
    pub symbol: Option<String>,
    /// Decimals (18 for the native currency).
    pub decimals: Option<u8>,
}

/// Totals of one asset of [`EvmAddressJson`], as exact decimal strings of integer base units (wei,
/// token units; for EIP-721, token counts).
#[derive(Debug, Clone, Serialize)]
pub struct EvmBalanceJson {
    /// The asset.
    pub asset: EvmAssetJson,
    /// Sum received.
    pub received: String,
    /// Sum sent (fees and burns included).
    pub sent: String,
    /// Received minus sent (negative when the history starts after genesis).
    pub balance: String,
    /// Incoming flows.
    pub flows_in: u64,
    /// Outgoing flows.
    pub flows_out: u64,
}

/// A value flow.
#[derive(Debug, Clone, Serialize)]
pub struct EvmFlowJson {
    /// Block number.
    pub block: u64,
    /// Transaction hash (`None` for block-level flows: withdrawals, rewards).
    pub tx: Option<String>,
    /// `native`, `fee`, `burn`, `internal`, `erc20`, `erc721`, `withdrawal`, `reward`.
    pub kind: &'static str,
    /// Sender (`mint` for issued ether).
    pub from: String,
    /// Recipient (`burn` for burned ether).
    pub to: String,
    /// Native symbol, or the token contract.
    pub asset: String,
    /// Token symbol, when known (the native symbol for native flows).
    pub symbol: Option<String>,
    /// Decimals of the asset, when known (18 for native flows).
    pub decimals: Option<u8>,
    /// Amount in base units (the token id for EIP-721), exact decimal.
    pub amount: String,
}

impl EvmFlowJson {
    /// Returns the amount in whole units with the symbol (`29 ETH`), or in base units when the
    /// decimals are unknown (or the amount exceeds 128 bits).
    pub fn amount_text(&self) -> String {
        let symbol = self.symbol.as_deref().unwrap_or(&self.asset);
        match (self.amount.parse::<u128>(), self.decimals) {
            (Ok(amount), Some(decimals)) => {
                format!("{} {symbol}", crate::asset_units(amount, Some(decimals)))
            }
            _ => format!("{} base units of {symbol}", self.amount),
        }
    }
}

/// An EVM transaction (`show tx 0x…`): its value flows.
#[derive(Debug, Clone, Serialize)]
pub struct EvmTxJson {
    /// The EVM chain answered from.
    pub chain: String,
    /// Transaction hash.
    pub hash: String,
    /// Block number.
    pub block: u64,
    /// Block hash.
    pub block_hash: String,
    /// Block timestamp (seconds since the epoch).
    pub time: u64,
    /// Index in the block.
    pub index: u32,
    /// Its flows, in stored order (native, internal, token, fee, burn).
    pub flows: Vec<EvmFlowJson>,
}

/// An EVM chain of [`crate::StatusJson`].
#[derive(Debug, Clone, Serialize)]
pub struct EvmChainStatusJson {
    /// Name in the store.
    pub chain: String,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// First stored block.
    pub first_block: Option<u64>,
    /// Tip number (`None` when empty).
    pub tip_height: Option<u64>,
    /// Tip hash.
    pub tip_hash: Option<String>,
    /// Row counts.
    pub counts: EvmCounts,
    /// Block ranges `[first, last]` without internal transfers (no tracer on the node).
    pub coverage_gaps: Vec<[u64; 2]>,
    /// Sum of the chain directory's file sizes.
    pub bytes_on_disk: u64,
}

/// Returns `true` for `0x` followed by 40 hex digits.
pub fn is_evm_address(text: &str) -> bool {
    is_prefixed_hex(text.trim(), 40)
}

/// Returns `true` for `0x` followed by 64 hex digits (an EVM transaction hash; Bitcoin txids have
/// no prefix).
pub fn is_evm_tx_hash(text: &str) -> bool {
    is_prefixed_hex(text.trim(), 64)
}

fn is_prefixed_hex(text: &str, digits: usize) -> bool {
    let body = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"));
    body.is_some_and(|body| body.len() == digits && body.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Returns the EVM chain a request goes to: `chain` if given (it must exist), else the store's only
/// EVM chain.
///
/// # Errors
///
/// [`QueryError::NotFound`] when the store has no (such) EVM chain, [`QueryError::Invalid`] when it
/// holds several and none was named.
pub fn select_evm_chain(dir: &Path, chain: Option<&str>) -> Result<String> {
    let chains = evm_chains(dir)?;
    match chain {
        Some(name) if chains.iter().any(|known| known == name) => Ok(name.to_owned()),
        Some(name) if chains.is_empty() => {
            Err(QueryError::not_found(format!("the store holds no EVM chain (asked for {name})")))
        }
        Some(name) => Err(QueryError::not_found(format!(
            "the store holds no EVM chain {name} (it holds {})",
            chains.join(", ")
        ))),
        None => match chains.as_slice() {
            [] => Err(QueryError::not_found("the store holds no EVM chain")),
            [only] => Ok(only.clone()),
            several => Err(QueryError::invalid(format!(
                "the store holds several EVM chains ({}): pass --chain NAME",
                several.join(", ")
            ))),
        },
    }
}

/// The native currency's symbol of well-known chain ids (`ETH` otherwise).
pub(crate) fn native_symbol(chain_id: u64) -> &'static str {
    match chain_id {
        56 | 97 => "BNB",
        137 | 80_002 => "POL",
        43_114 | 43_113 => "AVAX",
        100 => "XDAI",
        250 => "FTM",
        _ => "ETH",
    }
}

pub(crate) struct Chain<'a> {
    pub(crate) view: EvmView<'a>,
    pub(crate) native: &'static str,
}

impl Chain<'_> {
    pub(crate) fn asset(&self, id: u32) -> EvmAssetJson {
        if id == 0 {
            return EvmAssetJson {
                id,
                kind: "native",
                contract: None,
                symbol: Some(self.native.to_owned()),
                decimals: Some(18),
            };
        }
        match self.view.asset(id) {
            Some(info) => EvmAssetJson {
                id,
                kind: if info.erc721 { "erc721" } else { "erc20" },
                contract: Some(info.contract.to_string()),
                symbol: info.symbol,
                decimals: info.decimals,
            },
            None => {
                EvmAssetJson { id, kind: "erc20", contract: None, symbol: None, decimals: None }
            }
        }
    }

    fn balance(&self, balance: &AssetBalance) -> EvmBalanceJson {
        EvmBalanceJson {
            asset: self.asset(balance.asset),
            received: balance.received.to_string(),
            sent: balance.sent.to_string(),
            balance: balance.balance_text(),
            flows_in: balance.flows_in,
            flows_out: balance.flows_out,
        }
    }

    pub(crate) fn flow(&self, flow: &FlowRecord) -> EvmFlowJson {
        let asset = self.asset(flow.asset);
        EvmFlowJson {
            block: flow.block,
            tx: flow.tx.and_then(|number| self.view.tx(number)).map(|tx| tx.hash.to_string()),
            kind: flow.kind.name(),
            from: flow.from.map_or_else(|| "mint".to_owned(), |address| address.to_string()),
            to: flow.to.map_or_else(|| "burn".to_owned(), |address| address.to_string()),
            asset: asset.contract.clone().or_else(|| asset.symbol.clone()).unwrap_or_default(),
            symbol: asset.symbol,
            decimals: asset.decimals,
            amount: flow.amount.to_string(),
        }
    }
}

pub(crate) fn open_chain(dir: &Path, chain: Option<&str>) -> Result<EvmStore> {
    let name = select_evm_chain(dir, chain)?;
    Ok(EvmStore::open(dir, &name)?)
}

/// Returns the EVM address `text` on chain `chain` (or the store's only EVM chain): balances per
/// asset, the latest flows and the labels from `labels`. An address with no flows is not an error.
///
/// # Errors
///
/// [`QueryError::Invalid`] for text that is not an EVM address or when the chain is ambiguous,
/// [`QueryError::NotFound`] without (such) an EVM chain, or a store error.
pub fn evm_address(
    dir: &Path,
    labels: &LabelTable,
    chain: Option<&str>,
    text: &str,
) -> Result<EvmAddressJson> {
    let text = text.trim();
    let address =
        EvmAddress::from_hex(text).map_err(|error| QueryError::invalid(error.to_string()))?;
    let store = open_chain(dir, chain)?;
    let view = store.view();
    let chain = Chain { native: native_symbol(view.spec().chain_id), view };
    let flows = chain.view.flows_of(&address);
    let shown = flows.len().saturating_sub(EVM_ADDRESS_FLOWS);
    let address_text = address.to_string();
    let (clustering, clustering_note) = match crate::evm_cluster::evm_cluster_of(
        dir,
        &chain.view,
        labels,
        &address,
        crate::EVM_CLUSTER_MEMBERS,
    ) {
        Ok(clustering) => (clustering, None),
        Err(QueryError::Invalid(note)) => (None, Some(note)),
        Err(error) => return Err(error),
    };
    Ok(EvmAddressJson {
        clustering,
        clustering_note,
        chain: chain.view.spec().name.clone(),
        balances: chain.view.balances(&address).iter().map(|b| chain.balance(b)).collect(),
        flow_count: flows.len() as u64,
        first_block: flows.first().map(|flow| flow.block),
        last_block: flows.last().map(|flow| flow.block),
        labels: labels.of(&address_text).cloned().collect(),
        flows: flows[shown..].iter().map(|flow| chain.flow(flow)).collect(),
        flows_truncated: shown > 0,
        address: address_text,
    })
}

/// Returns the EVM transaction `text` (`0x` and 64 hex digits) with its flows.
///
/// # Errors
///
/// [`QueryError::Invalid`] for text that is not a hash or an ambiguous chain,
/// [`QueryError::NotFound`] for a transaction the chain does not have.
pub fn evm_tx(dir: &Path, chain: Option<&str>, text: &str) -> Result<EvmTxJson> {
    let text = text.trim();
    let hash = B256::from_hex(text).map_err(|error| QueryError::invalid(error.to_string()))?;
    let store = open_chain(dir, chain)?;
    let view = store.view();
    let name = view.spec().name.clone();
    let tx = view.tx_by_hash(&hash).ok_or_else(|| {
        QueryError::not_found(format!("tx {text} is not in EVM chain {name} of the store"))
    })?;
    let block = view.block(tx.block).ok_or_else(|| {
        QueryError::Store(StoreError::Corrupt { what: "a stored EVM tx has no block".to_owned() })
    })?;
    let chain = Chain { native: native_symbol(view.spec().chain_id), view };
    let flows = (block.first_flow..block.first_flow + block.flow_count)
        .filter_map(|id| chain.view.flow(id))
        .filter(|flow| flow.tx == Some(tx.number))
        .map(|flow| chain.flow(&flow))
        .collect();
    Ok(EvmTxJson {
        chain: name,
        hash: tx.hash.to_string(),
        block: tx.block,
        block_hash: block.block.hash.to_string(),
        time: block.block.timestamp,
        index: tx.index,
        flows,
    })
}

fn dir_bytes(dir: &Path) -> Result<u64> {
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir).map_err(StoreError::from)? {
        let metadata = entry.and_then(|entry| entry.metadata()).map_err(StoreError::from)?;
        if metadata.is_file() {
            bytes += metadata.len();
        }
    }
    Ok(bytes)
}

/// Returns the status of every EVM chain of the store at `dir`, by name.
///
/// # Errors
///
/// A store error if a chain cannot be read.
pub fn evm_status(dir: &Path) -> Result<Vec<EvmChainStatusJson>> {
    evm_chains(dir)?
        .into_iter()
        .map(|name| {
            let store = EvmStore::open(dir, &name)?;
            let view = store.view();
            let tip = view.tip();
            Ok(EvmChainStatusJson {
                chain: name.clone(),
                chain_id: view.spec().chain_id,
                first_block: view.first_block(),
                tip_height: tip.map(|tip| tip.block.number),
                tip_hash: tip.map(|tip| tip.block.hash.to_string()),
                counts: view.counts(),
                coverage_gaps: view
                    .coverage_gaps()
                    .into_iter()
                    .map(|(first, last)| [first, last])
                    .collect(),
                bytes_on_disk: dir_bytes(&chain_dir(dir, &name))?,
            })
        })
        .collect()
}
