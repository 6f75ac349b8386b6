//! Pure transformation: a block, its receipts and (optionally) its call traces, as the node
//! answered them in JSON, into value flows. No I/O; every field is checked, and a malformed,
//! incomplete or inconsistent answer gives a [`TransformError`] naming the block, the method and
//! the field, never a panic.
//!
//! Rules (see `docs/evm.md`):
//! - **native**: the `value` of a successful transaction (`status` 1, or no `status` before
//!   Byzantium and no failed top-level trace), sender to `to`, or to the receipt's
//!   `contractAddress` for a contract creation;
//! - **fee**: `gasUsed × effectiveGasPrice` (or `gasPrice` where receipts lack it) is paid by every
//!   included transaction, failed or not. Before EIP-1559 (no `baseFeePerGas`) all of it goes to
//!   the block's `miner`; after, `gasUsed × baseFeePerGas` is burned (**burn** flow, to the `burn`
//!   pseudo party) and only the rest (the priority fee) goes to the `miner`. EIP-4844 blob gas
//!   (`blobGasUsed × blobGasPrice`) is burned too;
//! - **internal**: from call traces, every frame below the top-level call that moves value (`CALL`
//!   with value, `CREATE`/`CREATE2` endowments, `SELFDESTRUCT` balances) and is not reverted (the
//!   frame and its ancestors have no `error`). `CALLCODE` and `DELEGATECALL` move no balance;
//! - **erc20** / **erc721**: `Transfer(address,address,uint256)` logs of successful transactions:
//!   3 topics and 32 bytes of data is EIP-20 (amount in data), 4 topics and no data is EIP-721
//!   (token id in topic 3, stored in the amount field);
//! - **withdrawal** (EIP-4895, gwei × 10^9 from `mint`) and **reward** (`trace_block` reward traces,
//!   from `mint`) are block-level flows.
//!
//! Positions: the log index for token flows, the depth-first index of the call frame (the
//! top-level call is 0, reverted frames are counted too) for internal flows, the index in the
//! block's list for withdrawals and reward traces, and 0 (1 for the blob burn) otherwise. The
//! call-frame numbering is the same for `debug_traceBlockByNumber` and `trace_block`.

use std::collections::HashMap;
use std::fmt;

use cointrail_store::evm::{Asset, EvmBlock, FlowKind};
use cointrail_types::{B256, EvmAddress, U256};
use serde_json::Value;

use crate::error::TransformError;

/// `keccak256("Transfer(address,address,uint256)")`, topic 0 of EIP-20 and EIP-721 transfers.
pub const TRANSFER_TOPIC: [u8; 32] = [
    0xdd, 0xf2, 0x52, 0xad, 0x1b, 0xe2, 0xc8, 0x9b, 0x69, 0xc2, 0xb0, 0x68, 0xfc, 0x37, 0x8d, 0xaa,
    0x95, 0x2b, 0xa7, 0xf1, 0x63, 0xc4, 0xa1, 0x16, 0x28, 0xf5, 0x5a, 0x4d, 0xf5, 0x23, 0xb3, 0xef,
];

/// JSON-RPC method names, as they appear in errors.
pub mod method {
    /// `eth_getBlockByNumber` with full transactions.
    pub const BLOCK: &str = "eth_getBlockByNumber";
    /// `eth_getBlockReceipts` (or `eth_getTransactionReceipt` per transaction).
    pub const RECEIPTS: &str = "eth_getBlockReceipts";
    /// `debug_traceBlockByNumber` with `{"tracer": "callTracer"}`.
    pub const CALL_TRACER: &str = "debug_traceBlockByNumber";
    /// `trace_block` (Parity/OpenEthereum, Erigon, Nethermind, Reth).
    pub const TRACE_BLOCK: &str = "trace_block";
}

/// The call traces of a block, in one of the two formats nodes offer.
#[derive(Debug, Clone, PartialEq)]
pub enum Traces {
    /// The `result` of `debug_traceBlockByNumber(n, {"tracer": "callTracer"})`: one entry per
    /// transaction, each `{"result": frame}` (optionally with `txHash`).
    CallTracer(Value),
    /// The `result` of `trace_block(n)`: a flat list of traces in depth-first order.
    Parity(Value),
}

