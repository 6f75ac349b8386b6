//! Integration tests of the store: layout, reopen, format version, crash recovery.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code")]

use std::collections::BTreeMap;
use std::path::Path;

use cointrail_store::{ChainSpec, FORMAT_VERSION, Store, StoreError, StoreWriter};
use cointrail_types::{AddressKey, AddressKind, Hash32, OutputId, TxNum};

mod live;
mod runs;

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

/// Address `n`: P2WPKH, P2PKH, then two P2TR keys that share their first 16 bytes (so their hash,
/// their index slots and their `addr.key` rows but for the `addr.rest` row) and differ after.
fn key(n: u64) -> AddressKey {
    let mut payload = [0u8; 32];
    match n % 4 {
        0 | 1 => {
            payload[..16].copy_from_slice(&hash(n + 1_000_000).0[..16]);
            let kind = if n.is_multiple_of(4) { AddressKind::P2wpkh } else { AddressKind::P2pkh };
            AddressKey::new(kind, &payload[..20])
        }
        _ => {
            payload[..16].copy_from_slice(&hash(n - n % 4 + 1_000_000).0[..16]);
            payload[16..24].copy_from_slice(&n.to_le_bytes());
            payload[24..].fill(0xA5);
            AddressKey::new(AddressKind::P2tr, &payload)
        }
    }
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
    // P2TR keys 6 and 7 share their first 16 bytes: `addr.rest` tells them apart.
    let six = view.find_address(&key(6)).unwrap();
    assert_ne!(six, address);
    assert_eq!(view.address_key(six), key(6));
    let wide = (0..50).chain(100..113).filter(|n| n % 4 >= 2).count() as u64;
    assert_eq!(counts.wide_addresses, wide);
    // Outputs without address (every fifth second output).
    assert_eq!(view.output(OutputId::new(1)).address, None);
}

#[test]
fn wrong_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    StoreWriter::open(dir.path(), &spec()).unwrap().finish().unwrap();
    let manifest = dir.path().join("MANIFEST");
    let text = fs_err::read_to_string(&manifest).unwrap();
    let current = format!("\"format_version\": {FORMAT_VERSION}");
    assert!(text.contains(&current), "{text}");
    // 2: the previous layout (u64 ids), whose rows this version would misread; 99: a future one.
    for found in [2, 99] {
        fs_err::write(&manifest, text.replace(&current, &format!("\"format_version\": {found}")))
            .unwrap();
        let error = Store::open(dir.path()).unwrap_err();
        assert!(
            matches!(error, StoreError::UnsupportedFormat { found: f, expected: FORMAT_VERSION, .. } if f == found),
            "{error}"
        );
        assert!(error.to_string().contains(&format!("format version {found}")), "{error}");
        assert!(error.to_string().contains("re-ingest"), "{error}");
        assert!(StoreWriter::open(dir.path(), &spec()).is_err());
    }
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
    writer.recovery().expect("dirty store is recovered");
    assert_eq!(writer.view().counts().blocks, 250);
    write_chain(&mut writer, 250, 400, 30);
    writer.finish().unwrap();
    assert_eq!(snapshot(crashed.path()), snapshot(reference.path()));
}

