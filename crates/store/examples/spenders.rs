//! How long a reader takes to find the input that spends an output (`ChainView::output`'s
//! `spent_by`, what a forward trace asks at every hop), for outputs drawn at random from the
//! whole store.
//!
//! ```sh
//! cargo run --release -p cointrail-store --example spenders -- STORE_DIR [LOOKUPS]
//! ```
//!
//! Draws LOOKUPS output ids (1,000,000 by default; the same ones for the same store) and looks
//! each up twice: the first pass reads from disk what the page cache does not hold, the second
//! runs on what the first left cached. Prints the time of each pass per lookup and how many of
//! the outputs are spent. Since store format 8 a lookup is a binary search of every spend run
//! (`docs/store-format.md`, "Sorted runs"); before, it read the output's row of `out.spent`.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "command-line example")]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use cointrail_store::Store;
use cointrail_types::OutputId;

/// SplitMix64: the output ids to look up, spread over the store.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: spenders STORE_DIR [LOOKUPS]");
        return ExitCode::from(2);
    };
    let lookups = match args.next().map(|arg| arg.to_string_lossy().parse::<u64>()) {
        None => 1_000_000,
        Some(Ok(count)) if count > 0 => count,
        Some(_) => {
            eprintln!("spenders: LOOKUPS is a positive number");
            return ExitCode::from(2);
        }
    };
    let store = match Store::open(&dir) {
        Ok(store) => store,
        Err(error) => {
            eprintln!("spenders: {error}");
            return ExitCode::FAILURE;
        }
    };
    let view = store.view();
    let outputs = view.counts().outputs;
    if outputs == 0 {
        eprintln!("spenders: the store has no outputs");
        return ExitCode::FAILURE;
    }
    let mut state = 1;
    let ids: Vec<u64> = (0..lookups).map(|_| splitmix(&mut state) % outputs).collect();
    println!("{outputs} outputs, {} inputs, {lookups} lookups", view.counts().inputs);
    for pass in ["first pass", "second pass"] {
        let start = Instant::now();
        let spent =
            ids.iter().filter(|id| view.output(OutputId::new(**id)).spent_by.is_some()).count();
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{pass}: {:.3} s, {:.2} µs per lookup, {spent} spent",
            seconds,
            seconds * 1e6 / lookups as f64
        );
    }
    ExitCode::SUCCESS
}