/// What the node answered for one block.
#[derive(Debug, Clone, PartialEq)]
pub struct RawBlock {
    /// The block number that was asked for.
    pub number: u64,
    /// The `result` of `eth_getBlockByNumber(n, true)`.
    pub block: Value,
    /// The receipts, one per transaction in block order (the `result` of `eth_getBlockReceipts`).
    pub receipts: Value,
    /// The call traces, if the node has a tracer.
    pub traces: Option<Traces>,
}

/// One value flow of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Index of the transaction in its block, `None` for block-level flows.
    pub tx_index: Option<u32>,
    /// Position (see the module documentation).
    pub position: u32,
    /// Kind.
    pub kind: FlowKind,
    /// Sender, `None` for `mint`.
    pub from: Option<EvmAddress>,
    /// Recipient, `None` for `burn`.
    pub to: Option<EvmAddress>,
    /// Asset.
    pub asset: Asset,
    /// Amount in the asset's smallest unit (wei, token units), or the token id for EIP-721.
    pub amount: U256,
}

/// The flows of one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockFlows {
    /// The block's header facts.
    pub block: EvmBlock,
    /// The fee recipient.
    pub miner: EvmAddress,
    /// Transaction hashes in block order.
    pub txs: Vec<B256>,
    /// Flows in order: per transaction (native, internal, token, fee, burn), then block-level.
    pub flows: Vec<Flow>,
}

impl BlockFlows {
    /// Returns the token contracts moved in this block, in order of first appearance, each with
    /// whether it moved as EIP-721.
    pub fn tokens(&self) -> Vec<(EvmAddress, bool)> {
        let mut seen = HashMap::new();
        let mut tokens = Vec::new();
        for flow in &self.flows {
            if let Asset::Token(contract) = flow.asset
                && seen.insert(contract, ()).is_none()
            {
                tokens.push((contract, flow.kind == FlowKind::Erc721));
            }
        }
        tokens
    }
}

/// Where in an answer a field was read, for error messages.
#[derive(Debug, Clone, Copy)]
enum At {
    Block,
    Tx(usize),
    Receipt(usize),
    Log(usize, usize),
    Trace(usize),
    Withdrawal(usize),
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Block => f.write_str("block"),
            Self::Tx(index) => write!(f, "transaction {index}"),
            Self::Receipt(index) => write!(f, "receipt {index}"),
            Self::Log(receipt, log) => write!(f, "receipt {receipt} log {log}"),
            Self::Trace(index) => write!(f, "trace {index}"),
            Self::Withdrawal(index) => write!(f, "withdrawal {index}"),
        }
    }
}

/// Reads fields of one method's answer for one block, turning every problem into an error.
#[derive(Debug, Clone, Copy)]
struct Reader {
    block: u64,
    method: &'static str,
}

impl Reader {
    fn error(self, what: String) -> TransformError {
        TransformError { block: self.block, method: self.method, what }
    }

