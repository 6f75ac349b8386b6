//! Ingest from a real `anvil` (Foundry's EVM node, installed from npm by
//! `scripts/install-anvil.sh`): ether between dev accounts, a hand-assembled EIP-20 token deployed
//! and moved, an internal transfer through a forwarding contract, a failed transaction, and a
//! reorganisation (`evm_snapshot` / `evm_revert`, then other blocks at the same heights). After
//! ingest, every address's received and sent sums agree with the node's own `eth_getBalance`
//! (fees included) and `balanceOf`.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cointrail_evm::{IngestOptions, NoProgress, SourceOptions, ingest_with};
use cointrail_store::evm::{EvmStore, FlowKind};
use cointrail_types::{EvmAddress, U256};
use serde_json::{Value, json};

use crate::contracts::{address_of, forwarder_code, hex_data, token_code, transfer_data};

/// Returns the anvil binary: `$COINTRAIL_ANVIL`, or what `scripts/install-anvil.sh` installs.
fn anvil_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("COINTRAIL_ANVIL") {
        return PathBuf::from(path);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-anvil.sh");
    let output = Command::new("bash").arg(&script).output().unwrap();
    assert!(
        output.status.success(),
        "anvil could not be installed by {}: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

struct Anvil {
    child: Child,
    url: String,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Anvil {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(anvil_binary())
            .args(["--port", &port.to_string(), "--host", "127.0.0.1", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let anvil = Self { child, url: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        while anvil.try_rpc("eth_chainId", &json!([])).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "anvil did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        anvil
    }

    fn try_rpc(&self, method: &str, params: &Value) -> Result<Value, String> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let response = cointrail_ingest::http::post(
            &self.url,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
            Duration::from_secs(30),
        )
        .map_err(|error| error.to_string())?;
        let answer: Value = serde_json::from_slice(&response.body).map_err(|e| e.to_string())?;
        match answer.get("error") {
            Some(error) => Err(error.to_string()),
            None => Ok(answer["result"].clone()),
        }
    }

    fn rpc(&self, method: &str, params: Value) -> Value {
        self.try_rpc(method, &params)
            .unwrap_or_else(|error| panic!("{method}({params}) failed: {error}"))
    }

    /// Sends a transaction from an unlocked dev account and returns its receipt (anvil mines
    /// each transaction into its own block).
    fn send(&self, tx: Value) -> Value {
        let hash = self.rpc("eth_sendTransaction", json!([tx]));
        let started = Instant::now();
        loop {
            let receipt = self.rpc("eth_getTransactionReceipt", json!([hash]));
            if !receipt.is_null() {
                return receipt;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{hash} was not mined");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn balance(&self, address: &EvmAddress) -> U256 {
        quantity(&self.rpc("eth_getBalance", json!([address.to_string(), "latest"])))
    }

    fn token_balance(&self, token: &EvmAddress, holder: &EvmAddress) -> U256 {
        let data = format!("0x70a08231{:0>64}", &holder.to_string()[2..]);
        let answer =
            self.rpc("eth_call", json!([{"to": token.to_string(), "data": data}, "latest"]));
        quantity(&answer)
    }
}

fn quantity(value: &Value) -> U256 {
    let text = value.as_str().unwrap();
    // eth_call answers are 32-byte words; both parse as quantities.
    U256::from_hex_quantity(text).unwrap()
}

#[test]
fn anvil_chain_ingests_with_balances_equal_to_the_node() {
    let anvil = Anvil::start();
    let accounts: Vec<EvmAddress> =
        anvil.rpc("eth_accounts", json!([])).as_array().unwrap().iter().map(address_of).collect();
    let [a, b, c, d, e] = [accounts[0], accounts[1], accounts[2], accounts[3], accounts[4]];
    let sink = EvmAddress::from_hex("0x00000000000000000000000000000000c0ffee00").unwrap();
    let mut watched: BTreeSet<EvmAddress> = [a, b, c, d, e, sink].into_iter().collect();
    let start: std::collections::HashMap<EvmAddress, U256> =
        watched.iter().map(|address| (*address, anvil.balance(address))).collect();
    let ether = 1_000_000_000_000_000_000u64;

    // Ether between dev accounts.
    anvil.send(
        json!({"from": a.to_string(), "to": b.to_string(), "value": format!("0x{:x}", 3 * ether)}),
    );
    anvil.send(
        json!({"from": b.to_string(), "to": c.to_string(), "value": format!("0x{:x}", ether / 7)}),
    );
    // A token: deploy, move, and a failed transfer (more than the balance; explicit gas so that
    // the node mines it instead of refusing at estimation).
    let receipt =
        anvil.send(json!({"from": a.to_string(), "data": hex_data(&token_code(1_000_000))}));
    assert_eq!(receipt["status"], "0x1", "token deployed");
    let token = address_of(&receipt["contractAddress"]);
    watched.insert(token);
    assert_eq!(anvil.token_balance(&token, &a), U256::from_u64(1_000_000));
    anvil.send(
        json!({"from": a.to_string(), "to": token.to_string(), "data": transfer_data(&b, 250_000)}),
    );
    anvil.send(
        json!({"from": b.to_string(), "to": token.to_string(), "data": transfer_data(&c, 1_000)}),
    );
    let failed = anvil.send(json!({
        "from": c.to_string(), "to": token.to_string(), "data": transfer_data(&d, 5_000), "gas": "0x20000"
    }));
    assert_eq!(failed["status"], "0x0", "the transfer above the balance reverts");
    assert_eq!(anvil.token_balance(&token, &b), U256::from_u64(249_000));
    // An internal transfer: d pays the forwarder, which pays the sink.
    let receipt =
        anvil.send(json!({"from": d.to_string(), "data": hex_data(&forwarder_code(&sink))}));
    let forwarder = address_of(&receipt["contractAddress"]);
    watched.insert(forwarder);
    let forwarded = anvil.send(json!({
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
    let snapshot = anvil.rpc("evm_snapshot", json!([]));
    anvil.send(
        json!({"from": e.to_string(), "to": a.to_string(), "value": format!("0x{:x}", 5 * ether)}),
    );
    anvil.send(
        json!({"from": e.to_string(), "to": token.to_string(), "data": transfer_data(&a, 1)}),
    );
    anvil.send(
        json!({"from": a.to_string(), "to": token.to_string(), "data": transfer_data(&e, 10)}),
    );
    let first =
        ingest_with(&anvil.url, store.path(), None, None, None, &options, &mut NoProgress).unwrap();
    assert_eq!(first.chain, "anvil");
    assert_eq!(first.reorgs, 0);
    let first_tip = first.tip.unwrap();
    assert_eq!(anvil.rpc("evm_revert", json!([snapshot])), json!(true));
    anvil.send(
        json!({"from": c.to_string(), "to": e.to_string(), "value": format!("0x{:x}", ether / 3)}),
    );
    anvil.send(
        json!({"from": b.to_string(), "to": token.to_string(), "data": transfer_data(&e, 7)}),
    );
    anvil.send(json!({"from": e.to_string(), "to": forwarder.to_string(), "value": "0x1234"}));
    anvil.send(json!({"from": a.to_string(), "to": d.to_string(), "value": "0x1"}));
    let second =
        ingest_with(&anvil.url, store.path(), None, None, None, &options, &mut NoProgress).unwrap();
    assert_eq!(second.reorgs, 1, "the snapshot's blocks were replaced");
    assert_eq!(second.unwound, 3);
    let tip = second.tip.unwrap();
    assert_eq!(tip.0, first_tip.0 + 1);
    assert_ne!(
        anvil.rpc("eth_getBlockByNumber", json!([format!("0x{:x}", first_tip.0), false]))["hash"],
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
