//! Integration tests of the store: layout, reopen, format version, crash recovery.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code")]

use std::collections::BTreeMap;
use std::path::Path;

use cointrail_store::{ChainSpec, Store, StoreError, StoreWriter};
use cointrail_types::{AddressKey, AddressKind, Hash32, OutputId, TxNum};

fn spec() -> ChainSpec {
    ChainSpec { chain: "bitcoin".into(), network: "regtest".into() }
}

fn hash(n: u64) -> Hash32 {
    let mut bytes = [0u8; 32];
    let mixed = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(n);
    bytes[..8].copy_from_slice(&mixed.to_le_bytes());
    bytes[8..16].copy_from_slice(&n.to_le_bytes());
    Hash32(bytes)
}

fn key(n: u64) -> AddressKey {
    let kind = if n.is_multiple_of(2) { AddressKind::P2wpkh } else { AddressKind::P2pkh };
    AddressKey::new(kind, &hash(n + 1_000_000).0[..20])
}

/// Writes a deterministic synthetic chain of `blocks` blocks; block b has b % 7 + 1 txs, each
/// spending the previous tx's first output and paying two outputs to reused addresses.
/// Commits after every `commit_every` blocks; stops (without committing) after `stop_after`.
fn write_chain(writer: &mut StoreWriter, from: u64, blocks: u64, commit_every: u64) {
    let mut txn = writer.view().counts().txs;
    for block in from..blocks {
        writer.push_block(&hash(block), &[block as u8; 80], 100).unwrap();
        for _ in 0..block % 7 + 1 {
            let txid = hash(10_000 + txn);
            let txnum = writer.push_tx(&txid).unwrap();
            if txnum.get() > 0 {
                let previous = writer.view().tx(TxNum::new(txnum.get() - 1)).unwrap();
                writer.push_input(OutputId::new(previous.outputs.start)).unwrap();
            }
            writer.push_output(txn * 3, Some(&key(txn % 50))).unwrap();
            let second = (txn % 5 != 0).then(|| key(txn % 13 + 100));
            writer.push_output(txn, second.as_ref()).unwrap();
            txn += 1;
        }
        if (block + 1) % commit_every == 0 {
            writer.commit().unwrap();
        }
    }
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    cointrail_testkit::dir_snapshot(dir, &["LOCK"])
}

#[test]
fn committed_chain_reads_back_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(dir.path(), &spec()).unwrap();
    write_chain(&mut writer, 0, 3000, 100);
    writer.finish().unwrap();

    let store = Store::open(dir.path()).unwrap();
    let view = store.view();
    let counts = view.counts();
    assert_eq!(counts.blocks, 3000);
    assert_eq!(view.tip().unwrap().hash, hash(2999));
    assert_eq!(counts.inputs, counts.txs - 1);
    // Every tx is found by txid (the index grew several times on the way).
    for txnum in (0..counts.txs).step_by(97) {
        let txnum = TxNum::new(u32::try_from(txnum).unwrap());
        assert_eq!(view.find_tx(&view.txid(txnum)), Some(txnum));
        let height = view.tx_height(txnum);
        let block = view.block(height).unwrap();
        assert!(block.first_tx <= txnum && txnum.get() < block.first_tx.get() + block.tx_count);
    }
    assert_eq!(view.find_tx(&hash(1)), None);
    // Spends link both ways.
    let tx = view.tx(TxNum::new(5)).unwrap();
    let spent = view.spent_output(cointrail_types::InputId::new(tx.inputs.start));
    assert_eq!(view.output_location(spent), (TxNum::new(4), 0));
    let spender = view.output(spent).spent_by.unwrap();
    assert_eq!(view.input_location(spender), (TxNum::new(5), 0));
    // Address history walks every output paid to the address, in order.
    let address = view.find_address(&key(7)).unwrap();
    let outputs: Vec<u64> = view.address_outputs(address).map(OutputId::get).collect();
    let expected: Vec<u64> = (0..counts.txs).filter(|t| t % 50 == 7).map(|t| t * 2).collect();
    assert_eq!(outputs, expected);
    assert_eq!(view.address_key(address), key(7));
    // Outputs without address (every fifth second output).
    assert_eq!(view.output(OutputId::new(1)).address, None);
}

#[test]
fn wrong_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    StoreWriter::open(dir.path(), &spec()).unwrap().finish().unwrap();
    let manifest = dir.path().join("MANIFEST");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(&manifest, text.replace("\"format_version\": 1", "\"format_version\": 99"))
        .unwrap();
    let error = Store::open(dir.path()).unwrap_err();
    assert!(matches!(error, StoreError::UnsupportedFormat { found: 99, expected: 1, .. }));
    assert!(error.to_string().contains("format version 99"), "{error}");
    assert!(StoreWriter::open(dir.path(), &spec()).is_err());
}