#[test]
fn background_commits_give_the_bytes_of_foreground_commits_and_are_durable_once_waited_for() {
    let reference = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(reference.path(), &spec()).unwrap();
    write_chain(&mut writer, 0, 400, 1000);
    writer.finish().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(dir.path(), &spec()).unwrap();
    // Each batch is pushed while the commit of the one before may still be syncing (across index
    // growths and checkpoints).
    for (from, to) in [(0, 90), (90, 200), (200, 250)] {
        write_chain(&mut writer, from, to, 1000);
        writer.commit_in_background().unwrap();
    }
    writer.wait_for_commit().unwrap();
    assert_eq!(Store::open(dir.path()).unwrap().view().counts().blocks, 250);
    assert_eq!(writer.committed_counts().blocks, 250);
    // A writer dropped after a background commit lets it finish: the commit is durable, the rows
    // pushed after it are not.
    writer.commit_in_background().unwrap();
    write_chain(&mut writer, 250, 330, 1000);
    drop(writer);
    assert_eq!(Store::open(dir.path()).unwrap().view().counts().blocks, 250);

    let mut writer = StoreWriter::open(dir.path(), &spec()).unwrap();
    assert!(writer.recovery().is_some(), "a store left without finish is recovered");
    assert_eq!(writer.view().counts().blocks, 250);
    for from in (250..400).step_by(30) {
        write_chain(&mut writer, from, from + 30, 1000);
        writer.commit_in_background().unwrap();
    }
    // A rollback waits for the background commit and returns to it.
    write_chain(&mut writer, 400, 410, 1000);
    writer.rollback().unwrap();
    assert_eq!(writer.view().counts().blocks, 400);
    writer.finish().unwrap();
    assert_eq!(snapshot(dir.path()), snapshot(reference.path()));
}

#[test]
fn stale_or_truncated_scratch_files_are_ignored_and_replaced() {
    let reference = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(reference.path(), &spec()).unwrap();
    write_growing_chain(&mut writer, 0, 1500, 1000);
    writer.finish().unwrap();
    let (addr_scratch, live_scratch) = ("addr.idx.work", "live.work");
    assert!(!reference.path().join(addr_scratch).exists(), "{addr_scratch} is removed by finish");
    assert!(!reference.path().join(live_scratch).exists(), "{live_scratch} is never made here");

    // A crash of a writer whose table is a scratch file (a table too large for memory; this small
    // one is in memory) leaves it behind, never synced, so any mix of old and new pages; here it
    // is truncated garbage.
    let crashed = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(crashed.path(), &spec()).unwrap();
    write_growing_chain(&mut writer, 0, 600, 50);
    write_growing_chain(&mut writer, 600, 700, 1000);
    drop(writer);
    let addr_scratch = crashed.path().join(addr_scratch);
    fs_err::write(&addr_scratch, vec![0xA5u8; 1 << 20]).unwrap();
    fs_err::OpenOptions::new().write(true).open(&addr_scratch).unwrap().set_len(100).unwrap();
    // The live map's scratch file likewise (a live map too large for memory).
    let live_scratch = crashed.path().join(live_scratch);
    fs_err::write(&live_scratch, vec![0x5Au8; 1 << 20]).unwrap();

    let mut writer = StoreWriter::open(crashed.path(), &spec()).unwrap();
    assert!(writer.recovery().is_some());
    assert!(!live_scratch.exists(), "a live map in memory removes a stale scratch file");
    assert!(writer.live_map().in_memory);
    let view = writer.view();
    assert_eq!(view.counts().blocks, 600);
    let txs = view.counts().txs;
    assert_eq!(view.find_tx(&hash(10_000 + txs - 1)), Some(TxNum::new(txs as u32 - 1)));
    assert_eq!(view.find_tx(&hash(10_000 + txs)), None);
    write_growing_chain(&mut writer, 600, 1000, 25);
    writer.finish().unwrap();

    // Stale scratch files at a clean open (left by hand or by an older writer) are replaced too.
    fs_err::write(&addr_scratch, vec![0xFFu8; 1 << 16]).unwrap();
    fs_err::write(&live_scratch, vec![0xFFu8; 1 << 16]).unwrap();
    let mut writer = StoreWriter::open(crashed.path(), &spec()).unwrap();
    assert!(writer.recovery().is_none());
    write_growing_chain(&mut writer, 1000, 1500, 100);
    writer.finish().unwrap();
    assert!(!live_scratch.exists());
    assert_eq!(snapshot(crashed.path()), snapshot(reference.path()));
}

