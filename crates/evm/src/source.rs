//! Extraction: JSON-RPC over HTTP, I/O only.
//!
//! Calls go out as JSON-RPC batch arrays (several blocks' `eth_getBlockByNumber`,
//! `eth_getBlockReceipts` and traces in one HTTP request), on a bounded number of threads, with
//! retries and exponential backoff on transport failures and HTTP 429/5xx, an optional rate limit
//! (HTTP requests per second, shared by all threads) and a timeout on every request. What each
//! node offers (a tracer, `eth_getBlockReceipts`) is probed once and remembered.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use cointrail_store::evm::AssetInfo;
use cointrail_types::{B256, EvmAddress};
use serde_json::{Value, json};

use crate::error::{EvmError, Result};
use cointrail_ingest::http::{self, HttpError};

/// Largest JSON-RPC answer accepted: a batch of blocks with receipts and call traces can reach tens
/// of megabytes on mainnet.
const MAX_BODY: usize = 512 << 20;
use crate::transform::{RawBlock, Traces, decode_decimals, decode_hex, decode_symbol, method};

/// How to talk to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOptions {
    /// Timeout of each HTTP request (connect, write, read).
    pub timeout: Duration,
    /// Retries after a transport failure or an HTTP 429/5xx answer.
    pub retries: u32,
    /// Wait before the first retry; doubled at each retry (capped at 10 s).
    pub backoff: Duration,
    /// Most HTTP requests per second, across threads (`None`: no limit).
    pub requests_per_second: Option<u32>,
    /// Requests in flight at once (threads).
    pub concurrency: usize,
    /// Blocks per JSON-RPC batch request.
    pub blocks_per_request: usize,
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            retries: 5,
            backoff: Duration::from_millis(250),
            requests_per_second: None,
            concurrency: 8,
            blocks_per_request: 10,
        }
    }
}

/// Which tracer the node offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceMode {
    /// `debug_traceBlockByNumber` with the call tracer (Geth, Reth, Anvil, Erigon, Nethermind).
    CallTracer,
    /// `trace_block` (OpenEthereum, Erigon, Nethermind, Reth, Anvil): preferred when offered.
    Parity,
    /// Neither: internal transfers are not covered (recorded as a coverage gap).
    None,
}

impl TraceMode {
    /// Returns the method used, or `none`.
    pub fn name(self) -> &'static str {
        match self {
            Self::CallTracer => method::CALL_TRACER,
            Self::Parity => method::TRACE_BLOCK,
            Self::None => "none",
        }
    }
}

/// One call of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Method.
    pub method: &'static str,
    /// Parameters.
    pub params: Value,
    /// The block it concerns, for error messages.
    pub block: Option<u64>,
}

/// A JSON-RPC client for one node.
#[derive(Debug)]
pub struct RpcSource {
    url: String,
    options: SourceOptions,
    next_slot: Mutex<Instant>,
    trace_mode: Mutex<Option<TraceMode>>,
    block_receipts: Mutex<Option<bool>>,
}

fn hex(number: u64) -> String {
    format!("0x{number:x}")
}

impl RpcSource {
    /// Creates a client for `url` (`http://host[:port][/path]`).
    ///
    /// # Errors
    ///
    /// [`EvmError::Http`] for a URL this client cannot use (`https://` needs a TLS proxy).
    pub fn new(url: &str, options: SourceOptions) -> Result<Self> {
        if !url.starts_with("http://") || url.len() <= "http://".len() {
            return Err(EvmError::Http {
                method: "connect".to_owned(),
                block: None,
                source: HttpError::Url { url: url.to_owned() },
            });
        }
        Ok(Self {
            url: url.to_owned(),
            options,
            next_slot: Mutex::new(Instant::now()),
            trace_mode: Mutex::new(None),
            block_receipts: Mutex::new(None),
        })
    }

    /// Waits for the rate limit's next slot.
    fn throttle(&self) {
        let Some(rate) = self.options.requests_per_second.filter(|rate| *rate > 0) else {
            return;
        };
        let interval = Duration::from_secs(1) / rate;
        let wait = {
            let mut next = self.next_slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + interval;
            slot - now
        };
        if !wait.is_zero() {
            thread::sleep(wait);
        }
    }

