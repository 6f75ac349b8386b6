//! Side-by-side chain-scale runs of cointrail's block decoder and two reference tools over the same
//! Bitcoin Core blocks directory. Run by `scripts/bench-chain.sh`, which times each mode in its own
//! process under `/usr/bin/time` (wall time and peak RSS) and prints the tables.
//!
//! Modes (each prints one JSON line: what it counted and its own wall time):
//!
//! - `ct-parse DIR NETWORK THREADS`: cointrail raw parse. `BlocksDir::scan_headers`, `best_chain`,
//!   then `read_block` + `DecodedBlock::decode_into` of every block of the best chain (txid, inputs,
//!   outputs and the address key of every output), on THREADS threads (block i on thread i % THREADS,
//!   each with its own `BlocksDir` and buffers).
//! - `bbp-parse DIR THREADS [txids]`: `bitcoin-block-parser` 0.5 `BlockParser::parse` (blocks into
//!   `bitcoin::Block`) on a pool of THREADS; with `txids`, the extract also computes every txid.
//! - `bbp-filter DIR FILTER THREADS UTXOS`: `UtxoParser::create_filter`, the first pass of its UTXO
//!   mode (a cuckoo filter of the outputs unspent at the tip), sized for UTXOS unspent outputs.
//! - `bbp-utxo DIR FILTER THREADS UTXOS`: `UtxoParser::parse` with the filter from `bbp-filter`: every
//!   input's spent `TxOut` (amount and script) resolved, every output's spent/unspent status.
//! - `bi-iter DIR NETWORK`: `blocks_iterator` 3 `iter` with prevouts (its in-memory UTXO map):
//!   every input's spent `TxOut` resolved.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("");
    let arg = |i: usize| -> Result<&str> {
        args.get(i).map(String::as_str).with_context(|| format!("missing argument {i} for {mode}"))
    };
    let started = Instant::now();
    let counts = match mode {
        "ct-parse" => ct_parse(Path::new(arg(1)?), arg(2)?, arg(3)?.parse()?)?,
        "bbp-parse" => {
            bbp_parse(arg(1)?, arg(2)?.parse()?, args.get(3).is_some_and(|a| a == "txids"))?
        }
        "bbp-filter" => bbp_filter(arg(1)?, arg(2)?, arg(3)?.parse()?, arg(4)?.parse()?)?,
        "bbp-utxo" => bbp_utxo(arg(1)?, arg(2)?, arg(3)?.parse()?, arg(4)?.parse()?)?,
        "bi-iter" => bi_iter(Path::new(arg(1)?), arg(2)?)?,
        _ => bail!(
            "usage: compare ct-parse|bbp-parse|bbp-filter|bbp-utxo|bi-iter ... (see src/main.rs)"
        ),
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"mode\":\"{mode}\",\"blocks\":{},\"txs\":{},\"inputs\":{},\"outputs\":{},\"check\":{},\"secs\":{secs:.3}}}",
        counts.blocks, counts.txs, counts.inputs, counts.outputs, counts.check
    );
    Ok(())
}

/// What a run saw; `check` is a mode-specific checksum so that no work is optimised away.
#[derive(Default, Clone, Copy)]
struct Counts {
    blocks: u64,
    txs: u64,
    inputs: u64,
    outputs: u64,
    check: u64,
}

impl Counts {
    fn add(&mut self, other: Self) {
        self.blocks += other.blocks;
        self.txs += other.txs;
        self.inputs += other.inputs;
        self.outputs += other.outputs;
        self.check = self.check.wrapping_add(other.check);
    }
}

fn ct_network(name: &str) -> Result<cointrail_btc::Network> {
    name.parse().map_err(|e| anyhow::anyhow!("{e}"))
}