fn manifest_field(dir: &Path, field: &str) -> u64 {
    let text = fs_err::read_to_string(dir.join("MANIFEST")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    manifest[field].as_u64().unwrap()
}

/// A chain where every tx pays a reused address and a new one, committing every `commit_every`
/// blocks: both indexes keep growing.
fn write_growing_chain(writer: &mut StoreWriter, from: u64, blocks: u64, commit_every: u64) {
    let mut txn = writer.view().counts().txs;
    for block in from..blocks {
        writer.push_block(&hash(block), &[block as u8; 80], 100).unwrap();
        for _ in 0..block % 3 + 1 {
            let txnum = writer.push_tx(&hash(10_000 + txn)).unwrap();
            if txnum.get() > 0 {
                let previous = writer.view().tx(TxNum::new(txnum.get() - 1)).unwrap();
                writer.push_input(OutputId::new(previous.outputs.start)).unwrap();
            }
            writer.push_output(txn * 3, Some(&key(txn % 50))).unwrap();
            writer.push_output(txn, Some(&key(5_000 + txn))).unwrap();
            txn += 1;
        }
        if (block + 1) % commit_every == 0 {
            writer.commit().unwrap();
        }
    }
}

#[test]
fn commits_after_the_last_index_checkpoint_are_indexed_again_after_a_crash() {
    let reference = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(reference.path(), &spec()).unwrap();
    write_growing_chain(&mut writer, 0, 2400, 1000);
    writer.finish().unwrap();
    let reference_addresses = Store::open(reference.path()).unwrap().view().counts().addresses;
    assert_eq!(manifest_field(reference.path(), "addresses_indexed"), reference_addresses);
    let txs_in = |blocks: u64| (0..blocks).map(|block| block % 3 + 1).sum::<u64>();
    let committed = txs_in(2000);

    // Commits every 10 blocks: the address index is checkpointed only when the addresses since
    // the last checkpoint reach half of its slots (2^12 at first), so most commits leave a tail
    // out of the file. (The txs are all in the tail of the txid runs: fewer than 2^20.)
    let crashed = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(crashed.path(), &spec()).unwrap();
    write_growing_chain(&mut writer, 0, 2000, 10);
    write_growing_chain(&mut writer, 2000, 2100, 1000); // uncommitted when the writer dies
    drop(writer);
    let addresses = manifest_field(crashed.path(), "addresses_indexed");
    assert!(addresses > 0 && addresses < committed + 50, "address checkpoint at {addresses}");

    // A reader finds the committed rows after the checkpoint too (and nothing uncommitted).
    let store = Store::open(crashed.path()).unwrap();
    let view = store.view();
    assert_eq!(view.counts().txs, committed);
    for txnum in [0, committed / 2, committed - 1] {
        let txnum = TxNum::new(txnum as u32);
        assert_eq!(view.find_tx(&view.txid(txnum)), Some(txnum));
    }
    assert_eq!(view.find_tx(&hash(10_000 + committed)), None);
    let newest = view.find_address(&key(5_000 + committed - 1)).unwrap();
    assert_eq!(u64::from(newest.get()), view.counts().addresses - 1);
    assert_eq!(view.find_address(&key(5_000 + committed)), None);
    drop(store);

    let mut writer = StoreWriter::open(crashed.path(), &spec()).unwrap();
    let report = writer.recovery().expect("dirty store is recovered");
    // Every committed address after the checkpoint is indexed again.
    let tail = writer.view().counts().addresses - addresses;
    assert_eq!(report.index_entries, tail, "{report:?}");
    let view = writer.view();
    let last = TxNum::new(committed as u32 - 1);
    assert_eq!(view.find_tx(&hash(10_000 + committed - 1)), Some(last));
    write_growing_chain(&mut writer, 2000, 2400, 25);
    writer.finish().unwrap();
    assert_eq!(snapshot(crashed.path()), snapshot(reference.path()));
}

#[test]
fn a_reserve_sizes_the_address_index_once_and_is_kept_across_a_crash() {
    let reference = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(reference.path(), &spec()).unwrap();
    writer.reserve(20_000).unwrap();
    write_growing_chain(&mut writer, 0, 300, 1000);
    writer.finish().unwrap();
    // 2^15 slots hold 20,000 addresses at 0.7 load: no growth from 2^12.
    let names: Vec<String> = fs_err::read_dir(reference.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".idx."))
        .collect();
    assert_eq!(names, ["addr.idx.15"]);

    // The reserve is committed with the first commit; a resumed writer keeps it and ignores
    // another one.
    let crashed = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(crashed.path(), &spec()).unwrap();
    writer.reserve(20_000).unwrap();
    write_growing_chain(&mut writer, 0, 120, 40);
    write_growing_chain(&mut writer, 120, 150, 1000);
    drop(writer);
    let mut writer = StoreWriter::open(crashed.path(), &spec()).unwrap();
    writer.reserve(1).unwrap();
    write_growing_chain(&mut writer, 120, 300, 1000);
    writer.finish().unwrap();
    assert_eq!(snapshot(crashed.path()), snapshot(reference.path()));
}