    /// Posts a body, retrying transport failures and HTTP 429/5xx with backoff.
    fn post(&self, body: &[u8], label: &str, block: Option<u64>) -> Result<Vec<u8>> {
        let mut attempt = 0;
        loop {
            self.throttle();
            let answer = http::post_limited(
                &self.url,
                &[("Content-Type", "application/json")],
                body,
                self.options.timeout,
                MAX_BODY,
            );
            let retryable = match &answer {
                Ok(response) => response.status == 429 || response.status >= 500,
                Err(HttpError::Io { .. } | HttpError::Malformed { .. }) => true,
                Err(_) => false,
            };
            if !retryable || attempt >= self.options.retries {
                return match answer {
                    Ok(response) if response.status == 200 => Ok(response.body),
                    Ok(response) => Err(EvmError::Status {
                        method: label.to_owned(),
                        block,
                        status: response.status,
                    }),
                    Err(source) => Err(EvmError::Http { method: label.to_owned(), block, source }),
                };
            }
            let factor = 1u32 << attempt.min(16);
            thread::sleep((self.options.backoff * factor).min(Duration::from_secs(10)));
            attempt += 1;
        }
    }

    /// Sends the calls as one JSON-RPC batch and returns each call's result or node error, in
    /// the order of the calls.
    ///
    /// # Errors
    ///
    /// [`EvmError`] when the exchange fails or the answer is not a JSON-RPC batch answer.
    pub fn batch(&self, calls: &[Call]) -> Result<Vec<Result<Value, EvmError>>> {
        self.exchange(calls, false)
    }

