//! Bad answers give errors naming the block and the method, never a panic.

use cointrail_evm::transform::internal_flows;
use cointrail_evm::{RawBlock, Traces, TransformError, transform_block};
use cointrail_store::evm::FlowKind;
use cointrail_types::{B256, U256};
use serde_json::{Value, json};

use super::{receipts, result};

fn good() -> RawBlock {
    RawBlock {
        number: 483_920,
        block: result("mainnet_483920_eth_getBlockByNumber.json"),
        receipts: receipts("mainnet_483920_eth_getTransactionReceipt_"),
        traces: None,
    }
}

fn error_of(raw: &RawBlock) -> TransformError {
    transform_block(raw).unwrap_err()
}

#[test]
fn missing_fields_name_block_method_and_field() {
    let mut raw = good();
    raw.block.as_object_mut().unwrap().remove("miner");
    let error = error_of(&raw);
    assert_eq!(error.block, 483_920);
    assert_eq!(error.method, "eth_getBlockByNumber");
    assert_eq!(
        error.to_string(),
        "block 483920: eth_getBlockByNumber: block: missing field `miner`"
    );

    let mut raw = good();
    raw.receipts[2].as_object_mut().unwrap().remove("gasUsed");
    assert_eq!(
        error_of(&raw).to_string(),
        "block 483920: eth_getBlockReceipts: receipt 2: missing field `gasUsed`"
    );

    let mut raw = good();
    raw.block["transactions"][1]["value"] = json!("0xzz");
    let error = error_of(&raw).to_string();
    assert!(
        error.starts_with("block 483920: eth_getBlockByNumber: transaction 1: `value`"),
        "{error}"
    );
}

#[test]
fn wrong_hashes_and_counts_are_refused() {
    let mut raw = good();
    raw.receipts[0]["transactionHash"] = json!(format!("0x{}", "11".repeat(32)));
    let error = error_of(&raw).to_string();
    assert!(error.contains("eth_getBlockReceipts: receipt 0: receipt of 0x1111"), "{error}");

    let mut raw = good();
    raw.receipts[3]["blockHash"] = json!(format!("0x{}", "22".repeat(32)));
    assert!(error_of(&raw).to_string().contains("receipt 3: receipt from block 0x2222"));

    let mut raw = good();
    raw.number = 483_921;
    assert_eq!(
        error_of(&raw).to_string(),
        "block 483921: eth_getBlockByNumber: answered block 483920"
    );

    let mut raw = good();
    raw.receipts.as_array_mut().unwrap().pop();
    assert_eq!(
        error_of(&raw).to_string(),
        "block 483920: eth_getBlockReceipts: 3 receipts for 4 transactions"
    );

    let mut raw = good();
    let hashes: Vec<Value> =
        raw.block["transactions"].as_array().unwrap().iter().map(|tx| tx["hash"].clone()).collect();
    raw.block["transactions"] = Value::Array(hashes);
    assert!(error_of(&raw).to_string().contains("transactions are hashes"));

    let mut raw = good();
    raw.traces = Some(Traces::CallTracer(json!([])));
    assert_eq!(
        error_of(&raw).to_string(),
        "block 483920: debug_traceBlockByNumber: 0 traces for 4 transactions"
    );
    let mut raw = good();
    raw.traces = Some(Traces::Parity(result("mainnet_1000000_trace_block.json")));
    let error = error_of(&raw).to_string();
    assert!(error.starts_with("block 483920: trace_block: trace 0: trace of 0xea10"), "{error}");
}

#[test]
fn status_zero_pays_the_fee_but_moves_nothing() {
    let mut raw = good();
    raw.receipts[2]["status"] = json!("0x0");
    let flows = transform_block(&raw).unwrap();
    let of_tx: Vec<FlowKind> =
        flows.flows.iter().filter(|flow| flow.tx_index == Some(2)).map(|flow| flow.kind).collect();
    assert_eq!(of_tx, vec![FlowKind::Fee]);
}