#[test]
fn unwinding_below_an_index_checkpoint_rewrites_the_index_file() {
    let reference = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(reference.path(), &spec()).unwrap();
    write_growing_chain(&mut writer, 0, 2400, 1000);
    writer.finish().unwrap();

    let unwound = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(unwound.path(), &spec()).unwrap();
    write_growing_chain(&mut writer, 0, 2000, 10);
    let checkpointed = manifest_field(unwound.path(), "addresses_indexed");
    let kept = (0..500u64).map(|block| block % 3 + 1).sum::<u64>();
    writer.unwind_to(cointrail_types::Height::new(499)).unwrap();
    let addresses = writer.view().counts().addresses;
    assert!(checkpointed > addresses, "the checkpoint ({checkpointed}) holds addresses to remove");
    assert!(manifest_field(unwound.path(), "addresses_indexed") <= addresses);
    // A reader of the unwound store finds no removed tx.
    let store = Store::open(unwound.path()).unwrap();
    assert_eq!(store.view().find_tx(&hash(10_000 + kept)), None);
    assert_eq!(store.view().find_tx(&hash(10_000 + kept - 1)), Some(TxNum::new(kept as u32 - 1)));
    drop(store);
    write_growing_chain(&mut writer, 500, 2400, 100);
    writer.finish().unwrap();
    assert_eq!(snapshot(unwound.path()), snapshot(reference.path()));
}

/// One block's rows, for writing it both ways: txs, each with the outputs it spends (ids) and
/// its outputs (value, address).
type BlockRows = Vec<(Hash32, Vec<u64>, Vec<(u64, Option<AddressKey>)>)>;

/// A block as `push_blocks` takes it: its height and rows.
struct Rows<'a>(u64, &'a BlockRows);

impl cointrail_store::BlockOutputs for Rows<'_> {
    fn output_count(&self) -> usize {
        self.1.iter().map(|(_, _, outputs)| outputs.len()).sum()
    }

    fn address(&self, position: usize) -> Option<&AddressKey> {
        self.1.iter().flat_map(|(_, _, outputs)| outputs).nth(position).unwrap().1.as_ref()
    }
}

/// Large blocks that reuse addresses within and across blocks, pay `OP_RETURN`s, spend outputs of
/// the same block, and grow the address index (from its minimum size) in the middle of a block.
fn big_blocks() -> Vec<BlockRows> {
    let mut blocks = Vec::new();
    let (mut txn, mut output) = (0u64, 0u64);
    for block in 0..6u64 {
        let mut rows: BlockRows = Vec::new();
        for position in 0..400u64 {
            let spends = if txn == 0 { vec![] } else { vec![output - 1 - position % 2] };
            let outputs = (0..3)
                .map(|n| {
                    let address = match (txn + n) % 9 {
                        0 => None,
                        1 => Some(key(txn % 40)),
                        _ => Some(key(50 + txn * 3 + n)),
                    };
                    (block * 1_000 + txn + n, address)
                })
                .collect::<Vec<_>>();
            output += outputs.len() as u64;
            rows.push((hash(500_000 + txn), spends, outputs));
            txn += 1;
        }
        blocks.push(rows);
    }
    blocks
}

