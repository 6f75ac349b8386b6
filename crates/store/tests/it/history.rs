//! The address history in sorted runs (`docs/store-format.md`, "Address history"): what readers
//! see against a plain model, and the bytes across commits, merges, a crash and an unwinding.

use std::path::Path;

use cointrail_store::{Store, StoreWriter};
use cointrail_types::{AddressId, Height, OutputId};

use crate::{snapshot, spec, write_growing_chain};

/// Level-0 runs of 8 outputs: the chains below (about 2 outputs per tx, 2 txs per block) fill
/// hundreds of them and merge them four levels up.
const BITS: u32 = 3;

/// A new store with small runs.
fn open_new(dir: &Path) -> StoreWriter {
    let mut writer = StoreWriter::open(dir, &spec()).unwrap();
    writer.set_history_run_bits(BITS).unwrap();
    writer
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

fn run_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("hist."))
        .collect();
    names.sort();
    names
}

#[test]
fn readers_find_every_output_of_an_address_in_runs_tail_and_merges() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = open_new(dir.path());
    for (from, to) in [(0, 3), (3, 40), (40, 700), (700, 701), (701, 1500)] {
        write_growing_chain(&mut writer, from, to, 1_000_000);
        writer.commit().unwrap();
        assert_history_matches_the_outputs(dir.path());
    }
    writer.finish().unwrap();
    assert_history_matches_the_outputs(dir.path());
    // The files are the base-4 digits of the whole runs: at most 3 a level.
    let outputs = Store::open(dir.path()).unwrap().view().counts().outputs;
    let mut units = outputs >> BITS;
    let mut digits = 0;
    while units > 0 {
        digits += units % 4;
        units /= 4;
    }
    assert_eq!(run_files(dir.path()).len() as u64, digits, "{:?}", run_files(dir.path()));

    // A run file cut by one entry is refused by name, not read as a shorter history.
    let first = dir.path().join(&run_files(dir.path())[0]);
    let bytes = fs_err::read(&first).unwrap();
    fs_err::write(&first, &bytes[..bytes.len() - 9]).unwrap();
    let error = Store::open(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains(&first.display().to_string()) && error.contains("history run"),
        "{error}"
    );
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
    assert_history_matches_the_outputs(crashed.path());

    let mut writer = StoreWriter::open(crashed.path(), &spec()).unwrap();
    let report = writer.recovery().expect("dirty store is recovered");
    assert_eq!(report.runs, 2, "{report:?}");
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
    let before = run_files(unwound.path());
    writer.unwind_to(Height::new(1000)).unwrap();
    // The largest run ended past the cut: it was split into the runs a fresh ingest has.
    assert_ne!(run_files(unwound.path()), before);
    assert_eq!(run_files(unwound.path()), run_files(prefix.path()));
    assert_history_matches_the_outputs(unwound.path());
    write_growing_chain(&mut writer, 1001, 1500, 1_000_000);
    writer.finish().unwrap();
    assert_eq!(snapshot(unwound.path()), snapshot(reference.path()));
    assert_history_matches_the_outputs(unwound.path());
}
