//! `cointrail follow` against a real Core-family node: Debian's `litecoind -regtest` (Litecoin Core
//! 0.21, a Bitcoin Core fork: same RPC, wallet, `generatetoaddress`, `invalidateblock`).
//! `scripts/test.sh` installs it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{cointrail, path};

struct Node {
    child: Child,
    datadir: tempfile::TempDir,
    rpc_port: u16,
    p2p_port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Node {
    fn start() -> Self {
        assert!(
            Command::new("litecoind").arg("-version").output().is_ok(),
            "litecoind is not installed: scripts/test.sh installs it (apt-get install litecoind)"
        );
        let datadir = tempfile::tempdir().unwrap();
        let (rpc_port, p2p_port) = (free_port(), free_port());
        let child = Self::spawn(datadir.path(), rpc_port, p2p_port);
        let node = Self { child, datadir, rpc_port, p2p_port };
        node.wait_ready();
        node.cli(&["createwallet", "w"]);
        node
    }

    fn spawn(datadir: &Path, rpc_port: u16, p2p_port: u16) -> Child {
        Command::new("litecoind")
            .arg("-regtest")
            .arg(format!("-datadir={}", datadir.display()))
            .arg(format!("-rpcport={rpc_port}"))
            .arg(format!("-port={p2p_port}"))
            .args([
                "-rpcuser=u",
                "-rpcpassword=p",
                "-listen=0",
                "-fallbackfee=0.0001",
                "-printtoconsole=0",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn wait_ready(&self) {
        let started = Instant::now();
        while self.try_cli(&["getblockcount"]).is_none() {
            assert!(started.elapsed() < Duration::from_secs(60), "litecoind did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the node and waits for it to exit.
    fn stop(&mut self) {
        let _ = self.try_cli(&["stop"]);
        let _ = self.child.wait();
    }

    /// Starts the node again on the same data and ports.
    fn restart(&mut self) {
        self.child = Self::spawn(self.datadir.path(), self.rpc_port, self.p2p_port);
        self.wait_ready();
        self.cli(&["loadwallet", "w"]);
    }

    fn try_cli(&self, args: &[&str]) -> Option<String> {
        let output = Command::new("litecoin-cli")
            .arg("-regtest")
            .arg(format!("-datadir={}", self.datadir.path().display()))
            .arg(format!("-rpcport={}", self.rpc_port))
            .args(["-rpcuser=u", "-rpcpassword=p"])
            .args(args)
            .output()
            .ok()?;
        output.status.success().then(|| String::from_utf8(output.stdout).unwrap().trim().to_owned())
    }

    fn cli(&self, args: &[&str]) -> String {
        self.try_cli(args).unwrap_or_else(|| panic!("litecoin-cli {args:?} failed"))
    }

    fn mine(&self, blocks: u32, address: &str) {
        self.cli(&["generatetoaddress", &blocks.to_string(), address]);
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc_port)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.try_cli(&["stop"]);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
    }
}

/// Runs `follow --exit-when-synced` and returns its JSON lines.
fn follow(node: &Node, store: &Path, extra: &[&str]) -> Vec<Value> {
    let url = node.url();
    let mut args = vec![
        "follow",
        "btc",
        "--rpc",
        &url,
        "--rpc-user",
        "u",
        "--rpc-password",
        "p",
        "--network",
        "litecoin-regtest",
        "--store",
        path(store),
        "--exit-when-synced",
        "--poll-seconds",
        "1",
    ];
    args.extend(extra);
    let output = cointrail(&args);
    assert!(output.status.success(), "follow failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The store's chain files (watch lists and alert logs left out).
fn chain_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    cointrail_testkit::dir_snapshot(
        dir,
        &["LOCK", "watches.json", "alerts.jsonl", "alerts.delivered", "incidents.json"],
    )
}

/// A tiny webhook receiver that records POST bodies.
fn webhook(listener: TcpListener) -> Arc<Mutex<Vec<String>>> {
    let received = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let Ok(read) = stream.read(&mut chunk) else { break None };
                if read == 0 {
                    break None;
                }
                buffer.extend_from_slice(&chunk[..read]);
                let text = String::from_utf8_lossy(&buffer).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|line| line.strip_prefix("Content-Length: "))
                        .and_then(|value| value.trim().parse().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break Some(body[..length].to_owned());
                    }
                }
            };
            if let Some(body) = body {
                record.lock().unwrap().push(body);
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    received
}

#[test]
fn follow_litecoind_through_reorgs_with_alerts_and_webhook() {
    let mut node = Node::start();
    let miner = node.cli(&["getnewaddress"]);
    node.mine(110, &miner);
    let temp = tempfile::tempdir().unwrap();
    let store = temp.path().join("store");
    let lines = follow(&node, &store, &[]);
    assert_eq!(lines.last().unwrap()["tip_height"], 110);

    // Watch the miner's address; the webhook is down for now.
    let watched = super::json(&["watch", "add", &miner, "--store", path(&store)]);
    assert_eq!(watched["kind"], "address");
    let port = free_port();
    let hook = format!("http://127.0.0.1:{port}/alerts");
    let payee = node.cli(&["getnewaddress"]);
    let txid = node.cli(&["sendtoaddress", &payee, "10"]);
    let other = node.cli(&["getnewaddress"]);
    node.mine(1, &other);
    let alerts_file = temp.path().join("alerts.jsonl");
    follow(&node, &store, &["--alerts", path(&alerts_file), "--webhook", &hook]);
    let alerts: Vec<Value> = fs_err::read_to_string(&alerts_file)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["txid"], txid);
    assert_eq!(alerts[0]["watch"], watched["id"]);
    assert_eq!(alerts[0]["height"], 111);
    assert!(alerts[0]["moved"].as_u64().unwrap() >= 10 * 100_000_000);
    assert!(
        alerts[0]["destinations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["address"] == payee.as_str())
    );

    // The webhook comes back: the alert is delivered once, and never again.
    let received = webhook(TcpListener::bind(("127.0.0.1", port)).unwrap());
    follow(&node, &store, &["--alerts", path(&alerts_file), "--webhook", &hook]);
    follow(&node, &store, &["--alerts", path(&alerts_file), "--webhook", &hook]);
    let bodies = received.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let delivered: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(delivered["txid"], txid);
    assert_eq!(
        fs_err::read_to_string(&alerts_file).unwrap().lines().count(),
        1,
        "no duplicate alert"
    );

    // An incident: the 10 coins paid to the payee are stolen. Moving them raises an alert, and so
    // does moving what they paid for (taint follows the coins).
    let vout = (0..2)
        .find(|vout| {
            let output = node.cli(&["gettxout", &txid, &vout.to_string()]);
            output.contains(&payee)
        })
        .unwrap();
    let seed = format!("{txid}:{vout}");
    super::json(&[
        "incident",
        "add",
        "--store",
        path(&store),
        "--name",
        "heist",
        "--actor",
        "X",
        "--seed",
        &seed,
    ]);
    let incident_watch =
        super::json(&["watch", "add", "--incident", "heist", "--store", path(&store)]);
    let spend = |outpoint: &str, to: &str, amount: &str| -> String {
        let (spent_txid, spent_vout) = outpoint.split_once(':').unwrap();
        let inputs = format!("[{{\"txid\":\"{spent_txid}\",\"vout\":{spent_vout}}}]");
        let outputs = format!("{{\"{to}\":{amount}}}");
        let raw = node.cli(&["createrawtransaction", &inputs, &outputs]);
        let signed: Value =
            serde_json::from_str(&node.cli(&["signrawtransactionwithwallet", &raw])).unwrap();
        node.cli(&["sendrawtransaction", signed["hex"].as_str().unwrap()])
    };
    let launderer = node.cli(&["getnewaddress"]);
    let first_hop = spend(&seed, &launderer, "9.999");
    node.mine(1, &other);
    let second_hop = spend(&format!("{first_hop}:0"), &node.cli(&["getnewaddress"]), "9.998");
    node.mine(1, &other);
    let lines = follow(&node, &store, &[]);
    let incident_alerts: Vec<&Value> = lines
        .iter()
        .filter(|line| line["event"] == "alert" && line["watch"] == incident_watch["id"])
        .collect();
    assert_eq!(incident_alerts.len(), 2, "{lines:?}");
    assert_eq!(incident_alerts[0]["txid"], first_hop);
    assert_eq!(incident_alerts[0]["watch_kind"], "incident");
    assert_eq!(incident_alerts[1]["txid"], second_hop, "taint follows the coins");

    // The node disappears: follow says so and keeps what it has; it resumes when the node is back.
    node.stop();
    let url = node.url();
    let gone = cointrail(&[
        "follow",
        "btc",
        "--rpc",
        &url,
        "--rpc-user",
        "u",
        "--rpc-password",
        "p",
        "--network",
        "litecoin-regtest",
        "--store",
        path(&store),
        "--exit-when-synced",
        "--poll-seconds",
        "1",
    ]);
    assert!(!gone.status.success());
    let error = String::from_utf8_lossy(&gone.stderr);
    assert!(error.contains("getblockcount"), "{error}");
    assert_eq!(super::json(&["status", "--store", path(&store)])["tip_height"], 113);
    node.restart();
    assert_eq!(follow(&node, &store, &[]).last().unwrap()["tip_height"], 113);

    // Reorgs of depth 1, 3 and 10: a competing branch one block longer wins.
    for depth in [1u32, 3, 10] {
        let tip: u32 = node.cli(&["getblockcount"]).parse().unwrap();
        let first_removed = node.cli(&["getblockhash", &(tip - depth + 1).to_string()]);
        node.cli(&["invalidateblock", &first_removed]);
        let branch = node.cli(&["getnewaddress"]);
        node.mine(depth + 1, &branch);
        let lines = follow(&node, &store, &[]);
        let reorg = lines
            .iter()
            .find(|line| line["event"] == "reorg")
            .unwrap_or_else(|| panic!("no reorg event: {lines:?}"));
        assert_eq!(reorg["fork_height"], tip - depth, "depth {depth}");
        assert_eq!(lines.last().unwrap()["tip_height"], tip + 1);
        // The store equals a fresh ingest of the winning chain.
        let fresh = temp.path().join(format!("fresh-{depth}"));
        follow(&node, &fresh, &[]);
        assert_eq!(chain_files(&store), chain_files(&fresh), "depth {depth}");
    }
    let status = super::json(&["status", "--store", path(&store)]);
    assert_eq!(status["network"], "litecoin-regtest");
}