#[test]
fn blocks_written_in_two_halves_on_two_threads_have_the_bytes_of_rows_written_one_by_one() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let blocks = big_blocks();

    let mut writer = StoreWriter::open(one.path(), &spec()).unwrap();
    for (height, rows) in blocks.iter().enumerate() {
        writer.push_block(&hash(height as u64), &[height as u8; 80], 100).unwrap();
        for (txid, spends, outputs) in rows {
            writer.push_tx(txid).unwrap();
            for spent in spends {
                writer.push_input(OutputId::new(*spent)).unwrap();
            }
            for (value, address) in outputs {
                writer.push_output(*value, address.as_ref()).unwrap();
            }
        }
        if height % 2 == 1 {
            writer.commit().unwrap();
        }
    }
    writer.finish().unwrap();

    // Two blocks per call, a commit after each; once without and once with the address half
    // reading ahead the rows it confirms, which changes no byte.
    for read_ahead in [false, true] {
        let _ = std::fs::remove_dir_all(two.path());
        write_in_halves(two.path(), &blocks, read_ahead);
        assert_eq!(snapshot(one.path()), snapshot(two.path()), "read ahead: {read_ahead}");
    }

    let store = Store::open(two.path()).unwrap();
    let view = store.view();
    let reused = view.find_address(&key(1)).unwrap();
    assert!(view.address_outputs(reused).count() > 10, "history links across blocks");
}

/// Writes `blocks` into a new store at `dir` with `push_blocks`, two blocks per call and a
/// commit after each.
fn write_in_halves(dir: &Path, blocks: &[BlockRows], read_ahead: bool) {
    let mut writer = StoreWriter::open(dir, &spec()).unwrap();
    writer.set_read_ahead(read_ahead);
    for pair in 0..3u64 {
        let mut next =
            (pair * 2..pair * 2 + 2).map(|height| Ok(Rows(height, &blocks[height as usize])));
        let written = writer.push_blocks(
            || next.next(),
            |tx_rows, block: &Rows<'_>| {
                tx_rows.push_block(&hash(block.0), &[block.0 as u8; 80], 100)?;
                for (txid, spends, outputs) in block.1 {
                    tx_rows.push_tx(txid)?;
                    for spent in spends {
                        // Every spend is found through the transaction half's own lookups.
                        let (tx, vout) = spent_outpoint(blocks, *spent);
                        assert_eq!(
                            tx_rows.find_prevout(&tx, vout),
                            cointrail_store::Prevout::Unspent(OutputId::new(*spent))
                        );
                        tx_rows.push_input(OutputId::new(*spent))?;
                    }
                    for (value, _) in outputs {
                        tx_rows.push_output(*value)?;
                    }
                }
                Ok::<_, StoreError>(())
            },
        );
        written.unwrap();
        writer.commit().unwrap();
    }
    writer.finish().unwrap();
}

/// The txid and output index of output `id` in `blocks`.
fn spent_outpoint(blocks: &[BlockRows], id: u64) -> (Hash32, u32) {
    let mut first = 0;
    for (txid, _, outputs) in blocks.iter().flatten() {
        if id < first + outputs.len() as u64 {
            return (*txid, (id - first) as u32);
        }
        first += outputs.len() as u64;
    }
    panic!("no output {id}")
}

#[test]
fn a_block_whose_transactions_push_fewer_outputs_than_it_has_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(dir.path(), &spec()).unwrap();
    let outputs = (0..600).map(|n| (n, Some(key(n)))).collect();
    let rows: BlockRows = vec![(hash(1), vec![], outputs)];
    let mut next = Some(Ok(Rows(0, &rows)));
    let result = writer.push_blocks(
        || next.take(),
        |tx_rows, _: &Rows<'_>| {
            tx_rows.push_block(&hash(0), &[0; 80], 100)?;
            tx_rows.push_tx(&hash(1))?;
            for value in 0..599 {
                tx_rows.push_output(value)?;
            }
            Ok::<_, StoreError>(())
        },
    );
    let error = result.unwrap_err().to_string();
    assert!(error.contains("block 0 has 600 outputs but 599 were written"), "{error}");
    writer.rollback().unwrap();
    assert_eq!(writer.view().counts().outputs, 0);
}
