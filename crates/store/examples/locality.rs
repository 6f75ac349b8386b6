//! How far back in the chain an ingest reaches: the age of every spent output when it is spent,
//! and of every reused address when it is paid again, from a UTXO store.
//!
//! ```sh
//! cargo run --release -p cointrail-store --example locality -- STORE_DIR
//! ```
//!
//! Ages are in block time (the headers' timestamps). Distances are in rows counted back from the
//! end: for a spend, in outputs (until store format 8 a spend updated the spent output's row of
//! `out.spent`, 5 bytes per output, at random; since then it clears a bit of the live map, and
//! no column is written at random), and for a payment to a known address, in rows of
//! `addr.key` (21 bytes per address), which the ingest reads to confirm the index's match. The
//! quantiles of those distances are the part of each column, counted back from its end, that
//! serves that share of the accesses: the page cache an ingest needs to keep them off the disk.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "command-line example")]

use std::path::PathBuf;
use std::process::ExitCode;

use cointrail_store::Store;
use cointrail_types::{Height, InputId, OutputId, TxNum};

/// Age buckets, upper bounds in seconds.
const AGES: [(&str, u32); 5] = [
    ("under 1 hour", 3_600),
    ("1 hour to 1 day", 86_400),
    ("1 day to 1 week", 7 * 86_400),
    ("1 week to 30 days", 30 * 86_400),
    ("30 days or more", u32::MAX),
];

/// A histogram of ages, and every distance.
struct Reach {
    same_block: u64,
    ages: [u64; AGES.len()],
    distances: Vec<u64>,
}

impl Reach {
    fn new() -> Self {
        Self { same_block: 0, ages: [0; AGES.len()], distances: Vec::new() }
    }

    fn add(&mut self, same_block: bool, age: u32, distance: u64) {
        self.same_block += u64::from(same_block);
        let bucket = AGES.iter().position(|&(_, bound)| age < bound).unwrap_or(AGES.len() - 1);
        self.ages[bucket] += 1;
        self.distances.push(distance);
    }

    /// The distance that covers `permille` of the accesses.
    fn quantile(&mut self, permille: usize) -> u64 {
        if self.distances.is_empty() {
            return 0;
        }
        let at = (self.distances.len() * permille / 1000).min(self.distances.len() - 1);
        *self.distances.select_nth_unstable(at).1
    }

    fn print(&mut self, what: &str, row_bytes: u64, column: &str, rows: u64) {
        let count = self.distances.len();
        let pct = |n: u64| 100.0 * n as f64 / count.max(1) as f64;
        println!("{what}: {count}");
        println!("  in the same block: {:.1} %", pct(self.same_block));
        for (i, (name, _)) in AGES.iter().enumerate() {
            println!("  {name}: {:.1} %", pct(self.ages[i]));
        }
        for permille in [500, 900, 950, 990] {
            let back = self.quantile(permille);
            println!(
                "  {:.1} % within the last {back} rows of {column} ({:.1} MB, {:.1} % of it)",
                permille as f64 / 10.0,
                (back * row_bytes) as f64 / 1e6,
                100.0 * back.min(rows) as f64 / rows.max(1) as f64
            );
        }
    }
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: locality STORE_DIR");
        return ExitCode::from(2);
    };
    let store = match Store::open(&dir) {
        Ok(store) => store,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let view = store.view();
    let counts = view.counts();
    let outputs = usize::try_from(counts.outputs).expect("outputs fit usize");
    let addresses = usize::try_from(counts.addresses).expect("addresses fit usize");
    // Per output its block; per address the time it was last paid.
    let mut out_height = vec![0u32; outputs];
    let mut last_paid = vec![0u32; addresses];
    let mut times = Vec::with_capacity(usize::try_from(counts.blocks).unwrap_or(0));
    let (mut spends, mut reuses) = (Reach::new(), Reach::new());
    let mut new_addresses = 0u64;
    for height in 0..u32::try_from(counts.blocks).expect("heights fit u32") {
        let block = view.block(Height::new(height)).expect("a stored block");
        let time = block.time();
        times.push(time);
        let first = block.first_tx.get();
        for txnum in first..first + block.tx_count {
            let tx = view.tx(TxNum::new(txnum)).expect("a stored tx");
            for input in tx.inputs.clone() {
                let spent = view.spent_output(InputId::new(input)).get();
                let from = out_height[usize::try_from(spent).expect("ids fit usize")];
                let age = time.saturating_sub(times[from as usize]);
                spends.add(from == height, age, tx.outputs.start.saturating_sub(spent));
            }
            for output in tx.outputs.clone() {
                out_height[usize::try_from(output).expect("ids fit usize")] = height;
                let Some(address) = view.output(OutputId::new(output)).address else {
                    continue;
                };
                let id = u64::from(address.get());
                let slot = &mut last_paid[usize::try_from(id).expect("ids fit usize")];
                if id >= new_addresses {
                    new_addresses = id + 1;
                } else {
                    let same = *slot == time;
                    reuses.add(same, time.saturating_sub(*slot), new_addresses - id);
                }
                *slot = time;
            }
        }
    }
    println!(
        "{} blocks, {} txs, {} inputs, {} outputs, {} addresses",
        counts.blocks, counts.txs, counts.inputs, counts.outputs, counts.addresses
    );
    spends.print(
        "spends (age of the spent output)",
        5,
        "outputs (out.spent before format 8)",
        counts.outputs,
    );
    reuses.print(
        "payments to a known address (time since it was last paid)",
        21,
        "addr.key",
        counts.addresses,
    );
    ExitCode::SUCCESS
}
