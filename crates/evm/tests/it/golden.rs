//! The transform reproduces the rows ethereum-etl expects from the same recorded mainnet answers.

use std::collections::BTreeSet;

use cointrail_evm::transform::{decode_decimals, decode_hex, decode_symbol, internal_flows};
use cointrail_evm::{RawBlock, Traces, transform_block};
use cointrail_store::evm::{Asset, FlowKind};
use cointrail_types::{B256, EvmAddress, U256};
use serde_json::Value;

use super::{csv, jsonl, receipts, result};

fn address(text: &str) -> EvmAddress {
    EvmAddress::from_hex(text).unwrap()
}

fn amount(text: &str) -> U256 {
    U256::from_dec_str(text).unwrap()
}

/// (kind, tx index, from, to, asset, amount) of every flow, for set comparisons.
type Row = (FlowKind, Option<u32>, Option<EvmAddress>, Option<EvmAddress>, Asset, U256);

fn rows(flows: &[cointrail_evm::Flow], kind: FlowKind) -> BTreeSet<Row> {
    flows
        .iter()
        .filter(|flow| flow.kind == kind)
        .map(|flow| (flow.kind, flow.tx_index, flow.from, flow.to, flow.asset, flow.amount))
        .collect()
}

#[test]
fn block_483920_native_values_fees_and_token_transfers() {
    let raw = RawBlock {
        number: 483_920,
        block: result("mainnet_483920_eth_getBlockByNumber.json"),
        receipts: receipts("mainnet_483920_eth_getTransactionReceipt_"),
        traces: None,
    };
    let flows = transform_block(&raw).unwrap();
    assert_eq!(flows.block.number, 483_920);
    assert!(!flows.block.traced, "no traces: a coverage gap");
    assert_eq!(flows.txs.len(), 4);
    let miner = flows.miner;

    let transactions = csv("mainnet_483920_expected_transactions.csv");
    let receipts_by_hash: std::collections::HashMap<String, Value> =
        receipts("mainnet_483920_eth_getTransactionReceipt_")
            .as_array()
            .unwrap()
            .iter()
            .map(|receipt| {
                (receipt["transactionHash"].as_str().unwrap().to_owned(), receipt.clone())
            })
            .collect();
    let mut native = BTreeSet::new();
    let mut fees = BTreeSet::new();
    for tx in &transactions {
        let index = Some(tx["transaction_index"].parse::<u32>().unwrap());
        let from = Some(address(&tx["from_address"]));
        if tx["value"] != "0" {
            let row = (
                FlowKind::Native,
                index,
                from,
                Some(address(&tx["to_address"])),
                Asset::Native,
                amount(&tx["value"]),
            );
            native.insert(row);
        }
        let gas_used = &receipts_by_hash[&tx["hash"]]["gasUsed"];
        let gas_used = U256::from_hex_quantity(gas_used.as_str().unwrap()).unwrap();
        let fee = gas_used.checked_mul(amount(&tx["gas_price"])).unwrap();
        fees.insert((FlowKind::Fee, index, from, Some(miner), Asset::Native, fee));
    }
    assert_eq!(native.len(), 2);
    assert_eq!(rows(&flows.flows, FlowKind::Native), native);
    assert_eq!(rows(&flows.flows, FlowKind::Fee), fees);
    assert!(rows(&flows.flows, FlowKind::Burn).is_empty(), "no base fee before London");

    let expected: BTreeSet<Row> = csv("mainnet_483920_expected_token_transfers.csv")
        .iter()
        .map(|row| {
            let tx = flows
                .txs
                .iter()
                .position(|hash| hash.to_string() == row["transaction_hash"])
                .unwrap();
            (
                FlowKind::Erc20,
                Some(tx as u32),
                Some(address(&row["from_address"])),
                Some(address(&row["to_address"])),
                Asset::Token(address(&row["token_address"])),
                amount(&row["value"]),
            )
        })
        .collect();
    assert_eq!(expected.len(), 2);
    assert_eq!(rows(&flows.flows, FlowKind::Erc20), expected);
    // Token flows sit at their log index.
    let positions: Vec<u32> = flows
        .flows
        .iter()
        .filter(|flow| flow.kind == FlowKind::Erc20)
        .map(|flow| flow.position)
        .collect();
    assert_eq!(positions, vec![0, 1]);
    assert_eq!(
        flows.tokens(),
        vec![(address("0xf4eced2f682ce333f96f2d8966c613ded8fc95dd"), false)]
    );
}