    fn field<'a>(self, object: &'a Value, name: &str, at: At) -> Result<&'a Value, TransformError> {
        if !object.is_object() {
            return Err(self.error(format!("{at} is not an object")));
        }
        match object.get(name) {
            Some(value) if !value.is_null() => Ok(value),
            _ => Err(self.error(format!("{at}: missing field `{name}`"))),
        }
    }

    fn optional<'a>(self, object: &'a Value, name: &str) -> Option<&'a Value> {
        object.get(name).filter(|value| !value.is_null())
    }

    fn text<'a>(self, value: &'a Value, name: &str, at: At) -> Result<&'a str, TransformError> {
        value.as_str().ok_or_else(|| self.error(format!("{at}: `{name}` is not a string")))
    }

    fn quantity_of(self, value: &Value, name: &str, at: At) -> Result<U256, TransformError> {
        if let Some(number) = value.as_u64() {
            return Ok(U256::from_u64(number));
        }
        let text = self.text(value, name, at)?;
        U256::from_hex_quantity(text)
            .map_err(|error| self.error(format!("{at}: `{name}`: {error}")))
    }

    fn quantity(self, object: &Value, name: &str, at: At) -> Result<U256, TransformError> {
        self.quantity_of(self.field(object, name, at)?, name, at)
    }

    fn small(self, object: &Value, name: &str, at: At) -> Result<u64, TransformError> {
        self.quantity(object, name, at)?
            .to_u64()
            .ok_or_else(|| self.error(format!("{at}: `{name}` is out of range")))
    }

    fn address_of(self, value: &Value, name: &str, at: At) -> Result<EvmAddress, TransformError> {
        EvmAddress::from_hex(self.text(value, name, at)?)
            .map_err(|error| self.error(format!("{at}: `{name}`: {error}")))
    }

    fn address(self, object: &Value, name: &str, at: At) -> Result<EvmAddress, TransformError> {
        self.address_of(self.field(object, name, at)?, name, at)
    }

    fn optional_address(
        self,
        object: &Value,
        name: &str,
        at: At,
    ) -> Result<Option<EvmAddress>, TransformError> {
        self.optional(object, name).map(|value| self.address_of(value, name, at)).transpose()
    }

    fn hash_of(self, value: &Value, name: &str, at: At) -> Result<B256, TransformError> {
        B256::from_hex(self.text(value, name, at)?)
            .map_err(|error| self.error(format!("{at}: `{name}`: {error}")))
    }

    fn hash(self, object: &Value, name: &str, at: At) -> Result<B256, TransformError> {
        self.hash_of(self.field(object, name, at)?, name, at)
    }

    fn array<'a>(
        self,
        value: &'a Value,
        name: &str,
        at: At,
    ) -> Result<&'a [Value], TransformError> {
        value
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| self.error(format!("{at}: `{name}` is not an array")))
    }

    fn bytes(self, object: &Value, name: &str, at: At) -> Result<Vec<u8>, TransformError> {
        let text = self.text(self.field(object, name, at)?, name, at)?;
        decode_hex(text).ok_or_else(|| self.error(format!("{at}: `{name}` is not hex data")))
    }

    fn index(self, value: usize, what: &str) -> Result<u32, TransformError> {
        u32::try_from(value).map_err(|_| self.error(format!("more than 2^32 {what}")))
    }

    fn product(self, left: U256, right: U256, at: At) -> Result<U256, TransformError> {
        left.checked_mul(right).ok_or_else(|| self.error(format!("{at}: fee overflows 256 bits")))
    }
}

/// Decodes `0x`-prefixed hex data (an even number of digits).
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.strip_prefix("0x")?.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let value = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    digits.chunks_exact(2).map(|pair| Some((value(pair[0])? << 4) | value(pair[1])?)).collect()
}

/// The internal flows of a block's traces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceFlows {
    /// Internal flows per transaction index.
    pub per_tx: Vec<Vec<Flow>>,
    /// Whether each transaction's top-level call failed.
    pub failed: Vec<bool>,
    /// Reward flows (from `trace_block` only).
    pub rewards: Vec<Flow>,
    /// The value of each transaction's top-level call or creation (from `trace_block` only): the
    /// transaction's own value, for blocks fetched with transaction hashes only.
    pub top_value: Vec<Option<U256>>,
}

