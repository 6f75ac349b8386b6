//! Ingest from a real `anvil` (Foundry's EVM node, installed from npm by
//! `scripts/install-anvil.sh`): ether between dev accounts, a hand-assembled EIP-20 token deployed
//! and moved, an internal transfer through a forwarding contract, a failed transaction, and a
//! reorganisation (`evm_snapshot` / `evm_revert`, then other blocks at the same heights). After
//! ingest, every address's received and sent sums agree with the node's own `eth_getBalance`
//! (fees included) and `balanceOf`.

use std::collections::BTreeSet;
use std::path::Path;

use cointrail_evm::{IngestOptions, NoProgress, SourceOptions, ingest_with};
use cointrail_store::evm::{EvmStore, FlowKind};
use cointrail_testkit::anvil::{
    Anvil, address_of, forwarder_code, hex_data, token_code, transfer_data,
};
use cointrail_types::{EvmAddress, U256};
use serde_json::json;

#[test]
fn anvil_chain_ingests_with_balances_equal_to_the_node() {
    let anvil = Anvil::start();
    let accounts: Vec<EvmAddress> =
        anvil.rpc("eth_accounts", &json!([])).as_array().unwrap().iter().map(address_of).collect();
    let [a, b, c, d, e] = [accounts[0], accounts[1], accounts[2], accounts[3], accounts[4]];
    let sink = EvmAddress::from_hex("0x00000000000000000000000000000000c0ffee00").unwrap();
    let mut watched: BTreeSet<EvmAddress> = [a, b, c, d, e, sink].into_iter().collect();
    let start: std::collections::HashMap<EvmAddress, U256> =
        watched.iter().map(|address| (*address, anvil.balance(address))).collect();
    let ether = 1_000_000_000_000_000_000u64;

    // Ether between dev accounts.
    anvil.send_tx(
        &json!({"from": a.to_string(), "to": b.to_string(), "value": format!("0x{:x}", 3 * ether)}),
    );
    anvil.send_tx(
        &json!({"from": b.to_string(), "to": c.to_string(), "value": format!("0x{:x}", ether / 7)}),
    );
    // A token: deploy, move, and a failed transfer (more than the balance; explicit gas so that
    // the node mines it instead of refusing at estimation).
    let receipt =
        anvil.send_tx(&json!({"from": a.to_string(), "data": hex_data(&token_code(1_000_000))}));
    assert_eq!(receipt["status"], "0x1", "token deployed");
    let token = address_of(&receipt["contractAddress"]);
    watched.insert(token);
    assert_eq!(anvil.token_balance(&token, &a), U256::from_u64(1_000_000));
    anvil.send_tx(&
        json!({"from": a.to_string(), "to": token.to_string(), "data": transfer_data(&b, 250_000)}),
    );
    anvil.send_tx(
        &json!({"from": b.to_string(), "to": token.to_string(), "data": transfer_data(&c, 1_000)}),
    );
    let failed = anvil.send_tx(&json!({
        "from": c.to_string(), "to": token.to_string(), "data": transfer_data(&d, 5_000), "gas": "0x20000"
    }));
    assert_eq!(failed["status"], "0x0", "the transfer above the balance reverts");
    assert_eq!(anvil.token_balance(&token, &b), U256::from_u64(249_000));
    // An internal transfer: d pays the forwarder, which pays the sink.
    let receipt =
        anvil.send_tx(&json!({"from": d.to_string(), "data": hex_data(&forwarder_code(&sink))}));
    let forwarder = address_of(&receipt["contractAddress"]);
    watched.insert(forwarder);
    let forwarded = anvil.send_tx(&json!({
        "from": d.to_string(), "to": forwarder.to_string(), "value": format!("0x{:x}", 2 * ether)
    }));
    assert_eq!(forwarded["status"], "0x1");
    assert_eq!(anvil.balance(&sink), U256::from_u64(2 * ether), "the forwarder forwarded");

    // First ingest; then a reorganisation: back to a snapshot, other blocks at the same heights
    // and beyond.
    let store = tempfile::tempdir().unwrap();
    let options = IngestOptions {
        batch_blocks: 3,
        source: SourceOptions { blocks_per_request: 2, concurrency: 3, ..SourceOptions::default() },
        trace_mode: None,
    };
    let snapshot = anvil.rpc("evm_snapshot", &json!([]));
    anvil.send_tx(
        &json!({"from": e.to_string(), "to": a.to_string(), "value": format!("0x{:x}", 5 * ether)}),
    );
    anvil.send_tx(
        &json!({"from": e.to_string(), "to": token.to_string(), "data": transfer_data(&a, 1)}),
    );
    anvil.send_tx(
        &json!({"from": a.to_string(), "to": token.to_string(), "data": transfer_data(&e, 10)}),
    );
    let first =
        ingest_with(&anvil.url, store.path(), None, None, None, &options, &mut NoProgress).unwrap();
    assert_eq!(first.chain, "anvil");
    assert_eq!(first.reorgs, 0);
    let first_tip = first.tip.unwrap();
    assert_eq!(anvil.rpc("evm_revert", &json!([snapshot])), json!(true));
    anvil.send_tx(
        &json!({"from": c.to_string(), "to": e.to_string(), "value": format!("0x{:x}", ether / 3)}),
    );
    anvil.send_tx(
        &json!({"from": b.to_string(), "to": token.to_string(), "data": transfer_data(&e, 7)}),
    );
    anvil.send_tx(&json!({"from": e.to_string(), "to": forwarder.to_string(), "value": "0x1234"}));
    anvil.send_tx(&json!({"from": a.to_string(), "to": d.to_string(), "value": "0x1"}));
    let second =
        ingest_with(&anvil.url, store.path(), None, None, None, &options, &mut NoProgress).unwrap();
    assert_eq!(second.reorgs, 1, "the snapshot's blocks were replaced");
    assert_eq!(second.unwound, 3);
    let tip = second.tip.unwrap();
    assert_eq!(tip.0, first_tip.0 + 1);
    assert_ne!(
        anvil.rpc("eth_getBlockByNumber", &json!([format!("0x{:x}", first_tip.0), false]))["hash"],
        json!(first_tip.1.to_string())
    );

    // Balances from flows agree with the node.
    let chain = EvmStore::open(store.path(), "anvil").unwrap();
    let view = chain.view();
    assert_eq!(view.tip().unwrap().block.hash, tip.1);
    assert!(view.coverage_gaps().is_empty(), "anvil traces: {:?}", second.trace_mode);
    let token_id = view.asset_id(&token).unwrap();
    let token_info = view.asset(token_id).unwrap();
    assert_eq!((token_info.symbol.as_deref(), token_info.decimals), (Some("TST"), Some(18)));
    for address in &watched {
        let balances = view.balances(address);
        let native = balances.iter().find(|balance| balance.asset == 0);
        let (received, sent) = native.map_or((U256::ZERO, U256::ZERO), |n| (n.received, n.sent));
        let expected = anvil.balance(address);
        let from_flows = start
            .get(address)
            .copied()
            .unwrap_or(U256::ZERO)
            .checked_add(received)
            .unwrap()
            .checked_sub(sent)
            .unwrap();
        assert_eq!(from_flows, expected, "ether of {address}");
        let tokens = balances.iter().find(|balance| balance.asset == token_id);
        let held = tokens.map_or(U256::ZERO, |t| t.balance().unwrap());
        if *address != token {
            assert_eq!(held, anvil.token_balance(&token, address), "tokens of {address}");
        }
    }
    // The internal transfers are there, and the failed transfer paid its fee only.
    let sink_flows = view.flows_of(&sink);
    let kinds: Vec<(FlowKind, U256)> =
        sink_flows.iter().map(|flow| (flow.kind, flow.amount)).collect();
    assert_eq!(
        kinds,
        vec![
            (FlowKind::Internal, U256::from_u64(2 * ether)),
            (FlowKind::Internal, U256::from_u64(0x1234))
        ]
    );
    let failed_hash =
        cointrail_types::B256::from_hex(failed["transactionHash"].as_str().unwrap()).unwrap();
    let failed_tx = view.tx_by_hash(&failed_hash).unwrap();
    let of_failed: Vec<FlowKind> = view
        .flows_of(&c)
        .iter()
        .filter(|flow| flow.tx == Some(failed_tx.number))
        .map(|flow| flow.kind)
        .collect();
    assert!(
        of_failed.iter().all(|kind| matches!(kind, FlowKind::Fee | FlowKind::Burn)),
        "{of_failed:?}"
    );
    assert!(of_failed.contains(&FlowKind::Burn), "anvil has EIP-1559 base fees");

    // The same chain through the call tracer (anvil has both tracers; `trace_block` is preferred)
    // gives the same bytes.
    assert_eq!(second.trace_mode, Some(cointrail_evm::TraceMode::Parity));
    let call_store = tempfile::tempdir().unwrap();
    let call = IngestOptions { trace_mode: Some(cointrail_evm::TraceMode::CallTracer), ..options };
    ingest_with(&anvil.url, call_store.path(), None, None, None, &call, &mut NoProgress).unwrap();
    let flows = |dir: &Path| {
        fs_err::read(cointrail_store::evm::chain_dir(dir, "anvil").join("flows.dat")).unwrap()
    };
    assert_eq!(flows(call_store.path()), flows(store.path()));
}
