//! `trace`: seeds in, a [`TraceDocument`] out.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use cointrail_btc::Network;
use cointrail_report::{
    Coinjoin, Consolidation, Edge, Node, Patterns, Peel, PeelChain, Reached, Reproduce, Source,
    TraceDocument, Unit,
};
use cointrail_store::{ChainView, StoredLink};
use cointrail_taint::{
    Destination, Direction, FlowNode, Policy, TraceOptions, TraceReport, Truncation,
};
use cointrail_types::{AddressId, ChainGraph, Hash32, OutputId, TxNum};
use serde::{Deserialize, Serialize};

use crate::show::outpoint;
use crate::snapshot::{Snapshot, Stops};
use crate::{QueryError, Result};

/// The options of a trace, as `cointrail trace` and `POST /v1/trace` take them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceParams {
    /// Seeds: `txid:vout`, `txid` or address.
    #[serde(alias = "from")]
    pub seeds: Vec<String>,
    /// `forward` or `backward`.
    #[serde(default = "default_direction")]
    pub direction: String,
    /// `poison`, `haircut`, `fifo` or `lifo`.
    #[serde(default = "default_policy")]
    pub policy: String,
    /// Follow at most this many transactions from a seed.
    #[serde(default = "default_max_hops")]
    pub max_hops: u32,
    /// Visit at most this many transactions in all.
    #[serde(default = "default_max_txs")]
    pub max_txs: usize,
    /// Stop after this many seconds.
    #[serde(default)]
    pub max_seconds: Option<u64>,
    /// Do not follow outputs carrying less than this.
    #[serde(default)]
    pub min_amount: u64,
    /// Label categories where tracing stops.
    #[serde(default = "default_stop_category")]
    pub stop_category: Vec<String>,
    /// Count value as reached at an unlabeled deposit swept entirely into one stop label.
    #[serde(default)]
    pub deposit_forwarding: bool,
    /// EVM seeds: the chain (default: the store's only EVM chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// EVM seeds: the asset to trace (`native`, the native symbol, a token contract or symbol;
    /// default native).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
}

fn default_direction() -> String {
    "forward".to_owned()
}

fn default_policy() -> String {
    "haircut".to_owned()
}

fn default_max_hops() -> u32 {
    100
}

fn default_max_txs() -> usize {
    200_000
}

fn default_stop_category() -> Vec<String> {
    vec!["exchange".to_owned(), "service".to_owned()]
}

impl TraceParams {
    /// Returns the taint options these parameters ask for.
    ///
    /// # Errors
    ///
    /// [`QueryError::Invalid`] for an unknown policy or direction.
    pub fn options(&self) -> Result<TraceOptions> {
        trace_options(
            &self.policy,
            &self.direction,
            self.max_hops,
            self.max_txs,
            self.min_amount,
            self.max_seconds.map(Duration::from_secs),
            self.deposit_forwarding,
        )
    }
}

/// Parses a direction name.
///
/// # Errors
///
/// [`QueryError::Invalid`] naming the expected values.
pub fn parse_direction(text: &str) -> Result<Direction> {
    match text {
        "forward" => Ok(Direction::Forward),
        "backward" => Ok(Direction::Backward),
        other => Err(QueryError::invalid(format!(
            "unknown direction `{other}`: expected forward or backward"
        ))),
    }
}

/// Builds taint options from the trace command's values.
///
/// # Errors
///
/// [`QueryError::Invalid`] for an unknown policy or direction.
pub fn trace_options(
    policy: &str,
    direction: &str,
    max_hops: u32,
    max_txs: usize,
    min_amount: u64,
    max_duration: Option<Duration>,
    deposit_forwarding: bool,
) -> Result<TraceOptions> {
    let policy: Policy = policy.parse().map_err(|error: cointrail_taint::ParsePolicyError| {
        QueryError::invalid(error.to_string())
    })?;
    let direction = parse_direction(direction)?;
    Ok(TraceOptions {
        max_hops,
        max_txs,
        min_amount,
        max_duration,
        deposit_forwarding,
        ..TraceOptions::new(policy, direction)
    })
}

