//! `kill -9` at any moment, then a re-run, gives the same store as an uninterrupted ingest.

use std::process::Command;
use std::time::Duration;

use super::{MAINNET_MAGIC, ingest, json, mainnet_blocks, path, snapshot, write_blocks_dir};

#[test]
fn kill_9_during_ingest_then_rerun_gives_identical_store() {
    let temp = tempfile::tempdir().unwrap();
    let blocks = temp.path().join("blocks");
    write_blocks_dir(&blocks, &mainnet_blocks(), 3, MAINNET_MAGIC, None);
    let reference = temp.path().join("reference");
    ingest(&blocks, &reference, &[]);

    let store = temp.path().join("store");
    let mut killed_mid_run = 0;
    // Commit after every block so that kills land between, inside and around commits.
    for delay_ms in [3u64, 11, 29, 53, 97, 151, 233, 377] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cointrail"))
            .args(["ingest", "btc", "--blocks-dir", path(&blocks), "--store", path(&store)])
            .args(["--batch-blocks", "1", "--format", "json"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        if !status.success() {
            killed_mid_run += 1;
        }
        // Whatever was committed is readable.
        if store.join("MANIFEST").exists() {
            let status = json(&["status", "--store", path(&store)]);
            assert!(status["counts"]["blocks"].as_u64().unwrap() <= 439);
        }
    }
    assert!(killed_mid_run > 0, "no kill landed during an ingest; the test proves nothing");

    let finished = ingest(&blocks, &store, &[]);
    assert_eq!(finished["tip_height"], 438);
    assert_eq!(snapshot(&store), snapshot(&reference));
}
