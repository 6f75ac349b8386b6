//! The API on a synthetic chain with labels and clusters: every endpoint and every error through
//! the router (no socket), snapshot reload after a commit, and one test over a real socket.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "tests")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use cointrail_api::{ApiConfig, ApiKeys, AppState, RateLimit, router};
use cointrail_btc::Network;
use cointrail_cluster::{ClusterState, Clusterer, Config};
use cointrail_ingest::{IngestOptions, ingest_btc};
use cointrail_labels::{ImportContext, parse_csv};
use cointrail_store::{ClusterWriter, LabelTable, Store, StoredLink};
use cointrail_synth::{SynthConfig, generate};
use cointrail_types::{ChainGraph, InputId, Label, TxNum};
use serde_json::Value;
use tower::ServiceExt;

struct Fixture {
    _temp: tempfile::TempDir,
    store: PathBuf,
    /// An address labeled `sanctions`.
    sanctioned: String,
    /// A tx spending from the sanctioned address.
    exposed_tx: String,
    /// Any other tx.
    other_tx: String,
}

fn label(address: &str, name: &str, category: &str) -> Label {
    Label {
        address: address.to_owned(),
        asset: "BTC".to_owned(),
        name: name.to_owned(),
        category: category.to_owned(),
        actor: None,
        source: "test list".to_owned(),
        confidence: None,
        programs: Vec::new(),
        imported: "2026-01-01".to_owned(),
    }
}

fn cluster(dir: &Path) {
    let config = Config::from_names(&["multi-input"]).unwrap();
    let names = config.names();
    let store = Store::open(dir).unwrap();
    let view = store.view();
    let counts = view.counts();
    let mut writer =
        ClusterWriter::open(dir, &names, config.max_cluster_size, config.guard_min_side).unwrap();
    let clusterer = Clusterer::new(config);
    let links: Vec<StoredLink> = {
        let (parent, size, next) = writer.arrays(counts.addresses).unwrap();
        let mut state = ClusterState::new(parent, size, next);
        state.init_singletons(0);
        let changes = clusterer.run(&view, 0..counts.txs as u32, &mut state);
        state.canonicalize();
        changes
            .links
            .iter()
            .map(|link| StoredLink {
                a: link.a,
                b: link.b,
                tx: link.tx,
                heuristic: link.heuristic.code(),
            })
            .collect()
    };
    writer.push_links(&links).unwrap();
    writer.commit(counts.txs).unwrap();
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let temp = tempfile::tempdir().unwrap();
        let chain = temp.path().join("chain");
        let config =
            SynthConfig { blocks: 40, txs_per_block: 40, seed: 5, ..SynthConfig::default() };
        generate(&config, &chain, &mut |_| {}).unwrap();
        let store = temp.path().join("store");
        ingest_btc(&IngestOptions::new(&chain, &store, Network::Regtest), &mut ()).unwrap();
        cluster(&store);
        let opened = Store::open(&store).unwrap();
        let view = opened.view();
        let network = Network::Regtest;
        // A tx at mid-chain spending from an address: that address is sanctioned.
        let mut found = None;
        for txnum in (view.counts().txs / 2) as u32..view.counts().txs as u32 {
            let tx = TxNum::new(txnum);
            let inputs = view.tx_inputs(tx);
            if inputs.is_empty() {
                continue;
            }
            let spent = view.spent_output(InputId::new(inputs.start));
            if let Some(address) = view.output_address(spent) {
                found = Some((tx, address));
                break;
            }
        }
        let (tx, address) = found.unwrap();
        let sanctioned = network.encode_address(&view.address_key(address));
        let exposed_tx = view.txid(tx).to_string();
        let other_tx = view.txid(TxNum::new(3)).to_string();
        let context = ImportContext::new("2026-01-01");
        let csv = fs_err::read_to_string(chain.join("labels.csv")).unwrap();
        let mut labels = parse_csv(&csv, &chain.join("labels.csv"), &context).unwrap().labels;
        labels.push(label(&sanctioned, "OFAC Test Entity", "sanctions"));
        let mut table = LabelTable::default();
        table.merge(labels);
        table.save(&store).unwrap();
        Fixture { _temp: temp, store, sanctioned, exposed_tx, other_tx }
    })
}

fn config() -> ApiConfig {
    let mut config = ApiConfig::new(&fixture().store).unwrap();
    config.rate_limit = RateLimit::per_second(100_000.0);
    config
}

