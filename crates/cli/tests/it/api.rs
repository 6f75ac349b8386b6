//! Screening end to end on a hand-built regtest chain: exact direct and 2-hop exposures through
//! `cointrail risk` and through the API's router, on the same store.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use cointrail_types::Hash32;
use serde_json::Value;
use tower::ServiceExt;

use super::regtest::{Miner, REGTEST_MAGIC, p2wpkh, tx, wpkh};
use super::{cointrail, ingest, json, ok, path, write_blocks_dir};

const BTC: u64 = 100_000_000;
const FEE: u64 = 10_000;

/// sanctioned (0x5A) -> hop (0x71) -> join with clean coins -> deposit (0xD0): 2 hops;
/// mixer (0x3E) -> deposit: 1 hop. Returns the blocks and the join's txid.
fn chain() -> (Vec<Vec<u8>>, Hash32) {
    let mut chain = Miner::new();
    let sanctioned = chain.block(0x5A, vec![])[0];
    let clean = chain.block(0xC1, vec![])[0];
    let mixer = chain.block(0x3E, vec![])[0];
    let hop = tx(&[(sanctioned.0, 0, vec![])], &[(50 * BTC - FEE, p2wpkh(0x71))]);
    let hop = chain.block(0xEE, vec![hop])[1];
    let join = tx(
        &[(hop.0, 0, vec![]), (clean.0, 0, vec![])],
        &[(40 * BTC, p2wpkh(0xD0)), (60 * BTC - 2 * FEE, p2wpkh(0x0F))],
    );
    let join = chain.block(0xEE, vec![join])[1];
    let mixed =
        tx(&[(mixer.0, 0, vec![])], &[(10 * BTC, p2wpkh(0xD0)), (40 * BTC - FEE, p2wpkh(0x3F))]);
    chain.block(0xEE, vec![mixed]);
    (chain.blocks, join)
}

/// The haircut share of `taint` that the first of two inputs carries (the taint crate's rule:
/// floors, then the remainder one satoshi at a time to the first parts).
fn first_share(taint: u64, first: u64, second: u64) -> u64 {
    let total = u128::from(first + second);
    let a = (u128::from(taint) * u128::from(first) / total) as u64;
    let b = (u128::from(taint) * u128::from(second) / total) as u64;
    if taint > a + b { a + 1 } else { a }
}

fn exposure<'a>(risk: &'a Value, category: &str) -> &'a Value {
    risk["exposures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|exposure| exposure["category"] == category)
        .unwrap_or_else(|| panic!("no {category} exposure in {risk}"))
}

#[test]
fn risk_gives_exact_direct_and_indirect_exposures_in_cli_and_api() {
    let temp = tempfile::tempdir().unwrap();
    let blocks = temp.path().join("blocks");
    let (blocks_data, join) = chain();
    write_blocks_dir(&blocks, &blocks_data, 1, REGTEST_MAGIC, None);
    let store = temp.path().join("store");
    let s = path(&store);
    ingest(&blocks, &store, &["--network", "regtest"]);
    let labels = temp.path().join("risky.csv");
    fs_err::write(
        &labels,
        format!(
            "address,label,category\n{},Lazarus Test,sanctions\n{},Mixer Test,mixer\n",
            wpkh(0x5A),
            wpkh(0x3E)
        ),
    )
    .unwrap();
    json(&["labels", "import", "--store", s, "--format", "csv", path(&labels)]);
    json(&["cluster", "--store", s]);

    let indirect = first_share(40 * BTC, 50 * BTC - FEE, 50 * BTC);
    let deposit = wpkh(0xD0);
    let risk = json(&["risk", &deposit, "--store", s]);
    assert_eq!(risk["target"], deposit.as_str());
    assert_eq!(risk["kind"], "address");
    assert_eq!(risk["screened_amount"], 50 * BTC);
    assert_eq!(risk["screened_outputs"], 2);
    let sanctions = exposure(&risk, "sanctions");
    assert_eq!(sanctions["label"], "Lazarus Test");
    assert_eq!(sanctions["amount"], indirect);
    assert_eq!(sanctions["hops"], 2);
    assert_eq!(sanctions["direct"], false);
    assert_eq!(sanctions["share"], indirect as f64 / (50 * BTC) as f64);
    assert_eq!(sanctions["paths"][0]["txids"][0], join.to_string());
    assert_eq!(sanctions["paths"][0]["labeled_address"], wpkh(0x5A));
    let mixer = exposure(&risk, "mixer");
    assert_eq!(mixer["amount"], 10 * BTC);
    assert_eq!(mixer["hops"], 1);
    assert_eq!(mixer["direct"], true);
    assert_eq!(mixer["share"], 0.2);
    assert_eq!(risk["score"], 7.5);
    assert_eq!(risk["level"], "high");
    assert!(risk["explanation"].as_array().unwrap().len() >= 3);

    // Within one hop the sanctioned coins are out of sight.
    let near = json(&["risk", &deposit, "--store", s, "--max-hops", "1"]);
    assert_eq!(near["exposures"].as_array().unwrap().len(), 1);
    assert_eq!(near["score"], 7.0);

    // One output of the join; the sanctioned address itself.
    let output = json(&["risk", &format!("{join}:0"), "--store", s]);
    assert_eq!(output["kind"], "output");
    assert_eq!(exposure(&output, "sanctions")["amount"], indirect);
    let own = json(&["risk", &wpkh(0x5A), "--store", s]);
    assert_eq!(own["score"], 10.0);
    assert_eq!(own["level"], "severe");

    // Readable table; a custom rule file; bad targets.
    let table = ok(&["risk", &deposit, "--store", s]);
    assert!(table.contains("score     7.5 (high)"), "{table}");
    assert!(table.contains("Lazarus Test"), "{table}");
    let rules = temp.path().join("rules.json");
    fs_err::write(
        &rules,
        cointrail_risk::DEFAULT_RULES.replace("\"hop_decay\": 0.75", "\"hop_decay\": 0.5"),
    )
    .unwrap();
    let custom = json(&["risk", &deposit, "--store", s, "--rules", path(&rules)]);
    assert_eq!(custom["score"], 7.0, "sanctions at 2 hops now 5.0; the mixer's 7.0 leads");
    fs_err::write(&rules, "{\"version\": 1}").unwrap();
    let output = cointrail(&["risk", &deposit, "--store", s, "--rules", path(&rules)]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("rules"));
    let output = cointrail(&["risk", "nonsense", "--store", s]);
    assert_eq!(output.status.code(), Some(1));

    // The API says the same.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let state =
            cointrail_api::AppState::new(cointrail_api::ApiConfig::new(&store).unwrap()).unwrap();
        let app = cointrail_api::router(state);
        let mut request = Request::builder()
            .uri(format!("/v1/risk/address/{deposit}"))
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo("127.0.0.1:9".parse::<std::net::SocketAddr>().unwrap()));
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let api: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(api["exposures"], risk["exposures"]);
        assert_eq!(api["score"], risk["score"]);

        // And `show address` over the API is the CLI's document.
        let mut request =
            Request::builder().uri(format!("/v1/address/{deposit}")).body(Body::empty()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo("127.0.0.1:9".parse::<std::net::SocketAddr>().unwrap()));
        let response = app.oneshot(request).await.unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let api: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(api, json(&["show", "address", &deposit, "--store", s]));
    });
}
