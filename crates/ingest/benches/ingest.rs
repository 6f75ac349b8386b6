//! Ingest benchmark on the largest real mainnet blocks bundled with the repository.
//!
//! Run with `cargo bench -p cointrail-ingest --bench ingest` (see `docs/performance.md`). For each
//! block it measures:
//! - decode: bytes to flat records with txids and address keys (`DecodedBlock::decode_into`);
//! - ingest: the real write path (`append_block`: txid and address indexes, prevout resolution,
//!   address history links) plus the atomic commit, into a fresh store in which the block's
//!   external prevouts were first created by a synthetic funding block (single blocks cannot be
//!   ingested from genesis). Only the real block and its commit are timed.
//!
//! Then it ingests all of them into one store and reports store bytes per transaction and the
//! process's peak RSS.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    missing_docs,
    reason = "benchmark harness"
)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cointrail_btc::{DecodedBlock, Network};
use cointrail_ingest::append_block;
use cointrail_store::{ChainSpec, Store, StoreWriter};
use cointrail_types::{AddressKey, AddressKind, Hash32};

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../btc/tests/data");
    let mut blocks: Vec<(String, Vec<u8>)> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with("mainnet_block_") && name.ends_with(".raw")
        })
        .map(|path: PathBuf| {
            let bytes = fs_err::read(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, bytes)
        })
        .collect();
    blocks.sort_by_key(|(_, bytes)| std::cmp::Reverse(bytes.len()));
    blocks
}

fn spec() -> ChainSpec {
    ChainSpec { chain: "bitcoin".into(), network: Network::Mainnet.name().into() }
}

