//! `source` and `ingest` against a scripted JSON-RPC node on a local socket: batching, the
//! `eth_getTransactionReceipt` fallback, a node without tracer (coverage gap), retries, resume,
//! reorganisations and bad answers.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cointrail_evm::{EvmError, IngestOptions, NoProgress, SourceOptions, TraceMode, ingest_with};
use cointrail_store::evm::{EvmStore, FlowKind, chain_dir};
use cointrail_types::{B256, EvmAddress, U256};
use serde_json::{Value, json};

use cointrail_testkit::rpc::{ScriptedNode, start};

use super::{data, result};

fn options() -> IngestOptions {
    IngestOptions {
        batch_blocks: 3,
        source: SourceOptions {
            timeout: Duration::from_secs(10),
            retries: 3,
            backoff: Duration::from_millis(5),
            requests_per_second: Some(1000),
            concurrency: 2,
            blocks_per_request: 2,
        },
        trace_mode: None,
    }
}

fn quantity(value: &Value) -> u64 {
    u64::from_str_radix(value.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

fn not_found(method: &str) -> Result<Value, (i64, String)> {
    Err((-32601, format!("the method {method} does not exist/is not available")))
}

fn mainnet_node(fail_first: usize) -> ScriptedNode {
    let handler = move |method: &str, params: &Value| -> Result<Value, (i64, String)> {
        match method {
            "eth_chainId" => Ok(json!("0x1")),
            "eth_blockNumber" => Ok(json!("0x1ac9f3")),
            "eth_getBlockByNumber" => {
                let number = quantity(&params[0]);
                let name = format!("mainnet_{number}_eth_getBlockByNumber.json");
                if data(&name).exists() { Ok(result(&name)) } else { Ok(Value::Null) }
            }
            "eth_getTransactionReceipt" => {
                let hash = params[0].as_str().unwrap();
                Ok(result(&format!(
                    "mainnet_1755635_eth_getTransactionReceipt_{}.json",
                    &hash[..10]
                )))
            }
            "eth_call" => Err((-32000, "execution reverted".to_owned())),
            _ => not_found(method),
        }
    };
    start(Arc::new(handler), fail_first)
}

fn address(text: &str) -> EvmAddress {
    EvmAddress::from_hex(text).unwrap()
}

#[test]
fn recorded_mainnet_blocks_ingest_through_a_node_without_tracer_or_block_receipts() {
    let node = mainnet_node(2);
    let store = tempfile::tempdir().unwrap();
    let report = ingest_with(
        &node.url,
        store.path(),
        None,
        Some(1_755_634),
        None,
        &options(),
        &mut NoProgress,
    )
    .unwrap();
    assert_eq!(report.chain, "ethereum");
    assert_eq!((report.blocks, report.txs, report.assets), (2, 2, 1));
    assert_eq!(report.trace_mode, Some(TraceMode::None));
    assert_eq!(report.coverage_gaps, vec![(1_755_634, 1_755_635)]);
    assert!(node.requests.load(Ordering::SeqCst) > 2, "the two 503s were retried");

    let chain = EvmStore::open(store.path(), "ethereum").unwrap();
    let view = chain.view();
    let tx = B256::from_hex("0x9a5437ec71b74ecf5930b406908ac6999966d38a86d1534b7190ece7599095eb")
        .unwrap();
    let found = view.tx_by_hash(&tx).unwrap();
    assert_eq!((found.block, found.index), (1_755_635, 1));
    let sender = view.flows_of(&address("0x3763e6e1228bfeab94191c856412d1bb0a8e6996"));
    let kinds: Vec<(FlowKind, String)> =
        sender.iter().map(|flow| (flow.kind, flow.amount.to_string())).collect();
    assert_eq!(
        kinds,
        vec![
            (FlowKind::Native, "405738107000000000".to_owned()),
            (FlowKind::Fee, "420000000000000".to_owned())
        ]
    );
    let token_holder = view.balances(&address("0x8b3b3b624c3c0397d3da8fd861512393d51dcbac"));
    let token = token_holder.iter().find(|balance| balance.asset == 1).unwrap();
    assert_eq!(token.received, U256::from_u64(5_000_000_000_000_000_000));
    let asset = view.asset(1).unwrap();
    assert_eq!(asset.contract, address("0xbb9bc244d798123fde783fcc1c72d3bb8c189413"));
    assert_eq!((asset.symbol, asset.decimals), (None, None), "failed eth_calls give null");

    // Re-running resumes after the tip: nothing new.
    let again = ingest_with(&node.url, store.path(), None, None, None, &options(), &mut NoProgress)
        .unwrap();
    assert_eq!(again.blocks, 0);
    // A start past the tip would leave a hole.
    let error = ingest_with(
        &node.url,
        store.path(),
        None,
        Some(1_755_637),
        None,
        &options(),
        &mut NoProgress,
    )
    .unwrap_err();
    assert!(matches!(error, EvmError::Range { .. }), "{error}");
}

/// A synthetic chain: block `n` of `branch` has one transfer of `n + 1` wei from account 1 to
/// account `2 + branch`, and a token transfer every other block.
fn synthetic_block(number: u64, branch: u64, fork: u64) -> (Value, Value) {
    let branch_of = |n: u64| if n >= fork { branch } else { 0 };
    let hash = |n: u64, what: u64| format!("0x{:016x}{:016x}{:032x}", n, branch_of(n), what);
    let account = |n: u64| format!("0x{n:040x}");
    let tx_hash = hash(number, 7);
    let mut logs = Vec::new();
    if number.is_multiple_of(2) {
        logs.push(json!({
            "address": account(0xAAAA),
            "topics": [
                "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
                format!("0x{:064x}", 1),
                format!("0x{:064x}", 2 + branch_of(number)),
            ],
            "data": format!("0x{:064x}", 1000 + number),
            "logIndex": "0x0",
        }));
    }
    let block = json!({
        "number": format!("0x{number:x}"),
        "hash": hash(number, 0),
        "parentHash": if number == 0 { format!("0x{}", "0".repeat(64)) } else { hash(number - 1, 0) },
        "timestamp": format!("0x{:x}", 1_700_000_000 + number),
        "miner": account(0xFEE),
        "baseFeePerGas": "0x7",
        "transactions": [{
            "hash": tx_hash,
            "from": account(1),
            "to": account(2 + branch_of(number)),
            "value": format!("0x{:x}", number + 1),
            "gasPrice": "0xa",
            "transactionIndex": "0x0",
        }],
    });
    let receipts = json!([{
        "transactionHash": tx_hash,
        "blockHash": hash(number, 0),
        "status": "0x1",
        "gasUsed": "0x5208",
        "effectiveGasPrice": "0x9",
        "logs": logs,
    }]);
    (block, receipts)
}

fn synthetic_node(state: Arc<Mutex<(u64, u64, u64)>>) -> ScriptedNode {
    let handler = move |method: &str, params: &Value| -> Result<Value, (i64, String)> {
        let (tip, branch, fork) = *state.lock().unwrap();
        let block_of = |params: &Value| quantity(&params[0]);
        match method {
            "eth_chainId" => Ok(json!("0x7a69")),
            "eth_blockNumber" => Ok(json!(format!("0x{tip:x}"))),
            "eth_getBlockByNumber" if block_of(params) <= tip => {
                Ok(synthetic_block(block_of(params), branch, fork).0)
            }
            "eth_getBlockByNumber" => Ok(Value::Null),
            "eth_getBlockReceipts" => Ok(synthetic_block(block_of(params), branch, fork).1),
            "debug_traceBlockByNumber" => Ok(
                json!([{"result": {"type": "CALL", "from": format!("0x{:040x}", 1), "to": format!("0x{:040x}", 2), "value": "0x1"}}]),
            ),
            "eth_call" => {
                if params[0]["data"] == "0x95d89b41" {
                    Ok(json!(format!("0x{:064x}{:064x}{}", 32, 3, format!("{:0<64}", "544f4b"))))
                } else {
                    Ok(json!(format!("0x{:064x}", 6)))
                }
            }
            _ => not_found(method),
        }
    };
    start(Arc::new(handler), 0)
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs_err::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_name() != "LOCK")
        .map(|entry| {
            (entry.file_name().to_string_lossy().into_owned(), fs_err::read(entry.path()).unwrap())
        })
        .collect()
}

#[test]
fn a_reorganisation_is_unwound_to_the_fork_and_gives_the_bytes_of_a_fresh_ingest() {
    let state = Arc::new(Mutex::new((9u64, 0u64, u64::MAX)));
    let node = synthetic_node(Arc::clone(&state));
    let store = tempfile::tempdir().unwrap();
    let first = ingest_with(&node.url, store.path(), None, None, None, &options(), &mut NoProgress)
        .unwrap();
    assert_eq!(
        (first.chain.as_str(), first.blocks, first.trace_mode),
        ("anvil", 10, Some(TraceMode::CallTracer))
    );
    {
        let chain = EvmStore::open(store.path(), "anvil").unwrap();
        let view = chain.view();
        let token = view.asset(1).unwrap();
        assert_eq!((token.symbol.as_deref(), token.decimals), (Some("TOK"), Some(6)));
        // Fee split: priority (9 - 7) * 21000 to the miner, 7 * 21000 burned.
        let miner = view.balances(&EvmAddress::from_hex(&format!("0x{:040x}", 0xFEE)).unwrap());
        assert_eq!(miner[0].received, U256::from_u64(2 * 21_000 * 10));
    }

    // The node switches to branch 1 from block 6 on, and grows to 12. The stored tip (9) is gone.
    *state.lock().unwrap() = (12, 1, 6);
    let second =
        ingest_with(&node.url, store.path(), None, None, None, &options(), &mut NoProgress)
            .unwrap();
    assert_eq!((second.reorgs, second.unwound, second.blocks), (1, 4, 7));
    assert_eq!(second.tip.unwrap().0, 12);

    // A fresh ingest of branch 1 writes the same bytes.
    let fresh_store = tempfile::tempdir().unwrap();
    ingest_with(&node.url, fresh_store.path(), None, None, None, &options(), &mut NoProgress)
        .unwrap();
    assert_eq!(
        snapshot(&chain_dir(store.path(), "anvil")),
        snapshot(&chain_dir(fresh_store.path(), "anvil"))
    );

    // A reorganisation at the same height (no new blocks) is found too: back to branch 0 from 6.
    *state.lock().unwrap() = (12, 0, u64::MAX);
    let third = ingest_with(&node.url, store.path(), None, None, None, &options(), &mut NoProgress)
        .unwrap();
    assert_eq!((third.reorgs, third.unwound, third.blocks), (1, 7, 7));
}

#[test]
fn bad_answers_name_the_method_and_block_and_keep_the_last_commit() {
    let broken = Arc::new(Mutex::new(""));
    let mode = Arc::clone(&broken);
    let handler = move |method: &str, params: &Value| -> Result<Value, (i64, String)> {
        let number = params.get(0).and_then(Value::as_str).map_or(0, |_| quantity(&params[0]));
        let (mut block, mut receipts) = synthetic_block(number, 0, u64::MAX);
        let mode = *mode.lock().unwrap();
        if number == 4 {
            match mode {
                "hash" => receipts[0]["transactionHash"] = json!(format!("0x{}", "ab".repeat(32))),
                "missing" => {
                    block.as_object_mut().unwrap().remove("timestamp");
                }
                "json" if method == "eth_getBlockByNumber" => return Ok(json!("RAW:{not json")),
                _ => {}
            }
        }
        match method {
            "eth_chainId" => Ok(json!("0x7a69")),
            "eth_blockNumber" => Ok(json!("0x6")),
            "eth_getBlockByNumber" => Ok(block),
            "eth_getBlockReceipts" => Ok(receipts),
            _ => not_found(method),
        }
    };
    let node = start(Arc::new(handler), 0);
    let store = tempfile::tempdir().unwrap();
    let mut options = options();
    options.batch_blocks = 2;
    options.source.retries = 0;
    for (mode, expected) in [
        ("hash", "block 4: eth_getBlockReceipts: receipt 0: receipt of 0xabab"),
        ("missing", "block 4: eth_getBlockByNumber: block: missing field `timestamp`"),
        ("json", "rpc eth_getBlockByNumber (batch of 4) (block 4): unexpected answer: not json"),
    ] {
        *broken.lock().unwrap() = mode;
        let error = ingest_with(
            &node.url,
            store.path(),
            Some("broken"),
            Some(0),
            None,
            &options,
            &mut NoProgress,
        )
        .unwrap_err()
        .to_string();
        assert!(error.starts_with(expected), "{mode}: {error}");
        // Blocks 0-3 were committed before the bad block and stay.
        let chain = EvmStore::open(store.path(), "broken").unwrap();
        assert_eq!(chain.view().tip().unwrap().block.number, 3, "{mode}");
    }
    *broken.lock().unwrap() = "";
    let report =
        ingest_with(&node.url, store.path(), Some("broken"), None, None, &options, &mut NoProgress)
            .unwrap();
    assert_eq!((report.from, report.blocks), (Some(4), 3));
    // Unreachable nodes and unusable URLs are errors too.
    let error = ingest_with(
        "https://example.invalid",
        store.path(),
        None,
        None,
        None,
        &options,
        &mut NoProgress,
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            EvmError::Http { source: cointrail_ingest::http::HttpError::Url { .. }, .. }
        ),
        "{error}"
    );
}