/// Resolves seeds: `txid:vout`, `txid` (all outputs) or an address (all received outputs), sorted
/// and without duplicates, refusing more than `limit` outputs.
///
/// # Errors
///
/// [`QueryError::Invalid`] for a malformed seed or more than `limit` outputs,
/// [`QueryError::NotFound`] for a tx or address the store does not have.
pub fn resolve_seeds(
    view: &ChainView<'_>,
    network: Network,
    seeds: &[String],
    limit: usize,
) -> Result<Vec<OutputId>> {
    let mut outputs = Vec::new();
    let too_many = || QueryError::invalid(format!("the seeds name more than {limit} outputs"));
    for seed in seeds.iter().map(|seed| seed.trim()).filter(|seed| !seed.is_empty()) {
        if let Some((txid, vout)) = seed.split_once(':')
            && txid.len() == 64
        {
            let hash = Hash32::from_display_hex(txid)
                .map_err(|error| QueryError::invalid(error.to_string()))?;
            let vout: u32 = vout
                .parse()
                .map_err(|_| QueryError::invalid(format!("bad output index in seed `{seed}`")))?;
            let txnum = view.find_tx(&hash).ok_or_else(|| {
                QueryError::not_found(format!("seed tx {txid} is not in the store"))
            })?;
            let tx = view.tx(txnum).ok_or_else(|| {
                QueryError::not_found(format!("seed tx {txid} is not in the store"))
            })?;
            let id = tx.outputs.start + u64::from(vout);
            if id >= tx.outputs.end {
                return Err(QueryError::not_found(format!(
                    "seed {seed}: tx {txid} has {} outputs",
                    tx.outputs.end - tx.outputs.start
                )));
            }
            outputs.push(OutputId::new(id));
        } else if seed.len() == 64 && seed.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            let hash = Hash32::from_display_hex(seed)
                .map_err(|error| QueryError::invalid(error.to_string()))?;
            let tx = view.find_tx(&hash).and_then(|txnum| view.tx(txnum)).ok_or_else(|| {
                QueryError::not_found(format!("seed tx {seed} is not in the store"))
            })?;
            outputs.extend(tx.outputs.map(OutputId::new));
        } else {
            let key = network.parse_address(seed).map_err(|error| {
                QueryError::invalid(format!(
                    "seed `{seed}` is neither txid:vout, a txid nor an address: {error}"
                ))
            })?;
            let id = view.find_address(&key).ok_or_else(|| {
                QueryError::not_found(format!("seed address {seed} has no activity in this store"))
            })?;
            for output in view.address_outputs(id) {
                if outputs.len() >= limit {
                    return Err(too_many());
                }
                outputs.push(output);
            }
        }
        if outputs.len() > limit {
            return Err(too_many());
        }
    }
    outputs.sort_unstable();
    outputs.dedup();
    Ok(outputs)
}

