//! `cointrail incident add|list` and `cointrail actor report`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use cointrail_query::{Snapshot, document, resolve_seeds};
use cointrail_store::{Incident, StoreLock, load_incidents, save_incidents};
use cointrail_taint::trace;
use cointrail_types::{ChainGraph, OutputId};
use serde::Serialize;

use crate::args::{Format, IncidentCommand, TraceOptionArgs};
use crate::output::{coins, emit, utc};
use crate::trace::{command_line, policy_options};

pub(crate) fn run(
    command: &IncidentCommand,
    dir: &Path,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        IncidentCommand::Add { name, actor, seeds, date, source } => {
            add(dir, name, actor, seeds, date.as_deref(), source.clone(), format, out)
        }
        IncidentCommand::List => {
            let incidents = load_incidents(dir)?;
            emit(out, format, &incidents, |out, incidents| {
                for incident in incidents.iter() {
                    writeln!(
                        out,
                        "{}  {}  {}  {} seeds{}",
                        incident.date,
                        incident.name,
                        incident.actor,
                        incident.seeds.len(),
                        incident
                            .source
                            .as_deref()
                            .map_or(String::new(), |source| format!("  ({source})"))
                    )?;
                }
                Ok(())
            })
        }
    }
}

#[derive(Serialize)]
struct Added<'a> {
    incident: &'a Incident,
    amount: u64,
}

#[expect(clippy::too_many_arguments, reason = "the command's fields, passed through once")]
fn add(
    dir: &Path,
    name: &str,
    actor: &str,
    seeds: &[String],
    date: Option<&str>,
    source: Option<String>,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let snapshot = Snapshot::open(dir)?;
    let view = snapshot.view();
    let outputs = resolve_seeds(&view, snapshot.network(), seeds, usize::MAX)?;
    if outputs.is_empty() {
        bail!("incident {name}: the seeds name no outputs");
    }
    let date = match date {
        Some(date) => {
            let valid =
                date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-';
            if !valid {
                bail!("incident date `{date}` is not YYYY-MM-DD");
            }
            date.to_owned()
        }
        None => {
            let tx = view.output_tx(outputs[0]);
            let block = view.block(view.tx_height(tx)).context("stored block")?;
            utc(block.time())[..10].to_owned()
        }
    };
    let _lock = StoreLock::acquire(dir)?;
    let mut incidents = load_incidents(dir)?;
    if incidents.iter().any(|incident| incident.name == name) {
        bail!("an incident named `{name}` exists already");
    }
    let seeds: Vec<String> = outputs
        .iter()
        .map(|output| {
            let (tx, vout) = view.output_location(*output);
            format!("{}:{vout}", view.txid(tx))
        })
        .collect();
    let amount = outputs.iter().map(|output| view.output_value(*output).to_sat()).sum();
    let incident = Incident { name: name.to_owned(), actor: actor.to_owned(), seeds, date, source };
    incidents.push(incident.clone());
    save_incidents(dir, &incidents)?;
    emit(out, format, &Added { incident: &incident, amount }, |out, added| {
        writeln!(
            out,
            "recorded incident {} by {} on {}: {} BTC in {} outputs",
            added.incident.name,
            added.incident.actor,
            added.incident.date,
            coins(added.amount),
            added.incident.seeds.len()
        )
    })
}

/// Daily prices from a CSV `date,price` (a header line is allowed).
fn load_prices(path: &Path) -> anyhow::Result<BTreeMap<String, f64>> {
    let text = fs_err::read_to_string(path)?;
    let mut prices = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (number == 0 && line.to_lowercase().starts_with("date")) {
            continue;
        }
        let (date, price) = line
            .split_once(',')
            .with_context(|| format!("{}:{}: expected `date,price`", path.display(), number + 1))?;
        let price: f64 = price.trim().parse().with_context(|| {
            format!("{}:{}: bad price `{}`", path.display(), number + 1, price.trim())
        })?;
        prices.insert(date.trim().to_owned(), price);
    }
    Ok(prices)
}

#[derive(Serialize)]
struct IncidentTotal {
    name: String,
    date: String,
    source: Option<String>,
    seeds: usize,
    amount: u64,
    /// Value of its seeds not already counted under an earlier incident.
    counted: u64,
    /// Incidents sharing seeds with this one.
    overlaps_with: Vec<String>,
    price_usd: Option<f64>,
    usd: Option<f64>,
}

#[derive(Serialize)]
struct ActorReport {
    actor: String,
    incidents: Vec<IncidentTotal>,
    /// Value of the distinct stolen outputs: overlapping incidents counted once.
    total_stolen: u64,
    total_usd: Option<f64>,
    trace: cointrail_report::TraceDocument,
}

