//! `follow_btc` against a scripted node that answers garbage: retried, reported, nothing written.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code")]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use cointrail_btc::Network;
use cointrail_ingest::{BtcRpc, FollowEvents, FollowOptions, IngestError, RpcAuth, follow_btc};
use cointrail_store::{ChainView, Store};
use cointrail_types::Height;

/// Mainnet's genesis block, the first record of the bundled blk file.
fn genesis() -> Vec<u8> {
    let bytes = fs_err::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/btc/mainnet-0-438.blk"),
    )
    .unwrap();
    let len = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    bytes[8..8 + len].to_vec()
}

/// Serves JSON-RPC: the chain has one block (height 0), but `getblock` answers `block` whatever
/// hash is asked for.
fn scripted_node(block: &[u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hex: String = block.iter().map(|byte| format!("{byte:02x}")).collect();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let read = stream.read(&mut chunk).unwrap_or(0);
                if read == 0 {
                    break String::new();
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
                        break body[..length].to_owned();
                    }
                }
            };
            let request: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let result = match request["method"].as_str() {
                Some("getblockcount") => serde_json::json!(0),
                // Not the genesis hash: the node lies about which block it serves.
                Some("getblockhash") => serde_json::json!(
                    "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048"
                ),
                Some("getblock") => serde_json::json!(hex),
                _ => serde_json::Value::Null,
            };
            let answer =
                serde_json::json!({"result": result, "error": null, "id": "cointrail"}).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    url
}

struct Quiet(Vec<String>);

impl FollowEvents for Quiet {
    fn block(
        &mut self,
        _: &ChainView<'_>,
        _: Height,
        _: &cointrail_btc::DecodedBlock,
    ) -> Result<(), String> {
        Ok(())
    }

    fn node_error(&mut self, error: &str) {
        self.0.push(error.to_owned());
    }
}

#[test]
fn a_node_answering_the_wrong_block_is_retried_and_nothing_is_written() {
    let url = scripted_node(&genesis());
    let temp = tempfile::tempdir().unwrap();
    let options = FollowOptions {
        network: Network::Mainnet,
        store_dir: temp.path().join("store"),
        poll: Duration::from_millis(10),
        exit_when_synced: true,
        batch_blocks: 10,
        max_failures: Some(3),
    };
    let mut events = Quiet(Vec::new());
    let error = follow_btc(&BtcRpc::new(&url, RpcAuth::None), &options, &mut events).unwrap_err();
    assert!(matches!(error, IngestError::Node { .. }), "{error}");
    assert_eq!(events.0.len(), 3, "retried: {:?}", events.0);
    assert!(events.0[0].contains("when asked for 00000000839a8e68"), "{}", events.0[0]);
    let store = Store::open(&temp.path().join("store")).unwrap();
    assert_eq!(store.view().counts().blocks, 0, "no half block, no wrong block");
}
