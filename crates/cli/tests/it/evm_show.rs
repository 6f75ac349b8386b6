//! `show address|tx` and `status` on EVM chains, from recorded mainnet blocks 1755634-1755635
//! served by a scripted JSON-RPC node on a local socket (no real node needed).

use std::path::{Path, PathBuf};
use std::time::Duration;

use cointrail_evm::{IngestOptions, NoProgress, SourceOptions, TraceMode, ingest_with};
use serde_json::{Value, json};

use super::regtest::{REGTEST_MAGIC, regtest_genesis};
use super::{cointrail, ingest, json, ok, path, write_blocks_dir};

const SENDER: &str = "0x3763e6e1228bfeab94191c856412d1bb0a8e6996";
const RECIPIENT: &str = "0xec1ebac9da3430213281c80fa6d46378341a96ae";
const TOKEN_HOLDER: &str = "0x8b3b3b624c3c0397d3da8fd861512393d51dcbac";
const TOKEN: &str = "0xbb9bc244d798123fde783fcc1c72d3bb8c189413";
const TX: &str = "0x9a5437ec71b74ecf5930b406908ac6999966d38a86d1534b7190ece7599095eb";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../evm/tests/data").join(name)
}

fn recorded(name: &str) -> Value {
    let answer: Value = serde_json::from_str(&fs_err::read_to_string(data(name)).unwrap()).unwrap();
    answer["result"].clone()
}

/// What the scripted node answers: recorded blocks and receipts; no tracer, no block receipts.
fn answer(method: &str, params: &Value) -> Result<Value, (i64, String)> {
    match method {
        "eth_chainId" => Ok(json!("0x1")),
        "eth_blockNumber" => Ok(json!("0x1ac9f3")),
        "eth_getBlockByNumber" => {
            let text = params[0].as_str().unwrap().trim_start_matches("0x");
            let number = u64::from_str_radix(text, 16).unwrap();
            let name = format!("mainnet_{number}_eth_getBlockByNumber.json");
            Ok(if data(&name).exists() { recorded(&name) } else { Value::Null })
        }
        "eth_getTransactionReceipt" => {
            let hash = params[0].as_str().unwrap();
            Ok(recorded(&format!("mainnet_1755635_eth_getTransactionReceipt_{}.json", &hash[..10])))
        }
        "eth_call" => Err((-32000, "execution reverted".to_owned())),
        _ => Err((-32601, format!("the method {method} does not exist/is not available"))),
    }
}

/// Starts the scripted node and returns its URL.
pub(super) fn start_node() -> String {
    cointrail_testkit::rpc::start(std::sync::Arc::new(answer), 0).url
}

/// Ingests blocks 1755634-1755635 into chain `name` of the store at `store`.
pub(super) fn ingest_chain(url: &str, store: &Path, name: &str) {
    let options = IngestOptions {
        batch_blocks: 10,
        source: SourceOptions {
            timeout: Duration::from_secs(10),
            retries: 2,
            backoff: Duration::from_millis(5),
            requests_per_second: None,
            concurrency: 2,
            blocks_per_request: 2,
        },
        trace_mode: Some(TraceMode::None),
    };
    let report =
        ingest_with(url, store, Some(name), Some(1_755_634), None, &options, &mut NoProgress)
            .unwrap();
    assert_eq!((report.blocks, report.txs), (2, 2));
}

fn balance(address: &Value, asset_id: u64) -> &Value {
    address["balances"].as_array().unwrap().iter().find(|b| b["asset"]["id"] == asset_id).unwrap()
}