pub(crate) fn report(
    dir: &Path,
    actor: &str,
    options: &TraceOptionArgs,
    prices: Option<&Path>,
    format: Format,
    file: Option<&Path>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let snapshot = Snapshot::open(dir)?;
    let network = snapshot.network();
    let view = snapshot.view();
    let mut incidents: Vec<Incident> = load_incidents(dir)?
        .into_iter()
        .filter(|incident| incident.actor.eq_ignore_ascii_case(actor))
        .collect();
    if incidents.is_empty() {
        bail!("no incident recorded for actor `{actor}` (see `cointrail incident add`)");
    }
    incidents.sort_by(|a, b| (&a.date, &a.name).cmp(&(&b.date, &b.name)));
    let prices = prices.map(load_prices).transpose()?;
    let mut counted: BTreeSet<OutputId> = BTreeSet::new();
    let mut seeds_of: Vec<Vec<OutputId>> = Vec::new();
    let mut totals = Vec::new();
    for incident in &incidents {
        let outputs = resolve_seeds(&view, network, &incident.seeds, usize::MAX)?;
        let amount: u64 = outputs.iter().map(|output| view.output_value(*output).to_sat()).sum();
        let new: u64 = outputs
            .iter()
            .filter(|output| !counted.contains(output))
            .map(|output| view.output_value(*output).to_sat())
            .sum();
        counted.extend(outputs.iter().copied());
        let price = prices.as_ref().and_then(|prices| prices.get(&incident.date).copied());
        totals.push(IncidentTotal {
            name: incident.name.clone(),
            date: incident.date.clone(),
            source: incident.source.clone(),
            seeds: outputs.len(),
            amount,
            counted: new,
            overlaps_with: Vec::new(),
            price_usd: price,
            usd: price.map(|price| new as f64 / 1e8 * price),
        });
        seeds_of.push(outputs);
    }
    for (index, total) in totals.iter_mut().enumerate() {
        let own: BTreeSet<&OutputId> = seeds_of[index].iter().collect();
        total.overlaps_with = incidents
            .iter()
            .zip(&seeds_of)
            .enumerate()
            .filter(|(other, (_, seeds))| {
                *other != index && seeds.iter().any(|seed| own.contains(seed))
            })
            .map(|(_, (incident, _))| incident.name.clone())
            .collect();
    }
    let union: Vec<OutputId> = counted.into_iter().collect();
    let total_stolen = union.iter().map(|output| view.output_value(*output).to_sat()).sum();
    let total_usd = match &prices {
        Some(_) => totals.iter().map(|total| total.usd).sum::<Option<f64>>(),
        None => None,
    };
    let options_parsed = policy_options(options)?;
    let set = snapshot.stop_set(&options.stop_category);
    let stops = snapshot.stops(&set);
    let traced = trace(&view, &stops, &union, &options_parsed);
    let document = document(&snapshot, &traced, &stops, command_line());
    let report = ActorReport {
        actor: actor.to_owned(),
        incidents: totals,
        total_stolen,
        total_usd,
        trace: document,
    };
    match format {
        Format::Table => {
            print(out, &report)?;
            Ok(())
        }
        Format::Json => {
            let text = serde_json::to_string_pretty(&report)?;
            match file {
                Some(path) => {
                    fs_err::write(path, text + "\n")?;
                    writeln!(out, "wrote {}", path.display())?;
                }
                None => writeln!(out, "{text}")?,
            }
            Ok(())
        }
        other => crate::output::write_trace(
            &report.trace,
            other,
            file,
            out,
            &format!("Actor report: {actor}"),
        ),
    }
}

fn print(out: &mut dyn Write, report: &ActorReport) -> std::io::Result<()> {
    writeln!(out, "actor     {}", report.actor)?;
    for incident in &report.incidents {
        let overlap = if incident.overlaps_with.is_empty() {
            String::new()
        } else {
            format!(" (shares seeds with {})", incident.overlaps_with.join(", "))
        };
        let usd = incident.usd.map_or(String::new(), |usd| format!(" = {usd:.2} USD"));
        writeln!(
            out,
            "incident  {} {}: {} BTC, {} BTC counted{usd}{overlap}",
            incident.date,
            incident.name,
            coins(incident.amount),
            coins(incident.counted)
        )?;
    }
    writeln!(
        out,
        "total     {} BTC stolen (each output counted once)",
        coins(report.total_stolen)
    )?;
    if let Some(usd) = report.total_usd {
        writeln!(out, "          {usd:.2} USD at the theft dates")?;
    }
    writeln!(out)?;
    crate::trace::print(out, &report.trace)
}
