//! `cointrail ingest evm`: an EVM chain from any JSON-RPC node into the store.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use cointrail_evm::{IngestReport, Progress};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::args::{Format, IngestEvmArgs};

pub(crate) fn ingest(
    args: &IngestEvmArgs,
    chain: Option<&str>,
    store: &Path,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut bar = Bar::new(std::io::stderr().is_terminal());
    let started = Instant::now();
    let report = cointrail_evm::ingest(&args.rpc, store, chain, args.from, args.to, &mut bar)
        .with_context(|| format!("ingest of {} into {} stopped", args.rpc, store.display()))?;
    bar.finish();
    let summary = Summary::from(&report, started.elapsed().as_secs_f64());
    crate::output::emit(out, format, &summary, print_summary)
}

/// A progress bar on a terminal (blocks, blocks/s, ETA), nothing otherwise.
struct Bar {
    bar: Option<ProgressBar>,
    first: u64,
}

impl Bar {
    fn new(on_terminal: bool) -> Self {
        let bar = on_terminal.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_message("asking the node");
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Self { bar, first: 0 }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn start(&mut self, from: u64, to: u64) {
        self.first = from;
        let Some(bar) = &self.bar else { return };
        bar.set_length((to + 1).saturating_sub(from));
        bar.set_position(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {percent:>3}% {pos}/{len} blocks {per_sec} ETA {eta} {msg}",
            )
            .expect("the template is valid"),
        );
        if to >= from {
            bar.println(format!("ingesting blocks {from}..={to}"));
        }
    }

    fn committed(&mut self, tip: u64, _blocks: u64, flows: u64) {
        let Some(bar) = &self.bar else { return };
        bar.set_position((tip + 1).saturating_sub(self.first));
        bar.set_message(format!("block {tip}, {flows} flows stored"));
    }

    fn reorg(&mut self, from: u64, to: u64) {
        if let Some(bar) = &self.bar {
            bar.println(format!("reorganisation: unwound blocks {}..={from}", to + 1));
        }
    }
}

#[derive(Serialize)]
struct Summary {
    chain: String,
    chain_id: u64,
    tip_number: Option<u64>,
    tip_hash: Option<String>,
    blocks_added: u64,
    txs_added: u64,
    flows_added: u64,
    assets_added: u64,
    reorgs: u64,
    blocks_unwound: u64,
    traces: Option<&'static str>,
    coverage_gaps: Vec<[u64; 2]>,
    seconds: f64,
}

impl Summary {
    fn from(report: &IngestReport, seconds: f64) -> Self {
        Self {
            chain: report.chain.clone(),
            chain_id: report.chain_id,
            tip_number: report.tip.map(|(number, _)| number),
            tip_hash: report.tip.map(|(_, hash)| hash.to_string()),
            blocks_added: report.blocks,
            txs_added: report.txs,
            flows_added: report.flows,
            assets_added: report.assets,
            reorgs: report.reorgs,
            blocks_unwound: report.unwound,
            traces: report.trace_mode.map(cointrail_evm::TraceMode::name),
            coverage_gaps: report
                .coverage_gaps
                .iter()
                .map(|(first, last)| [*first, *last])
                .collect(),
            seconds,
        }
    }
}

#[expect(clippy::cast_precision_loss, reason = "a rate for people to read")]
fn print_summary(out: &mut dyn Write, summary: &Summary) -> std::io::Result<()> {
    writeln!(out, "chain      {} (chain id {})", summary.chain, summary.chain_id)?;
    let seconds = summary.seconds.max(1e-6);
    writeln!(
        out,
        "added      {} blocks, {} txs, {} flows, {} tokens in {:.2} s ({:.0} blocks/s)",
        summary.blocks_added,
        summary.txs_added,
        summary.flows_added,
        summary.assets_added,
        summary.seconds,
        summary.blocks_added as f64 / seconds
    )?;
    if summary.reorgs > 0 {
        writeln!(out, "reorgs     {} ({} blocks unwound)", summary.reorgs, summary.blocks_unwound)?;
    }
    if let Some(traces) = summary.traces {
        writeln!(out, "traces     {traces}")?;
    }
    if !summary.coverage_gaps.is_empty() {
        let gaps: Vec<String> =
            summary.coverage_gaps.iter().map(|[first, last]| format!("{first}..={last}")).collect();
        writeln!(out, "no internal transfers for blocks {}", gaps.join(", "))?;
    }
    match (&summary.tip_number, &summary.tip_hash) {
        (Some(number), Some(hash)) => writeln!(out, "store tip  {number} ({hash})"),
        _ => writeln!(out, "store is empty"),
    }
}
