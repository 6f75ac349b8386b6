//! Clustering, explanations and labels end to end, on a regtest chain mined here.

use cointrail_btc::{DecodedBlock, Network};
use cointrail_types::{AddressKey, AddressKind};
use serde_json::Value;

use super::regtest::{REGTEST_MAGIC, coinbase, mine, p2wpkh, regtest_genesis, tx, wpkh};
use super::{cointrail, ingest, json, path, write_blocks_dir};

fn p2pkh(byte: u8) -> Vec<u8> {
    [vec![0x76, 0xa9, 0x14], vec![byte; 20], vec![0x88, 0xac]].concat()
}

fn pkh(byte: u8) -> String {
    Network::Regtest.encode_address(&AddressKey::new(AddressKind::P2pkh, &[byte; 20]))
}

/// Blocks: 1 pays A, 2 pays B, 3 has A+B -> C (p2pkh payment) + D (p2wpkh change), 4 pays E and
/// has D+E -> F. Addresses are P2WPKH of bytes 0xA1.. unless noted.
fn chain() -> Vec<Vec<u8>> {
    let genesis = regtest_genesis();
    let mut blocks = vec![genesis.clone()];
    let mut prev = DecodedBlock::decode(&genesis).unwrap().hash;
    let mut time = 1_296_689_000;
    let mut push = |txs: Vec<Vec<u8>>, blocks: &mut Vec<Vec<u8>>| {
        time += 600;
        let block = mine(&prev.0, time, &txs);
        let decoded = DecodedBlock::decode(&block).unwrap();
        prev = decoded.hash;
        blocks.push(block);
        decoded.txs.iter().map(|tx| tx.txid).collect::<Vec<_>>()
    };
    let a = push(vec![coinbase(1, p2wpkh(0xA1))], &mut blocks)[0];
    let b = push(vec![coinbase(2, p2wpkh(0xB1))], &mut blocks)[0];
    let spend = tx(
        &[(a.0, 0, vec![]), (b.0, 0, vec![])],
        &[(30 * 100_000_000, p2pkh(0xC1)), (69 * 100_000_000, p2wpkh(0xD1))],
    );
    let third = push(vec![coinbase(3, p2wpkh(0x99)), spend], &mut blocks);
    let e = push(vec![coinbase(4, p2wpkh(0xE1))], &mut blocks)[0];
    let merge =
        tx(&[(third[1].0, 1, vec![]), (e.0, 0, vec![])], &[(118 * 100_000_000, p2wpkh(0xF1))]);
    push(vec![coinbase(5, p2wpkh(0x99)), merge], &mut blocks);
    blocks
}

fn cluster_id(store: &std::path::Path, address: &str) -> Value {
    json(&["show", "address", address, "--store", path(store)])["cluster"]["id"].clone()
}

#[test]
fn cluster_explain_and_inherited_labels() {
    let temp = tempfile::tempdir().unwrap();
    let blocks = temp.path().join("blocks");
    write_blocks_dir(&blocks, &chain(), 1, REGTEST_MAGIC, None);
    let store = temp.path().join("store");
    ingest(&blocks, &store, &["--network", "regtest"]);

    let error = String::from_utf8(
        cointrail(&["explain", &wpkh(0xA1), &wpkh(0xE1), "--store", path(&store)]).stderr,
    )
    .unwrap();
    assert!(error.contains("cointrail cluster"), "{error}");

    let summary =
        json(&["cluster", "--store", path(&store), "--heuristics", "multi-input,change:type"]);
    assert_eq!(summary["merges"], 3);
    let id = cluster_id(&store, &wpkh(0xA1));
    for member in [wpkh(0xB1), wpkh(0xD1), wpkh(0xE1)] {
        assert_eq!(cluster_id(&store, &member), id, "{member}");
    }
    assert_ne!(cluster_id(&store, &pkh(0xC1)), id, "the payee stays apart");
    assert_ne!(cluster_id(&store, &wpkh(0xF1)), id);

    let explanation = json(&["explain", &wpkh(0xA1), &wpkh(0xE1), "--store", path(&store)]);
    assert_eq!(explanation["joined"], true);
    let steps = explanation["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["heuristic"], "change:type");
    assert_eq!(steps[0]["to"], wpkh(0xD1));
    assert_eq!(steps[1]["heuristic"], "multi-input");
    assert_eq!(steps[1]["to"], wpkh(0xE1));
    let apart = json(&["explain", &wpkh(0xA1), &pkh(0xC1), "--store", path(&store)]);
    assert_eq!(apart["joined"], false);

    // Labels: two exchanges inside one cluster is a conflict; inherited labels name their member.
    let csv = temp.path().join("labels.csv");
    fs_err::write(
        &csv,
        format!("address,label,category\n{},Exchange X,exchange\n{},Exchange Y,exchange\n{},Lazarus Group,sanctions\n", wpkh(0xE1), wpkh(0xB1), wpkh(0x77)),
    )
    .unwrap();
    let args = ["labels", "import", "--store", path(&store), "--format", "csv", path(&csv)];
    let first = json(&args);
    assert_eq!(first["added"], 3);
    assert_eq!(json(&args)["added"], 0, "re-importing is idempotent");

    let shown = json(&["show", "address", &wpkh(0xA1), "--store", path(&store)]);
    let labels = shown["labels"].as_array().unwrap();
    assert_eq!(labels.len(), 2);
    assert!(labels.iter().all(|label| label["inherited"] == true));
    assert_eq!(shown["conflicts"][0]["kind"], "exchanges");
    let cluster = json(&["show", "cluster", &id.to_string(), "--store", path(&store)]);
    assert_eq!(cluster["size"], 4);
    assert_eq!(cluster["conflicts"][0]["values"], serde_json::json!(["Exchange X", "Exchange Y"]));

    // A labeled address with no activity on chain still shows, with its label.
    let unseen = json(&["show", "address", &wpkh(0x77), "--store", path(&store)]);
    assert_eq!(unseen["tx_count"], 0);
    assert_eq!(unseen["labels"][0]["name"], "Lazarus Group");
}

#[test]
fn bad_label_file_imports_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let blocks = temp.path().join("blocks");
    write_blocks_dir(&blocks, &chain(), 1, REGTEST_MAGIC, None);
    let store = temp.path().join("store");
    ingest(&blocks, &store, &["--network", "regtest"]);
    let good = temp.path().join("good.csv");
    fs_err::write(&good, format!("address,label,category\n{},Someone,scam\n", wpkh(0x77))).unwrap();
    let bad = temp.path().join("bad.csv");
    fs_err::write(
        &bad,
        format!("address,label,category\n{},Other,scam\nnot-an-address,X,scam\n", wpkh(0x78)),
    )
    .unwrap();
    let output = cointrail(&[
        "labels",
        "import",
        "--store",
        path(&store),
        "--format",
        "csv",
        path(&good),
        path(&bad),
    ]);
    assert!(!output.status.success());
    let error = String::from_utf8(output.stderr).unwrap();
    assert!(error.contains("bad.csv:3"), "{error}");
    let shown = json(&["show", "address", &wpkh(0x77), "--store", path(&store)]);
    assert_eq!(shown["labels"].as_array().unwrap().len(), 0, "nothing was imported");
}

