//! `cointrail cluster --chain`, `show address` and `explain` on a real anvil chain (Foundry's EVM
//! node, `$COINTRAIL_ANVIL` or `scripts/install-anvil.sh`): two users pay one fresh deposit address,
//! which forwards to an exchange's hot wallet; two other customers' deposit addresses forward to
//! the same hot wallet, so that it passes the hot-wallet threshold.

use serde_json::{Value, json as value};

use super::{json, ok, path};
use cointrail_testkit::anvil::Anvil;

/// Anvil's dev accounts 0-3 (funded).
const ALICE: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
const BOB: &str = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
const CAROL: &str = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc";
const DAVE: &str = "0x90f79bf6eb2c4f870365e785982e1f101e93b906";
/// Fresh accounts (no key: anvil's `--auto-impersonate` sends for them).
const DEPOSIT: &str = "0x00000000000000000000000000000000000d0001";
const DEPOSIT_CAROL: &str = "0x00000000000000000000000000000000000d0002";
const DEPOSIT_DAVE: &str = "0x00000000000000000000000000000000000d0003";
const HOT_WALLET: &str = "0x00000000000000000000000000000000000e0001";

const ETHER: u128 = 1_000_000_000_000_000_000;
/// What a deposit address keeps back: more than the gas of its forward, under 0.01 ether.
const KEPT: u128 = ETHER / 1_000;