    /// [`Self::batch`], with the answer parsed without the fields the transform never reads when
    /// `prune` is set (`crate::prune`).
    fn exchange(&self, calls: &[Call], prune: bool) -> Result<Vec<Result<Value, EvmError>>> {
        let Some(first) = calls.first() else { return Ok(Vec::new()) };
        let label = if calls.len() == 1 {
            first.method.to_owned()
        } else {
            format!("{} (batch of {})", first.method, calls.len())
        };
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(id, call)| {
                json!({"jsonrpc": "2.0", "id": id, "method": call.method, "params": call.params})
            })
            .collect();
        let body = Value::Array(body).to_string();
        let answer = self.post(body.as_bytes(), &label, first.block)?;
        let bad =
            |what: String| EvmError::Answer { method: label.clone(), block: first.block, what };
        let answer: Value =
            if prune { crate::prune::from_slice(&answer) } else { serde_json::from_slice(&answer) }
                .map_err(|error| bad(format!("not json: {error}")))?;
        let entries = match answer {
            Value::Array(entries) => entries,
            Value::Object(_) => {
                let (code, message) = node_error(&answer);
                return Err(EvmError::Node { method: label, block: first.block, code, message });
            }
            _ => return Err(bad("not a batch answer".to_owned())),
        };
        let mut results: Vec<Option<Result<Value, EvmError>>> =
            calls.iter().map(|_| None).collect();
        for mut entry in entries {
            let id = entry
                .get("id")
                .and_then(Value::as_u64)
                .and_then(|id| usize::try_from(id).ok())
                .filter(|id| *id < calls.len())
                .ok_or_else(|| bad(format!("answer with an unknown id: {}", short(&entry))))?;
            let call = &calls[id];
            let result = if entry.get("error").is_some_and(|error| !error.is_null()) {
                let (code, message) = node_error(&entry);
                Err(EvmError::Node {
                    method: call.method.to_owned(),
                    block: call.block,
                    code,
                    message,
                })
            } else {
                // Taken, not cloned: a batch of blocks with receipts and traces is megabytes.
                match entry.get_mut("result") {
                    Some(result) => Ok(result.take()),
                    None => Err(EvmError::Answer {
                        method: call.method.to_owned(),
                        block: call.block,
                        what: "no result".to_owned(),
                    }),
                }
            };
            results[id] = Some(result);
        }
        Ok(results
            .into_iter()
            .zip(calls)
            .map(|(result, call)| {
                result.unwrap_or_else(|| {
                    Err(EvmError::Answer {
                        method: call.method.to_owned(),
                        block: call.block,
                        what: "missing from the batch answer".to_owned(),
                    })
                })
            })
            .collect())
    }

    /// Calls one method.
    ///
    /// # Errors
    ///
    /// [`EvmError`] naming the method (and block).
    pub fn call(&self, method: &'static str, params: Value, block: Option<u64>) -> Result<Value> {
        let mut results = self.batch(&[Call { method, params, block }])?;
        results.pop().unwrap_or_else(|| {
            Err(EvmError::Answer { method: method.to_owned(), block, what: "no answer".to_owned() })
        })
    }

    fn quantity(&self, method: &'static str, result: &Value) -> Result<u64> {
        result
            .as_str()
            .and_then(|text| cointrail_types::U256::from_hex_quantity(text).ok())
            .and_then(cointrail_types::U256::to_u64)
            .ok_or_else(|| EvmError::Answer {
                method: method.to_owned(),
                block: None,
                what: format!("not a quantity: {}", short(result)),
            })
    }

    /// Returns the node's EIP-155 chain id (`eth_chainId`).
    ///
    /// # Errors
    ///
    /// [`EvmError`].
    pub fn chain_id(&self) -> Result<u64> {
        let result = self.call("eth_chainId", json!([]), None)?;
        self.quantity("eth_chainId", &result)
    }

    /// Returns the number of the node's latest block (`eth_blockNumber`).
    ///
    /// # Errors
    ///
    /// [`EvmError`].
    pub fn latest_block(&self) -> Result<u64> {
        let result = self.call("eth_blockNumber", json!([]), None)?;
        self.quantity("eth_blockNumber", &result)
    }

    /// Returns the hash of the node's block `number`, `None` if it has none.
    ///
    /// # Errors
    ///
    /// [`EvmError`].
    pub fn block_hash(&self, number: u64) -> Result<Option<B256>> {
        let result = self.call(method::BLOCK, json!([hex(number), false]), Some(number))?;
        if result.is_null() {
            return Ok(None);
        }
        let text = result.get("hash").and_then(Value::as_str).unwrap_or("");
        B256::from_hex(text).map(Some).map_err(|error| EvmError::Answer {
            method: method::BLOCK.to_owned(),
            block: Some(number),
            what: error.to_string(),
        })
    }

    /// Returns the node's tracer, probing it on block `probe` the first time.
    ///
    /// # Errors
    ///
    /// [`EvmError`] when the node cannot be reached (a node error means "no such tracer").
    pub fn trace_mode(&self, probe: u64) -> Result<TraceMode> {
        if let Some(mode) =
            *self.trace_mode.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            return Ok(mode);
        }
        // A node error (unknown method, tracer disabled) means "not offered"; a transport
        // failure is an error. `trace_block` first: it carries block rewards and self-destruct
        // balances, and nodes that keep traces (anvil) answer it without re-executing the block,
        // which `debug_traceBlockByNumber` always does (on anvil, over 100 times slower).
        let mode = match self.call(method::TRACE_BLOCK, json!([hex(probe)]), Some(probe)) {
            Ok(result) if result.is_array() => TraceMode::Parity,
            Ok(_) | Err(EvmError::Node { .. } | EvmError::Answer { .. }) => {
                match self.call(method::CALL_TRACER, call_tracer_params(probe), Some(probe)) {
                    Ok(result) if result.is_array() => TraceMode::CallTracer,
                    Ok(_) | Err(EvmError::Node { .. } | EvmError::Answer { .. }) => TraceMode::None,
                    Err(error) => return Err(error),
                }
            }
            Err(error) => return Err(error),
        };
        *self.trace_mode.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(mode);
        Ok(mode)
    }

    /// Sets the tracer to use without probing (e.g. [`TraceMode::None`] to skip traces).
    pub fn set_trace_mode(&self, mode: TraceMode) {
        *self.trace_mode.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(mode);
    }

    /// Whether the node has `eth_getBlockReceipts`, probing it on block `probe` the first time.
    fn block_receipts(&self, probe: u64) -> Result<bool> {
        if let Some(known) =
            *self.block_receipts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            return Ok(known);
        }
        let answer = self.call(method::RECEIPTS, json!([hex(probe)]), Some(probe));
        let known = match answer {
            Ok(value) => value.is_array(),
            Err(EvmError::Node { .. }) => false,
            Err(error) => return Err(error),
        };
        *self.block_receipts.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(known);
        Ok(known)
    }

    /// The options this client was made with.
    pub fn options(&self) -> &SourceOptions {
        &self.options
    }

    /// Probes what the node offers (tracer, block receipts) on block `probe`, once per client.
    ///
    /// # Errors
    ///
    /// [`EvmError`] when the node cannot be reached.
    pub(crate) fn probe(&self, probe: u64) -> Result<TraceMode> {
        let mode = self.trace_mode(probe)?;
        self.block_receipts(probe)?;
        Ok(mode)
    }

    /// Fetches blocks `range` with their receipts and traces in one batch request, on the calling
    /// thread (the ingest's pipeline runs [`SourceOptions::concurrency`] of these at once).
    ///
    /// # Errors
    ///
    /// The first [`EvmError`] met (naming the method and block).
    pub(crate) fn fetch_request(&self, range: Range<u64>) -> Result<Vec<RawBlock>> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let mode = self.trace_mode(range.start)?;
        let block_receipts = self.block_receipts(range.start)?;
        let numbers: Vec<u64> = range.collect();
        self.fetch_chunk(&numbers, mode, block_receipts)
    }

    /// Fetches blocks `range` with their receipts and traces: batches of
    /// [`SourceOptions::blocks_per_request`] blocks, [`SourceOptions::concurrency`] at once.
    /// Returns them in block order.
    ///
    /// # Errors
    ///
    /// The first [`EvmError`] met (naming the method and block).
    pub fn fetch_blocks(&self, range: Range<u64>) -> Result<Vec<RawBlock>> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let mode = self.trace_mode(range.start)?;
        let block_receipts = self.block_receipts(range.start)?;
        let numbers: Vec<u64> = range.collect();
        let chunks: Vec<&[u64]> = numbers.chunks(self.options.blocks_per_request.max(1)).collect();
        let results: Mutex<Vec<Option<Vec<RawBlock>>>> = Mutex::new(vec![None; chunks.len()]);
        let first_error: Mutex<Option<EvmError>> = Mutex::new(None);
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let workers = self.options.concurrency.clamp(1, chunks.len());
        thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= chunks.len() || failed.load(Ordering::Relaxed) {
                            return;
                        }
                        match self.fetch_chunk(chunks[index], mode, block_receipts) {
                            Ok(blocks) => {
                                results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
                                    [index] = Some(blocks);
                            }
                            Err(error) => {
                                failed.store(true, Ordering::Relaxed);
                                let mut slot = first_error
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                                if slot.is_none() {
                                    *slot = Some(error);
                                }
                                return;
                            }
                        }
                    }
                });
            }
        });
        if let Some(error) =
            first_error.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            return Err(error);
        }
        let results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(results.into_iter().flatten().flatten().collect())
    }

    fn fetch_chunk(
        &self,
        numbers: &[u64],
        mode: TraceMode,
        block_receipts: bool,
    ) -> Result<Vec<RawBlock>> {
        // With block receipts and `trace_block`, blocks come with transaction hashes only: the
        // receipts and the top-level traces have the rest (sender, recipient, value), and full
        // transaction objects cost nodes the most to serialise (and re-sign: on anvil, several
        // times as much as the receipts and traces together). A block whose receipts or traces
        // lack a field this needs is asked again with full transactions.
        let lean = block_receipts && mode == TraceMode::Parity;
        let mut calls = Vec::with_capacity(numbers.len() * 3);
        for number in numbers {
            let block = Some(*number);
            calls.push(Call { method: method::BLOCK, params: json!([hex(*number), !lean]), block });
            if block_receipts {
                calls.push(Call { method: method::RECEIPTS, params: json!([hex(*number)]), block });
            }
            match mode {
                TraceMode::CallTracer => calls.push(Call {
                    method: method::CALL_TRACER,
                    params: call_tracer_params(*number),
                    block,
                }),
                TraceMode::Parity => calls.push(Call {
                    method: method::TRACE_BLOCK,
                    params: json!([hex(*number)]),
                    block,
                }),
                TraceMode::None => {}
            }
        }
        let mut results = self.exchange(&calls, true)?.into_iter();
        let mut blocks = Vec::with_capacity(numbers.len());
        for number in numbers {
            let block = results.next().unwrap_or(Ok(Value::Null))?;
            if block.is_null() {
                return Err(EvmError::Answer {
                    method: method::BLOCK.to_owned(),
                    block: Some(*number),
                    what: "the node has no such block".to_owned(),
                });
            }
            let receipts = if block_receipts {
                results.next().unwrap_or(Ok(Value::Null))?
            } else {
                Value::Null
            };
            let traces = match mode {
                TraceMode::CallTracer => {
                    Some(Traces::CallTracer(results.next().unwrap_or(Ok(Value::Null))?))
                }
                TraceMode::Parity => {
                    Some(Traces::Parity(results.next().unwrap_or(Ok(Value::Null))?))
                }
                TraceMode::None => None,
            };
            let mut raw = RawBlock { number: *number, block, receipts, traces };
            if lean && !lean_complete(&raw) {
                raw.block = self.call(method::BLOCK, json!([hex(*number), true]), Some(*number))?;
            }
            blocks.push(raw);
        }
        if !block_receipts {
            self.fetch_receipts_one_by_one(&mut blocks)?;
        }
        Ok(blocks)
    }

    /// Fills the receipts of blocks with `eth_getTransactionReceipt`, for nodes without
    /// `eth_getBlockReceipts`.
    fn fetch_receipts_one_by_one(&self, blocks: &mut [RawBlock]) -> Result<()> {
        let mut calls = Vec::new();
        for raw in blocks.iter() {
            let txs = raw.block.get("transactions").and_then(Value::as_array);
            for tx in txs.into_iter().flatten() {
                let hash = tx.get("hash").cloned().unwrap_or(Value::Null);
                calls.push(Call {
                    method: "eth_getTransactionReceipt",
                    params: json!([hash]),
                    block: Some(raw.number),
                });
            }
        }
        let mut results = self.batch(&calls)?.into_iter();
        for raw in blocks.iter_mut() {
            let count = raw.block.get("transactions").and_then(Value::as_array).map_or(0, Vec::len);
            let receipts = (0..count)
                .map(|_| results.next().unwrap_or(Ok(Value::Null)))
                .collect::<Result<Vec<_>>>()?;
            raw.receipts = Value::Array(receipts);
        }
        Ok(())
    }

    /// Asks each token contract for `symbol()` and `decimals()` (at the latest block), in one
    /// batch. A failed or garbled answer gives `None` for that field.
    ///
    /// # Errors
    ///
    /// [`EvmError`] only when the exchange itself fails.
    pub fn token_info(&self, tokens: &[(EvmAddress, bool)]) -> Result<Vec<AssetInfo>> {
        let mut infos = Vec::with_capacity(tokens.len());
        for chunk in tokens.chunks(100) {
            let calls: Vec<Call> = chunk
                .iter()
                .flat_map(|(contract, _)| {
                    ["0x95d89b41", "0x313ce567"].map(|selector| Call {
                        method: "eth_call",
                        params: json!([{"to": contract.to_string(), "data": selector}, "latest"]),
                        block: None,
                    })
                })
                .collect();
            let mut results = self.batch(&calls)?.into_iter();
            for (contract, erc721) in chunk {
                let mut data = || {
                    results
                        .next()
                        .and_then(Result::ok)
                        .and_then(|value| value.as_str().and_then(decode_hex))
                };
                let symbol = data().and_then(|bytes| decode_symbol(&bytes));
                let decimals = data().and_then(|bytes| decode_decimals(&bytes));
                infos.push(AssetInfo { contract: *contract, erc721: *erc721, symbol, decimals });
            }
        }
        Ok(infos)
    }
}

