//! `risk` on an EVM chain of a real anvil: a sanctioned account pays a fresh account, which also
//! receives clean ether and then pays an exchange deposit; the screening finds the sanctioned share
//! of the deposit exactly (the haircut make-up of the payer's balance), for ether and for a token,
//! in the CLI and in the API of a store that holds only the EVM chain.

use cointrail_testkit::anvil::{Anvil, DEV_ACCOUNTS, ETHER, token_code};
use serde_json::{Value, json};

use super::evm_show::api_request;
use super::{cointrail, json, ok, path};

/// Fresh accounts (no genesis balance), used through `anvil_impersonateAccount`.
const MULE: &str = "0x00000000000000000000000000000000000b0b01";
const DEPOSIT: &str = "0x00000000000000000000000000000000000de002";

fn exposure<'a>(risk: &'a Value, label: &str) -> &'a Value {
    risk["exposures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|exposure| exposure["label"] == label)
        .unwrap_or_else(|| panic!("no exposure to {label}: {risk}"))
}

#[test]
fn evm_screening_finds_the_sanctioned_share_of_a_deposit() {
    let deposit = DEPOSIT;
    let anvil = Anvil::start();
    let [thief, clean] = [DEV_ACCOUNTS[0], DEV_ACCOUNTS[1]];
    anvil.rpc("anvil_impersonateAccount", &json!([MULE]));
    // The mule receives 10 ether from the thief and 30 clean, then pays 20 to the deposit: a
    // quarter of its balance is the thief's, so 5 ether of the deposit.
    anvil.send(thief, MULE, 10 * ETHER);
    anvil.send(clean, MULE, 30 * ETHER);
    let paid = anvil.send(MULE, deposit, 20 * ETHER);
    // A token: the thief deploys it (minted to itself), pays the mule 1,000, which pays 400 on.
    let token = anvil.deploy(thief, &token_code(1_000_000));
    anvil.transfer_token(thief, &token, MULE, 1_000);
    let receipt = anvil.transfer_token(MULE, &token, deposit, 400);
    assert_eq!(receipt["status"], "0x1");
    let token_tx = receipt["transactionHash"].as_str().unwrap().to_owned();
    let log = u64::from_str_radix(
        receipt["logs"][0]["logIndex"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap();

    let temp = tempfile::tempdir().unwrap();
    let store = temp.path().join("store");
    let s = path(&store);
    ok(&["ingest", "evm", "--rpc", &anvil.url, "--store", s, "--chain", "anvil"]);
    let csv = temp.path().join("labels.csv");
    fs_err::write(
        &csv,
        format!(
            "address,label,category,asset\n{},Lazarus Group,sanctions,ETH\n",
            thief.to_lowercase()
        ),
    )
    .unwrap();
    json(&["labels", "import", "--store", s, "--format", "csv", path(&csv)]);

    // The deposit transaction: 5 of its 20 ether are the thief's, two hops back.
    let text = ok(&["risk", &paid, "--store", s, "--format", "json"]);
    // Amounts are JSON integers of any size (20 ether is above 2^64 wei).
    assert!(text.contains(r#""screened_amount": 20000000000000000000,"#), "{text}");
    let risk: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(risk["kind"], "tx");
    assert_eq!(risk["asset"]["kind"], "native");
    let lazarus = exposure(&risk, "Lazarus Group");
    assert_eq!(lazarus["category"], "sanctions");
    assert_eq!(lazarus["amount"], json!(5 * ETHER));
    assert_eq!(lazarus["hops"], 2);
    assert_eq!(lazarus["direct"], false);
    assert!((lazarus["share"].as_f64().unwrap() - 0.25).abs() < 1e-12, "{risk}");
    let path0 = &lazarus["paths"][0];
    assert_eq!(path0["labeled_address"], thief.to_lowercase());
    assert_eq!(path0["txs"][0], paid.as_str());
    assert_eq!(path0["txs"].as_array().unwrap().len(), 2);
    // The clean 15 ether came from a dev account's genesis balance: no stored origin.
    assert!(text.contains(r#""unattributed": 15000000000000000000,"#), "{text}");
    assert_eq!(risk["beyond_limits"], 0);
    assert!(matches!(risk["level"].as_str(), Some("severe" | "high")), "{risk}");
    let explanation = risk["explanation"].as_array().unwrap();
    assert!(explanation.iter().any(|line| line.as_str().unwrap().contains("5 ETH (25.00%)")));

    // One hop back only: the thief is not reached.
    let near = json(&["risk", &paid, "--max-hops", "1", "--store", s]);
    assert!(near["exposures"].as_array().unwrap().is_empty(), "{near}");
    assert_eq!(near["beyond_limits"].as_f64(), Some(20e18));

    // The deposit address, native and token; the token transfer by its log.
    let address = json(&["risk", deposit, "--store", s]);
    assert_eq!(address["kind"], "address");
    assert_eq!(exposure(&address, "Lazarus Group")["amount"], json!(5 * ETHER));
    let tokens = json(&["risk", deposit, "--asset", "TST", "--store", s]);
    assert_eq!(tokens["asset"]["symbol"], "TST");
    assert_eq!(tokens["screened_amount"], 400);
    assert_eq!(exposure(&tokens, "Lazarus Group")["amount"], 400);
    let transfer = json(&["risk", &format!("{token_tx}:{log}"), "--store", s]);
    assert_eq!(transfer["kind"], "log");
    assert_eq!(exposure(&transfer, "Lazarus Group")["amount"], 400);
    assert_eq!(exposure(&transfer, "Lazarus Group")["hops"], 2);

    // The sanctioned address itself is severe.
    let own = json(&["risk", thief, "--store", s]);
    assert_eq!(own["score"], 10.0);
    assert_eq!(own["level"], "severe");

    // Etherscan's label dump: Tornado Cash's router is sanctioned, so screening it is severe
    // even with no flow in this chain.
    let excerpt = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/labels/etherscan/combinedAccountLabels_excerpt.json");
    let imported =
        json(&["labels", "import", "--store", s, "--format", "etherscan", path(&excerpt)]);
    assert!(imported.to_string().contains("420"), "{imported}");
    let router = json(&["risk", "0xd90e2f925da726b50c4ed8d0fb90ad053324f31b", "--store", s]);
    assert_eq!(router["level"], "severe", "{router}");
    assert_eq!(router["exposures"][0]["label"], "Tornado.Cash: Router");
    assert_eq!(router["exposures"][0]["category"], "sanctions");

    // The table names the asset.
    let table = ok(&["risk", &paid, "--store", s]);
    assert!(table.contains("Lazarus Group"), "{table}");
    assert!(table.contains("20 ETH in 1 flows"), "{table}");

    // Errors: --asset on a Bitcoin target, a log that is not a token transfer.
    let output = cointrail(&["risk", &format!("{paid}:0"), "--store", s]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no EIP-20 transfer at log index 0"));

    // The API of this EVM-only store answers the same.
    let (status, body) = api_request(
        &store,
        "POST",
        "/v1/risk/transfer",
        Some(&json!({ "txid": paid }).to_string()),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(exposure(&body, "Lazarus Group")["amount"], json!(5 * ETHER));
    let (status, body) = api_request(
        &store,
        "POST",
        "/v1/risk/transfer",
        Some(&json!({ "txid": token_tx, "log_index": log, "chain": "anvil" }).to_string()),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(exposure(&body, "Lazarus Group")["amount"], 400);
    let (status, body) =
        api_request(&store, "GET", &format!("/v1/risk/address/{deposit}?asset=TST"), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["screened_amount"], 400);
    let (status, body) = api_request(
        &store,
        "POST",
        "/v1/risk/transfer",
        Some(&json!({ "txid": paid, "vout": 0 }).to_string()),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("log_index"), "{body}");
    // Abusive or mismatched requests are refused with what is wrong.
    for (body, expected) in [
        (json!({ "txid": paid, "log_index": "x" }), 422),
        (json!({ "txid": paid, "depth": 3 }), 422),
        (json!({ "txid": paid, "max_hops": 0 }), 400),
        (json!({ "txid": "ab".repeat(32), "log_index": 1 }), 400),
        (json!({ "txid": format!("{paid}00") }), 400),
    ] {
        let (status, answer) =
            api_request(&store, "POST", "/v1/risk/transfer", Some(&body.to_string()));
        assert_eq!(status, expected, "{body} -> {answer}");
        assert!(answer["error"].as_str().is_some_and(|text| !text.is_empty()), "{answer}");
    }
    let (status, answer) = api_request(
        &store,
        "GET",
        "/v1/risk/address/1BoatSLRHtKNngkdXEeobR76b53LETtpyT?asset=TST",
        None,
    );
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("EVM addresses"), "{answer}");
    let (status, answer) =
        api_request(&store, "GET", &format!("/v1/risk/address/{deposit}?asset=NOPE"), None);
    assert_eq!(status, 404, "{answer}");
    let (status, body) = api_request(&store, "GET", &format!("/v1/tx/{paid}"), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["hash"], paid.as_str());
    let (status, body) = api_request(&store, "GET", "/v1/status", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["evm_chains"][0]["chain"], "anvil");
    // An EVM trace through the API, of the token.
    let (status, body) = api_request(
        &store,
        "POST",
        "/v1/trace",
        Some(
            &json!({ "seeds": [MULE], "asset": "TST", "stop_category": ["exchange"] }).to_string(),
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["seed_amount"], 1_000);
    // A trace of more than 2^64 wei: the document's amounts are exact 128-bit integers, in ether.
    let text = ok(&["trace", "--from", MULE, "--store", s, "--format", "json"]);
    assert!(text.contains(r#""seed_amount": 40000000000000000000,"#), "{text}");
    let trace: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(trace["unit"], json!({"symbol": "ETH", "decimals": 18}));
    assert_eq!(trace["conserved"], true);
    let table = ok(&["trace", "--from", MULE, "--store", s]);
    assert!(table.contains("40.000000000000000000 ETH"), "{table}");
    let html = ok(&["trace", "--from", MULE, "--store", s, "--format", "html"]);
    assert!(html.contains("20.000000000000000000 ETH"), "the deposit's 20 ether");
    // 600 stay with the mule and 400 with the (unlabeled) deposit.
    assert_eq!(body["unspent"], 1_000);
    assert_eq!(body["unspent_outputs"], 2);
    assert_eq!(body["conserved"], true);
}
