//! The sorted runs of the address history, the txid index and the spends (`docs/store-format.md`,
//! "Sorted runs"): what readers see against a plain model, and the bytes across commits, merges, a
//! crash and an unwinding.

use std::collections::HashMap;
use std::path::Path;

use cointrail_store::{ChainView, Store, StoreWriter};
use cointrail_types::{AddressId, Hash32, Height, InputId, OutputId, TxNum};

use crate::{hash, key, snapshot, spec, write_growing_chain};

/// Level-0 runs of 8 rows: the chains below (about 2 outputs per tx, 2 txs per block) fill
/// hundreds of them and merge them four levels up.
const BITS: u32 = 3;

/// A new store with small runs.
fn open_new(dir: &Path) -> StoreWriter {
    let mut writer = StoreWriter::open(dir, &spec()).unwrap();
    writer.set_run_bits(BITS).unwrap();
    writer
}

/// Checks that `view` finds every txid at the latest tx that has it, and a txid no tx has
/// nowhere.
fn assert_txids_found(view: &ChainView<'_>) {
    let txs = view.counts().txs;
    let mut latest = HashMap::new();
    for tx in 0..txs {
        let txnum = TxNum::new(tx as u32);
        latest.insert(view.txid(txnum), txnum);
    }
    for (txid, txnum) in &latest {
        assert_eq!(view.find_tx(txid), Some(*txnum), "{txid} of {txs} txs");
    }
    assert_eq!(view.find_tx(&hash(u64::MAX / 3)), None);
}

/// Checks [`assert_txids_found`] for a reader of `dir`.
fn assert_reader_finds_txids(dir: &Path) {
    let store = Store::open(dir).unwrap();
    assert_txids_found(&store.view());
}

/// A store of blocks `0..blocks` of the growing chain, written in one batch and finished.
fn one_go(blocks: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open_new(dir.path());
    write_growing_chain(&mut writer, 0, blocks, 1_000_000);
    writer.finish().unwrap();
    dir
}

/// Checks every address's history as a reader of `dir` sees it against a pass over `out.addr`.
fn assert_history_matches_the_outputs(dir: &Path) {
    let store = Store::open(dir).unwrap();
    let view = store.view();
    let counts = view.counts();
    let mut expected = vec![Vec::new(); counts.addresses as usize];
    for output in 0..counts.outputs {
        if let Some(address) = view.output(OutputId::new(output)).address {
            expected[address.get() as usize].push(output);
        }
    }
    for (address, outputs) in expected.iter().enumerate() {
        let found: Vec<u64> =
            view.address_outputs(AddressId::new(address as u32)).map(OutputId::get).collect();
        assert_eq!(&found, outputs, "address {address} of {} outputs", counts.outputs);
    }
}

/// Checks that `view` finds the spender of every output, and none for an unspent one, against a
/// pass over `in.spent` (the outputs each input spends).
fn assert_spends_found(view: &ChainView<'_>) {
    let counts = view.counts();
    let mut expected = vec![None; counts.outputs as usize];
    for input in 0..counts.inputs {
        let output = view.spent_output(InputId::new(input));
        assert_eq!(expected[output.get() as usize], None, "output {output:?} spent twice");
        expected[output.get() as usize] = Some(InputId::new(input));
    }
    assert!(expected.iter().any(Option::is_some) && expected.iter().any(Option::is_none));
    for (output, spender) in expected.iter().enumerate() {
        let found = view.output(OutputId::new(output as u64)).spent_by;
        assert_eq!(
            found, *spender,
            "output {output} of {} ({} inputs)",
            counts.outputs, counts.inputs
        );
    }
}

/// Checks [`assert_spends_found`] for a reader of `dir`.
fn assert_reader_finds_spends(dir: &Path) {
    let store = Store::open(dir).unwrap();
    assert_spends_found(&store.view());
}

/// The run files of `dir` whose names start with `prefix` (`hist.`, `txids.` or `spends.`).
fn run_files(dir: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// The sum of the base-4 digits of the whole level-0 runs of `rows`: the run files they need.
fn digits(rows: u64) -> usize {
    let mut units = rows >> BITS;
    let mut digits = 0;
    while units > 0 {
        digits += units % 4;
        units /= 4;
    }
    digits as usize
}

#[test]
fn readers_find_every_output_of_an_address_in_runs_tail_and_merges() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open_new(dir.path());
    for (from, to) in [(0, 3), (3, 40), (40, 700), (700, 701), (701, 1500)] {
        write_growing_chain(&mut writer, from, to, 1_000_000);
        assert_txids_found(&writer.view());
        writer.commit().unwrap();
        assert_history_matches_the_outputs(dir.path());
        assert_reader_finds_txids(dir.path());
        assert_reader_finds_spends(dir.path());
        assert_txids_found(&writer.view());
        assert_spends_found(&writer.view());
    }
    writer.finish().unwrap();
    assert_history_matches_the_outputs(dir.path());
    assert_reader_finds_txids(dir.path());
    assert_reader_finds_spends(dir.path());
    // The files are the base-4 digits of the whole runs: at most 3 a level.
    let counts = Store::open(dir.path()).unwrap().view().counts();
    let history = run_files(dir.path(), "hist.");
    assert_eq!(history.len(), digits(counts.outputs), "{history:?}");
    let txids = run_files(dir.path(), "txids.");
    assert_eq!(txids.len(), digits(counts.txs), "{txids:?}");
    let spends = run_files(dir.path(), "spends.");
    assert_eq!(spends.len(), digits(counts.inputs), "{spends:?}");

    // A run file cut by one entry is refused by name, not read as a shorter history or index.
    let cut = [(&history[0], 9, "history run"), (&txids[0], 13, "txid run")];
    for (name, entry, what) in cut.into_iter().chain([(&spends[0], 10, "spend run")]) {
        let file = dir.path().join(name);
        let bytes = fs_err::read(&file).unwrap();
        fs_err::write(&file, &bytes[..bytes.len() - entry]).unwrap();
        let error = Store::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains(&file.display().to_string()) && error.contains(what), "{error}");
        fs_err::write(&file, &bytes).unwrap();
    }
}

