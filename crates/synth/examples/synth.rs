//! Generates a chain and prints its summary and speed:
//! `cargo run --release -p cointrail-synth --example synth -- OUT_DIR BLOCKS [TXS_PER_BLOCK] [SEED] [xor] [mainnet] [uniform]`.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "command-line example")]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use cointrail_btc::Network;
use cointrail_synth::{Activity, SynthConfig, generate};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(out), Some(blocks)) = (args.first(), args.get(1).and_then(|b| b.parse().ok())) else {
        eprintln!("usage: synth OUT_DIR BLOCKS [TXS_PER_BLOCK] [SEED] [xor] [mainnet] [uniform]");
        return ExitCode::from(2);
    };
    let config = SynthConfig {
        blocks,
        txs_per_block: args.get(2).and_then(|t| t.parse().ok()).unwrap_or(2000),
        seed: args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1),
        xor: args.iter().any(|a| a == "xor"),
        network: if args.iter().any(|a| a == "mainnet") {
            Network::Mainnet
        } else {
            Network::Regtest
        },
        activity: if args.iter().any(|a| a == "uniform") {
            Activity::Uniform
        } else {
            Activity::Recent
        },
        ..SynthConfig::default()
    };
    let started = Instant::now();
    match generate(&config, &PathBuf::from(out), &mut |_| {}) {
        Ok(summary) => {
            let secs = started.elapsed().as_secs_f64();
            println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
            println!(
                "{secs:.2} s, {:.1} MB/s, {:.0} txs/s",
                summary.bytes as f64 / 1e6 / secs,
                summary.txs as f64 / secs
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
