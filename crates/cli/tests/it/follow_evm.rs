//! `cointrail follow evm` against a real anvil (Foundry's EVM node, installed from npm by
//! `scripts/install-anvil.sh`, or `$COINTRAIL_ANVIL`): catching up, an alert for ether leaving a
//! watched dev account (raised once), and a reorganisation (`evm_snapshot` / `evm_revert`, then
//! other blocks at the same heights) followed to the node's branch.

use std::path::Path;

use cointrail_store::evm::EvmStore;
use cointrail_testkit::anvil::{Anvil, DEV_ACCOUNTS};
use cointrail_types::B256;
use serde_json::{Value, json};

use super::{cointrail, path};

/// Anvil's first three dev accounts (unlocked, funded).
const ALICE: &str = DEV_ACCOUNTS[0];
const BOB: &str = DEV_ACCOUNTS[1];
const CAROL: &str = DEV_ACCOUNTS[2];

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
