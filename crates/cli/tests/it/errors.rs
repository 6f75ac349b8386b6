//! Bad input gives a one-line error naming the file and offset or the height, exits non-zero, and
//! loses nothing already committed.

use std::path::Path;

use super::{MAINNET_MAGIC, cointrail, ingest, json, mainnet_blocks, path, write_blocks_dir};

fn fails(args: &[&str]) -> String {
    let output = cointrail(args);
    assert!(!output.status.success(), "cointrail {args:?} should fail");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    stderr
}

fn ingest_fails(blocks: &Path, store: &Path) -> String {
    fails(&["ingest", "btc", "--blocks-dir", path(blocks), "--store", path(store)])
}

/// Ingests heights 0-100 from good files, so that later failures have something to keep.
fn store_at_100(root: &Path) -> std::path::PathBuf {
    let good = root.join("good");
    write_blocks_dir(&good, &mainnet_blocks(), 1, MAINNET_MAGIC, None);
    let store = root.join("store");
    ingest(&good, &store, &["--to-height", "100"]);
    store
}

fn tip(store: &Path) -> u64 {
    json(&["status", "--store", path(store)])["tip_height"].as_u64().unwrap()
}

#[test]
fn truncated_blk_file_names_file_and_offset() {
    let temp = tempfile::tempdir().unwrap();
    let store = store_at_100(temp.path());
    let blocks = temp.path().join("truncated");
    write_blocks_dir(&blocks, &mainnet_blocks(), 2, MAINNET_MAGIC, None);
    let file = blocks.join("blk00001.dat");
    let mut bytes = fs_err::read(&file).unwrap();
    let records = super::split_records(&bytes);
    let cut = bytes.len() - 4096 - records.last().unwrap().len() / 2;
    bytes.truncate(cut);
    fs_err::write(&file, &bytes).unwrap();

    let error = ingest_fails(&blocks, &store);
    assert!(error.contains("blk00001.dat"), "{error}");
    assert!(error.contains("offset"), "{error}");
    assert_eq!(tip(&store), 100, "committed blocks survive");
}

#[test]
fn wrong_network_magic_names_the_offset() {
    let temp = tempfile::tempdir().unwrap();
    let blocks = temp.path().join("blocks");
    write_blocks_dir(&blocks, &mainnet_blocks(), 1, MAINNET_MAGIC, None);
    let store = temp.path().join("store");
    let error = fails(&[
        "ingest",
        "btc",
        "--blocks-dir",
        path(&blocks),
        "--store",
        path(&store),
        "--network",
        "testnet",
    ]);
    assert!(error.contains("blk00000.dat"), "{error}");
    assert!(error.contains("offset 0"), "{error}");
}

#[test]
fn corrupt_block_names_file_offset_and_height() {
    let temp = tempfile::tempdir().unwrap();
    let store = store_at_100(temp.path());
    let mut blocks = mainnet_blocks();
    // Block 300: keep the header (its proof of work stays valid) but cut the transactions short.
    let header_and_count = blocks[300][..81].to_vec();
    blocks[300] = [header_and_count, vec![0x01, 0x00, 0x00]].concat();
    let dir = temp.path().join("corrupt");
    write_blocks_dir(&dir, &blocks, 1, MAINNET_MAGIC, None);
    let offset: usize = blocks[..300].iter().map(|block| block.len() + 8).sum::<usize>() + 8;

    let error = ingest_fails(&dir, &store);
    assert!(error.contains("blk00000.dat"), "{error}");
    assert!(error.contains("height 300"), "{error}");
    assert!(error.contains(&format!("offset {offset}")), "{error}");
    assert_eq!(tip(&store), 100, "committed blocks survive");

    // A flipped byte in a transaction breaks the merkle root instead.
    let mut blocks = mainnet_blocks();
    let last = blocks[250].len() - 1;
    blocks[250][last] ^= 0x01;
    let dir = temp.path().join("flipped");
    write_blocks_dir(&dir, &blocks, 1, MAINNET_MAGIC, None);
    let error = ingest_fails(&dir, &store);
    assert!(error.contains("merkle root mismatch"), "{error}");
    assert!(error.contains("height 250"), "{error}");
    assert_eq!(tip(&store), 100);
}

#[test]
fn incompatible_or_missing_store_is_refused_clearly() {
    let temp = tempfile::tempdir().unwrap();
    let store = store_at_100(temp.path());
    let manifest = store.join("MANIFEST");
    let text = fs_err::read_to_string(&manifest).unwrap();
    // A store of the previous layout (format 2: u64 ids) is refused, not misread.
    let current = format!("\"format_version\": {}", cointrail_store::FORMAT_VERSION);
    assert!(text.contains(&current), "{text}");
    fs_err::write(&manifest, text.replace(&current, "\"format_version\": 2")).unwrap();
    let error = fails(&["status", "--store", path(&store)]);
    assert!(error.contains("format version 2"), "{error}");
    assert!(error.contains("re-ingest"), "{error}");

    let error = fails(&["status", "--store", path(&temp.path().join("nowhere"))]);
    assert!(error.contains("no cointrail store"), "{error}");
    let error = fails(&["status"]);
    assert!(error.contains("--store"), "{error}");
}

#[test]
fn unknown_tx_and_address_of_another_network() {
    let temp = tempfile::tempdir().unwrap();
    let store = store_at_100(temp.path());
    let error = fails(&[
        "show",
        "tx",
        "0000000000000000000000000000000000000000000000000000000000000001",
        "--store",
        path(&store),
    ]);
    assert!(error.contains("not in the store"), "{error}");
    let error = fails(&[
        "show",
        "address",
        "tb1qw508d6qejxtdg4r5tjhlgwbsqkbqrarhwa8q8f",
        "--store",
        path(&store),
    ]);
    assert!(error.contains("tb1q"), "{error}");
    // An address that never received still has a (zero) summary: screening needs that.
    let unseen =
        json(&["show", "address", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "--store", path(&store)]);
    assert_eq!(unseen["tx_count"], 0);
    assert_eq!(unseen["first_height"], serde_json::Value::Null);
}
