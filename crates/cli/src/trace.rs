//! `cointrail trace`: seeds in, a trace document out (table, JSON, CSV, DOT, GraphML, HTML). The
//! document is built by `cointrail-query` (`POST /v1/trace` serves the same).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use cointrail_query::{Snapshot, TraceParams};
use cointrail_report::TraceDocument;
use cointrail_taint::TraceOptions;

use crate::args::{Format, TraceArgs, TraceOptionArgs};

pub(crate) fn policy_options(args: &TraceOptionArgs) -> anyhow::Result<TraceOptions> {
    Ok(cointrail_query::trace_options(
        &args.policy,
        &args.direction,
        args.max_hops,
        args.max_txs,
        args.min_amount,
        args.max_seconds.map(Duration::from_secs),
        args.deposit_forwarding,
    )?)
}

pub(crate) fn run(
    args: &TraceArgs,
    chain: Option<&str>,
    dir: &Path,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if args.seeds.iter().any(|seed| cointrail_query::is_evm_address(seed)) {
        return run_evm(args, chain, dir, format, out);
    }
    anyhow::ensure!(args.asset.is_none(), "--asset applies to EVM seeds (0x addresses) only");
    let snapshot = Snapshot::open(dir)?;
    let options = policy_options(&args.options)?;
    let params = TraceParams {
        seeds: args.seeds.clone(),
        direction: args.options.direction.clone(),
        policy: args.options.policy.clone(),
        max_hops: args.options.max_hops,
        max_txs: args.options.max_txs,
        max_seconds: args.options.max_seconds,
        min_amount: args.options.min_amount,
        stop_category: args.options.stop_category.clone(),
        deposit_forwarding: args.options.deposit_forwarding,
        chain: None,
        asset: None,
    };
    let document =
        cointrail_query::trace(&snapshot, &params, &options, usize::MAX, command_line())?;
    crate::output::write_trace(&document, format, args.output.as_deref(), out, "cointrail trace")
}

/// `trace --from 0x…`: the account-model trace on an EVM chain (`--chain` when there are several).
fn run_evm(
    args: &TraceArgs,
    chain: Option<&str>,
    dir: &Path,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let [seed] = args.seeds.as_slice() else {
        anyhow::bail!("an EVM trace takes one seed address");
    };
    let labels = cointrail_store::LabelTable::load(dir)?;
    let document = cointrail_query::evm_trace(
        dir,
        &labels,
        chain,
        seed,
        args.asset.as_deref(),
        &args.options.policy,
        &args.options.direction,
        args.options.max_hops,
        args.options.max_txs,
        &args.options.stop_category,
        command_line(),
    )?;
    crate::output::write_trace(&document, format, args.output.as_deref(), out, "cointrail trace")
}

/// The command line that produced this run, for the reproduce section.
pub(crate) fn command_line() -> String {
    std::env::args()
        .map(|arg| {
            if arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,@".contains(c)) {
                arg
            } else {
                format!("'{}'", arg.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prints a trace document for people.
pub(crate) fn print(out: &mut dyn Write, document: &TraceDocument) -> std::io::Result<()> {
    let evm = document.chain.starts_with("evm ");
    let unit = document.unit.symbol.as_str();
    let coins = |amount: u128| document.unit.number(amount);
    writeln!(
        out,
        "{} trace, {} policy, from {} {}: {} {unit}",
        document.direction,
        document.policy,
        document.seeds.len(),
        if evm { "seed addresses" } else { "seed outputs" },
        coins(document.seed_amount)
    )?;
    for seed in document.seeds.iter().take(10) {
        writeln!(out, "  seed {seed}")?;
    }
    if document.seeds.len() > 10 {
        writeln!(out, "  ... {} more seeds (--format json lists all)", document.seeds.len() - 10)?;
    }
    if let Some(reason) = &document.truncated {
        writeln!(out, "WARNING   stopped early ({reason} limit): figures are partial")?;
    }
    let share = |amount: u128| {
        if document.seed_amount == 0 {
            0.0
        } else {
            amount as f64 * 100.0 / document.seed_amount as f64
        }
    };
    writeln!(
        out,
        "\n{:<32} {:<10} {:>20} {:>7} {:>5}",
        "reached", "category", unit, "share", "hops"
    )?;
    for reached in &document.reached {
        writeln!(
            out,
            "{:<32} {:<10} {:>20} {:>6.2}% {:>5}",
            reached.label,
            reached.category,
            coins(reached.amount),
            share(reached.amount),
            reached.hops
        )?;
    }
    for (name, amount) in [
        ("unspent", document.unspent),
        ("fees", document.fees),
        ("mined", document.mined),
        ("below --min-amount", document.below_min_amount),
        ("beyond limits", document.beyond_limits),
        ("into other seeds", document.seed_overlap),
    ] {
        if amount > 0 {
            writeln!(out, "{name:<32} {:<10} {:>20} {:>6.2}%", "", coins(amount), share(amount))?;
        }
    }
    if document.conserved {
        writeln!(out, "\nthe figures add up to the seed amount exactly")?;
    }
    const SHOWN: usize = 10;
    let patterns = &document.patterns;
    for chain in patterns.peel_chains.iter().take(SHOWN) {
        writeln!(
            out,
            "peel chain of {} txs from {}: {} {unit} peeled",
            chain.length,
            chain.txs[0],
            coins(chain.peeled.into())
        )?;
    }
    for coinjoin in patterns.coinjoins.iter().take(SHOWN) {
        writeln!(
            out,
            "coinjoin ({}) {}: {} {unit} tainted in",
            coinjoin.shape,
            coinjoin.tx,
            coins(coinjoin.tainted_in.into())
        )?;
    }
    for consolidation in patterns.consolidations.iter().take(SHOWN) {
        writeln!(
            out,
            "consolidation {} of {} inputs ({} tainted)",
            consolidation.tx, consolidation.inputs, consolidation.tainted_inputs
        )?;
    }
    let hidden = patterns.peel_chains.len().saturating_sub(SHOWN)
        + patterns.coinjoins.len().saturating_sub(SHOWN)
        + patterns.consolidations.len().saturating_sub(SHOWN);
    if hidden > 0 {
        writeln!(out, "... {hidden} more patterns (--format json or html lists all)")?;
    }
    writeln!(out, "{} txs visited", document.txs_visited)
}