/// Pushes one synthetic block whose txs carry the txids the real block spends from, with enough
/// outputs for every spent index.
fn fund(writer: &mut StoreWriter, block: &DecodedBlock, tag: u8) {
    let own: HashSet<Hash32> = block.txs.iter().map(|tx| tx.txid).collect();
    let mut needed: BTreeMap<Hash32, u32> = BTreeMap::new();
    for input in &block.inputs {
        if !own.contains(&input.prev_txid) && writer.view().find_tx(&input.prev_txid).is_none() {
            let entry = needed.entry(input.prev_txid).or_default();
            *entry = (*entry).max(input.prev_vout);
        }
    }
    let mut hash = [tag; 32];
    hash[..8].copy_from_slice(&writer.view().counts().blocks.to_le_bytes());
    writer.push_block(&Hash32(hash), &[0; 80], 0).unwrap();
    for (txid, max_vout) in needed {
        writer.push_tx(&txid).unwrap();
        let key = AddressKey::new(AddressKind::P2wpkh, &txid.0[..20]);
        for _ in 0..=max_vout {
            writer.push_output(100_000_000, Some(&key)).unwrap();
        }
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn peak_rss_mib() -> f64 {
    let status = fs_err::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn main() {
    // `cargo test --benches` passes `--bench`-less arguments; run quickly there.
    let quick = std::env::args().any(|arg| arg == "--quick") || cfg!(debug_assertions);
    let rounds = if quick { 1 } else { 7 };
    let blocks = fixtures();
    println!("| block | bytes | txs | decode MB/s | decode txs/s | ingest MB/s | ingest txs/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut total_bytes = 0u64;
    let mut total_txs = 0u64;
    let mut total_time = Duration::ZERO;
    let mut decoded = DecodedBlock::default();
    for (name, raw) in &blocks {
        // Decode: repeat for at least 0.3 s.
        let started = Instant::now();
        let mut decodes = 0u32;
        while decodes < 3 || started.elapsed() < Duration::from_millis(if quick { 1 } else { 300 })
        {
            decoded.decode_into(raw).unwrap();
            decodes += 1;
        }
        let decode_time = started.elapsed() / decodes;
        let txs = decoded.txs.len() as u64;

        let mut samples = Vec::new();
        for _ in 0..rounds {
            let dir = tempfile::tempdir().unwrap();
            let mut writer = StoreWriter::open(dir.path(), &spec()).unwrap();
            fund(&mut writer, &decoded, 1);
            writer.commit().unwrap();
            let header: [u8; 80] = raw[..80].try_into().unwrap();
            let started = Instant::now();
            append_block(&mut writer, &decoded, &header, raw.len() as u32, 1).unwrap();
            writer.commit().unwrap();
            samples.push(started.elapsed());
        }
        let ingest_time = median(samples);
        total_bytes += raw.len() as u64;
        total_txs += txs;
        total_time += ingest_time;
        let mb = raw.len() as f64 / 1e6;
        let short = &name["mainnet_block_".len()..name.len() - 4];
        println!(
            "| {}…{} | {} | {} | {:.0} | {:.0} | {:.1} | {:.0} |",
            &short[..8],
            &short[short.len() - 8..],
            raw.len(),
            txs,
            mb / decode_time.as_secs_f64(),
            txs as f64 / decode_time.as_secs_f64(),
            mb / ingest_time.as_secs_f64(),
            txs as f64 / ingest_time.as_secs_f64(),
        );
    }
    println!(
        "| **all {} blocks** | {} | {} | | | {:.1} | {:.0} |",
        blocks.len(),
        total_bytes,
        total_txs,
        total_bytes as f64 / 1e6 / total_time.as_secs_f64(),
        total_txs as f64 / total_time.as_secs_f64()
    );

    // All blocks into one store, in chain order, after one funding block for every prevout that
    // none of them creates: bytes on disk per tx.
    let mut all: Vec<DecodedBlock> =
        blocks.iter().map(|(_, raw)| DecodedBlock::decode(raw).unwrap()).collect();
    let raws: BTreeMap<Hash32, &Vec<u8>> =
        blocks.iter().map(|(_, raw)| (DecodedBlock::decode(raw).unwrap().hash, raw)).collect();
    all.sort_by_key(|block| block.header.time);
    let union = DecodedBlock {
        txs: all.iter().flat_map(|block| block.txs.iter().copied()).collect(),
        inputs: all.iter().flat_map(|block| block.inputs.iter().copied()).collect(),
        ..DecodedBlock::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut writer = StoreWriter::open(dir.path(), &spec()).unwrap();
    fund(&mut writer, &union, 2);
    writer.finish().unwrap();
    let funded = column_bytes(dir.path());
    let funded_counts = Store::open(dir.path()).unwrap().view().counts();
    let mut writer = StoreWriter::open(dir.path(), &spec()).unwrap();
    let started = Instant::now();
    for (index, block) in all.iter().enumerate() {
        let raw = raws[&block.hash];
        let header: [u8; 80] = raw[..80].try_into().unwrap();
        let height = writer.view().counts().blocks as u32;
        append_block(&mut writer, block, &header, raw.len() as u32, height).unwrap();
        if index % 4 == 3 {
            writer.commit().unwrap();
        }
    }
    writer.finish().unwrap();
    let sustained = started.elapsed();
    let store = Store::open(dir.path()).unwrap();
    let counts = store.view().counts();
    println!();
    println!(
        "one store, all blocks in chain order, commits every 4 blocks and a final trim: \
         {:.1} MB/s, {:.0} txs/s, {:.0} inputs+outputs/s",
        total_bytes as f64 / 1e6 / sustained.as_secs_f64(),
        total_txs as f64 / sustained.as_secs_f64(),
        (counts.inputs - funded_counts.inputs + counts.outputs - funded_counts.outputs) as f64
            / sustained.as_secs_f64()
    );
    let real_bytes = column_bytes(dir.path()) - funded;
    let real_txs = counts.txs - funded_counts.txs;
    let usage = store.disk_usage().unwrap();
    println!();
    println!(
        "real blocks added {} txs, {} inputs, {} outputs, {} new addresses: {} bytes of columns, \
         {:.1} bytes/tx",
        real_txs,
        counts.inputs - funded_counts.inputs,
        counts.outputs - funded_counts.outputs,
        counts.addresses - funded_counts.addresses,
        real_bytes,
        real_bytes as f64 / real_txs as f64
    );
    println!(
        "address hash index: 8-byte slots at <= 0.7 load, >= {:.1} bytes per address",
        8.0 / 0.7
    );
    println!("whole store (funding block included):");
    for (name, size) in usage {
        println!("  {name:<14} {size:>10}");
    }
    println!("peak RSS of the benchmark process: {:.1} MiB", peak_rss_mib());
}

/// Bytes of the columns (the address hash index and the runs excluded: the index's size steps
/// by powers of two, and runs exist only for whole 2^20-row stretches).
fn column_bytes(dir: &Path) -> u64 {
    Store::open(dir).unwrap().column_bytes()
}