fn members(address: &Value) -> Vec<String> {
    address["clustering"]["cluster"]["members"]
        .as_array()
        .map(|members| members.iter().map(|m| m.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn users_of_one_deposit_address_are_clustered_and_explained() {
    let anvil = Anvil::start_with(&["--auto-impersonate"]);
    anvil.send(ALICE, DEPOSIT, ETHER);
    anvil.send(BOB, DEPOSIT, 2 * ETHER);
    anvil.send(DEPOSIT, HOT_WALLET, 3 * ETHER - KEPT);
    anvil.send(CAROL, DEPOSIT_CAROL, ETHER);
    anvil.send(DEPOSIT_CAROL, HOT_WALLET, ETHER - KEPT);
    anvil.send(DAVE, DEPOSIT_DAVE, 5 * ETHER);
    let before_last = anvil.rpc("evm_snapshot", &serde_json::json!([]));
    anvil.send(DEPOSIT_DAVE, HOT_WALLET, 5 * ETHER - KEPT);

    let temp = tempfile::tempdir().unwrap();
    let store = temp.path().join("store");
    let s = path(&store);
    ok(&["ingest", "evm", "--rpc", &anvil.url, "--store", s, "--chain", "anvil"]);

    // Before clustering, explain says what to run.
    let output = super::cointrail(&["explain", ALICE, BOB, "--store", s]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cointrail cluster --chain anvil"));

    let output = super::cointrail(&["cluster", "--store", s, "--heuristics", "change:type"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("deposit-address heuristic"));

    // A store with only an EVM chain: `cluster` picks it without --chain.
    let summary = json(&["cluster", "--store", s]);
    assert_eq!(summary["chain"], "anvil");
    assert_eq!(summary["heuristic"], "deposit-address");
    assert_eq!(summary["hot_wallets"], 1);
    assert_eq!(summary["deposit_addresses"], 3);
    assert_eq!(summary["merges"], 1);
    assert_eq!(summary["clusters"], 1);
    assert_eq!(summary["largest_cluster"], 2);
    assert_eq!(summary["params"]["max_block_delay"], 10_000);
    // Same chain, same bytes: a second run commits generation 1 with an identical map and
    // evidence.
    let dir = store.join("evm").join("anvil");
    let first = fs_err::read_to_string(dir.join("DEPOSITS")).unwrap();
    ok(&["cluster", "--store", s, "--chain", "anvil"]);
    let second = fs_err::read_to_string(dir.join("DEPOSITS")).unwrap();
    assert_eq!(second.replace("\"generation\": 1", "\"generation\": 0"), first);
    assert_eq!(
        fs_err::read(dir.join("deposit.map.1")).unwrap(),
        fs_err::read(dir.join("deposit.map.0")).unwrap()
    );

    let alice = json(&["show", "address", ALICE, "--store", s, "--chain", "anvil"]);
    assert_eq!(members(&alice), [ALICE, BOB]);
    let deposits = &alice["clustering"]["cluster"]["deposits"];
    assert_eq!(deposits[0]["deposit"], DEPOSIT);
    assert_eq!(deposits[0]["hot_wallet"], HOT_WALLET);
    assert_eq!(deposits[0]["payers"], serde_json::json!([ALICE, BOB]));
    let carol = json(&["show", "address", CAROL, "--store", s]);
    assert!(carol["clustering"]["cluster"].is_null(), "carol is alone: {carol}");
    let deposit = json(&["show", "address", DEPOSIT, "--store", s]);
    assert_eq!(deposit["clustering"]["role"]["kind"], "deposit address");
    assert_eq!(deposit["clustering"]["role"]["hot_wallet"], HOT_WALLET);
    assert!(members(&deposit).is_empty(), "the deposit address is the exchange's");
    let hot = json(&["show", "address", HOT_WALLET, "--store", s]);
    assert_eq!(hot["clustering"]["role"]["kind"], "hot wallet");
    assert_eq!(hot["clustering"]["role"]["deposits"], 3);
    let table = ok(&["show", "address", BOB, "--store", s]);
    assert!(table.contains(&format!("  member  {ALICE}")), "{table}");
    assert!(table.contains(&format!("  deposit {DEPOSIT} (hot wallet {HOT_WALLET})")), "{table}");

    let table = ok(&["show", "address", CAROL, "--store", s]);
    assert!(table.contains("cluster   - (alone"), "{table}");
    let cluster = json(&["show", "cluster", BOB, "--store", s, "--chain", "anvil"]);
    assert_eq!(cluster["cluster"]["members"], serde_json::json!([ALICE, BOB]));
    let cluster = json(&["show", "cluster", BOB, "--store", s, "--limit", "1"]);
    assert_eq!(cluster["cluster"]["members"], serde_json::json!([ALICE]));
    assert_eq!(cluster["cluster"]["members_truncated"], true);
    assert_eq!(cluster["cluster"]["size"], 2);

    let explanation = json(&["explain", ALICE, BOB, "--store", s, "--chain", "anvil"]);
    assert_eq!(explanation["joined"], true);
    let steps = explanation["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1);
    let step = &steps[0];
    assert_eq!((&step["from"], &step["to"]), (&Value::from(ALICE), &Value::from(BOB)));
    assert_eq!(step["deposit"], DEPOSIT);
    assert_eq!(step["hot_wallet"], HOT_WALLET);
    assert_eq!(step["payment_from"]["from"], ALICE);
    assert_eq!(step["payment_from"]["amount"], ETHER.to_string());
    assert_eq!(step["payment_to"]["amount"], (2 * ETHER).to_string());
    let forwards = step["forwards"].as_array().unwrap();
    assert_eq!(forwards.len(), 1, "one forward passed both payments on");
    assert_eq!(forwards[0]["flow"]["to"], HOT_WALLET);
    assert_eq!(forwards[0]["flow"]["amount"], (3 * ETHER - KEPT).to_string());
    assert_eq!(forwards[0]["amount_difference"], KEPT.to_string());
    assert_eq!(forwards[0]["block_delay"], 2, "one block per transaction on anvil");
    let table = ok(&["explain", BOB, ALICE, "--store", s]);
    assert!(table.contains(&format!("both paid deposit address {DEPOSIT}")), "{table}");

    let apart = json(&["explain", ALICE, CAROL, "--store", s]);
    assert_eq!(apart["joined"], false);

    // Stricter thresholds: no hot wallet with four deposit addresses required, so no cluster.
    let summary = json(&["cluster", "--store", s, "--chain", "anvil", "--min-deposits", "4"]);
    assert_eq!(summary["deposit_addresses"], 0);
    let alice = json(&["show", "address", ALICE, "--store", s]);
    assert!(members(&alice).is_empty());

    // A label naming the hot wallet an exchange makes it one whatever the threshold, and a label
    // on bob is inherited by alice through the cluster.
    let csv = temp.path().join("labels.csv");
    let rows = format!(
        "address,label,category\n{HOT_WALLET},Example Exchange,exchange\n{BOB},Bob's shop,merchant\n"
    );
    fs_err::write(&csv, rows).unwrap();
    ok(&["labels", "import", "--store", s, "--format", "csv", path(&csv)]);
    let summary = json(&["cluster", "--store", s, "--chain", "anvil", "--min-deposits", "4"]);
    assert_eq!(summary["deposit_addresses"], 3);
    let alice = json(&["show", "address", ALICE, "--store", s]);
    assert_eq!(members(&alice), [ALICE, BOB]);
    let labels = &alice["clustering"]["cluster"]["labels"];
    assert_eq!(labels.as_array().unwrap().len(), 1, "{labels}");
    assert_eq!(labels[0]["name"], "Bob's shop");
    assert_eq!(labels[0]["inherited"], true);
    assert_eq!(labels[0]["via"], BOB);
    let table = ok(&["show", "address", ALICE, "--store", s]);
    assert!(table.contains("label     Bob's shop [merchant] (via its cluster)"), "{table}");

    // Risk labels are inherited through the cluster too: alice stolen from (theft) makes bob's
    // payment into the deposit address a direct exposure, the label on alice.
    let csv = temp.path().join("theft.csv");
    fs_err::write(&csv, format!("address,label,category\n{ALICE},Test theft,theft\n")).unwrap();
    ok(&["labels", "import", "--store", s, "--format", "csv", path(&csv)]);
    let deposit = json(&["risk", DEPOSIT, "--store", s]);
    let exposure = &deposit["exposures"][0];
    assert_eq!(exposure["label"], "Test theft", "{deposit}");
    assert_eq!(exposure["hops"], 1);
    assert_eq!(exposure["amount"], value!(3 * ETHER), "both payments");
    let via_bob = exposure["paths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|path| path["from_address"] == BOB)
        .unwrap_or_else(|| panic!("{deposit}"));
    assert_eq!(via_bob["labeled_address"], ALICE);
    assert!(deposit["explanation"].to_string().contains("via its cluster member"), "{deposit}");
    // A trace from dave reaches the exchange through its deposit address.
    let trace = json(&["trace", "--from", DAVE, "--store", s, "--stop-category", "exchange"]);
    assert_eq!(trace["reached"][0]["label"], "Example Exchange", "{trace}");

    // The API serves the same cluster.
    let (status, body) =
        super::evm_show::api_request(&store, "GET", &format!("/v1/cluster/{BOB}?limit=5"), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cluster"]["members"], value!([ALICE, BOB]));

    // A reorganisation replaces the block the clusters saw as tip: they are refused until re-run.
    anvil.rpc("evm_revert", &serde_json::json!([before_last]));
    anvil.send(DAVE, CAROL, ETHER);
    anvil.send(DAVE, CAROL, ETHER);
    ok(&["ingest", "evm", "--rpc", &anvil.url, "--store", s, "--chain", "anvil"]);
    let alice = json(&["show", "address", ALICE, "--store", s]);
    assert!(alice["clustering"].is_null());
    let note = alice["clustering_note"].as_str().unwrap();
    assert!(note.contains("re-run `cointrail cluster --chain anvil`"), "{note}");
    let output = super::cointrail(&["explain", ALICE, BOB, "--store", s]);
    assert!(!output.status.success());
    let summary = json(&["cluster", "--store", s]);
    // Dave's deposit address no longer forwards; the labelled hot wallet keeps the other two.
    assert_eq!(summary["deposit_addresses"], 2);
    assert_eq!(summary["merges"], 1);
}
