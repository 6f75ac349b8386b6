//! `cointrail risk`: screen an address, a transaction or an output; the document comes from
//! `cointrail-query` (`/v1/risk/...` serves the same).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use cointrail_query::{EvmRiskJson, RiskJson, Snapshot, parse_evm_risk_target, parse_risk_target};
use cointrail_risk::{RiskOptions, Rules};
use cointrail_store::LabelTable;

use crate::args::{Format, RiskArgs};
use crate::output::{coins, emit};

/// Outputs of an address screened at most (the first ones, in chain order).
const MAX_OUTPUTS: usize = 100_000;

/// Loads a rule file, or the default rules.
pub(crate) fn load_rules(path: Option<&Path>) -> anyhow::Result<Rules> {
    Ok(match path {
        Some(path) => {
            let text = fs_err::read_to_string(path)?;
            Rules::from_json(&text).with_context(|| format!("rule file {}", path.display()))?
        }
        None => Rules::default_rules()?,
    })
}

pub(crate) fn run(
    args: &RiskArgs,
    chain: Option<&str>,
    store: &Path,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let rules = load_rules(args.rules.as_deref())?;
    let options = RiskOptions {
        max_hops: args.max_hops,
        max_txs: 1_000_000,
        max_duration: Some(Duration::from_secs(60)),
    };
    if let Some(target) = parse_evm_risk_target(&args.target) {
        let labels = LabelTable::load(store)?;
        let document = cointrail_query::evm_risk(
            store,
            &labels,
            chain,
            target?,
            args.asset.as_deref(),
            &rules,
            &options,
            MAX_OUTPUTS,
        )?;
        return emit(out, format, &document, print_evm);
    }
    anyhow::ensure!(
        args.asset.is_none(),
        "--asset applies to EVM targets (0x addresses and transactions) only"
    );
    let snapshot = Snapshot::open(store)?;
    let target = parse_risk_target(&args.target)?;
    let document = cointrail_query::risk(&snapshot, &target, &rules, &options, MAX_OUTPUTS)?;
    emit(out, format, &document, print)
}

fn print(out: &mut dyn Write, risk: &RiskJson) -> std::io::Result<()> {
    let kind = serde_json::to_value(risk.kind).ok();
    let kind = kind.as_ref().and_then(|kind| kind.as_str()).unwrap_or("target");
    writeln!(out, "target    {} ({kind})", risk.target)?;
    writeln!(out, "score     {:.1} ({})", risk.score, risk.level)?;
    writeln!(
        out,
        "screened  {} BTC in {} outputs{}, {} hops back",
        coins(risk.screened_amount),
        risk.screened_outputs,
        if risk.outputs_truncated { " (more not screened)" } else { "" },
        risk.max_hops
    )?;
    if let Some(reason) = &risk.truncated {
        writeln!(out, "WARNING   stopped early ({reason} limit): exposures are a lower bound")?;
    }
    if !risk.exposures.is_empty() {
        writeln!(
            out,
            "\n{:<28} {:<11} {:>20} {:>7} {:<8} {:>4} {:>5}",
            "label", "category", "BTC", "share", "direct", "hops", "score"
        )?;
    }
    for exposure in &risk.exposures {
        writeln!(
            out,
            "{:<28} {:<11} {:>20} {:>6.2}% {:<8} {:>4} {:>5.1}",
            exposure.label,
            exposure.category,
            coins(exposure.amount),
            exposure.share * 100.0,
            if exposure.direct { "direct" } else { "indirect" },
            exposure.hops,
            exposure.score
        )?;
    }
    writeln!(out)?;
    for line in &risk.explanation {
        writeln!(out, "- {line}")?;
    }
    Ok(())
}

fn print_evm(out: &mut dyn Write, risk: &EvmRiskJson) -> std::io::Result<()> {
    let symbol = risk.asset.symbol.clone().or_else(|| risk.asset.contract.clone());
    let symbol = symbol.unwrap_or_else(|| format!("asset {}", risk.asset.id));
    let units = |amount: u128| cointrail_query::asset_units(amount, risk.asset.decimals);
    writeln!(out, "target    {} ({}, EVM chain {})", risk.target, risk.kind, risk.chain)?;
    writeln!(out, "score     {:.1} ({})", risk.score, risk.level)?;
    writeln!(
        out,
        "screened  {} {symbol} in {} flows{}, {} hops back",
        units(risk.screened_amount),
        risk.screened_flows,
        if risk.flows_truncated { " (more not screened)" } else { "" },
        risk.max_hops
    )?;
    if let Some(reason) = &risk.truncated {
        writeln!(out, "WARNING   stopped early ({reason} limit): exposures are a lower bound")?;
    }
    if !risk.exposures.is_empty() {
        writeln!(
            out,
            "\n{:<28} {:<11} {:>24} {:>7} {:<8} {:>4} {:>5}",
            "label", "category", symbol, "share", "direct", "hops", "score"
        )?;
    }
    for exposure in &risk.exposures {
        writeln!(
            out,
            "{:<28} {:<11} {:>24} {:>6.2}% {:<8} {:>4} {:>5.1}",
            exposure.label,
            exposure.category,
            units(exposure.amount),
            exposure.share * 100.0,
            if exposure.direct { "direct" } else { "indirect" },
            exposure.hops,
            exposure.score
        )?;
    }
    writeln!(out)?;
    for line in &risk.explanation {
        writeln!(out, "- {line}")?;
    }
    Ok(())
}