#[test]
fn london_fees_split_into_priority_fee_and_burn() {
    let mut raw = good();
    raw.block["baseFeePerGas"] = json!("0xba43b7400"); // 50 gwei, the whole gas price
    raw.receipts[0]["effectiveGasPrice"] = json!("0xbdfd63e00"); // 51 gwei
    let flows = transform_block(&raw).unwrap();
    let tx0: Vec<(FlowKind, U256)> = flows
        .flows
        .iter()
        .filter(|flow| {
            flow.tx_index == Some(0) && matches!(flow.kind, FlowKind::Fee | FlowKind::Burn)
        })
        .map(|flow| (flow.kind, flow.amount))
        .collect();
    let gas = 50_853u64;
    assert_eq!(
        tx0,
        vec![
            (FlowKind::Fee, U256::from_u64(gas * 1_000_000_000)),
            (FlowKind::Burn, U256::from_u64(gas * 50_000_000_000))
        ]
    );
    assert!(flows.flows.iter().any(|flow| flow.kind == FlowKind::Burn && flow.to.is_none()));
    // An effective price below the base fee is inconsistent.
    raw.block["baseFeePerGas"] = json!("0xc00000000");
    let error = transform_block(&raw).unwrap_err().to_string();
    assert!(error.contains("below the base fee"), "{error}");
}