#[test]
fn blocks_1755634_1755635_reproduce_transactions_and_token_transfers() {
    let empty = transform_block(&RawBlock {
        number: 1_755_634,
        block: result("mainnet_1755634_eth_getBlockByNumber.json"),
        receipts: Value::Array(Vec::new()),
        traces: None,
    })
    .unwrap();
    assert!(empty.flows.is_empty() && empty.txs.is_empty());
    let flows = transform_block(&RawBlock {
        number: 1_755_635,
        block: result("mainnet_1755635_eth_getBlockByNumber.json"),
        receipts: receipts("mainnet_1755635_eth_getTransactionReceipt_"),
        traces: None,
    })
    .unwrap();
    assert_eq!(flows.block.parent_hash, empty.block.hash, "the two blocks chain");
    let mut native = BTreeSet::new();
    let mut fees = BTreeSet::new();
    for tx in jsonl("mainnet_1755634_1755635_expected_transactions.jsonl") {
        let index = Some(tx["transaction_index"].as_u64().unwrap() as u32);
        let from = Some(address(tx["from_address"].as_str().unwrap()));
        let value = amount(&tx["value"].to_string());
        if !value.is_zero() {
            native.insert((
                FlowKind::Native,
                index,
                from,
                Some(address(tx["to_address"].as_str().unwrap())),
                Asset::Native,
                value,
            ));
        }
        let fee = U256::from_u64(tx["receipt_gas_used"].as_u64().unwrap())
            .checked_mul(U256::from_u64(tx["receipt_effective_gas_price"].as_u64().unwrap()))
            .unwrap();
        fees.insert((FlowKind::Fee, index, from, Some(flows.miner), Asset::Native, fee));
    }
    assert_eq!(rows(&flows.flows, FlowKind::Native), native);
    assert_eq!(native.iter().next().unwrap().5.to_string(), "405738107000000000");
    assert_eq!(rows(&flows.flows, FlowKind::Fee), fees);
    let expected: BTreeSet<Row> = jsonl("mainnet_1755634_1755635_expected_token_transfers.jsonl")
        .iter()
        .map(|row| {
            (
                FlowKind::Erc20,
                Some(0),
                Some(address(row["from_address"].as_str().unwrap())),
                Some(address(row["to_address"].as_str().unwrap())),
                Asset::Token(address(row["token_address"].as_str().unwrap())),
                amount(&row["value"].to_string()),
            )
        })
        .collect();
    assert_eq!(rows(&flows.flows, FlowKind::Erc20), expected);
    // The other event of the same transaction is not a transfer.
    assert_eq!(flows.flows.iter().filter(|flow| flow.kind == FlowKind::Erc20).count(), 1);
}

/// The internal flows ethereum-etl's rows imply: nested (non-empty trace address), successful,
/// value-moving (`call` with call type `call`, `create`, `suicide`) rows with value > 0.
/// (tx index, from, to, value, trace type, call type, trace address, error, status).
type TraceRow = (String, String, String, String, String, String, String, String, String);

fn expected_internal(rows: &[TraceRow]) -> BTreeSet<(u32, EvmAddress, EvmAddress, U256)> {
    rows.iter()
        .filter(|(_, _, _, value, trace_type, call_type, trace_address, error, status)| {
            !trace_address.is_empty()
                && value != "0"
                && !value.is_empty()
                && error.is_empty()
                && status != "0"
                && (trace_type == "create"
                    || trace_type == "suicide"
                    || (trace_type == "call" && call_type == "call"))
        })
        .map(|(tx, from, to, value, ..)| {
            (tx.parse().unwrap(), address(from), address(to), amount(value))
        })
        .collect()
}

fn csv_trace_rows(name: &str) -> Vec<TraceRow> {
    csv(name)
        .into_iter()
        .map(|row| {
            let get = |key: &str| row.get(key).cloned().unwrap_or_default();
            (
                get("transaction_index"),
                get("from_address"),
                get("to_address"),
                get("value"),
                get("trace_type"),
                get("call_type"),
                get("trace_address"),
                get("error"),
                get("status"),
            )
        })
        .collect()
}

fn internal_rows(
    flows: &cointrail_evm::transform::TraceFlows,
) -> BTreeSet<(u32, EvmAddress, EvmAddress, U256)> {
    flows
        .per_tx
        .iter()
        .flatten()
        .map(|flow| (flow.tx_index.unwrap(), flow.from.unwrap(), flow.to.unwrap(), flow.amount))
        .collect()
}

/// The tx hashes a `trace_block` answer names, by position.
fn parity_hashes(traces: &Value) -> Vec<B256> {
    let mut hashes = Vec::new();
    for trace in traces.as_array().unwrap() {
        if let Some(position) = trace["transactionPosition"].as_u64() {
            let hash = B256::from_hex(trace["transactionHash"].as_str().unwrap()).unwrap();
            if hashes.len() <= position as usize {
                hashes.resize(position as usize + 1, B256::default());
            }
            hashes[position as usize] = hash;
        }
    }
    hashes
}