#[test]
fn runs_have_the_same_bytes_however_commits_fall_and_after_a_crash() {
    let reference = one_go(1200);

    // Commits every 7 blocks, in the background as an ingest makes them; then a batch that is
    // never committed, and stray run files as a crash between a run and its manifest leaves them.
    let crashed = tempfile::tempdir().unwrap();
    let mut writer = open_new(crashed.path());
    for from in (0..800).step_by(7) {
        write_growing_chain(&mut writer, from, (from + 7).min(800), 1_000_000);
        writer.commit_in_background().unwrap();
    }
    write_growing_chain(&mut writer, 800, 900, 1_000_000);
    drop(writer);
    fs_err::write(crashed.path().join("hist.0-8.tmp"), b"torn").unwrap();
    fs_err::write(crashed.path().join("hist.99999992-100000000"), b"stray").unwrap();
    fs_err::write(crashed.path().join("txids.0-32.tmp"), b"torn").unwrap();
    fs_err::write(crashed.path().join("txids.99999992-100000000"), b"stray").unwrap();
    fs_err::write(crashed.path().join("spends.0-8.tmp"), b"torn").unwrap();
    assert_history_matches_the_outputs(crashed.path());
    assert_reader_finds_txids(crashed.path());
    assert_reader_finds_spends(crashed.path());

    let mut writer = StoreWriter::open(crashed.path(), &spec()).unwrap();
    let report = writer.recovery().expect("dirty store is recovered");
    assert_eq!(report.runs, 5, "{report:?}");
    assert_txids_found(&writer.view());
    assert_spends_found(&writer.view());
    write_growing_chain(&mut writer, 800, 1200, 13);
    writer.finish().unwrap();
    assert_eq!(snapshot(crashed.path()), snapshot(reference.path()));
    assert_history_matches_the_outputs(crashed.path());
}

#[test]
fn unwinding_into_a_merged_run_gives_the_runs_of_a_fresh_ingest() {
    let reference = one_go(1500);
    let prefix = one_go(1001);

    let unwound = tempfile::tempdir().unwrap();
    let mut writer = open_new(unwound.path());
    write_growing_chain(&mut writer, 0, 1400, 100);
    let kinds = ["hist.", "txids.", "spends."];
    let before = kinds.map(|kind| run_files(unwound.path(), kind));
    writer.unwind_to(Height::new(1000)).unwrap();
    // The largest runs ended past the cut: they were split into the runs a fresh ingest has.
    for (prefix_name, before) in kinds.iter().zip(before) {
        assert_ne!(run_files(unwound.path(), prefix_name), before);
        assert_eq!(run_files(unwound.path(), prefix_name), run_files(prefix.path(), prefix_name));
    }
    assert_history_matches_the_outputs(unwound.path());
    assert_reader_finds_txids(unwound.path());
    assert_reader_finds_spends(unwound.path());
    assert_txids_found(&writer.view());
    assert_spends_found(&writer.view());
    write_growing_chain(&mut writer, 1001, 1500, 1_000_000);
    writer.finish().unwrap();
    assert_eq!(snapshot(unwound.path()), snapshot(reference.path()));
    assert_history_matches_the_outputs(unwound.path());
}

/// A txid sharing its first 8 bytes (the runs' key) with `hash(n)` but not the rest.
fn prefix_twin(n: u64, twin: u8) -> Hash32 {
    let mut bytes = hash(n).0;
    bytes[31] = twin;
    Hash32(bytes)
}

#[test]
fn the_latest_of_duplicated_txids_is_found_and_prefix_twins_are_told_apart() {
    // Txs whose txids repeat (as BIP-0030's duplicated coinbases do) and txids that share their
    // key but not their bytes, spread over many runs, merged runs, the tail and the batch.
    let txid_of = |tx: u64| match tx % 4 {
        0 => hash(tx % 37),
        1 => prefix_twin(tx % 11, (tx % 3) as u8 + 1),
        _ => hash(1_000 + tx),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open_new(dir.path());
    for block in 0..600u64 {
        writer.push_block(&hash(block), &[block as u8; 80], 100).unwrap();
        let tx = writer.view().counts().txs;
        writer.push_tx(&txid_of(tx)).unwrap();
        writer.push_output(1_000, Some(&key(tx % 5))).unwrap();
        if block % 50 == 49 {
            assert_txids_found(&writer.view());
            writer.commit_in_background().unwrap();
        }
    }
    assert_txids_found(&writer.view());
    writer.commit().unwrap();
    assert_reader_finds_txids(dir.path());
    // The twins are in the index under one key; only the confirmation tells them apart.
    let store = Store::open(dir.path()).unwrap();
    let view = store.view();
    assert_eq!(view.find_tx(&prefix_twin(3, 9)), None);
    let latest = (0..600).filter(|tx| txid_of(*tx) == hash(3)).max().unwrap();
    assert!(latest > 300, "the latest of its duplicates is in a later run: {latest}");
    assert_eq!(view.find_tx(&hash(3)), Some(TxNum::new(latest as u32)));
    assert!(run_files(dir.path(), "txids.").len() > 1);
}
