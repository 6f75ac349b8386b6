//! End-to-end tests of the `cointrail` binary on real mainnet blocks 0-438.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code")]

mod api;
mod cluster;
mod crash;
mod errors;
mod evm_cluster;
mod evm_risk;
mod evm_show;
mod evm_trace;
mod follow;
mod follow_evm;
mod regtest;
mod trace;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const TIP_438: &str = "0000000025c6b644f8add734be7e666fa4afa43ca0204d623a0c0b1fd2104c7a";
const TX_170: &str = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16";
const MAINNET_MAGIC: [u8; 4] = [0xf9, 0xbe, 0xb4, 0xd9];

/// The bundled real mainnet blocks 0-438, in Core's blk framing.
fn mainnet_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/btc/mainnet-0-438.blk")
}

/// Splits a blk-framed file into its block payloads.
fn split_records(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut blocks = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() && bytes[at..at + 4] == MAINNET_MAGIC {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        blocks.push(bytes[at + 8..at + 8 + len].to_vec());
        at += 8 + len;
    }
    blocks
}

fn mainnet_blocks() -> Vec<Vec<u8>> {
    let blocks = split_records(&fs_err::read(mainnet_file()).unwrap());
    assert_eq!(blocks.len(), 439);
    blocks
}

/// Writes `blocks` as Core would: `files` blk files, with an optional XOR key (`xor.dat`) applied
/// by absolute file offset, and zero padding at the end of each file (Core preallocates).
fn write_blocks_dir(
    dir: &Path,
    blocks: &[Vec<u8>],
    files: usize,
    magic: [u8; 4],
    xor: Option<[u8; 8]>,
) {
    fs_err::create_dir_all(dir).unwrap();
    let per_file = blocks.len().div_ceil(files);
    for (number, chunk) in blocks.chunks(per_file).enumerate() {
        let mut bytes = Vec::new();
        for block in chunk {
            bytes.extend_from_slice(&magic);
            bytes.extend_from_slice(&(block.len() as u32).to_le_bytes());
            bytes.extend_from_slice(block);
        }
        bytes.resize(bytes.len() + 4096, 0);
        if let Some(key) = xor {
            for (offset, byte) in bytes.iter_mut().enumerate() {
                *byte ^= key[offset % 8];
            }
        }
        fs_err::write(dir.join(format!("blk{number:05}.dat")), bytes).unwrap();
    }
    if let Some(key) = xor {
        fs_err::write(dir.join("xor.dat"), key).unwrap();
    }
}

/// A deterministic shuffle (xorshift), so failures reproduce.
fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut items = items.to_vec();
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
    items
}

fn cointrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cointrail"))
        .args(args)
        .env_remove("COINTRAIL_STORE")
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let output = cointrail(args);
    assert!(
        output.status.success(),
        "cointrail {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn json(args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    serde_json::from_str(&ok(&args)).unwrap()
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn ingest(blocks: &Path, store: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["ingest", "btc", "--blocks-dir", path(blocks), "--store", path(store)];
    args.extend(extra);
    json(&args)
}

/// Every file of a store with its bytes (the lock file excluded).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    cointrail_testkit::dir_snapshot(dir, &["LOCK"])
}

