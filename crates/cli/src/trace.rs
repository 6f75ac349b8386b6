//! `cointrail trace`: seeds in, a trace document out (table, JSON, CSV, DOT, GraphML, HTML).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use cointrail_btc::Network;
use cointrail_report::{
    Coinjoin, Consolidation, Edge, Node, Patterns, Peel, PeelChain, Reached, Reproduce, Source,
    TraceDocument,
};
use cointrail_store::{ChainView, ClusterReader, LabelTable, Store};
use cointrail_taint::{
    Destination, Direction, FlowNode, Policy, StopLabel, TraceOptions, TraceReport, Truncation,
    trace,
};
use cointrail_types::{AddressId, ChainGraph, Hash32, OutputId, TxNum};

use crate::args::{Format, TraceArgs, TraceOptionArgs};
use crate::output::coins;

/// Labels at which a trace stops, per address (own or inherited from the cluster), with the
/// labeled address that defines each.
pub(crate) struct Stops {
    stops: HashMap<AddressId, StopLabel>,
    defined_by: HashMap<AddressId, (AddressId, String)>,
}

impl cointrail_taint::Stops for Stops {
    fn stop(&self, address: AddressId) -> Option<&StopLabel> {
        self.stops.get(&address)
    }
}

impl Stops {
    pub(crate) fn load(
        dir: &Path,
        store: &Store,
        network: Network,
        categories: &[String],
    ) -> anyhow::Result<Self> {
        let view = store.view();
        let table = LabelTable::load(dir)?;
        let clusters = ClusterReader::open(dir)?;
        let mut stops = HashMap::new();
        let mut defined_by = HashMap::new();
        for label in table.all().iter().filter(|label| categories.contains(&label.category)) {
            let Ok(key) = network.parse_address(&label.address) else { continue };
            let Some(id) = view.find_address(&key) else { continue };
            let stop = StopLabel { name: label.name.clone(), category: label.category.clone() };
            let members =
                clusters.as_ref().map_or_else(|| vec![id], |clusters| clusters.members(id));
            for member in members {
                if let std::collections::hash_map::Entry::Vacant(entry) = stops.entry(member) {
                    entry.insert(stop.clone());
                    defined_by.insert(member, (id, label.source.clone()));
                }
            }
        }
        Ok(Self { stops, defined_by })
    }
}

pub(crate) fn policy_options(args: &TraceOptionArgs) -> anyhow::Result<TraceOptions> {
    let policy: Policy = args.policy.parse()?;
    let direction = match args.direction.as_str() {
        "forward" => Direction::Forward,
        "backward" => Direction::Backward,
        other => bail!("unknown direction `{other}`: expected forward or backward"),
    };
    Ok(TraceOptions {
        max_hops: args.max_hops,
        max_txs: args.max_txs,
        min_amount: args.min_amount,
        max_duration: args.max_seconds.map(Duration::from_secs),
        deposit_forwarding: args.deposit_forwarding,
        ..TraceOptions::new(policy, direction)
    })
}

/// Resolves seeds: `txid:vout`, `txid` (all outputs) or an address (all received outputs).
pub(crate) fn resolve_seeds(
    view: &ChainView<'_>,
    network: Network,
    seeds: &[String],
) -> anyhow::Result<Vec<OutputId>> {
    let mut outputs = Vec::new();
    for seed in seeds.iter().map(|seed| seed.trim()).filter(|seed| !seed.is_empty()) {
        if let Some((txid, vout)) = seed.split_once(':')
            && txid.len() == 64
        {
            let hash = Hash32::from_display_hex(txid)?;
            let vout: u32 =
                vout.parse().with_context(|| format!("bad output index in seed `{seed}`"))?;
            let txnum = view
                .find_tx(&hash)
                .with_context(|| format!("seed tx {txid} is not in the store"))?;
            let tx = view.tx(txnum).context("stored tx")?;
            let id = tx.outputs.start + u64::from(vout);
            if id >= tx.outputs.end {
                bail!("seed {seed}: tx {txid} has {} outputs", tx.outputs.end - tx.outputs.start);
            }
            outputs.push(OutputId::new(id));
        } else if seed.len() == 64 && seed.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            let hash = Hash32::from_display_hex(seed)?;
            let txnum = view
                .find_tx(&hash)
                .with_context(|| format!("seed tx {seed} is not in the store"))?;
            let tx = view.tx(txnum).context("stored tx")?;
            outputs.extend(tx.outputs.map(OutputId::new));
        } else {
            let key = network.parse_address(seed).with_context(|| {
                format!("seed `{seed}` is neither txid:vout, a txid nor an address")
            })?;
            let id = view
                .find_address(&key)
                .with_context(|| format!("seed address {seed} has no activity in this store"))?;
            outputs.extend(view.address_outputs(id));
        }
    }
    outputs.sort_unstable();
    outputs.dedup();
    Ok(outputs)
}

