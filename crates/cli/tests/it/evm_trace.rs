//! `trace --from 0x…` on an EVM chain: the account-model trace of recorded mainnet blocks
//! 1755634-1755635 (the sender pays 0.405738107 ether to the recipient and 0.00042 ether of gas to
//! the miner; its history starts there, so what it spends is its opening balance).

use serde_json::json;

use super::evm_show::{ingest_chain, start_node};
use super::{cointrail, json, ok, path};

const SENDER: &str = "0x3763e6e1228bfeab94191c856412d1bb0a8e6996";
const RECIPIENT: &str = "0xec1ebac9da3430213281c80fa6d46378341a96ae";
const TX: &str = "0x9a5437ec71b74ecf5930b406908ac6999966d38a86d1534b7190ece7599095eb";

#[test]
fn evm_trace_reaches_a_labeled_exchange_and_conserves() {
    let url = start_node();
    let temp = tempfile::tempdir().unwrap();
    let store = temp.path().join("store");
    ingest_chain(&url, &store, "ethereum");
    let s = path(&store);
    let csv = temp.path().join("labels.csv");
    fs_err::write(
        &csv,
        format!("address,label,category,asset\n{RECIPIENT},Test Exchange,exchange,ETH\n"),
    )
    .unwrap();
    json(&["labels", "import", "--store", s, "--format", "csv", path(&csv)]);

    for policy in ["haircut", "fifo"] {
        let trace = json(&["trace", "--from", SENDER, "--policy", policy, "--store", s]);
        assert_eq!(trace["policy"], policy);
        assert_eq!(trace["seeds"], json!([SENDER]));
        assert_eq!(trace["seed_amount"], 406_158_107_000_000_000u64);
        let reached = trace["reached"].as_array().unwrap();
        assert_eq!(reached.len(), 1, "{trace}");
        assert_eq!(reached[0]["label"], "Test Exchange");
        assert_eq!(reached[0]["category"], "exchange");
        assert_eq!(reached[0]["amount"], 405_738_107_000_000_000u64);
        assert_eq!(reached[0]["hops"], 1);
        assert_eq!(reached[0]["txs"], json!([TX]));
        assert_eq!(reached[0]["outputs"], json!([RECIPIENT]));
        assert_eq!(trace["fees"], 420_000_000_000_000u64);
        assert_eq!(trace["unspent"], 0);
        assert_eq!(trace["conserved"], true);
        assert_eq!(trace["sources"][0]["address"], RECIPIENT);
    }
    let table = ok(&["trace", "--from", SENDER, "--store", s]);
    assert!(table.contains("Test Exchange"), "{table}");
    assert!(table.contains("the figures add up to the seed amount exactly"), "{table}");
    // Every renderer takes the document.
    for format in ["dot", "html", "csv", "graphml"] {
        ok(&["trace", "--from", SENDER, "--store", s, "--format", format]);
    }

    // Poison and LIFO are not defined on account balances.
    let output = cointrail(&["trace", "--from", SENDER, "--policy", "poison", "--store", s]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("use haircut or fifo"), "{stderr}");
}