#[test]
fn other_network_and_foreign_directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    StoreWriter::open(dir.path(), &spec()).unwrap().finish().unwrap();
    let mainnet = ChainSpec { chain: "bitcoin".into(), network: "mainnet".into() };
    let error = StoreWriter::open(dir.path(), &mainnet).unwrap_err();
    assert!(matches!(error, StoreError::WrongChain { .. }), "{error}");

    let foreign = tempfile::tempdir().unwrap();
    fs_err::write(foreign.path().join("notes.txt"), "mine").unwrap();
    let error = StoreWriter::open(foreign.path(), &spec()).unwrap_err();
    assert!(matches!(error, StoreError::NotAStore { .. }), "{error}");
    let error = Store::open(foreign.path()).unwrap_err();
    assert!(matches!(error, StoreError::NotFound { .. }), "{error}");
}

#[test]
fn second_writer_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let _writer = StoreWriter::open(dir.path(), &spec()).unwrap();
    let error = StoreWriter::open(dir.path(), &spec()).unwrap_err();
    assert!(matches!(error, StoreError::Locked { .. }), "{error}");
}

#[test]
fn interrupted_batch_is_recovered_to_identical_bytes() {
    // Reference: 400 blocks in one go.
    let reference = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(reference.path(), &spec()).unwrap();
    write_chain(&mut writer, 0, 400, 1000);
    writer.finish().unwrap();

    // Interrupted: commit at 250, keep writing (uncommitted, across an index growth), then drop
    // the writer without finishing, as a kill would leave it.
    let crashed = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(crashed.path(), &spec()).unwrap();
    write_chain(&mut writer, 0, 250, 250);
    write_chain(&mut writer, 250, 380, 1000);
    drop(writer);
    assert_eq!(Store::open(crashed.path()).unwrap().view().counts().blocks, 250);

    let mut writer = StoreWriter::open(crashed.path(), &spec()).unwrap();
    let report = writer.recovery().expect("dirty store is recovered");
    assert!(report.index_entries > 0 && report.links > 0 && report.addresses > 0, "{report:?}");
    assert_eq!(writer.view().counts().blocks, 250);
    write_chain(&mut writer, 250, 400, 30);
    writer.finish().unwrap();
    assert_eq!(snapshot(crashed.path()), snapshot(reference.path()));
}

/// Like `write_chain`, but blocks from `fork` on carry other txids (another branch).
fn write_branch(writer: &mut StoreWriter, from: u64, blocks: u64, fork: u64) {
    let mut txn = writer.view().counts().txs;
    for block in from..blocks {
        let salt = if block >= fork { 7_000_000 } else { 0 };
        writer.push_block(&hash(block + salt), &[block as u8; 80], 100).unwrap();
        for _ in 0..block % 5 + 1 {
            let txnum = writer.push_tx(&hash(10_000 + txn + salt)).unwrap();
            if txnum.get() > 0 {
                let previous = writer.view().tx(TxNum::new(txnum.get() - 1)).unwrap();
                writer.push_input(OutputId::new(previous.outputs.start)).unwrap();
            }
            // Reused addresses across the fork, plus new ones only on each branch.
            writer.push_output(txn * 3, Some(&key(txn % 40))).unwrap();
            writer.push_output(txn, Some(&key(txn + salt))).unwrap();
            txn += 1;
        }
    }
    writer.commit().unwrap();
}

#[test]
fn unwinding_a_reorg_gives_the_bytes_of_a_fresh_ingest_of_the_winning_branch() {
    let spec = spec();
    // Fresh: 800 blocks of the main branch, then blocks 800.. of the other branch.
    let fresh = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(fresh.path(), &spec).unwrap();
    write_branch(&mut writer, 0, 800, 800);
    write_branch(&mut writer, 800, 900, 800);
    writer.finish().unwrap();

    // Reorged: the losing branch goes to height 1199, past the growth of both hash indexes (about
    // 2,870 entries), then unwinds to 799, below it: the indexes must shrink back.
    let reorged = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(reorged.path(), &spec).unwrap();
    write_branch(&mut writer, 0, 1200, u64::MAX);
    assert!(
        fs_err::read_dir(reorged.path()).unwrap().any(|e| e.unwrap().file_name() == "txid.idx.13")
    );
    writer.unwind_to(cointrail_types::Height::new(799)).unwrap();
    assert_eq!(writer.view().counts().blocks, 800);
    write_branch(&mut writer, 800, 900, 800);
    writer.finish().unwrap();
    assert_eq!(snapshot(reorged.path()), snapshot(fresh.path()));

    // Pending data can be rolled back to the last commit.
    let mut writer = StoreWriter::open(reorged.path(), &spec).unwrap();
    writer.push_block(&hash(999_999), &[0; 80], 1).unwrap();
    writer.push_tx(&hash(999_998)).unwrap();
    writer.push_output(5, Some(&key(3))).unwrap();
    writer.rollback().unwrap();
    writer.finish().unwrap();
    assert_eq!(snapshot(reorged.path()), snapshot(fresh.path()));
}