/// Turns a block's call traces into internal flows (and rewards).
///
/// `tx_hashes` are the block's transactions in order: the traces must have one entry per
/// transaction (`debug_traceBlockByNumber`) or name them (`trace_block`).
///
/// # Errors
///
/// [`TransformError`] naming the block and the trace method when the traces are malformed or do
/// not match the transactions.
pub fn internal_flows(
    block: u64,
    traces: &Traces,
    tx_hashes: &[B256],
) -> Result<TraceFlows, TransformError> {
    let mut out = TraceFlows {
        per_tx: vec![Vec::new(); tx_hashes.len()],
        failed: vec![false; tx_hashes.len()],
        rewards: Vec::new(),
        top_value: vec![None; tx_hashes.len()],
    };
    match traces {
        Traces::CallTracer(result) => {
            let reader = Reader { block, method: method::CALL_TRACER };
            let entries = reader.array(result, "result", At::Block)?;
            if entries.len() != tx_hashes.len() {
                return Err(reader.error(format!(
                    "{} traces for {} transactions",
                    entries.len(),
                    tx_hashes.len()
                )));
            }
            for (index, (entry, hash)) in entries.iter().zip(tx_hashes).enumerate() {
                let at = At::Trace(index);
                if let Some(traced) = reader.optional(entry, "txHash") {
                    let traced = reader.hash_of(traced, "txHash", at)?;
                    if traced != *hash {
                        return Err(reader.error(format!(
                            "{at}: trace of {traced}, expected transaction {hash}"
                        )));
                    }
                }
                if let Some(error) = reader.optional(entry, "error") {
                    return Err(reader.error(format!("{at}: the tracer failed: {error}")));
                }
                let frame = reader.field(entry, "result", at)?;
                let tx_index = reader.index(index, "transactions")?;
                out.failed[index] = reader.optional(frame, "error").is_some();
                let mut counter = 0u32;
                walk_call_frame(
                    reader,
                    frame,
                    tx_index,
                    true,
                    &mut counter,
                    &mut out.per_tx[index],
                )?;
            }
        }
        Traces::Parity(result) => {
            let reader = Reader { block, method: method::TRACE_BLOCK };
            let entries = reader.array(result, "result", At::Block)?;
            let mut counters = vec![0u32; tx_hashes.len()];
            let mut reverted: Vec<Vec<Vec<u64>>> = vec![Vec::new(); tx_hashes.len()];
            for (index, trace) in entries.iter().enumerate() {
                parity_trace(
                    reader,
                    trace,
                    index,
                    tx_hashes,
                    &mut counters,
                    &mut reverted,
                    &mut out,
                )?;
            }
        }
    }
    Ok(out)
}

/// Walks a `callTracer` frame depth first, numbering every frame.
fn walk_call_frame(
    reader: Reader,
    frame: &Value,
    tx_index: u32,
    top: bool,
    counter: &mut u32,
    flows: &mut Vec<Flow>,
) -> Result<(), TransformError> {
    let at = At::Trace(tx_index as usize);
    let position = *counter;
    *counter = counter.saturating_add(1);
    let reverted = reader.optional(frame, "error").is_some();
    let kind = match reader.optional(frame, "type") {
        Some(kind) => reader.text(kind, "type", at)?.to_ascii_uppercase(),
        None => return Err(reader.error(format!("{at}: frame {position}: missing field `type`"))),
    };
    let moves_value = matches!(kind.as_str(), "CALL" | "CREATE" | "CREATE2" | "SELFDESTRUCT");
    if !top && !reverted && moves_value {
        let value = match reader.optional(frame, "value") {
            Some(value) => reader.quantity_of(value, "value", at)?,
            None => U256::ZERO,
        };
        if !value.is_zero() {
            let from = reader.address(frame, "from", at)?;
            let to = reader.address(frame, "to", at)?;
            flows.push(Flow {
                tx_index: Some(tx_index),
                position,
                kind: FlowKind::Internal,
                from: Some(from),
                to: Some(to),
                asset: Asset::Native,
                amount: value,
            });
        }
    }
    if let Some(calls) = reader.optional(frame, "calls") {
        let mut nested = Vec::new();
        for call in reader.array(calls, "calls", at)? {
            walk_call_frame(reader, call, tx_index, false, counter, &mut nested)?;
        }
        // A reverted frame undoes everything below it, but its frames keep their numbers.
        if !reverted {
            flows.append(&mut nested);
        }
    }
    Ok(())
}