pub(crate) fn run(
    args: &TraceArgs,
    dir: &Path,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let store = Store::open(dir)?;
    let network = crate::show::network_of(&store)?;
    let view = store.view();
    let seeds = resolve_seeds(&view, network, &args.seeds)?;
    let options = policy_options(&args.options)?;
    let stops = Stops::load(dir, &store, network, &args.options.stop_category)?;
    let report = trace(&view, &stops, &seeds, &options);
    let document = document(dir, &store, network, &report, &stops)?;
    crate::output::write_trace(&document, format, args.output.as_deref(), out, "cointrail trace")
}

fn outpoint(view: &ChainView<'_>, output: OutputId) -> String {
    let (txnum, vout) = view.output_location(output);
    format!("{}:{vout}", view.txid(txnum))
}

fn node_id(view: &ChainView<'_>, network: Network, node: &FlowNode) -> String {
    match node {
        FlowNode::Tx(tx) => format!("tx:{}", view.txid(*tx)),
        FlowNode::Stop(label) => format!("stop:{}", label.name),
        FlowNode::Unspent(Some(address)) => {
            format!("unspent:{}", network.encode_address(&view.address_key(*address)))
        }
        FlowNode::Unspent(None) => "unspent:none".to_owned(),
        FlowNode::Fees => "fees".to_owned(),
        FlowNode::Mined => "mined".to_owned(),
        FlowNode::Cut => "cut".to_owned(),
    }
}