/// Whether a block fetched with transaction hashes only has what the transform takes from full
/// transactions elsewhere: every receipt's `from` and `effectiveGasPrice`, and one top-level
/// `call` or `create` trace per transaction (for its value).
fn lean_complete(raw: &RawBlock) -> bool {
    let Some(hashes) = raw.block.get("transactions").and_then(Value::as_array) else {
        return true; // malformed: the transform names the problem
    };
    let Some(receipts) = raw.receipts.as_array() else { return true };
    let receipts_complete = receipts.iter().all(|receipt| {
        receipt.get("from").is_some_and(Value::is_string)
            && receipt.get("effectiveGasPrice").is_some_and(|price| !price.is_null())
    });
    let Some(Traces::Parity(Value::Array(traces))) = &raw.traces else { return false };
    let mut topped = vec![false; hashes.len()];
    for trace in traces {
        let top = trace.get("traceAddress").and_then(Value::as_array).is_some_and(Vec::is_empty);
        let kind = trace.get("type").and_then(Value::as_str);
        if top && matches!(kind, Some("call" | "create")) {
            let position = trace.get("transactionPosition").and_then(Value::as_u64);
            if let Some(slot) =
                position.and_then(|p| usize::try_from(p).ok()).and_then(|p| topped.get_mut(p))
            {
                *slot = true;
            }
        }
    }
    receipts_complete && topped.iter().all(|topped| *topped)
}

fn call_tracer_params(number: u64) -> Value {
    json!([hex(number), {"tracer": "callTracer"}])
}

fn node_error(answer: &Value) -> (i64, String) {
    let error = answer.get("error").unwrap_or(&Value::Null);
    let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
    let message = match error.get("message").and_then(Value::as_str) {
        Some(message) => message.to_owned(),
        None => short(error),
    };
    (code, message)
}

/// The start of a JSON value, for error messages.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.len() <= 120 {
        return text;
    }
    let mut end = 120;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}