fn app(config: ApiConfig) -> Router {
    router(AppState::new(config).unwrap())
}

fn request(method: &str, uri: &str, body: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    let mut request =
        builder.body(body.map_or_else(Body::empty, |text| Body::from(text.to_owned()))).unwrap();
    let peer: SocketAddr = "127.0.0.1:50000".parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, value)
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, _, value) = send(app, request("GET", uri, None)).await;
    (status, value)
}

async fn post(app: &Router, uri: &str, body: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
    send(app, request("POST", uri, Some(body))).await
}

fn error_of(value: &Value) -> &str {
    value["error"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn lookups_serve_the_documents_of_show() {
    let fixture = fixture();
    let app = app(config());
    let (status, health) = get(&app, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["tip_height"], 40);

    let (status, address) = get(&app, &format!("/v1/address/{}", fixture.sanctioned)).await;
    assert_eq!(status, StatusCode::OK, "{address}");
    assert_eq!(address["address"], fixture.sanctioned.as_str());
    assert!(address["received"].as_u64().unwrap() > 0);
    assert!(address["cluster"]["id"].is_u64());
    assert_eq!(address["labels"][0]["category"], "sanctions");
    assert_eq!(address["labels"][0]["inherited"], false);

    let (status, tx) = get(&app, &format!("/v1/tx/{}", fixture.exposed_tx)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tx["txid"], fixture.exposed_tx.as_str());
    assert_eq!(tx["inputs"][0]["address"], fixture.sanctioned.as_str());
    for field in ["height", "block_hash", "time", "coinbase", "fee", "outputs"] {
        assert!(tx.get(field).is_some(), "{field}");
    }

    let (status, cluster) = get(&app, &format!("/v1/cluster/{}", fixture.sanctioned)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cluster["id"], address["cluster"]["id"]);
    assert!(
        cluster["addresses"]
            .as_array()
            .unwrap()
            .contains(&Value::from(fixture.sanctioned.as_str()))
    );
    let (status, same) = get(&app, &format!("/v1/cluster/{}", cluster["id"])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same, cluster);

    let (status, status_json) = get(&app, "/v1/status").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_json["counts"]["blocks"], 41);

    let (status, found) = get(&app, "/v1/labels?query=ofac%20test").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["labels"].as_array().unwrap().len(), 1);
    assert_eq!(found["labels"][0]["address"], fixture.sanctioned.as_str());
    let (status, found) =
        get(&app, &format!("/v1/labels?query={}", &fixture.sanctioned[..20])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!found["labels"].as_array().unwrap().is_empty());
    let (status, found) = get(&app, "/v1/labels?query=exchange&limit=1").await;
    assert_eq!(status, StatusCode::OK, "{found}");
}