/// Traces `params.seeds` and returns the document; `command` goes in its `reproduce` section.
/// At most `max_seed_outputs` seed outputs are accepted.
///
/// # Errors
///
/// The errors of [`resolve_seeds`] and [`TraceParams::options`].
pub fn trace(
    snapshot: &Snapshot,
    params: &TraceParams,
    options: &TraceOptions,
    max_seed_outputs: usize,
    command: String,
) -> Result<TraceDocument> {
    let view = snapshot.view();
    let seeds = resolve_seeds(&view, snapshot.network(), &params.seeds, max_seed_outputs)?;
    if seeds.is_empty() {
        return Err(QueryError::invalid("no seed given"));
    }
    let set = snapshot.stop_set(&params.stop_category);
    let stops = snapshot.stops(&set);
    let report = cointrail_taint::trace(&view, &stops, &seeds, options);
    Ok(document(snapshot, &report, &stops, command))
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

/// Breadth-first search over the evidence links of one cluster: the fewest links from `a` to `b`.
pub fn shortest_path(
    links: &[StoredLink],
    a: AddressId,
    b: AddressId,
) -> Option<Vec<(AddressId, AddressId, StoredLink)>> {
    if a == b {
        return Some(Vec::new());
    }
    let mut adjacent: HashMap<AddressId, Vec<(AddressId, StoredLink)>> = HashMap::new();
    for link in links {
        adjacent.entry(link.a).or_default().push((link.b, *link));
        adjacent.entry(link.b).or_default().push((link.a, *link));
    }
    let mut came_from: HashMap<AddressId, (AddressId, StoredLink)> = HashMap::new();
    let mut queue = VecDeque::from([a]);
    while let Some(current) = queue.pop_front() {
        for (next, link) in adjacent.get(&current).into_iter().flatten() {
            if *next == a || came_from.contains_key(next) {
                continue;
            }
            came_from.insert(*next, (current, *link));
            if *next == b {
                let mut path = Vec::new();
                let mut at = b;
                while at != a {
                    let (previous, link) = *came_from.get(&at)?;
                    path.push((previous, at, link));
                    at = previous;
                }
                path.reverse();
                return Some(path);
            }
            queue.push_back(*next);
        }
    }
    None
}

/// Turns a trace report into the self-describing document.
pub fn document(
    snapshot: &Snapshot,
    report: &TraceReport,
    stops: &Stops<'_>,
    command: String,
) -> TraceDocument {
    let view = snapshot.view();
    let network = snapshot.network();
    let store = snapshot.store();
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
            amount: edge.amount.into(),
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
    let clusters = snapshot.clusters();
    // (label, category, labeled address, source, via cluster, reached address) -> merges
    type SourceKey = (String, String, String, String, bool, Option<String>);
    let mut sources: BTreeMap<SourceKey, Vec<String>> = BTreeMap::new();
    for reached in &report.reached {
        for output in &reached.outputs {
            let Some(address) = view.output_address(*output) else { continue };
            let Some((defining, source)) = stops.defined_by(address) else { continue };
            let via_cluster = defining != address;
            let key = (
                reached.label.name.clone(),
                reached.label.category.clone(),
                address_text(defining),
                source.to_owned(),
                via_cluster,
                via_cluster.then(|| address_text(address)),
            );
            if sources.contains_key(&key) {
                continue;
            }
            let joined_by = match (clusters, via_cluster) {
                (Some(clusters), true) => {
                    shortest_path(&clusters.links_of_cluster(defining), defining, address)
                        .unwrap_or_default()
                        .iter()
                        .map(|(_, _, link)| {
                            let heuristic = cointrail_cluster::Heuristic::from_code(link.heuristic)
                                .map_or_else(
                                    || format!("code {}", link.heuristic),
                                    |h| h.to_string(),
                                );
                            format!("{heuristic} in {}", view.txid(link.tx))
                        })
                        .collect()
                }
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
    TraceDocument {
        policy: report.policy.name().to_owned(),
        direction: report.direction.name().to_owned(),
        unit: Unit {
            symbol: if chain.network.starts_with("litecoin") { "LTC" } else { "BTC" }.to_owned(),
            decimals: 8,
        },
        chain: chain.to_string(),
        seeds: report.seeds.iter().map(|seed| outpoint(&view, *seed)).collect(),
        seed_amount: report.seed_amount.into(),
        reached: report
            .reached
            .iter()
            .map(|reached| Reached {
                label: reached.label.name.clone(),
                category: reached.label.category.clone(),
                amount: reached.amount.into(),
                hops: reached.hops,
                txs: reached.txs.iter().map(|tx| txid(*tx)).collect(),
                outputs: reached.outputs.iter().map(|output| outpoint(&view, *output)).collect(),
            })
            .collect(),
        unspent: report.unspent.into(),
        unspent_outputs: report.unspent_outputs,
        fees: report.fees.into(),
        mined: report.mined.into(),
        below_min_amount: report.below_min_amount.into(),
        beyond_limits: report.beyond_limits.into(),
        seed_overlap: report.seed_overlap.into(),
        conserved: report.policy.conserves() && report.accounted() == report.seed_amount,
        truncated: report.truncated.map(|reason| truncation_name(reason).to_owned()),
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
            command,
            tip_height: tip.as_ref().map(|block| block.height.get()),
            tip_hash: tip.as_ref().map(|block| block.hash.to_string()),
            clustered_txs: clusters.map_or(0, |clusters| clusters.manifest().txs),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
    }
}

pub(crate) fn truncation_name(reason: Truncation) -> &'static str {
    match reason {
        Truncation::Transactions => "transactions",
        Truncation::Time => "time",
    }
}
