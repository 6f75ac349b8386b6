//! Tracing end to end: a theft peeled into two exchanges whose deposit addresses are only known
//! through their clusters, incidents, the actor report, and every output format.

use cointrail_types::Hash32;
use serde_json::Value;

use super::regtest::{Miner, REGTEST_MAGIC, p2wpkh, tx, wpkh};
use super::{cointrail, ingest, json, path, write_blocks_dir};

const BTC: u64 = 100_000_000;
const FEE: u64 = 10_000;

/// Returns the blocks and the theft txid (its output 0, 30 BTC, is the seed).
fn chain() -> (Vec<Vec<u8>>, Hash32) {
    let mut miner = Miner::new();
    let victim = miner.block(0x01, vec![])[0];
    let hot_a = miner.block(0xA0, vec![])[0];
    let hot_b = miner.block(0xB0, vec![])[0];
    let theft =
        tx(&[(victim.0, 0, vec![])], &[(30 * BTC, p2wpkh(0x71)), (20 * BTC - FEE, p2wpkh(0x01))]);
    let theft_id = miner.block(0xEE, vec![theft])[1];
    let peel_a =
        tx(&[(theft_id.0, 0, vec![])], &[(5 * BTC, p2wpkh(0xA1)), (25 * BTC - FEE, p2wpkh(0x72))]);
    let peel_a_id = miner.block(0xEE, vec![peel_a])[1];
    let peel_b = tx(
        &[(peel_a_id.0, 1, vec![])],
        &[(4 * BTC, p2wpkh(0xB1)), (21 * BTC - 2 * FEE, p2wpkh(0x73))],
    );
    let peel_b_id = miner.block(0xEE, vec![peel_b])[1];
    let shop =
        tx(&[(peel_b_id.0, 1, vec![])], &[(BTC, p2wpkh(0x5A)), (20 * BTC - 3 * FEE, p2wpkh(0x74))]);
    miner.block(0xEE, vec![shop]);
    // Later, each exchange sweeps its deposit together with its hot wallet: the co-spend is what
    // ties the deposit address to the labeled hot wallet.
    let sweep_a =
        tx(&[(peel_a_id.0, 0, vec![]), (hot_a.0, 0, vec![])], &[(55 * BTC - FEE, p2wpkh(0xA0))]);
    let sweep_b = tx(
        &[(peel_b_id.0, 0, vec![]), (hot_b.0, 0, vec![])],
        &[(54 * BTC - FEE, p2wpkh(0xA0 + 0x10))],
    );
    miner.block(0xEE, vec![sweep_a, sweep_b]);
    (miner.blocks, theft_id)
}

fn reached<'a>(document: &'a Value, label: &str) -> &'a Value {
    document["reached"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == label)
        .unwrap_or(&Value::Null)
}