/// Handles one trace of `trace_block`.
fn parity_trace(
    reader: Reader,
    trace: &Value,
    index: usize,
    tx_hashes: &[B256],
    counters: &mut [u32],
    reverted: &mut [Vec<Vec<u64>>],
    out: &mut TraceFlows,
) -> Result<(), TransformError> {
    let at = At::Trace(index);
    let kind = reader.text(reader.field(trace, "type", at)?, "type", at)?;
    let action = reader.field(trace, "action", at)?;
    if kind == "reward" {
        let position = reader.index(out.rewards.len(), "rewards")?;
        out.rewards.push(Flow {
            tx_index: None,
            position,
            kind: FlowKind::Reward,
            from: None,
            to: Some(reader.address(action, "author", at)?),
            asset: Asset::Native,
            amount: reader.quantity(action, "value", at)?,
        });
        return Ok(());
    }
    let tx = reader.small(trace, "transactionPosition", at)?;
    let tx = usize::try_from(tx).ok().filter(|tx| *tx < tx_hashes.len()).ok_or_else(|| {
        reader.error(format!("{at}: transactionPosition {tx} past the block's transactions"))
    })?;
    let hash = reader.hash(trace, "transactionHash", at)?;
    if hash != tx_hashes[tx] {
        return Err(reader.error(format!(
            "{at}: trace of {hash}, expected transaction {} at position {tx}",
            tx_hashes[tx]
        )));
    }
    let tx_index = reader.index(tx, "transactions")?;
    let position = counters[tx];
    counters[tx] = counters[tx].saturating_add(1);
    let address: Vec<u64> = reader
        .array(reader.field(trace, "traceAddress", at)?, "traceAddress", at)?
        .iter()
        .map(|step| step.as_u64().ok_or_else(|| reader.error(format!("{at}: bad traceAddress"))))
        .collect::<Result<_, _>>()?;
    if address.is_empty() && matches!(kind, "call" | "create") {
        out.top_value[tx] = Some(reader.quantity(action, "value", at)?);
    }
    let failed = reader.optional(trace, "error").is_some();
    if failed {
        if address.is_empty() {
            out.failed[tx] = true;
        }
        reverted[tx].push(address.clone());
    }
    let is_reverted = reverted[tx].iter().any(|prefix| address.starts_with(prefix));
    if address.is_empty() || is_reverted {
        return Ok(());
    }
    let flow = match kind {
        "call" => {
            let call_type = reader.optional(action, "callType").and_then(Value::as_str);
            if call_type != Some("call") {
                return Ok(());
            }
            (reader.address(action, "from", at)?, reader.address(action, "to", at)?, {
                reader.quantity(action, "value", at)?
            })
        }
        "create" => {
            let Some(result) = reader.optional(trace, "result") else { return Ok(()) };
            (
                reader.address(action, "from", at)?,
                reader.address(result, "address", at)?,
                reader.quantity(action, "value", at)?,
            )
        }
        "suicide" | "selfdestruct" => (
            reader.address(action, "address", at)?,
            reader.address(action, "refundAddress", at)?,
            reader.quantity(action, "balance", at)?,
        ),
        _ => return Ok(()),
    };
    let (from, to, amount) = flow;
    if !amount.is_zero() {
        out.per_tx[tx].push(Flow {
            tx_index: Some(tx_index),
            position,
            kind: FlowKind::Internal,
            from: Some(from),
            to: Some(to),
            asset: Asset::Native,
            amount,
        });
    }
    Ok(())
}

