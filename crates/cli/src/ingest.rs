//! `cointrail ingest btc`.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use cointrail_btc::Network;
use cointrail_ingest::{IngestOptions, IngestReport, Progress, ingest_btc};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::args::{Format, IngestBtcArgs};

pub(crate) fn btc(
    args: &IngestBtcArgs,
    store_dir: &Path,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let network = args.network;
    let mut options = IngestOptions::new(&args.blocks_dir, store_dir, network);
    options.max_height = args.to_height;
    options.batch_txs = args.batch_txs.max(1);
    options.batch_blocks = args.batch_blocks.max(1);
    let mut progress = Bar::new(std::io::stderr().is_terminal());
    let report = ingest_btc(&options, &mut progress).with_context(|| {
        format!("ingest of {} into {} stopped", args.blocks_dir.display(), store_dir.display())
    })?;
    progress.finish();
    let summary = Summary::from(&report, network);
    crate::output::emit(out, format, &summary, print_summary)
}

/// A progress bar on a terminal, nothing otherwise.
struct Bar {
    bar: Option<ProgressBar>,
    started: Instant,
    blocks: u64,
}

impl Bar {
    fn new(on_terminal: bool) -> Self {
        let bar = on_terminal.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_message("scanning block headers");
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Self { bar, started: Instant::now(), blocks: 0 }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn scanned(&mut self, files: usize, blocks: usize) {
        if let Some(bar) = &self.bar {
            bar.println(format!("found {blocks} blocks in {files} blk files"));
        }
    }

    fn start(&mut self, from: u32, to: u32, bytes: u64) {
        let Some(bar) = &self.bar else { return };
        bar.set_length(bytes);
        bar.set_position(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {percent:>3}% {binary_bytes}/{binary_total_bytes} \
                 {binary_bytes_per_sec} ETA {eta} {msg}",
            )
            .expect("the template is valid"),
        );
        bar.println(format!("ingesting heights {from}..={to}"));
        self.started = Instant::now();
    }

    fn block(&mut self, height: u32, bytes: u64, _txs: usize) {
        self.blocks += 1;
        let Some(bar) = &self.bar else { return };
        bar.inc(bytes);
        if self.blocks.is_multiple_of(16) {
            let rate = self.blocks as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("height {height}, {rate:.0} blocks/s"));
        }
    }
}

#[derive(Serialize)]
struct Summary {
    network: &'static str,
    blocks_found: usize,
    blocks_ignored: usize,
    best_height: u32,
    tip_height: Option<u32>,
    tip_hash: Option<String>,
    blocks_added: u64,
    txs_added: u64,
    bytes_read: u64,
    seconds: f64,
    recovered: bool,
    /// The writer's address index at the end: its bytes, and whether it was in memory or in a
    /// scratch file (too large for the memory: a slower ingest where memory is short).
    address_index_bytes: u64,
    address_index_in_memory: bool,
    /// The writer's live transactions at the end, likewise.
    live_map_bytes: u64,
    live_map_in_memory: bool,
    /// Whether the addresses' rows (`addr.key`) stopped fitting in the page cache, so that the
    /// writer read them ahead of its lookups.
    address_read_ahead: bool,
}

impl Summary {
    fn from(report: &IngestReport, network: Network) -> Self {
        Self {
            network: network.name(),
            blocks_found: report.blocks_found,
            blocks_ignored: report.blocks_ignored,
            best_height: report.best_height,
            tip_height: report.tip_height,
            tip_hash: report.tip_hash.map(|hash| hash.to_string()),
            blocks_added: report.blocks_added,
            txs_added: report.txs_added,
            bytes_read: report.bytes_read,
            seconds: report.elapsed.as_secs_f64(),
            recovered: report.recovery.is_some(),
            address_index_bytes: report.address_index.bytes,
            address_index_in_memory: report.address_index.in_memory,
            live_map_bytes: report.live_map.bytes,
            live_map_in_memory: report.live_map.in_memory,
            address_read_ahead: report.address_read_ahead,
        }
    }
}

