//! `cointrail follow evm` against a real anvil (Foundry's EVM node, installed from npm by
//! `scripts/install-anvil.sh`, or `$COINTRAIL_ANVIL`): catching up, an alert for ether leaving a
//! watched dev account (raised once), and a reorganisation (`evm_snapshot` / `evm_revert`, then
//! other blocks at the same heights) followed to the node's branch.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cointrail_store::evm::EvmStore;
use cointrail_types::B256;
use serde_json::{Value, json};

use super::{cointrail, path};

/// Anvil's first three dev accounts (unlocked, funded).
const ALICE: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const BOB: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const CAROL: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

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

pub(super) struct Anvil {
    child: Child,
    pub(super) url: String,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Anvil {
    fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts anvil with extra command-line arguments.
    pub(super) fn start_with(extra: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(anvil_binary())
            .args(["--port", &port.to_string(), "--host", "127.0.0.1", "--silent"])
            .args(extra)
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

    pub(super) fn rpc(&self, method: &str, params: &Value) -> Value {
        self.try_rpc(method, params)
            .unwrap_or_else(|error| panic!("{method}({params}) failed: {error}"))
    }

    /// Sends ether from an unlocked dev account; anvil mines it into its own block. Returns the
    /// transaction hash once mined.
    pub(super) fn send(&self, from: &str, to: &str, wei: u128) -> String {
        let tx = json!({"from": from, "to": to, "value": format!("{wei:#x}")});
        let hash = self.rpc("eth_sendTransaction", &json!([tx]));
        let started = Instant::now();
        while self.rpc("eth_getTransactionReceipt", &json!([hash])).is_null() {
            assert!(started.elapsed() < Duration::from_secs(30), "{hash} was not mined");
            std::thread::sleep(Duration::from_millis(20));
        }
        hash.as_str().unwrap().to_owned()
    }

    fn mine(&self) {
        self.rpc("evm_mine", &json!([]));
    }

    fn latest(&self) -> u64 {
        let text = self.rpc("eth_blockNumber", &json!([]));
        u64::from_str_radix(text.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }

    fn block(&self, number: u64) -> Value {
        self.rpc("eth_getBlockByNumber", &json!([format!("{number:#x}"), false]))
    }
}

/// Runs `follow evm --exit-when-synced` and returns its JSON lines.
fn follow(anvil: &Anvil, store: &Path) -> Vec<Value> {
    let args = [
        "follow",
        "evm",
        "--rpc",
        &anvil.url,
        "--store",
        path(store),
        "--exit-when-synced",
        "--poll-seconds",
        "1",
    ];
    let output = cointrail(&args);
    assert!(
        output.status.success(),
        "follow evm failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn events<'a>(lines: &'a [Value], event: &str) -> Vec<&'a Value> {
    lines.iter().filter(|line| line["event"] == event).collect()
}

fn synced_tip(lines: &[Value]) -> u64 {
    events(lines, "synced").last().expect("a synced event")["tip_height"].as_u64().unwrap()
}

/// The hash of the first transaction of stored block `number` of chain `anvil`.
fn stored_first_tx(store: &Path, number: u64) -> Option<String> {
    let opened = EvmStore::open(store, "anvil").unwrap();
    let view = opened.view();
    let block = view.block(number)?;
    (block.tx_count > 0).then(|| view.tx(block.first_tx).unwrap().hash.to_string())
}

#[test]
fn follow_evm_alerts_once_and_follows_a_reorganisation() {
    let anvil = Anvil::start();
    let temp = tempfile::tempdir().unwrap();
    let store = temp.path().join("store");

    // Catch up (genesis only), then watch Alice (mixed case in, lower case stored).
    let first = follow(&anvil, &store);
    assert_eq!(synced_tip(&first), anvil.latest());
    assert!(events(&first, "alert").is_empty());
    let added = super::json(&["watch", "add", ALICE, "--store", path(&store)]);
    assert_eq!(added["kind"], "address");
    assert_eq!(added["target"], ALICE.to_lowercase());

    // Alice pays Bob 1.5 ether; one more (empty) block on top.
    let wei: u128 = 1_500_000_000_000_000_000;
    let paid = anvil.send(ALICE, BOB, wei);
    anvil.mine();
    let second = follow(&anvil, &store);
    assert_eq!(synced_tip(&second), anvil.latest());
    let alerts = events(&second, "alert");
    assert_eq!(alerts.len(), 1, "{second:?}");
    let alert = alerts[0];
    assert_eq!(alert["txid"], paid);
    assert_eq!(alert["watch"], added["id"]);
    assert_eq!(alert["watch_kind"], "address");
    assert_eq!(alert["watch_target"], ALICE.to_lowercase());
    assert_eq!(alert["chain"], "anvil");
    assert_eq!(alert["moved"], wei.to_string());
    assert_eq!(alert["asset"], "native");
    let receipt = anvil.rpc("eth_getTransactionReceipt", &json!([paid]));
    assert_eq!(
        alert["block"].as_u64().unwrap(),
        u64::from_str_radix(receipt["blockNumber"].as_str().unwrap().trim_start_matches("0x"), 16)
            .unwrap()
    );
    let destinations = alert["destinations"].as_array().unwrap();
    assert_eq!(destinations.len(), 1);
    assert_eq!(destinations[0]["address"], BOB.to_lowercase());
    assert_eq!(destinations[0]["amount"], wei.to_string());
    assert_eq!(destinations[0]["labels"], json!([]));
    let log = fs_err::read_to_string(store.join("alerts.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1);

    // Nothing new: no alert again.
    let third = follow(&anvil, &store);
    assert!(events(&third, "alert").is_empty(), "{third:?}");
    assert_eq!(fs_err::read_to_string(store.join("alerts.jsonl")).unwrap().lines().count(), 1);

    // A branch that is later abandoned: Bob pays Carol, followed.
    let snapshot = anvil.rpc("evm_snapshot", &json!([]));
    let fork = anvil.latest();
    let abandoned = anvil.send(BOB, CAROL, 7);
    anvil.mine();
    let fourth = follow(&anvil, &store);
    assert_eq!(synced_tip(&fourth), fork + 2);
    assert_eq!(stored_first_tx(&store, fork + 1), Some(abandoned.clone()));

    // The node switches to a longer branch with other blocks at the same heights.
    assert_eq!(anvil.rpc("evm_revert", &json!([snapshot])), json!(true));
    assert_eq!(anvil.latest(), fork);
    anvil.mine();
    let replaced = anvil.send(CAROL, BOB, 11);
    let tip_tx = anvil.send(CAROL, BOB, 13);
    let tip = anvil.latest();
    assert_eq!(tip, fork + 3);
    let fifth = follow(&anvil, &store);
    let reorgs = events(&fifth, "reorg");
    assert_eq!(reorgs.len(), 1, "{fifth:?}");
    assert_eq!(reorgs[0]["fork_height"], fork);
    assert_eq!(reorgs[0]["from_height"], fork + 2);
    assert_eq!(synced_tip(&fifth), tip);
    assert!(events(&fifth, "alert").is_empty(), "{fifth:?}");

    // The store agrees with the node.
    let node_tip = anvil.block(tip);
    assert_eq!(stored_first_tx(&store, tip), Some(tip_tx.clone()));
    assert_eq!(node_tip["transactions"][0], tip_tx);
    assert_eq!(stored_first_tx(&store, fork + 2), Some(replaced));
    assert_eq!(stored_first_tx(&store, fork + 1), None);
    let opened = EvmStore::open(&store, "anvil").unwrap();
    let stored_tip = opened.view().tip().unwrap();
    assert_eq!(stored_tip.block.number, tip);
    assert_eq!(stored_tip.block.hash.to_string(), node_tip["hash"].as_str().unwrap());
    assert!(opened.view().tx_by_hash(&B256::from_hex(&abandoned).unwrap()).is_none());

    // Alice's alert is still the only one, and a last follow raises nothing.
    let sixth = follow(&anvil, &store);
    assert!(events(&sixth, "alert").is_empty() && events(&sixth, "reorg").is_empty());
    assert_eq!(fs_err::read_to_string(store.join("alerts.jsonl")).unwrap().lines().count(), 1);
}