#[test]
fn mainnet_0_438_from_shuffled_xored_files() {
    let temp = tempfile::tempdir().unwrap();
    let blocks = temp.path().join("blocks");
    let store = temp.path().join("store");
    write_blocks_dir(
        &blocks,
        &shuffled(&mainnet_blocks(), 7),
        5,
        MAINNET_MAGIC,
        Some(*b"\x3a\x91\x07\xee\x5c\x20\xb4\x6d"),
    );

    let report = ingest(&blocks, &store, &[]);
    assert_eq!(report["tip_height"], 438);
    assert_eq!(report["tip_hash"], TIP_438);
    assert_eq!(report["blocks_added"], 439);
    assert_eq!(report["address_index_in_memory"], true, "a small index is in memory");
    assert!(report["address_index_bytes"].as_u64().unwrap() > 0);
    assert_eq!(report["live_map_in_memory"], true, "a small live map is in memory");
    assert!(report["live_map_bytes"].as_u64().unwrap() > 0);
    assert_eq!(report["address_read_ahead"], false, "439 blocks' addresses stay cached");

    let status = json(&["status", "--store", path(&store)]);
    assert_eq!(status["tip_height"], 438);
    assert_eq!(status["tip_hash"], TIP_438);
    assert_eq!(status["counts"]["blocks"], 439);
    assert_eq!(status["counts"]["txs"], 446);
    assert!(status["bytes_on_disk"].as_u64().unwrap() > 0);

    let tx = json(&["show", "tx", TX_170, "--store", path(&store)]);
    assert_eq!(tx["height"], 170);
    assert_eq!(
        tx["block_hash"],
        "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee"
    );
    assert_eq!(tx["fee"], 0);
    assert_eq!(
        tx["inputs"][0]["prevout"],
        "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9:0"
    );
    assert_eq!(tx["inputs"][0]["value"], 5_000_000_000u64);
    assert_eq!(tx["inputs"][0]["address"], "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S");
    assert_eq!(tx["outputs"][0]["address"], "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3");
    assert_eq!(tx["outputs"][0]["value"], 1_000_000_000u64);
    assert_eq!(tx["outputs"][1]["address"], "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S");
    assert_eq!(
        tx["outputs"][1]["spent_by"],
        "a16f3ce4dd5deb92d98ef5cf8afeaf0775ebca408f708b2146c4fb42b41e14be:0"
    );

    // The spent coinbase (height 9) links forward to tx 170.
    let coinbase = json(&[
        "show",
        "tx",
        "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9",
        "--store",
        path(&store),
    ]);
    assert_eq!(coinbase["height"], 9);
    assert_eq!(coinbase["fee"], Value::Null);
    assert_eq!(coinbase["outputs"][0]["spent_by"], format!("{TX_170}:0"));

    let hal =
        json(&["show", "address", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", "--store", path(&store)]);
    assert_eq!(hal["received"], 1_000_000_000u64);
    assert_eq!(hal["balance"], 1_000_000_000u64);
    assert_eq!(hal["tx_count"], 1);
    assert_eq!(hal["first_height"], 170);
    assert_eq!(hal["last_height"], 170);

    let block = json(&["show", "block", "170", "--store", path(&store)]);
    assert_eq!(block["tx_count"], 2);
    assert_eq!(block["txids"][1], TX_170);
    let by_hash = json(&["show", "block", TIP_438, "--store", path(&store)]);
    assert_eq!(by_hash["height"], 438);
}

#[test]
fn rerun_adds_only_new_blocks_and_matches_a_single_run() {
    let temp = tempfile::tempdir().unwrap();
    let blocks = temp.path().join("blocks");
    write_blocks_dir(&blocks, &mainnet_blocks(), 2, MAINNET_MAGIC, None);

    let whole = temp.path().join("whole");
    ingest(&blocks, &whole, &[]);

    let steps = temp.path().join("steps");
    let first = ingest(&blocks, &steps, &["--to-height", "200", "--batch-blocks", "17"]);
    assert_eq!(first["tip_height"], 200);
    let second = ingest(&blocks, &steps, &[]);
    assert_eq!(second["blocks_added"], 238);
    let third = ingest(&blocks, &steps, &[]);
    assert_eq!(third["blocks_added"], 0);
    assert_eq!(snapshot(&steps), snapshot(&whole));
}

#[test]
fn store_from_environment_and_readable_tables() {
    let temp = tempfile::tempdir().unwrap();
    let blocks = temp.path().join("blocks");
    let store = temp.path().join("store");
    write_blocks_dir(&blocks, &mainnet_blocks(), 1, MAINNET_MAGIC, None);
    ingest(&blocks, &store, &[]);
    let output = Command::new(env!("CARGO_BIN_EXE_cointrail"))
        .args(["show", "tx", TX_170])
        .env("COINTRAIL_STORE", &store)
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("block   170"), "{text}");
    assert!(text.contains("10.00000000  1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"), "{text}");
}