#[test]
fn incremental_clustering_equals_one_run() {
    let temp = tempfile::tempdir().unwrap();
    let blocks = temp.path().join("blocks");
    write_blocks_dir(&blocks, &chain(), 1, REGTEST_MAGIC, None);
    let whole = temp.path().join("whole");
    ingest(&blocks, &whole, &["--network", "regtest"]);
    json(&["cluster", "--store", path(&whole), "--heuristics", "multi-input,change:type"]);

    let steps = temp.path().join("steps");
    ingest(&blocks, &steps, &["--network", "regtest", "--to-height", "3"]);
    json(&["cluster", "--store", path(&steps), "--heuristics", "multi-input,change:type"]);
    ingest(&blocks, &steps, &["--network", "regtest"]);
    let second =
        json(&["cluster", "--store", path(&steps), "--heuristics", "multi-input,change:type"]);
    assert_eq!(second["txs_examined"], 3);
    for address in [wpkh(0xA1), wpkh(0xB1), pkh(0xC1), wpkh(0xD1), wpkh(0xE1), wpkh(0xF1)] {
        assert_eq!(cluster_id(&steps, &address), cluster_id(&whole, &address), "{address}");
    }
}

fn data(path: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/labels")
        .join(path)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn real_label_sources_import_and_diff() {
    let temp = tempfile::tempdir().unwrap();
    let blocks = temp.path().join("blocks");
    write_blocks_dir(&blocks, &super::mainnet_blocks(), 1, super::MAINNET_MAGIC, None);
    let store = temp.path().join("store");
    ingest(&blocks, &store, &[]);
    let s = path(&store);
    let xml = json(&[
        "labels",
        "import",
        "--store",
        s,
        "--format",
        "ofac-xml",
        &data("sdn_advanced_2025-11-19_excerpt.xml"),
    ]);
    assert!(xml["added"].as_u64().unwrap() > 100);
    let tagpack = json(&[
        "labels",
        "import",
        "--store",
        s,
        "--format",
        "tagpack",
        &data("tagpacks/lazarus2.yaml"),
    ]);
    assert!(tagpack["added"].as_u64().unwrap() >= 6);
    // A DPRK-linked bitcoin address from the SDN list shows its entity and programme, with no
    // activity on this chain.
    let csv = fs_err::read_to_string(data("sdn_2025-11-19_dprk_lazarus_related.csv")).unwrap();
    let line = csv.lines().find(|line| line.contains(",XBT,")).unwrap();
    let address = line
        .split(',')
        .find(|field| field.starts_with('1') || field.starts_with('3') || field.starts_with("bc1"))
        .unwrap();
    let shown = json(&["show", "address", address, "--store", s]);
    let label = &shown["labels"][0];
    assert_eq!(label["category"], "sanctions");
    assert!(!label["programs"].as_array().unwrap().is_empty(), "{label}");

    let diff = json(&[
        "labels",
        "diff",
        &data("ofac-2024-09-27/sanctioned_addresses_ETH.txt"),
        &data("ofac-2025-11-19/sanctioned_addresses_ETH.txt"),
    ]);
    assert_eq!(diff["removed"].as_array().unwrap().len(), 90);
    assert_eq!(diff["added"].as_array().unwrap().len(), 15);
}