#[test]
fn trace_block_answers_give_the_expected_internal_transfers_rewards_and_failures() {
    let mut internal_total = 0;
    for number in [0u64, 1_000_000, 1_000_690, 1_000_895, 1_011_973] {
        let traces = result(&format!("mainnet_{number}_trace_block.json"));
        let hashes = parity_hashes(&traces);
        let flows = internal_flows(number, &Traces::Parity(traces), &hashes).unwrap();
        let expected_rows =
            csv_trace_rows(&format!("mainnet_{number}_trace_block_expected_traces.csv"));
        let expected = expected_internal(&expected_rows);
        internal_total += expected.len();
        assert_eq!(internal_rows(&flows), expected, "block {number}");
        let rewards: BTreeSet<(EvmAddress, U256)> = expected_rows
            .iter()
            .filter(|row| row.4 == "reward")
            .map(|row| (address(&row.2), amount(&row.3)))
            .collect();
        let found: BTreeSet<(EvmAddress, U256)> =
            flows.rewards.iter().map(|flow| (flow.to.unwrap(), flow.amount)).collect();
        assert_eq!(found, rewards, "block {number}");
        let failed: Vec<bool> = (0..hashes.len())
            .map(|tx| {
                expected_rows
                    .iter()
                    .any(|row| row.0 == tx.to_string() && row.6.is_empty() && !row.7.is_empty())
            })
            .collect();
        assert_eq!(flows.failed, failed, "block {number}");
    }
    assert_eq!(internal_total, 1, "the suicide of block 1011973 moves 0.05 ether");
    for number in [508_110u64, 2_112_234] {
        let traces = result(&format!("mainnet_{number}_trace_block.json"));
        let hashes = parity_hashes(&traces);
        let flows = internal_flows(number, &Traces::Parity(traces), &hashes).unwrap();
        let expected = jsonl(&format!("mainnet_{number}_trace_block_expected_traces.jsonl"));
        let rewards: BTreeSet<(EvmAddress, U256)> = expected
            .iter()
            .filter(|row| row["trace_type"] == "reward")
            .map(|row| {
                (address(row["to_address"].as_str().unwrap()), amount(&row["value"].to_string()))
            })
            .collect();
        let found: BTreeSet<(EvmAddress, U256)> =
            flows.rewards.iter().map(|flow| (flow.to.unwrap(), flow.amount)).collect();
        assert_eq!(found, rewards, "block {number}");
        assert!(expected.iter().all(|row| row["trace_address"].as_array().unwrap().is_empty()));
        assert!(internal_rows(&flows).is_empty(), "block {number}");
    }
}

#[test]
fn call_tracer_answers_give_the_expected_internal_transfers_and_failures() {
    for number in [1_000_000u64, 1_000_690, 1_000_895, 1_011_973] {
        let traces = result(&format!("mainnet_{number}_debug_traceBlockByNumber.json"));
        let count = traces.as_array().unwrap().len();
        let hashes = vec![B256::default(); count];
        let flows = internal_flows(number, &Traces::CallTracer(traces), &hashes).unwrap();
        let expected_rows = csv_trace_rows(&format!(
            "mainnet_{number}_debug_traceBlockByNumber_expected_traces.csv"
        ));
        assert_eq!(internal_rows(&flows), expected_internal(&expected_rows), "block {number}");
        let failed: Vec<bool> = (0..count)
            .map(|tx| {
                expected_rows
                    .iter()
                    .any(|row| row.0 == tx.to_string() && row.6.is_empty() && !row.7.is_empty())
            })
            .collect();
        assert_eq!(flows.failed, failed, "block {number}");
        // Geth and Parity agree on which transactions failed.
        let parity = result(&format!("mainnet_{number}_trace_block.json"));
        let parity_flows =
            internal_flows(number, &Traces::Parity(parity.clone()), &parity_hashes(&parity))
                .unwrap();
        assert_eq!(parity_flows.failed, flows.failed, "block {number}");
    }
}

#[test]
fn token_symbols_and_decimals_decode_as_ethereum_etl_does() {
    let call = |token: &str, selector: &str| {
        decode_hex(
            result(&format!("mainnet_token_{token}_eth_call_{selector}.json")).as_str().unwrap(),
        )
        .unwrap()
    };
    // bytes32 symbol (EOS) and an ABI string padded with NULs (ETH).
    for (token, file) in [
        ("0x86fa0498", "mainnet_token_0x86fa0498_expected_tokens.csv"),
        ("0xf763be8b", "mainnet_token_0xf763be8b_expected_tokens.csv"),
    ] {
        let expected = &csv(file)[0];
        assert_eq!(
            decode_symbol(&call(token, "0x95d89b41")).as_deref(),
            Some(expected["symbol"].as_str()),
            "{token}"
        );
        assert_eq!(
            decode_decimals(&call(token, "0x313ce567")).map(u32::from),
            Some(expected["decimals"].parse().unwrap())
        );
    }
    let expected = &jsonl("mainnet_token_0xdbdacfc9_expected_tokens.jsonl")[0];
    assert_eq!(
        decode_symbol(&call("0xdbdacfc9", "0x95d89b41")).as_deref(),
        expected["symbol"].as_str()
    );
    assert_eq!(decode_decimals(&call("0xdbdacfc9", "0x313ce567")), Some(0));
    // Failures give none.
    assert_eq!(decode_symbol(&[]), None);
    assert_eq!(decode_symbol(&[0xff; 32]), None, "not UTF-8");
    assert_eq!(decode_decimals(&[1; 32]), None, "out of range");
}