#[test]
fn theft_traced_into_exchanges_known_through_their_clusters() {
    let temp = tempfile::tempdir().unwrap();
    let blocks = temp.path().join("blocks");
    let (chain, theft) = chain();
    write_blocks_dir(&blocks, &chain, 1, REGTEST_MAGIC, None);
    let store = temp.path().join("store");
    let s = path(&store);
    ingest(&blocks, &store, &["--network", "regtest"]);
    let labels = temp.path().join("exchanges.csv");
    fs_err::write(
        &labels,
        format!(
            "address,label,category\n{},Exchange A,exchange\n{},Exchange B,exchange\n",
            wpkh(0xA0),
            wpkh(0xB0)
        ),
    )
    .unwrap();
    json(&["labels", "import", "--store", s, "--format", "csv", path(&labels)]);
    let seed = format!("{theft}:0");

    // Before clustering, deposits are unknown: the trace follows them into the sweeps.
    let before = json(&["trace", "--store", s, "--from", &seed]);
    assert_eq!(reached(&before, "Exchange A")["hops"], 2);

    json(&["cluster", "--store", s]);
    for policy in ["poison", "haircut", "fifo", "lifo"] {
        let document = json(&["trace", "--store", s, "--from", &seed, "--policy", policy]);
        assert_eq!(document["policy"], policy);
        assert_eq!(document["direction"], "forward");
        assert_eq!(document["seed_amount"], 30 * BTC);
        let a = reached(&document, "Exchange A");
        assert_eq!(a["amount"], 5 * BTC, "{policy}");
        assert_eq!(a["hops"], 1);
        assert_eq!(a["category"], "exchange");
        assert_eq!(a["txs"].as_array().unwrap().len(), 1);
        assert_eq!(reached(&document, "Exchange B")["amount"], 4 * BTC, "{policy}");
        assert_eq!(document["unspent"], 21 * BTC - 3 * FEE, "{policy}");
        assert_eq!(document["fees"], 3 * FEE, "{policy}");
        assert_eq!(document["conserved"], policy != "poison");
        assert!(!document["edges"].as_array().unwrap().is_empty());
        let sources = document["sources"].as_array().unwrap();
        assert!(
            sources
                .iter()
                .any(|source| source["address"] == wpkh(0xA0) && source["via_cluster"] == true)
        );
        assert_eq!(document["patterns"]["peel_chains"][0]["length"], 3);
    }

    // Backward from exchange A's deposit: the stolen coins come from the victim's coinbase.
    let back = json(&[
        "trace",
        "--store",
        s,
        "--from",
        &wpkh(0xA1),
        "--direction",
        "backward",
        "--policy",
        "fifo",
    ]);
    assert_eq!(back["seed_amount"], 5 * BTC);
    assert_eq!(back["mined"], 5 * BTC);

    // Same store, same command, same bytes.
    let args = ["trace", "--store", s, "--from", &seed, "--format", "json"];
    assert_eq!(cointrail(&args).stdout, cointrail(&args).stdout);

    // Every output format renders; HTML goes to a file.
    for format in ["csv", "dot", "graphml", "table"] {
        let output = cointrail(&["trace", "--store", s, "--from", &seed, "--format", format]);
        assert!(output.status.success(), "{format}");
        assert!(
            String::from_utf8(output.stdout).unwrap().contains(&theft.to_string()[..16]),
            "{format}"
        );
    }
    let html = temp.path().join("report.html");
    let output = cointrail(&[
        "trace",
        "--store",
        s,
        "--from",
        &seed,
        "--format",
        "html",
        "--output",
        path(&html),
    ]);
    assert!(output.status.success());
    let page = fs_err::read_to_string(&html).unwrap();
    assert!(page.contains("Exchange A") && page.contains("<svg"), "html report");
}

#[test]
fn incidents_add_up_per_actor_without_double_counting() {
    let temp = tempfile::tempdir().unwrap();
    let blocks = temp.path().join("blocks");
    let (chain, theft) = chain();
    write_blocks_dir(&blocks, &chain, 1, REGTEST_MAGIC, None);
    let store = temp.path().join("store");
    let s = path(&store);
    ingest(&blocks, &store, &["--network", "regtest"]);
    let labels = temp.path().join("exchanges.csv");
    fs_err::write(&labels, format!("address,label,category\n{},Exchange A,exchange\n", wpkh(0xA0)))
        .unwrap();
    json(&["labels", "import", "--store", s, "--format", "csv", path(&labels)]);
    json(&["cluster", "--store", s]);
    let seed = format!("{theft}:0");
    let first = json(&[
        "incident",
        "add",
        "--store",
        s,
        "--name",
        "hack-1",
        "--actor",
        "Lazarus Group",
        "--seed",
        &seed,
        "--date",
        "2026-01-02",
    ]);
    assert_eq!(first["amount"], 30 * BTC);
    // A second report of the same theft plus the victim's change (overlapping seeds).
    json(&[
        "incident",
        "add",
        "--store",
        s,
        "--name",
        "hack-1-again",
        "--actor",
        "lazarus group",
        "--seed",
        &format!("{theft}"),
        "--date",
        "2026-01-03",
    ]);
    let duplicate = cointrail(&[
        "incident", "add", "--store", s, "--name", "hack-1", "--actor", "X", "--seed", &seed,
    ]);
    assert!(!duplicate.status.success());
    let prices = temp.path().join("prices.csv");
    fs_err::write(&prices, "date,price\n2026-01-02,100000\n2026-01-03,90000\n").unwrap();
    let report =
        json(&["actor", "report", "Lazarus Group", "--store", s, "--prices", path(&prices)]);
    assert_eq!(report["total_stolen"], 50 * BTC - FEE, "30 BTC once plus the 20 BTC change");
    assert_eq!(report["incidents"][0]["counted"], 30 * BTC);
    assert_eq!(report["incidents"][1]["counted"], 20 * BTC - FEE);
    assert_eq!(report["incidents"][1]["overlaps_with"][0], "hack-1");
    let usd = report["total_usd"].as_f64().unwrap();
    let expected = 30.0 * 100_000.0 + (20.0 - 0.0001) * 90_000.0;
    assert!((usd - expected).abs() < 0.01, "{usd} vs {expected}");
    assert_eq!(reached(&report["trace"], "Exchange A")["amount"], 5 * BTC);
    let listed = json(&["incident", "list", "--store", s]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
}
