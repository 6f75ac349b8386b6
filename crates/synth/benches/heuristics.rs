//! Precision and recall of every clustering heuristic on the planted ground truth.
//!
//! `cargo bench -p cointrail-synth --bench heuristics [-- BLOCKS TXS_PER_BLOCK SEED]` generates a
//! synthetic chain (default 300 blocks x 1000 txs, seed 11), ingests it, clusters it with each
//! heuristic set, and compares with `truth_addresses.tsv` and `truth_change.tsv`:
//! - pairwise clustering precision/recall over address pairs (a pair in one cluster is right if
//!   one entity owns both);
//! - per change heuristic, how often the output it calls change is change (precision) and how many
//!   change outputs it finds (recall).
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    missing_docs,
    reason = "benchmark harness"
)]

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use cointrail_btc::Network;
use cointrail_cluster::{ChangeHeuristic, ClusterState, Clusterer, Config, detect_change};
use cointrail_ingest::{IngestOptions, ingest_btc};
use cointrail_store::Store;
use cointrail_synth::{SynthConfig, generate};
use cointrail_types::{ChainGraph, Hash32, OutputId, TxNum};

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

fn main() {
    let numbers: Vec<u64> = std::env::args().filter_map(|arg| arg.parse().ok()).collect();
    let quick = cfg!(debug_assertions);
    let blocks = numbers.first().copied().unwrap_or(if quick { 60 } else { 300 }) as u32;
    let txs_per_block = numbers.get(1).copied().unwrap_or(if quick { 100 } else { 1000 }) as u32;
    let seed = numbers.get(2).copied().unwrap_or(11);
    let temp = tempfile::tempdir().unwrap();
    let chain = temp.path().join("chain");
    let config = SynthConfig { blocks, txs_per_block, seed, ..SynthConfig::default() };
    generate(&config, &chain, &mut |_| {}).unwrap();
    let store_dir = temp.path().join("store");
    ingest_btc(&IngestOptions::new(&chain, &store_dir, Network::Regtest), &mut ()).unwrap();
    let store = Store::open(&store_dir).unwrap();
    let view = store.view();
    let counts = view.counts();
    println!(
        "chain: {blocks} blocks x {txs_per_block} txs/block, seed {seed}: {} txs, {} addresses",
        counts.txs, counts.addresses
    );

    // Ground truth: entity per address id, change outputs.
    let mut entity_of: Vec<Option<u32>> = vec![None; counts.addresses as usize];
    let text = fs_err::read_to_string(chain.join("truth_addresses.tsv")).unwrap();
    for line in text.lines().skip(1) {
        let mut fields = line.split('\t');
        let (Some(address), Some(entity)) = (fields.next(), fields.next()) else { continue };
        let Ok(entity) = entity.parse::<u32>() else { continue };
        let key = Network::Regtest.parse_address(address).unwrap();
        if let Some(id) = view.find_address(&key) {
            entity_of[id.get() as usize] = Some(entity);
        }
    }
    let mut change: HashSet<OutputId> = HashSet::new();
    let text = fs_err::read_to_string(chain.join("truth_change.tsv")).unwrap();
    for line in text.lines().skip(1) {
        let mut fields = line.split('\t');
        let (Some(txid), Some(vout)) = (fields.next(), fields.next()) else { continue };
        let Some(txnum) = view.find_tx(&Hash32::from_display_hex(txid).unwrap()) else { continue };
        change.insert(OutputId::new(
            view.tx(txnum).unwrap().outputs.start + vout.parse::<u64>().unwrap(),
        ));
    }
    let mut per_entity: HashMap<u32, u64> = HashMap::new();
    for entity in entity_of.iter().flatten() {
        *per_entity.entry(*entity).or_default() += 1;
    }
    let true_pairs: u64 = per_entity.values().map(|n| pairs(*n)).sum();

    println!();
    println!("| heuristics | clusters | largest | pair precision | pair recall | merges/s |");
    println!("|---|---:|---:|---:|---:|---:|");
    let sets: [&[&str]; 6] = [
        &["multi-input"],
        &["multi-input", "change:fresh"],
        &["multi-input", "change:type"],
        &["multi-input", "change:round"],
        &["multi-input", "change:optimal"],
        &["multi-input", "change:fresh", "change:type", "change:round", "change:optimal"],
    ];
    for names in sets {
        let len = counts.addresses as usize;
        let (mut parent, mut size, mut next) = (vec![0u32; len], vec![0u32; len], vec![0u32; len]);
        let mut state = ClusterState::new(&mut parent, &mut size, &mut next);
        state.init_singletons(0);
        let clusterer = Clusterer::new(Config {
            max_cluster_size: u32::MAX,
            ..Config::from_names(names).unwrap()
        });
        let started = Instant::now();
        let changes = clusterer.run(&view, 0..counts.txs as u32, &mut state);
        state.canonicalize();
        let seconds = started.elapsed().as_secs_f64();
        let mut cluster_sizes: HashMap<u32, u64> = HashMap::new();
        let mut cluster_entity: HashMap<(u32, u32), u64> = HashMap::new();
        for (index, root) in parent.iter().enumerate() {
            let Some(entity) = entity_of[index] else { continue };
            *cluster_sizes.entry(*root).or_default() += 1;
            *cluster_entity.entry((*root, entity)).or_default() += 1;
        }
        let predicted: u64 = cluster_sizes.values().map(|n| pairs(*n)).sum();
        let correct: u64 = cluster_entity.values().map(|n| pairs(*n)).sum();
        let clusters =
            parent.iter().enumerate().filter(|(index, root)| **root as usize == *index).count();
        println!(
            "| {} | {} | {} | {:.4} | {:.4} | {:.0} |",
            names.join(", "),
            clusters,
            size.iter().max().unwrap_or(&0),
            if predicted == 0 { 1.0 } else { correct as f64 / predicted as f64 },
            correct as f64 / true_pairs.max(1) as f64,
            changes.links.len() as f64 / seconds.max(1e-9),
        );
    }

    println!();
    println!("| change heuristic | decisions | precision | recall |");
    println!("|---|---:|---:|---:|");
    for heuristic in ChangeHeuristic::ALL {
        let (mut decisions, mut right) = (0u64, 0u64);
        for tx in 0..counts.txs as u32 {
            if let Some(output) = detect_change(&view, TxNum::new(tx), heuristic) {
                decisions += 1;
                if change.contains(&output) {
                    right += 1;
                }
            }
        }
        println!(
            "| change:{} | {decisions} | {:.4} | {:.4} |",
            heuristic.name(),
            right as f64 / decisions.max(1) as f64,
            right as f64 / change.len().max(1) as f64
        );
    }
    println!(
        "\n{} change outputs and {} addresses with a known owner in the ground truth",
        change.len(),
        entity_of.iter().flatten().count()
    );
    let _ = view.output_value(OutputId::new(0));
}