#[test]
fn nested_reverted_frames_are_dropped_with_their_children() {
    let frame = |kind: &str, from: u8, to: u8, value: u64, error: bool, calls: Vec<Value>| {
        let mut frame = json!({
            "type": kind,
            "from": format!("0x{}", format!("{from:02x}").repeat(20)),
            "to": format!("0x{}", format!("{to:02x}").repeat(20)),
            "value": format!("0x{value:x}"),
            "calls": calls,
        });
        if error {
            frame["error"] = json!("execution reverted");
        }
        frame
    };
    // 0 top (1 -> 2, 100) [1 CALL 2->3 5 [2 CALL 3->4 1], 3 CALL 2->5 7 reverted [4 CALL 5->6 1],
    //   5 DELEGATECALL 2->7 9, 6 CREATE 2->8 3, 7 SELFDESTRUCT 8->9 3]
    let top = frame(
        "CALL",
        1,
        2,
        100,
        false,
        vec![
            frame("CALL", 2, 3, 5, false, vec![frame("CALL", 3, 4, 1, false, vec![])]),
            frame("CALL", 2, 5, 7, true, vec![frame("CALL", 5, 6, 1, false, vec![])]),
            frame("DELEGATECALL", 2, 7, 9, false, vec![]),
            frame("CREATE", 2, 8, 3, false, vec![]),
            frame("SELFDESTRUCT", 8, 9, 3, false, vec![]),
        ],
    );
    let flows =
        internal_flows(7, &Traces::CallTracer(json!([{"result": top}])), &[B256::default()])
            .unwrap();
    let found: Vec<(u32, u8, u8, u64)> = flows.per_tx[0]
        .iter()
        .map(|flow| {
            (
                flow.position,
                flow.from.unwrap().0[0],
                flow.to.unwrap().0[0],
                flow.amount.to_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(found, vec![(1, 2, 3, 5), (2, 3, 4, 1), (6, 2, 8, 3), (7, 8, 9, 3)]);
    assert_eq!(flows.failed, vec![false]);
}

/// Fuzz-shaped target: any bytes as any of the three answers must give flows or an error.
fn do_test(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    let base = good();
    let hashes = vec![B256::default(); 4];
    let _ = transform_block(&RawBlock { block: value.clone(), ..base.clone() });
    let _ = transform_block(&RawBlock { receipts: value.clone(), ..base.clone() });
    let _ = transform_block(&RawBlock {
        traces: Some(Traces::CallTracer(value.clone())),
        ..base.clone()
    });
    let _ = transform_block(&RawBlock { traces: Some(Traces::Parity(value.clone())), ..base });
    let _ = internal_flows(1, &Traces::CallTracer(value.clone()), &hashes);
    let _ = internal_flows(1, &Traces::Parity(value), &hashes);
}

#[test]
fn mutated_answers_never_panic() {
    let sources: Vec<Vec<u8>> = [
        "mainnet_483920_eth_getBlockByNumber.json",
        "mainnet_1000000_trace_block.json",
        "mainnet_1000000_debug_traceBlockByNumber.json",
        "mainnet_1755635_eth_getTransactionReceipt_0x2e3dcd05.json",
    ]
    .iter()
    .map(|name| {
        // The `result` alone, re-serialised compactly so mutations hit values often.
        serde_json::to_vec(&result(name)).unwrap()
    })
    .collect();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"0x1fz\"{}[],:-. null";
    for round in 0..4000 {
        let mut data = sources[round % sources.len()].clone();
        for _ in 0..=(random() % 4) {
            let at = (random() % data.len() as u64) as usize;
            match random() % 3 {
                0 => data[at] = alphabet[(random() % alphabet.len() as u64) as usize],
                1 => {
                    data.remove(at);
                }
                _ => data.truncate(at.max(1)),
            }
        }
        do_test(&data);
    }
    // Structural mutations: every field of every object removed or nulled in turn.
    let block = result("mainnet_483920_eth_getBlockByNumber.json");
    let keys: Vec<String> = block.as_object().unwrap().keys().cloned().collect();
    for key in keys {
        let mut mutated = block.clone();
        mutated[&key] = Value::Null;
        do_test(&serde_json::to_vec(&mutated).unwrap());
    }
    let receipts = receipts("mainnet_483920_eth_getTransactionReceipt_");
    for index in 0..4 {
        let keys: Vec<String> = receipts[index].as_object().unwrap().keys().cloned().collect();
        for key in keys {
            let mut mutated = receipts.clone();
            mutated[index][&key] = json!(7);
            do_test(&serde_json::to_vec(&mutated).unwrap());
        }
    }
}

/// Block 483920 as a node with `trace_block` gives it: receipts with `from` and
/// `effectiveGasPrice`, one top-level trace per transaction.
fn with_parity_traces() -> RawBlock {
    let mut raw = good();
    let txs = raw.block["transactions"].as_array().unwrap().clone();
    let mut traces = Vec::new();
    for (index, tx) in txs.iter().enumerate() {
        let receipt = &mut raw.receipts[index];
        receipt["from"] = tx["from"].clone();
        receipt["to"] = tx["to"].clone();
        receipt["effectiveGasPrice"] = tx["gasPrice"].clone();
        let (kind, action, result) = if tx["to"].is_null() {
            let created = json!({"address": receipt["contractAddress"].clone()});
            ("create", json!({"from": tx["from"], "value": tx["value"]}), created)
        } else {
            let action = json!({"callType": "call", "from": tx["from"], "to": tx["to"], "value": tx["value"]});
            ("call", action, json!({}))
        };
        traces.push(json!({
            "type": kind, "action": action, "result": result, "traceAddress": [],
            "transactionPosition": index, "transactionHash": tx["hash"],
        }));
    }
    raw.traces = Some(Traces::Parity(Value::Array(traces)));
    raw
}

#[test]
fn a_block_with_hashes_only_gives_the_flows_of_the_full_block() {
    let full = with_parity_traces();
    let mut lean = full.clone();
    let hashes: Vec<Value> = lean.block["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tx| tx["hash"].clone())
        .collect();
    lean.block["transactions"] = Value::Array(hashes);
    let expected = transform_block(&full).unwrap();
    assert!(expected.flows.iter().any(|flow| flow.kind == FlowKind::Native));
    assert_eq!(transform_block(&lean).unwrap(), expected);

    // Without a top-level trace, a receipt's `from` or the call traces, it is refused.
    let mut raw = lean.clone();
    if let Some(Traces::Parity(Value::Array(traces))) = &mut raw.traces {
        traces.remove(1);
    }
    let error = error_of(&raw).to_string();
    assert!(error.contains("trace_block: transaction 1") && error.contains("no top-level trace"));
    let mut raw = lean.clone();
    raw.receipts[2].as_object_mut().unwrap().remove("from");
    assert!(error_of(&raw).to_string().contains("receipt 2: missing field `from`"));
    let mut raw = lean;
    raw.traces = Some(Traces::CallTracer(json!([])));
    assert!(error_of(&raw).to_string().contains("ask with full transactions, or with trace_block"));
}