/// The command line that produced this run, for the reproduce section.
fn command_line() -> String {
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

/// Turns a trace report into the self-describing document.
pub(crate) fn document(
    dir: &Path,
    store: &Store,
    network: Network,
    report: &TraceReport,
    stops: &Stops,
) -> anyhow::Result<TraceDocument> {
    let view = store.view();
    let txid = |tx: TxNum| view.txid(tx).to_string();
    let address_text = |address: AddressId| network.encode_address(&view.address_key(address));
    let seed_txs: BTreeSet<TxNum> = report.seeds.iter().map(|seed| view.output_tx(*seed)).collect();
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    let mut edges = Vec::with_capacity(report.edges.len());
    for edge in &report.edges {
        for flow in [&edge.from, &edge.to] {
            let id = node_id(&view, network, flow);
            nodes.entry(id.clone()).or_insert_with(|| {
                let (kind, label, height, seed) = match flow {
                    FlowNode::Tx(tx) => {
                        ("tx", txid(*tx), Some(view.tx_height(*tx).get()), seed_txs.contains(tx))
                    }
                    FlowNode::Stop(label) => {
                        ("stop", format!("{} ({})", label.name, label.category), None, false)
                    }
                    FlowNode::Unspent(address) => (
                        "unspent",
                        address.map_or_else(|| "no address".to_owned(), address_text),
                        None,
                        false,
                    ),
                    FlowNode::Fees => ("fees", "fees".to_owned(), None, false),
                    FlowNode::Mined => ("mined", "newly mined".to_owned(), None, false),
                    FlowNode::Cut => ("cut", "not followed".to_owned(), None, false),
                };
                Node { id, kind: kind.to_owned(), label, height, seed }
            });
        }
        edges.push(Edge {
            from: node_id(&view, network, &edge.from),
            to: node_id(&view, network, &edge.to),
            amount: edge.amount,
            output: edge.output.map(|output| outpoint(&view, output)),
        });
    }
    for tx in &seed_txs {
        let id = format!("tx:{}", txid(*tx));
        nodes.entry(id.clone()).or_insert_with(|| Node {
            id,
            kind: "tx".to_owned(),
            label: txid(*tx),
            height: Some(view.tx_height(*tx).get()),
            seed: true,
        });
    }
    // Evidence: the labeled addresses behind every stop the trace reached, and for stops through a
    // cluster, the merges that join the reached address to the labeled one.
    let clusters = ClusterReader::open(dir)?;
    // (label, category, labeled address, source, via cluster, reached address) -> merges
    type SourceKey = (String, String, String, String, bool, Option<String>);
    let mut sources: BTreeMap<SourceKey, Vec<String>> = BTreeMap::new();
    for reached in &report.reached {
        for output in &reached.outputs {
            let Some(address) = view.output_address(*output) else { continue };
            let Some((defining, source)) = stops.defined_by.get(&address) else { continue };
            let via_cluster = *defining != address;
            let key = (
                reached.label.name.clone(),
                reached.label.category.clone(),
                address_text(*defining),
                source.clone(),
                via_cluster,
                via_cluster.then(|| address_text(address)),
            );
            if sources.contains_key(&key) {
                continue;
            }
            let joined_by = match (&clusters, via_cluster) {
                (Some(clusters), true) => crate::cluster::shortest_path(
                    &clusters.links_of_cluster(*defining),
                    *defining,
                    address,
                )
                .unwrap_or_default()
                .iter()
                .map(|(_, _, link)| {
                    let heuristic = cointrail_cluster::Heuristic::from_code(link.heuristic)
                        .map_or_else(|| format!("code {}", link.heuristic), |h| h.to_string());
                    format!("{heuristic} in {}", view.txid(link.tx))
                })
                .collect(),
                _ => Vec::new(),
            };
            sources.insert(key, joined_by);
        }
    }
    let destination = |destination: &Destination| match destination {
        Destination::Stop(label) => label.name.clone(),
        Destination::Unspent => "unspent".to_owned(),
        Destination::Followed(_) => "followed".to_owned(),
        Destination::Cut => "cut".to_owned(),
    };
    let patterns = Patterns {
        peel_chains: report
            .patterns
            .peel_chains
            .iter()
            .map(|chain| PeelChain {
                length: chain.txs.len(),
                txs: chain.txs.iter().map(|tx| txid(*tx)).collect(),
                peeled: chain.peeled,
                peels: chain
                    .peels
                    .iter()
                    .map(|peel| Peel {
                        tx: txid(peel.tx),
                        output: outpoint(&view, peel.output),
                        amount: peel.amount,
                        destination: destination(&peel.destination),
                    })
                    .collect(),
            })
            .collect(),
        coinjoins: report
            .patterns
            .coinjoins
            .iter()
            .map(|coinjoin| Coinjoin {
                tx: txid(coinjoin.tx),
                shape: coinjoin.shape.to_owned(),
                tainted_in: coinjoin.tainted_in,
                tainted_out: coinjoin.tainted_out,
            })
            .collect(),
        consolidations: report
            .patterns
            .consolidations
            .iter()
            .map(|consolidation| Consolidation {
                tx: txid(consolidation.tx),
                inputs: consolidation.inputs,
                tainted_inputs: consolidation.tainted_inputs,
            })
            .collect(),
    };
    let tip = view.tip();
    let chain = store.chain();
    Ok(TraceDocument {
        policy: report.policy.name().to_owned(),
        direction: report.direction.name().to_owned(),
        chain: chain.to_string(),
        seeds: report.seeds.iter().map(|seed| outpoint(&view, *seed)).collect(),
        seed_amount: report.seed_amount,
        reached: report
            .reached
            .iter()
            .map(|reached| Reached {
                label: reached.label.name.clone(),
                category: reached.label.category.clone(),
                amount: reached.amount,
                hops: reached.hops,
                txs: reached.txs.iter().map(|tx| txid(*tx)).collect(),
                outputs: reached.outputs.iter().map(|output| outpoint(&view, *output)).collect(),
            })
            .collect(),
        unspent: report.unspent,
        unspent_outputs: report.unspent_outputs,
        fees: report.fees,
        mined: report.mined,
        below_min_amount: report.below_min_amount,
        beyond_limits: report.beyond_limits,
        seed_overlap: report.seed_overlap,
        conserved: report.policy.conserves() && report.accounted() == report.seed_amount,
        truncated: report.truncated.map(|reason| {
            match reason {
                Truncation::Transactions => "transactions",
                Truncation::Time => "time",
            }
            .to_owned()
        }),
        txs_visited: report.txs_visited,
        nodes: nodes.into_values().collect(),
        edges,
        patterns,
        sources: sources
            .into_iter()
            .map(|((label, category, address, source, via_cluster, reached_address), joined_by)| {
                Source { label, category, address, source, via_cluster, reached_address, joined_by }
            })
            .collect(),
        reproduce: Reproduce {
            command: command_line(),
            tip_height: tip.as_ref().map(|block| block.height.get()),
            tip_hash: tip.as_ref().map(|block| block.hash.to_string()),
            clustered_txs: clusters.as_ref().map_or(0, |clusters| clusters.manifest().txs),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
    })
}

/// Prints a trace document for people.
pub(crate) fn print(out: &mut dyn Write, document: &TraceDocument) -> std::io::Result<()> {
    writeln!(
        out,
        "{} trace, {} policy, from {} seed outputs: {} BTC",
        document.direction,
        document.policy,
        document.seeds.len(),
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
    let share = |amount: u64| {
        if document.seed_amount == 0 {
            0.0
        } else {
            amount as f64 * 100.0 / document.seed_amount as f64
        }
    };
    writeln!(
        out,
        "\n{:<32} {:<10} {:>20} {:>7} {:>5}",
        "reached", "category", "BTC", "share", "hops"
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
            "peel chain of {} txs from {}: {} BTC peeled",
            chain.length,
            chain.txs[0],
            coins(chain.peeled)
        )?;
    }
    for coinjoin in patterns.coinjoins.iter().take(SHOWN) {
        writeln!(
            out,
            "coinjoin ({}) {}: {} BTC tainted in",
            coinjoin.shape,
            coinjoin.tx,
            coins(coinjoin.tainted_in)
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