/// Turns the token `Transfer` log `log` (of transaction `tx_index`) into a flow, or `None` if it
/// is another event.
fn token_flow(
    reader: Reader,
    log: &Value,
    tx_index: u32,
    at: At,
) -> Result<Option<Flow>, TransformError> {
    if reader.optional(log, "removed").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    let topics = reader.array(reader.field(log, "topics", at)?, "topics", at)?;
    let Some(first) = topics.first() else { return Ok(None) };
    if reader.hash_of(first, "topics", at)?.0 != TRANSFER_TOPIC {
        return Ok(None);
    }
    let data = reader.bytes(log, "data", at)?;
    let kind = match (topics.len(), data.len()) {
        (3, 32) => FlowKind::Erc20,
        (4, 0) => FlowKind::Erc721,
        // Other shapes (e.g. early tokens with unindexed arguments) are not EIP-20/721 transfers.
        _ => return Ok(None),
    };
    let topic_address = |topic: &Value| -> Result<EvmAddress, TransformError> {
        let hash = reader.hash_of(topic, "topics", at)?;
        let mut address = [0u8; 20];
        address.copy_from_slice(&hash.0[12..]);
        Ok(EvmAddress(address))
    };
    let amount = if kind == FlowKind::Erc20 {
        U256::from_be_slice(&data).unwrap_or(U256::ZERO)
    } else {
        U256::from_be_bytes(reader.hash_of(&topics[3], "topics", at)?.0)
    };
    let position = reader.small(log, "logIndex", at)?;
    Ok(Some(Flow {
        tx_index: Some(tx_index),
        position: u32::try_from(position)
            .map_err(|_| reader.error(format!("{at}: `logIndex` out of range")))?,
        kind,
        from: Some(topic_address(&topics[1])?),
        to: Some(topic_address(&topics[2])?),
        asset: Asset::Token(reader.address(log, "address", at)?),
        amount,
    }))
}