fn ct_parse(dir: &Path, network: &str, threads: usize) -> Result<Counts> {
    use cointrail_btc::{BlocksDir, DecodedBlock, best_chain};
    let network = ct_network(network)?;
    let blocks = BlocksDir::open(dir)?;
    let headers = blocks.scan_headers(network.magic(), |_, _| {})?;
    let best = best_chain(&headers, network.genesis_hash())?;
    let chain: Vec<_> = best.blocks.iter().map(|&i| headers[i]).collect();
    let threads = threads.max(1);
    let results: Vec<Result<Counts>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let chain = &chain;
                scope.spawn(move || -> Result<Counts> {
                    let blocks = BlocksDir::open(dir)?;
                    let mut raw = Vec::new();
                    let mut block = DecodedBlock::default();
                    let mut counts = Counts::default();
                    for entry in chain.iter().skip(t).step_by(threads) {
                        blocks.read_block(&entry.location, &mut raw)?;
                        block.decode_into(&raw)?;
                        counts.blocks += 1;
                        counts.txs += block.txs.len() as u64;
                        counts.inputs += block.inputs.len() as u64;
                        counts.outputs += block.outputs.len() as u64;
                        counts.check = counts
                            .check
                            .wrapping_add(u64::from(block.txs.last().map_or(0, |tx| tx.txid.0[0])))
                            .wrapping_add(
                                block.outputs.iter().filter(|o| o.address.is_some()).count() as u64,
                            );
                    }
                    Ok(counts)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("decode thread panicked")).collect()
    });
    let mut total = Counts::default();
    for r in results {
        total.add(r?);
    }
    Ok(total)
}

fn bbp_options(threads: usize) -> bitcoin_block_parser::blocks::ParserOptions {
    bitcoin_block_parser::blocks::ParserOptions {
        num_threads: threads.max(1),
        ..Default::default()
    }
}

fn bbp_parse(dir: &str, threads: usize, txids: bool) -> Result<Counts> {
    use bitcoin_block_parser::BlockParser;
    let parser = BlockParser::new_with_opts(dir, bbp_options(threads))?;
    let mut total = Counts::default();
    for counts in parser.parse(move |block| {
        let mut c = Counts { blocks: 1, txs: block.txdata.len() as u64, ..Counts::default() };
        for tx in &block.txdata {
            c.inputs += tx.input.len() as u64;
            c.outputs += tx.output.len() as u64;
            if txids {
                c.check = c.check.wrapping_add(u64::from(tx.compute_txid().to_raw_hash()[0]));
            }
        }
        c
    }) {
        total.add(counts);
    }
    Ok(total)
}

fn bbp_filter(dir: &str, filter: &str, threads: usize, utxos: usize) -> Result<Counts> {
    use bitcoin_block_parser::UtxoParser;
    let _ = std::fs::remove_file(filter);
    UtxoParser::new(dir, filter)
        .estimated_utxos(utxos.max(1))
        .with_opts(bbp_options(threads))
        .create_filter()?;
    Ok(Counts { check: std::fs::metadata(filter)?.len(), ..Counts::default() })
}

fn bbp_utxo(dir: &str, filter: &str, threads: usize, utxos: usize) -> Result<Counts> {
    use bitcoin_block_parser::UtxoParser;
    use bitcoin_block_parser::utxos::OutputStatus;
    if !Path::new(filter).exists() {
        bail!("run bbp-filter first: {filter} does not exist");
    }
    let parser =
        UtxoParser::new(dir, filter).estimated_utxos(utxos.max(1)).with_opts(bbp_options(threads));
    let mut total = Counts::default();
    for counts in parser.parse(|block| {
        let mut c = Counts { blocks: 1, txs: block.txdata.len() as u64, ..Counts::default() };
        for tx in &block.txdata {
            for (_input, spent) in tx.input() {
                c.inputs += 1;
                c.check = c.check.wrapping_add(spent.value.to_sat());
            }
            for (_output, status) in tx.output() {
                c.outputs += 1;
                c.check = c.check.wrapping_add(u64::from(*status == OutputStatus::Unspent));
            }
        }
        c
    })? {
        total.add(counts);
    }
    Ok(total)
}

fn bi_iter(dir: &Path, network: &str) -> Result<Counts> {
    use blocks_iterator::bitcoin::Network;
    let network = match network {
        "regtest" => Network::Regtest,
        "mainnet" | "bitcoin" => Network::Bitcoin,
        other => bail!("network {other} not handled here"),
    };
    let config = blocks_iterator::Config::new(PathBuf::from(dir), network);
    let mut total = Counts::default();
    for block in blocks_iterator::iter(config) {
        total.blocks += 1;
        total.txs += block.block().txdata.len() as u64;
        total.inputs += block.outpoint_values().len() as u64;
        total.outputs += block.block_total_outputs() as u64;
        total.check = total.check.wrapping_add(block.fee().unwrap_or(0));
    }
    Ok(total)
}