#[test]
fn show_and_status_answer_from_an_evm_only_store() {
    let url = start_node();
    let temp = tempfile::tempdir().unwrap();
    let store = temp.path().join("store");
    ingest_chain(&url, &store, "ethereum");
    let s = path(&store);

    // status: no Bitcoin chain, one EVM chain.
    let status = json(&["status", "--store", s]);
    let chains = status["evm_chains"].as_array().unwrap();
    assert_eq!(chains.len(), 1);
    let chain = &chains[0];
    assert_eq!(chain["chain"], "ethereum");
    assert_eq!(chain["chain_id"], 1);
    assert_eq!(chain["tip_height"], 1_755_635);
    assert_eq!(
        chain["tip_hash"],
        "0x1dec87ec1ba8e65b7773bb6f62249468948a28a427efd3d896a2ff7d7c591a67"
    );
    assert_eq!(chain["counts"]["blocks"], 2);
    assert_eq!(chain["counts"]["txs"], 2);
    assert_eq!(chain["coverage_gaps"], json!([[1_755_634, 1_755_635]]));
    assert!(chain["bytes_on_disk"].as_u64().unwrap() > 0);
    assert_eq!(status["tip_height"], Value::Null, "no UTXO chain");
    let table = ok(&["status", "--store", s]);
    assert!(table.contains("evm chain  ethereum (chain id 1)"), "{table}");
    assert!(table.contains("tip        1755635"), "{table}");

    // show address: the sender paid the value and the fee (pre-London: all to the miner).
    let sender = json(&["show", "address", SENDER, "--store", s]);
    assert_eq!(sender["address"], SENDER);
    assert_eq!(sender["chain"], "ethereum");
    assert_eq!(sender["flow_count"], 2);
    assert_eq!(
        (&sender["first_block"], &sender["last_block"]),
        (&json!(1_755_635), &json!(1_755_635))
    );
    let native = balance(&sender, 0);
    assert_eq!(native["asset"]["kind"], "native");
    assert_eq!(native["asset"]["symbol"], "ETH");
    assert_eq!(native["received"], "0");
    assert_eq!(native["sent"], "406158107000000000");
    assert_eq!(native["balance"], "-406158107000000000");
    let flows = sender["flows"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = flows
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["amount"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, vec![("native", "405738107000000000"), ("fee", "420000000000000")]);
    assert_eq!(flows[0]["tx"], TX);
    assert_eq!(flows[0]["to"], RECIPIENT);
    assert_eq!(flows[0]["block"], 1_755_635);
    assert_eq!(sender["labels"], json!([]));

    // Upper-case hex is the same address; the token holder has the EIP-20 token.
    let holder =
        json(&["show", "address", &TOKEN_HOLDER.to_uppercase().replace("0X", "0x"), "--store", s]);
    assert_eq!(holder["address"], TOKEN_HOLDER);
    let token = balance(&holder, 1);
    assert_eq!(token["asset"]["kind"], "erc20");
    assert_eq!(token["asset"]["contract"], TOKEN);
    assert_eq!(token["received"], "5000000000000000000");
    assert_eq!(token["balance"], "5000000000000000000");

    // An address without flows is not an error.
    let idle =
        json(&["show", "address", "0x00000000000000000000000000000000000000aa", "--store", s]);
    assert_eq!((&idle["flow_count"], &idle["balances"]), (&json!(0), &json!([])));

    // A label imported from CSV (as OFAC ETH lists are) shows on the lower-case address.
    let csv = temp.path().join("labels.csv");
    fs_err::write(
        &csv,
        format!(
            "address,label,category,asset\n{},Test Mixer,mixer,ETH\n",
            RECIPIENT.to_uppercase().replace("0X", "0x")
        ),
    )
    .unwrap();
    json(&["labels", "import", "--store", s, "--format", "csv", path(&csv)]);
    let recipient = json(&["show", "address", RECIPIENT, "--store", s]);
    let labels = recipient["labels"].as_array().unwrap();
    assert_eq!(labels.len(), 1, "{recipient}");
    assert_eq!(
        (&labels[0]["name"], &labels[0]["category"]),
        (&json!("Test Mixer"), &json!("mixer"))
    );
    assert_eq!(balance(&recipient, 0)["balance"], "405738107000000000");
    let table = ok(&["show", "address", RECIPIENT, "--store", s]);
    assert!(table.contains("label     Test Mixer [mixer]"), "{table}");
    assert!(table.contains("received 405738107000000000 in 1"), "{table}");

    // show tx: the flows with block and time.
    let tx = json(&["show", "tx", TX, "--store", s]);
    assert_eq!(tx["hash"], TX);
    assert_eq!(
        (&tx["block"], &tx["index"], &tx["time"]),
        (&json!(1_755_635), &json!(1), &json!(1_466_669_562))
    );
    let kinds: Vec<&str> =
        tx["flows"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["native", "fee"]);
    let table = ok(&["show", "tx", TX, "--store", s]);
    assert!(table.contains("2016-06-23"), "{table}");
    let missing = cointrail(&["show", "tx", &format!("0x{}", "ab".repeat(32)), "--store", s]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("is not in EVM chain ethereum"));
}

#[test]
fn several_evm_chains_need_chain() {
    let url = start_node();
    let temp = tempfile::tempdir().unwrap();
    let store = temp.path().join("store");
    ingest_chain(&url, &store, "ethereum");
    ingest_chain(&url, &store, "replica");
    let s = path(&store);

    let output = cointrail(&["show", "address", SENDER, "--store", s]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .contains("the store holds several EVM chains (ethereum, replica): pass --chain NAME"),
        "{stderr}"
    );
    let output = cointrail(&["show", "tx", TX, "--store", s]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("several EVM chains"));

    let chosen = json(&["show", "address", SENDER, "--store", s, "--chain", "replica"]);
    assert_eq!(chosen["chain"], "replica");
    assert_eq!(chosen["flow_count"], 2);
    let tx = json(&["--chain", "ethereum", "show", "tx", TX, "--store", s]);
    assert_eq!(tx["chain"], "ethereum");
    let unknown = cointrail(&["show", "address", SENDER, "--store", s, "--chain", "nope"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no EVM chain nope"));

    let status = json(&["status", "--store", s]);
    let names: Vec<&str> = status["evm_chains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|chain| chain["chain"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["ethereum", "replica"]);
}

/// GETs `uri` from the API's router over the store at `store`.
fn api_get(store: &Path, uri: &str) -> (u16, Value) {
    api_request(store, "GET", uri, None)
}

/// Sends a request to the API's router over the store at `store` (a loopback client).
pub(super) fn api_request(
    store: &Path,
    method: &str,
    uri: &str,
    body: Option<&str>,
) -> (u16, Value) {
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::Request;
    use tower::ServiceExt;

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let state =
            cointrail_api::AppState::new(cointrail_api::ApiConfig::new(store).unwrap()).unwrap();
        let mut request = Request::builder().method(method).uri(uri);
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let mut request = request
            .body(body.map_or_else(Body::empty, |text| Body::from(text.to_owned())))
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo("127.0.0.1:9".parse::<std::net::SocketAddr>().unwrap()));
        let response = cointrail_api::router(state).oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    })
}

#[test]
fn a_bitcoin_store_with_an_evm_chain_keeps_both_in_status_and_the_api() {
    let url = start_node();
    let temp = tempfile::tempdir().unwrap();
    let blocks = temp.path().join("blocks");
    let store = temp.path().join("store");
    write_blocks_dir(&blocks, &[regtest_genesis()], 1, REGTEST_MAGIC, None);
    ingest(&blocks, &store, &["--network", "regtest"]);
    let s = path(&store);
    let before = json(&["status", "--store", s]);
    assert!(before.get("evm_chains").is_none(), "no EVM chain, no field");
    ingest_chain(&url, &store, "ethereum");

    let status = json(&["status", "--store", s]);
    for field in ["format_version", "chain", "network", "tip_height", "tip_hash", "counts", "files"]
    {
        assert_eq!(status[field], before[field], "{field}");
    }
    assert_eq!(status["evm_chains"][0]["chain"], "ethereum");
    assert_eq!(status["evm_chains"][0]["tip_height"], 1_755_635);
    let table = ok(&["status", "--store", s]);
    assert!(table.contains("store      bitcoin regtest"), "{table}");
    assert!(table.contains("evm chain  ethereum"), "{table}");

    // Bitcoin addresses still go to the UTXO chain, EVM ones to the EVM chain.
    let (code, api) = api_get(&store, &format!("/v1/address/{SENDER}"));
    assert_eq!(code, 200, "{api}");
    assert_eq!(api, json(&["show", "address", SENDER, "--store", s]));
    assert_eq!(api["chain"], "ethereum");
    let (code, api) = api_get(&store, "/v1/status");
    assert_eq!(code, 200, "{api}");
    assert_eq!(api["evm_chains"], status["evm_chains"]);
}