/// Transforms one block's answers into its flows.
///
/// # Errors
///
/// [`TransformError`] naming the block, the method and the field when an answer is malformed,
/// incomplete, or does not match the others (block number, hashes, transaction count).
pub fn transform_block(raw: &RawBlock) -> Result<BlockFlows, TransformError> {
    let reader = Reader { block: raw.number, method: method::BLOCK };
    let block = &raw.block;
    let number = reader.small(block, "number", At::Block)?;
    if number != raw.number {
        return Err(reader.error(format!("answered block {number}")));
    }
    let block_hash = reader.hash(block, "hash", At::Block)?;
    let parent_hash = reader.hash(block, "parentHash", At::Block)?;
    let timestamp = reader.small(block, "timestamp", At::Block)?;
    let miner = reader.address(block, "miner", At::Block)?;
    let base_fee = reader
        .optional(block, "baseFeePerGas")
        .map(|value| reader.quantity_of(value, "baseFeePerGas", At::Block))
        .transpose()?;
    let txs =
        reader.array(reader.field(block, "transactions", At::Block)?, "transactions", At::Block)?;
    // Transactions as hashes only (a lean block): each one's sender and recipient come from its
    // receipt and its value from its top-level `trace_block` trace.
    let lean = txs.first().is_some_and(Value::is_string);
    if lean && !matches!(raw.traces, Some(Traces::Parity(_))) {
        return Err(reader.error(
            "transactions are hashes: ask with full transactions, or with trace_block".into(),
        ));
    }
    let mut hashes = Vec::with_capacity(txs.len());
    for (index, tx) in txs.iter().enumerate() {
        if tx.is_string() != lean {
            return Err(reader.error("transactions mix hashes and objects".into()));
        }
        hashes.push(if lean {
            reader.hash_of(tx, "transactions", At::Tx(index))?
        } else {
            reader.hash(tx, "hash", At::Tx(index))?
        });
    }

    let receipts_reader = Reader { block: raw.number, method: method::RECEIPTS };
    let receipts = receipts_reader.array(&raw.receipts, "result", At::Block)?;
    if receipts.len() != txs.len() {
        return Err(receipts_reader.error(format!(
            "{} receipts for {} transactions",
            receipts.len(),
            txs.len()
        )));
    }
    let traced = match &raw.traces {
        Some(traces) => Some(internal_flows(raw.number, traces, &hashes)?),
        None => None,
    };

    let mut flows = Vec::new();
    for (index, ((tx, receipt), hash)) in txs.iter().zip(receipts).zip(&hashes).enumerate() {
        let at = At::Tx(index);
        let tx_index = reader.index(index, "transactions")?;
        if let Some(position) = reader.optional(tx, "transactionIndex")
            && reader.quantity_of(position, "transactionIndex", at)?
                != U256::from(u64::from(tx_index))
        {
            return Err(reader.error(format!("{at} ({hash}): wrong `transactionIndex`")));
        }
        if let Some(tx_block) = reader.optional(tx, "blockHash") {
            let tx_block = reader.hash_of(tx_block, "blockHash", at)?;
            if tx_block != block_hash {
                return Err(reader.error(format!(
                    "{at} ({hash}): from block {tx_block}, expected {block_hash}"
                )));
            }
        }
        let receipt_at = At::Receipt(index);
        let receipt_hash = receipts_reader.hash(receipt, "transactionHash", receipt_at)?;
        if receipt_hash != *hash {
            return Err(receipts_reader.error(format!(
                "{receipt_at}: receipt of {receipt_hash}, expected transaction {hash}"
            )));
        }
        if let Some(receipt_block) = receipts_reader.optional(receipt, "blockHash") {
            let receipt_block = receipts_reader.hash_of(receipt_block, "blockHash", receipt_at)?;
            if receipt_block != block_hash {
                return Err(receipts_reader.error(format!(
                    "{receipt_at}: receipt from block {receipt_block}, expected {block_hash}"
                )));
            }
        }
        let (from, value) = if lean {
            let value =
                traced.as_ref().and_then(|traced| traced.top_value[index]).ok_or_else(|| {
                    Reader { block: raw.number, method: method::TRACE_BLOCK }
                        .error(format!("{at} ({hash}): no top-level trace"))
                })?;
            (receipts_reader.address(receipt, "from", receipt_at)?, value)
        } else {
            (reader.address(tx, "from", at)?, reader.quantity(tx, "value", at)?)
        };
        let status = match receipts_reader.optional(receipt, "status") {
            Some(status) => {
                Some(!receipts_reader.quantity_of(status, "status", receipt_at)?.is_zero())
            }
            None => None,
        };
        let failed_trace = traced.as_ref().is_some_and(|traced| traced.failed[index]);
        let success = status.unwrap_or(!failed_trace);

        if success && !value.is_zero() {
            let to = if lean {
                receipts_reader.optional_address(receipt, "to", receipt_at)?
            } else {
                reader.optional_address(tx, "to", at)?
            };
            let to = match to {
                Some(to) => to,
                None => receipts_reader.address(receipt, "contractAddress", receipt_at)?,
            };
            flows.push(Flow {
                tx_index: Some(tx_index),
                position: 0,
                kind: FlowKind::Native,
                from: Some(from),
                to: Some(to),
                asset: Asset::Native,
                amount: value,
            });
        }
        if success && let Some(traced) = &traced {
            flows.extend_from_slice(&traced.per_tx[index]);
        }
        let logs = receipts_reader.array(
            receipts_reader.field(receipt, "logs", receipt_at)?,
            "logs",
            receipt_at,
        )?;
        if success {
            for (log_number, log) in logs.iter().enumerate() {
                if let Some(flow) =
                    token_flow(receipts_reader, log, tx_index, At::Log(index, log_number))?
                {
                    flows.push(flow);
                }
            }
        }

        let gas_used = receipts_reader.quantity(receipt, "gasUsed", receipt_at)?;
        let price = match receipts_reader.optional(receipt, "effectiveGasPrice") {
            Some(price) => receipts_reader.quantity_of(price, "effectiveGasPrice", receipt_at)?,
            None if lean => receipts_reader.quantity(receipt, "effectiveGasPrice", receipt_at)?,
            None => reader.quantity(tx, "gasPrice", at)?,
        };
        let total = receipts_reader.product(gas_used, price, receipt_at)?;
        let burned = match base_fee {
            Some(base_fee) => receipts_reader.product(gas_used, base_fee, receipt_at)?,
            None => U256::ZERO,
        };
        // Deposit transactions of OP-stack chains pay no gas (price 0) and are exempt.
        let burned = if price.is_zero() { U256::ZERO } else { burned };
        let tip = total.checked_sub(burned).ok_or_else(|| {
            receipts_reader.error(format!(
                "{receipt_at}: effective gas price {price} below the base fee {}",
                base_fee.unwrap_or(U256::ZERO)
            ))
        })?;
        if !tip.is_zero() {
            flows.push(Flow {
                tx_index: Some(tx_index),
                position: 0,
                kind: FlowKind::Fee,
                from: Some(from),
                to: Some(miner),
                asset: Asset::Native,
                amount: tip,
            });
        }
        if !burned.is_zero() {
            flows.push(Flow {
                tx_index: Some(tx_index),
                position: 0,
                kind: FlowKind::Burn,
                from: Some(from),
                to: None,
                asset: Asset::Native,
                amount: burned,
            });
        }
        if let (Some(blob_gas), Some(blob_price)) = (
            receipts_reader.optional(receipt, "blobGasUsed"),
            receipts_reader.optional(receipt, "blobGasPrice"),
        ) {
            let blob_gas = receipts_reader.quantity_of(blob_gas, "blobGasUsed", receipt_at)?;
            let blob_price = receipts_reader.quantity_of(blob_price, "blobGasPrice", receipt_at)?;
            let blob_fee = receipts_reader.product(blob_gas, blob_price, receipt_at)?;
            if !blob_fee.is_zero() {
                flows.push(Flow {
                    tx_index: Some(tx_index),
                    position: 1,
                    kind: FlowKind::Burn,
                    from: Some(from),
                    to: None,
                    asset: Asset::Native,
                    amount: blob_fee,
                });
            }
        }
    }
    if let Some(traced) = &traced {
        flows.extend_from_slice(&traced.rewards);
    }
    if let Some(withdrawals) = reader.optional(block, "withdrawals") {
        let gwei = U256::from_u64(1_000_000_000);
        for (index, withdrawal) in
            reader.array(withdrawals, "withdrawals", At::Block)?.iter().enumerate()
        {
            let at = At::Withdrawal(index);
            let amount = reader.quantity(withdrawal, "amount", at)?;
            let amount = amount
                .checked_mul(gwei)
                .ok_or_else(|| reader.error(format!("{at}: amount overflows 256 bits")))?;
            if amount.is_zero() {
                continue;
            }
            flows.push(Flow {
                tx_index: None,
                position: reader.index(index, "withdrawals")?,
                kind: FlowKind::Withdrawal,
                from: None,
                to: Some(reader.address(withdrawal, "address", at)?),
                asset: Asset::Native,
                amount,
            });
        }
    }
    Ok(BlockFlows {
        block: EvmBlock {
            number,
            hash: block_hash,
            parent_hash,
            timestamp,
            traced: raw.traces.is_some(),
        },
        miner,
        txs: hashes,
        flows,
    })
}