fn print_summary(out: &mut dyn Write, summary: &Summary) -> std::io::Result<()> {
    if summary.recovered {
        writeln!(out, "recovered the store from an interrupted run")?;
    }
    writeln!(
        out,
        "found {} blocks ({} off the best chain); best chain tip at height {}",
        summary.blocks_found, summary.blocks_ignored, summary.best_height
    )?;
    let seconds = summary.seconds.max(1e-6);
    writeln!(
        out,
        "added {} blocks, {} txs, {:.1} MB in {:.2} s ({:.1} MB/s, {:.0} txs/s)",
        summary.blocks_added,
        summary.txs_added,
        summary.bytes_read as f64 / 1e6,
        summary.seconds,
        summary.bytes_read as f64 / 1e6 / seconds,
        summary.txs_added as f64 / seconds
    )?;
    let tables = [
        ("the address index is", summary.address_index_in_memory, summary.address_index_bytes),
        ("the live transactions are", summary.live_map_in_memory, summary.live_map_bytes),
    ];
    for (what, in_memory, bytes) in tables {
        if !in_memory {
            writeln!(
                out,
                "note: {what} in a scratch file ({:.0} MiB), as memory is too short to keep \
                 every table in it; that slows the ingest (docs/store-format.md, \"Address hash \
                 index\")",
                bytes as f64 / f64::from(1u32 << 20)
            )?;
        }
    }
    if summary.address_read_ahead {
        writeln!(
            out,
            "note: the addresses' rows (addr.key) did not fit in the page cache, so the ingest \
             read them ahead of its lookups; more free memory makes it faster \
             (docs/performance.md, \"Reading ahead under a memory limit\")"
        )?;
    }
    match (&summary.tip_height, &summary.tip_hash) {
        (Some(height), Some(hash)) => writeln!(out, "store tip  {height} ({hash})"),
        _ => writeln!(out, "store is empty"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text summary of a small ingest whose address index and live transactions were in
    /// memory or not, and whose address rows were read ahead or not.
    fn summary_text(
        address_index_in_memory: bool,
        live_map_in_memory: bool,
        address_read_ahead: bool,
    ) -> String {
        let summary = Summary {
            network: "regtest",
            blocks_found: 3,
            blocks_ignored: 0,
            best_height: 2,
            tip_height: Some(2),
            tip_hash: Some("00".repeat(32)),
            blocks_added: 3,
            txs_added: 3,
            bytes_read: 1000,
            seconds: 0.5,
            recovered: false,
            address_index_bytes: 768 << 20,
            address_index_in_memory,
            live_map_bytes: 512 << 20,
            live_map_in_memory,
            address_read_ahead,
        };
        let mut text = Vec::new();
        print_summary(&mut text, &summary).unwrap();
        String::from_utf8(text).unwrap()
    }

    #[test]
    fn a_scratch_file_address_index_is_named_as_a_reason_for_a_slow_ingest() {
        let text = summary_text(false, true, false);
        assert!(text.contains("the address index is in a scratch file (768 MiB)"), "{text}");
        assert!(!text.contains("live transactions"), "{text}");
        assert!(!summary_text(true, true, false).contains("address index"));
    }

    #[test]
    fn scratch_file_live_transactions_are_named_as_a_reason_for_a_slow_ingest() {
        let text = summary_text(true, false, false);
        assert!(text.contains("the live transactions are in a scratch file (512 MiB)"), "{text}");
        assert!(!text.contains("address index"), "{text}");
        assert!(!summary_text(true, true, false).contains("live transactions"));
    }

    #[test]
    fn rows_read_ahead_are_named_as_a_reason_for_a_slow_ingest() {
        let text = summary_text(true, true, true);
        assert!(text.contains("did not fit in the page cache"), "{text}");
        assert!(!summary_text(true, true, false).contains("page cache"));
    }
}