#[tokio::test]
async fn bad_parameters_are_named() {
    let fixture = fixture();
    let app = app(config());
    let (status, body) = get(&app, "/v1/address/not-an-address").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("path parameter `address`"), "{body}");
    let (status, body) = get(&app, &format!("/v1/address/{}", "a".repeat(300))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("at most 128"), "{body}");
    let (status, body) = get(&app, "/v1/tx/xyz").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("path parameter `txid`"), "{body}");
    let (status, body) = get(&app, &format!("/v1/tx/{}", "0".repeat(64))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_of(&body).contains("not in the store"), "{body}");
    let (status, body) = get(&app, "/v1/cluster/99999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = get(&app, "/v1/cluster/bogus").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(error_of(&body).contains("`id`"), "{body}");
    let (status, body) = get(&app, "/v1/cluster/0?limit=-1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("query string"), "{body}");
    let (status, body) = get(&app, "/v1/cluster/0?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("colour"), "{body}");
    let (status, body) = get(&app, "/v1/labels").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("`query`"), "{body}");
    let (status, body) = get(&app, "/v1/labels?query=a").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("at least 2"), "{body}");
    let (status, body) = get(&app, "/v1/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_of(&body).contains("openapi"), "{body}");
    let (status, body) =
        get(&app, &format!("/v1/risk/address/{}?max_hops=0", fixture.sanctioned)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("max_hops"), "{body}");
    let (status, body) =
        get(&app, &format!("/v1/risk/address/{}?max_hops=many", fixture.sanctioned)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("max_hops"), "{body}");
}

#[tokio::test]
async fn trace_takes_the_commands_options_and_caps_them() {
    let fixture = fixture();
    let app = app(config());
    let body = format!(
        r#"{{"from": ["{}:0"], "direction": "backward", "policy": "fifo", "max_hops": 500, "max_txs": 10000000, "stop_category": ["sanctions"]}}"#,
        fixture.exposed_tx
    );
    let (status, headers, document) = post(&app, "/v1/trace", &body).await;
    assert_eq!(status, StatusCode::OK, "{document}");
    let clamped = headers["x-cointrail-clamped"].to_str().unwrap();
    assert!(clamped.contains("max_hops=20 (asked 500)"), "{clamped}");
    assert!(clamped.contains("max_txs=50000"), "{clamped}");
    assert_eq!(document["policy"], "fifo");
    assert_eq!(document["direction"], "backward");
    assert_eq!(document["seeds"][0], format!("{}:0", fixture.exposed_tx));
    for field in [
        "seed_amount",
        "reached",
        "unspent",
        "fees",
        "conserved",
        "nodes",
        "edges",
        "patterns",
        "sources",
        "reproduce",
    ] {
        assert!(document.get(field).is_some(), "{field}");
    }
    assert!(document["reproduce"]["command"].as_str().unwrap().starts_with("POST /v1/trace"));
    assert!(document["conserved"].as_bool().unwrap());

    let unknown = format!(r#"{{"seeds": ["{}"], "depth": 3}}"#, fixture.exposed_tx);
    let (status, _, body) = post(&app, "/v1/trace", &unknown).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(&body).contains("unknown field `depth`"), "{body}");
    let (status, _, body) = post(&app, "/v1/trace", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, body) = post(
        &app,
        "/v1/trace",
        &format!(r#"{{"seeds": ["{}"], "policy": "magic"}}"#, fixture.exposed_tx),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("unknown policy `magic`"), "{body}");
    let (status, _, body) = post(&app, "/v1/trace", r#"{"seeds": []}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("seeds"), "{body}");
    let many: Vec<String> = (0..101).map(|_| fixture.exposed_tx.clone()).collect();
    let (status, _, body) =
        post(&app, "/v1/trace", &serde_json::json!({ "seeds": many }).to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("at most 100"), "{body}");
    let huge = format!(r#"{{"seeds": ["{}"]}}"#, "x".repeat(100 * 1024));
    let (status, _, body) = post(&app, "/v1/trace", &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let plain = Request::builder()
        .method("POST")
        .uri("/v1/trace")
        .header("content-type", "text/plain")
        .body(Body::from("seeds"))
        .map(|mut request| {
            request
                .extensions_mut()
                .insert(ConnectInfo("127.0.0.1:1".parse::<SocketAddr>().unwrap()));
            request
        })
        .unwrap();
    let (status, _, _) = send(&app, plain).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _, body) =
        post(&app, "/v1/trace", &format!(r#"{{"seeds": ["{}:999"]}}"#, fixture.exposed_tx)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn risk_of_a_sanctioned_address_and_of_a_transfer_from_it() {
    let fixture = fixture();
    let app = app(config());
    let (status, risk) = get(&app, &format!("/v1/risk/address/{}", fixture.sanctioned)).await;
    assert_eq!(status, StatusCode::OK, "{risk}");
    assert_eq!(risk["score"], 10.0);
    assert_eq!(risk["level"], "severe");
    let own = &risk["exposures"][0];
    assert_eq!(own["category"], "sanctions");
    assert_eq!(own["direct"], true);
    assert_eq!(own["hops"], 0);
    assert!(
        risk["explanation"]
            .as_array()
            .unwrap()
            .iter()
            .any(|line| line.as_str().unwrap().contains("carries a sanctions label"))
    );

    let (status, headers, risk) = post(
        &app,
        "/v1/risk/transfer",
        &format!(r#"{{"txid": "{}", "max_hops": 99}}"#, fixture.exposed_tx),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{risk}");
    assert!(headers["x-cointrail-clamped"].to_str().unwrap().contains("max_hops=10"));
    assert_eq!(risk["max_hops"], 10);
    assert_eq!(risk["kind"], "tx");
    let direct = risk["exposures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|exposure| exposure["category"] == "sanctions" && exposure["hops"] == 1)
        .unwrap_or_else(|| panic!("{risk}"));
    assert_eq!(direct["direct"], true);
    assert!(direct["amount"].as_u64().unwrap() > 0);
    let path = &direct["paths"][0];
    assert_eq!(path["txids"][0], fixture.exposed_tx.as_str());
    assert_eq!(path["labeled_address"], fixture.sanctioned.as_str());
    assert_eq!(path["label_source"], "test list");
    let share = direct["share"].as_f64().unwrap();
    assert!(share > 0.0 && share <= 1.0);
    assert!(risk["score"].as_f64().unwrap() > 0.0);

    let (status, _, risk) = post(
        &app,
        "/v1/risk/transfer",
        &format!(r#"{{"txid": "{}", "vout": 0}}"#, fixture.other_tx),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(risk["kind"], "output");
    let (status, _, body) = post(
        &app,
        "/v1/risk/transfer",
        &format!(r#"{{"txid": "{}", "vout": 999}}"#, fixture.exposed_tx),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _, body) = post(&app, "/v1/risk/transfer", r#"{"txid": "abc"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("field `txid`"), "{body}");
    let (status, _, body) = post(
        &app,
        "/v1/risk/transfer",
        &format!(r#"{{"txid": "{}", "evm": true}}"#, fixture.exposed_tx),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(&body).contains("unknown field `evm`"), "{body}");
}

#[tokio::test]
async fn keys_loopback_and_rate_limits() {
    let fixture = fixture();
    let uri = format!("/v1/tx/{}", fixture.other_tx);
    // Without keys: loopback only.
    let open = app(config());
    let mut outside = request("GET", &uri, None);
    outside.extensions_mut().insert(ConnectInfo("10.1.2.3:4000".parse::<SocketAddr>().unwrap()));
    let (status, _, body) = send(&open, outside).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error_of(&body).contains("loopback"), "{body}");
    let unknown_peer = Request::builder().uri(&uri).body(Body::empty()).unwrap();
    assert_eq!(send(&open, unknown_peer).await.0, StatusCode::FORBIDDEN);
    let mut v6 = request("GET", &uri, None);
    v6.extensions_mut().insert(ConnectInfo("[::1]:4000".parse::<SocketAddr>().unwrap()));
    assert_eq!(send(&open, v6).await.0, StatusCode::OK);

    // With keys: any client with a key, none without.
    let mut keyed = config();
    keyed.api_keys = Some(
        ApiKeys::parse("# keys\nsecret-key-0123456789\nslow-key-0123456789 1\n", "keys").unwrap(),
    );
    let keyed = app(keyed);
    let (status, headers, body) = send(&keyed, request("GET", &uri, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(error_of(&body).contains("Authorization: Bearer"), "{body}");
    assert_eq!(headers["www-authenticate"], "Bearer");
    let mut wrong = request("GET", &uri, None);
    wrong.headers_mut().insert("authorization", "Bearer nope-nope-nope-nope".parse().unwrap());
    let (status, _, body) = send(&keyed, wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(error_of(&body).contains("unknown API key"), "{body}");
    let mut bearer = request("GET", &uri, None);
    bearer.extensions_mut().insert(ConnectInfo("10.1.2.3:4000".parse::<SocketAddr>().unwrap()));
    bearer.headers_mut().insert("authorization", "Bearer secret-key-0123456789".parse().unwrap());
    assert_eq!(send(&keyed, bearer).await.0, StatusCode::OK);
    let mut header = request("GET", &uri, None);
    header.headers_mut().insert("x-api-key", "secret-key-0123456789".parse().unwrap());
    assert_eq!(send(&keyed, header).await.0, StatusCode::OK);
    assert_eq!(send(&keyed, request("GET", "/healthz", None)).await.0, StatusCode::OK);

    // The slow key has 1 request per second and a burst of 2.
    let slow = |uri: &str| {
        let mut request = request("GET", uri, None);
        request.headers_mut().insert("x-api-key", "slow-key-0123456789".parse().unwrap());
        request
    };
    assert_eq!(send(&keyed, slow(&uri)).await.0, StatusCode::OK);
    assert_eq!(send(&keyed, slow(&uri)).await.0, StatusCode::OK);
    let (status, headers, body) = send(&keyed, slow(&uri)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "1");
    assert!(error_of(&body).contains("rate limit"), "{body}");
    // Other keys are not affected.
    let mut other = request("GET", &uri, None);
    other.headers_mut().insert("x-api-key", "secret-key-0123456789".parse().unwrap());
    assert_eq!(send(&keyed, other).await.0, StatusCode::OK);

    assert!(ApiKeys::parse("short\n", "keys").is_err());
    assert!(ApiKeys::parse("# nothing\n", "keys").is_err());
    assert!(ApiKeys::parse("secret-key-0123456789 fast\n", "keys").is_err());

    // Default limits per client without keys too.
    let mut limited = config();
    limited.rate_limit = RateLimit { per_second: 0.5, burst: 1.0 };
    let limited = app(limited);
    assert_eq!(send(&limited, request("GET", &uri, None)).await.0, StatusCode::OK);
    let (status, headers, _) = send(&limited, request("GET", &uri, None)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "2");
}

#[tokio::test]
async fn openapi_and_metrics() {
    let fixture = fixture();
    let app = app(config());
    let (status, document) = get(&app, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.0.3");
    for path in [
        "/v1/address/{address}",
        "/v1/tx/{txid}",
        "/v1/cluster/{id}",
        "/v1/trace",
        "/v1/risk/address/{address}",
        "/v1/risk/transfer",
        "/v1/labels",
        "/healthz",
        "/metrics",
    ] {
        assert!(document["paths"].get(path).is_some(), "{path}");
    }
    get(&app, &format!("/v1/tx/{}", fixture.other_tx)).await;
    get(&app, "/v1/tx/bad").await;
    let response = app.clone().oneshot(request("GET", "/metrics", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = String::from_utf8(
        axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec(),
    )
    .unwrap();
    assert!(
        text.contains(
            r#"cointrail_http_requests_total{route="/v1/tx/{txid}",method="GET",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"cointrail_http_requests_total{route="/v1/tx/{txid}",method="GET",status="400"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"cointrail_http_request_duration_seconds_bucket{route="/v1/tx/{txid}",method="GET",status="200",le="+Inf"} 1"#), "{text}");
    assert!(text.contains("cointrail_store_tip_height 40"), "{text}");
}

#[tokio::test]
async fn a_new_commit_is_served_after_the_check_interval() {
    // A copy of the store, so that other tests keep theirs.
    let temp = tempfile::tempdir().unwrap();
    let store = temp.path().join("store");
    fs_err::create_dir(&store).unwrap();
    for entry in fs_err::read_dir(&fixture().store).unwrap() {
        let entry = entry.unwrap();
        fs_err::copy(entry.path(), store.join(entry.file_name())).unwrap();
    }
    let mut config = config();
    config.store_dir = store.clone();
    config.reload_interval = Duration::from_millis(0);
    let app = app(config);
    let (_, found) = get(&app, "/v1/labels?query=Freshly").await;
    assert!(found["labels"].as_array().unwrap().is_empty());
    let mut table = LabelTable::load(&store).unwrap();
    table.merge(vec![label(&fixture().sanctioned, "Freshly Listed", "theft")]);
    table.save(&store).unwrap();
    let (_, found) = get(&app, "/v1/labels?query=Freshly").await;
    assert_eq!(found["labels"].as_array().unwrap().len(), 1, "{found}");
    let (_, address) = get(&app, &format!("/v1/address/{}", fixture().sanctioned)).await;
    assert!(
        address["labels"].as_array().unwrap().iter().any(|label| label["name"] == "Freshly Listed")
    );
    // A vanished manifest (a store being replaced) keeps the last consistent snapshot in service.
    fs_err::rename(store.join("MANIFEST"), store.join("MANIFEST.away")).unwrap();
    let (status, _) = get(&app, &format!("/v1/tx/{}", fixture().other_tx)).await;
    assert_eq!(status, StatusCode::OK);
    fs_err::rename(store.join("MANIFEST.away"), store.join("MANIFEST")).unwrap();
}

#[tokio::test]
async fn over_a_real_socket() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fixture = fixture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let state = AppState::new(config()).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(cointrail_api::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let ask = |request: String| async move {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    };
    let response = ask(format!(
        "GET /v1/tx/{} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        fixture.other_tx
    ))
    .await;
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains(&fixture.other_tx));
    let body = format!(r#"{{"txid": "{}"}}"#, fixture.exposed_tx);
    let response = ask(format!(
        "POST /v1/risk/transfer HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
    .await;
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains("\"level\""), "{response}");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap().unwrap();
}