/// Decodes the answer of `symbol()`: an ABI `string`, or a `bytes32` (early tokens such as MKR
/// and EOS). Trailing NUL bytes are dropped; `None` for anything that is neither, or not UTF-8.
pub fn decode_symbol(data: &[u8]) -> Option<String> {
    let text = if data.len() >= 64 {
        let offset = U256::from_be_slice(&data[..32])?.to_u64()?;
        let offset = usize::try_from(offset).ok()?;
        let length_word = data.get(offset..offset.checked_add(32)?)?;
        let length = usize::try_from(U256::from_be_slice(length_word)?.to_u64()?).ok()?;
        let start = offset + 32;
        data.get(start..start.checked_add(length)?)?
    } else if data.len() == 32 {
        data
    } else {
        return None;
    };
    let end = text.iter().rposition(|byte| *byte != 0).map_or(0, |last| last + 1);
    let text = std::str::from_utf8(&text[..end]).ok()?;
    if text.contains('\0') {
        return None;
    }
    Some(text.to_owned())
}

/// Decodes the answer of `decimals()`: a `uint8` in a 32-byte word; `None` for anything else.
pub fn decode_decimals(data: &[u8]) -> Option<u8> {
    if data.len() != 32 {
        return None;
    }
    u8::try_from(U256::from_be_slice(data)?.to_u64()?).ok()
}
