//! Taint tracing of cointrail: where did the coins of a theft go, and where did a deposit come from.
//!
//! Owns the policies (poison, haircut, FIFO, LIFO; see `docs/heuristics.md`), the forward and
//! backward walks, the accounting that makes every figure add up (reached + unspent + fees + cut =
//! seed amount, for the conserving policies), the flow graph and the patterns found on the way
//! (peel chains, CoinJoins, consolidations). It sees the chain only through
//! [`cointrail_types::ChainGraph`] and stop labels through [`Stops`], so it does no I/O and runs on
//! an in-memory graph in tests.
//!
//! Start with [`trace`].

mod account;
mod patterns;
mod policy;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::time::{Duration, Instant};

pub use account::{
    AccountEdge, AccountFlows, AccountLimits, AccountNode, AccountReached, AccountSeed,
    AccountTraceReport, Flow, trace_account,
};
pub use patterns::{CoinjoinCrossed, Consolidation, Patterns, Peel, PeelChain};
pub use policy::{ParsePolicyError, Policy};

use cointrail_types::{AddressId, ChainGraph, InputId, OutputId, TxNum};

/// Direction of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the seeds to where the coins went.
    Forward,
    /// From the seeds back to where the coins came from.
    Backward,
}

impl Direction {
    /// Returns the lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Forward => "forward",
            Self::Backward => "backward",
        }
    }
}

/// A label at which tracing stops (an exchange or service, where coins are cashed out or come
/// from).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StopLabel {
    /// The label's name (e.g. an exchange).
    pub name: String,
    /// Its category.
    pub category: String,
}

/// Which addresses stop a trace.
pub trait Stops {
    /// Returns the stop label of an address (its own or its cluster's), if any.
    fn stop(&self, address: AddressId) -> Option<&StopLabel>;
}

impl Stops for HashMap<AddressId, StopLabel> {
    fn stop(&self, address: AddressId) -> Option<&StopLabel> {
        self.get(&address)
    }
}

/// What to trace and within which limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceOptions {
    /// The policy.
    pub policy: Policy,
    /// The direction.
    pub direction: Direction,
    /// Follow at most this many transactions from a seed.
    pub max_hops: u32,
    /// Visit at most this many transactions in all.
    pub max_txs: usize,
    /// Amounts below this (satoshis) on an output are not followed.
    pub min_amount: u64,
    /// Stop after this much wall time.
    pub max_duration: Option<Duration>,
    /// Treat an address as a deposit address of a stop label when the transaction spending the
    /// output sends everything to addresses of that one label (a sweep into a known hot wallet):
    /// the value has then reached the label at the deposit, before the sweep's fee.
    pub deposit_forwarding: bool,
}

impl TraceOptions {
    /// Options with default limits: 100 hops, 200,000 transactions, no minimum, no time limit, no
    /// deposit forwarding.
    pub fn new(policy: Policy, direction: Direction) -> Self {
        Self {
            policy,
            direction,
            max_hops: 100,
            max_txs: 200_000,
            min_amount: 0,
            max_duration: None,
            deposit_forwarding: false,
        }
    }
}

/// Why a trace stopped before following every coin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Truncation {
    /// [`TraceOptions::max_txs`] was reached.
    Transactions,
    /// [`TraceOptions::max_duration`] was reached.
    Time,
}

/// The value that reached one stop label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    /// The stop label.
    pub label: StopLabel,
    /// Tainted (forward) or attributed (backward) satoshis.
    pub amount: u64,
    /// Fewest transactions between a seed and the label.
    pub hops: u32,
    /// The transactions by which the value arrived (forward) or left (backward), sorted.
    pub txs: Vec<TxNum>,
    /// The outputs at the label, sorted.
    pub outputs: Vec<OutputId>,
}

/// A node of the flow graph.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FlowNode {
    /// A transaction.
    Tx(TxNum),
    /// A stop label.
    Stop(StopLabel),
    /// Unspent outputs of one address (`None`: outputs without address).
    Unspent(Option<AddressId>),
    /// Transaction fees.
    Fees,
    /// Newly mined coins (backward traces reaching a coinbase).
    Mined,
    /// Value not followed (below the minimum amount or beyond the limits).
    Cut,
}

/// An edge of the flow graph: value moving from one node to another through an output.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowEdge {
    /// Where the value comes from.
    pub from: FlowNode,
    /// Where it goes.
    pub to: FlowNode,
    /// Satoshis.
    pub amount: u64,
    /// The output that carries it (none for fees and mined coins).
    pub output: Option<OutputId>,
}

/// The result of a trace. Every amount is in satoshis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceReport {
    /// The policy used.
    pub policy: Policy,
    /// The direction.
    pub direction: Direction,
    /// The seed outputs, sorted, without duplicates.
    pub seeds: Vec<OutputId>,
    /// Sum of the seed outputs' values.
    pub seed_amount: u64,
    /// Value per stop label, largest first.
    pub reached: Vec<Reached>,
    /// Forward: tainted value in unspent outputs not at a stop.
    pub unspent: u64,
    /// Number of such unspent outputs.
    pub unspent_outputs: u64,
    /// Forward: tainted value paid as fees.
    pub fees: u64,
    /// Backward: value that comes from coinbases (new coins and the fees they collected).
    pub mined: u64,
    /// Value not followed because an output carried less than the minimum amount.
    pub below_min_amount: u64,
    /// Value not followed because of the hop, transaction or time limits.
    pub beyond_limits: u64,
    /// Value that flowed into (forward) or came out of (backward) another seed output: it is
    /// already counted in [`TraceReport::seed_amount`], so it is not followed twice.
    pub seed_overlap: u64,
    /// Set when the transaction or time limit cut the trace short.
    pub truncated: Option<Truncation>,
    /// Transactions visited.
    pub txs_visited: u64,
    /// The flow graph, edges sorted.
    pub edges: Vec<FlowEdge>,
    /// Patterns seen on the way.
    pub patterns: Patterns,
}

impl TraceReport {
    /// Returns the sum of every destination of the seed amount: reached, unspent, fees, mined and
    /// cut. For conserving policies it equals [`TraceReport::seed_amount`].
    pub fn accounted(&self) -> u64 {
        self.reached.iter().map(|reached| reached.amount).sum::<u64>()
            + self.unspent
            + self.fees
            + self.mined
            + self.below_min_amount
            + self.beyond_limits
            + self.seed_overlap
    }

    /// Returns the transactions of the flow graph, sorted.
    pub fn txs(&self) -> Vec<TxNum> {
        let mut txs: BTreeSet<TxNum> = BTreeSet::new();
        for edge in &self.edges {
            for node in [&edge.from, &edge.to] {
                if let FlowNode::Tx(tx) = node {
                    txs.insert(*tx);
                }
            }
        }
        txs.into_iter().collect()
    }
}

#[derive(Default)]
struct ReachedAccumulator {
    amount: u64,
    hops: u32,
    txs: BTreeSet<TxNum>,
    outputs: BTreeSet<OutputId>,
}

/// Where an output's tainted value ended up.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Destination {
    /// At a stop label.
    Stop(StopLabel),
    /// Unspent, not at a stop.
    Unspent,
    /// Spent by this transaction, which the trace followed.
    Followed(TxNum),
    /// Not followed (minimum amount or limits).
    Cut,
}

struct Walk<'a, G: ChainGraph, S: Stops> {
    graph: &'a G,
    stops: &'a S,
    options: &'a TraceOptions,
    seeds: BTreeSet<OutputId>,
    /// Amount and hops of outputs waiting for their spending (forward) or creating (backward) tx.
    pending: BTreeMap<OutputId, (u64, u32)>,
    reached: BTreeMap<StopLabel, ReachedAccumulator>,
    settled: BTreeMap<OutputId, (u64, Destination)>,
    report: TraceReport,
}

/// Traces `seeds` through `graph`, stopping at addresses with a [`Stops`] label.
///
/// Forward, each seed output starts fully tainted and the policy decides how each transaction
/// passes taint to its outputs and fee. Backward, each seed output's value is attributed to the
/// inputs that funded it, recursively, until it reaches a stop label or a coinbase. Transactions
/// are visited in chain order (backward: reverse chain order), so each is visited once with all of
/// its taint known.
pub fn trace(
    graph: &impl ChainGraph,
    stops: &impl Stops,
    seeds: &[OutputId],
    options: &TraceOptions,
) -> TraceReport {
    let mut seeds = seeds.to_vec();
    seeds.sort_unstable();
    seeds.dedup();
    let seed_amount = seeds.iter().map(|seed| graph.output_value(*seed).to_sat()).sum();
    let mut walk = Walk {
        graph,
        stops,
        options,
        seeds: seeds.iter().copied().collect(),
        pending: BTreeMap::new(),
        reached: BTreeMap::new(),
        settled: BTreeMap::new(),
        report: TraceReport {
            policy: options.policy,
            direction: options.direction,
            seeds: seeds.clone(),
            seed_amount,
            reached: Vec::new(),
            unspent: 0,
            unspent_outputs: 0,
            fees: 0,
            mined: 0,
            below_min_amount: 0,
            beyond_limits: 0,
            seed_overlap: 0,
            truncated: None,
            txs_visited: 0,
            edges: Vec::new(),
            patterns: Patterns::default(),
        },
    };
    match options.direction {
        Direction::Forward => walk.forward(&seeds),
        Direction::Backward => walk.backward(&seeds),
    }
    walk.finish()
}

impl<G: ChainGraph, S: Stops> Walk<'_, G, S> {
    fn forward(&mut self, seeds: &[OutputId]) {
        let mut queue: BinaryHeap<Reverse<TxNum>> = BinaryHeap::new();
        let mut queued: BTreeSet<TxNum> = BTreeSet::new();
        for &seed in seeds {
            let amount = self.graph.output_value(seed).to_sat();
            let creator = self.graph.output_tx(seed);
            if let Some(next) = self.settle_forward(seed, amount, 0, creator)
                && queued.insert(next)
            {
                queue.push(Reverse(next));
            }
        }
        let started = Instant::now();
        let mut shares = Vec::new();
        let mut parts = Vec::new();
        let mut inputs = Vec::new();
        while let Some(Reverse(tx)) = queue.pop() {
            if let Some(reason) = self.over_limits(started) {
                self.report.truncated = Some(reason);
                // Everything still waiting is not followed.
                let waiting: u64 = self.pending.values().map(|(amount, _)| amount).sum();
                self.report.beyond_limits += waiting;
                for (output, (amount, _)) in std::mem::take(&mut self.pending) {
                    let creator = self.graph.output_tx(output);
                    self.edge(FlowNode::Tx(creator), FlowNode::Cut, amount, Some(output));
                    self.settled.insert(output, (amount, Destination::Cut));
                }
                break;
            }
            self.report.txs_visited += 1;
            inputs.clear();
            let mut hops = u32::MAX;
            for input in self.graph.tx_inputs(tx) {
                let spent = self.graph.spent_output(InputId::new(input));
                let value = self.graph.output_value(spent).to_sat();
                let taint = match self.pending.remove(&spent) {
                    Some((amount, at)) => {
                        hops = hops.min(at);
                        self.edge(
                            FlowNode::Tx(self.graph.output_tx(spent)),
                            FlowNode::Tx(tx),
                            amount,
                            Some(spent),
                        );
                        amount
                    }
                    None => 0,
                };
                inputs.push((value, taint));
            }
            let hops = hops.saturating_add(1);
            parts.clear();
            parts.extend(
                self.graph
                    .tx_outputs(tx)
                    .map(|output| self.graph.output_value(OutputId::new(output)).to_sat()),
            );
            let paid_in: u64 = inputs.iter().map(|(value, _)| value).sum();
            let paid_out: u64 = parts.iter().sum();
            let fee = paid_in.saturating_sub(paid_out);
            parts.push(fee);
            shares.clear();
            shares.resize(parts.len(), 0);
            let tainted: u64 = inputs.iter().map(|(_, taint)| taint).sum();
            match self.options.policy {
                Policy::Poison => shares.copy_from_slice(&parts),
                Policy::Haircut => policy::haircut(tainted, paid_in, &parts, &mut shares),
                Policy::Fifo => policy::queue(&inputs, false, &parts, &mut shares),
                Policy::Lifo => policy::queue(&inputs, true, &parts, &mut shares),
            }
            self.report.patterns.observe(self.graph, tx, &inputs, &shares);
            let fee_share = shares.pop().unwrap_or(0);
            if fee_share > 0 {
                self.report.fees += fee_share;
                self.edge(FlowNode::Tx(tx), FlowNode::Fees, fee_share, None);
            }
            for (output, &share) in self.graph.tx_outputs(tx).zip(&shares) {
                if share == 0 {
                    continue;
                }
                if self.seeds.contains(&OutputId::new(output)) {
                    // Already fully tainted as a seed.
                    self.report.seed_overlap += share;
                    continue;
                }
                if let Some(next) = self.settle_forward(OutputId::new(output), share, hops, tx)
                    && queued.insert(next)
                {
                    queue.push(Reverse(next));
                }
            }
        }
    }

    /// Decides where a tainted output's amount goes; returns the spending tx to visit, if any.
    fn settle_forward(
        &mut self,
        output: OutputId,
        amount: u64,
        hops: u32,
        creator: TxNum,
    ) -> Option<TxNum> {
        let from = FlowNode::Tx(creator);
        if amount < self.options.min_amount {
            self.report.below_min_amount += amount;
            self.edge(from, FlowNode::Cut, amount, Some(output));
            self.settled.insert(output, (amount, Destination::Cut));
            return None;
        }
        let address = self.graph.output_address(output);
        let label = address.and_then(|address| self.stops.stop(address)).cloned().or_else(|| {
            self.options.deposit_forwarding.then(|| self.forwarded_to(output)).flatten()
        });
        if let Some(label) = label {
            self.add_reached(&label, amount, hops, creator, output);
            self.edge(from, FlowNode::Stop(label.clone()), amount, Some(output));
            self.settled.insert(output, (amount, Destination::Stop(label)));
            return None;
        }
        let Some(input) = self.graph.output_spender(output) else {
            self.report.unspent += amount;
            self.report.unspent_outputs += 1;
            self.edge(from, FlowNode::Unspent(address), amount, Some(output));
            self.settled.insert(output, (amount, Destination::Unspent));
            return None;
        };
        if hops >= self.options.max_hops {
            self.report.beyond_limits += amount;
            self.edge(from, FlowNode::Cut, amount, Some(output));
            self.settled.insert(output, (amount, Destination::Cut));
            return None;
        }
        let spender = self.graph.input_tx(input);
        self.pending.insert(output, (amount, hops));
        self.settled.insert(output, (amount, Destination::Followed(spender)));
        Some(spender)
    }

    /// The stop label an output is swept into: its spender pays only addresses of that label.
    fn forwarded_to(&self, output: OutputId) -> Option<StopLabel> {
        let spender = self.graph.input_tx(self.graph.output_spender(output)?);
        let mut label: Option<&StopLabel> = None;
        for next in self.graph.tx_outputs(spender) {
            let Some(address) = self.graph.output_address(OutputId::new(next)) else { continue };
            let stop = self.stops.stop(address)?;
            if label.is_some_and(|label| label != stop) {
                return None;
            }
            label = Some(stop);
        }
        label.cloned()
    }

    fn backward(&mut self, seeds: &[OutputId]) {
        let mut queue: BinaryHeap<TxNum> = BinaryHeap::new();
        let mut queued: BTreeSet<TxNum> = BTreeSet::new();
        for &seed in seeds {
            let amount = self.graph.output_value(seed).to_sat();
            // A seed is where the trace starts, even at a stop: its own label is not a source.
            let creator = self.graph.output_tx(seed);
            self.pending.insert(seed, (amount, 0));
            if queued.insert(creator) {
                queue.push(creator);
            }
        }
        let started = Instant::now();
        let mut parts = Vec::new();
        let mut shares = Vec::new();
        while let Some(tx) = queue.pop() {
            if let Some(reason) = self.over_limits(started) {
                self.report.truncated = Some(reason);
                let waiting: u64 = self.pending.values().map(|(amount, _)| amount).sum();
                self.report.beyond_limits += waiting;
                self.pending.clear();
                break;
            }
            self.report.txs_visited += 1;
            // Attributed amounts of this tx's outputs, in output order.
            let mut wanted: Vec<(u64, u64)> = Vec::new();
            let mut hops = u32::MAX;
            for output in self.graph.tx_outputs(tx) {
                let id = OutputId::new(output);
                let value = self.graph.output_value(id).to_sat();
                let amount = match self.pending.remove(&id) {
                    Some((amount, at)) => {
                        hops = hops.min(at);
                        amount
                    }
                    None => 0,
                };
                wanted.push((value, amount));
            }
            let hops = hops.saturating_add(1);
            let attributed: u64 = wanted.iter().map(|(_, amount)| amount).sum();
            let inputs = self.graph.tx_inputs(tx);
            if inputs.is_empty() {
                self.report.mined += attributed;
                self.edge(FlowNode::Mined, FlowNode::Tx(tx), attributed, None);
                continue;
            }
            parts.clear();
            parts.extend(inputs.clone().map(|input| {
                self.graph.output_value(self.graph.spent_output(InputId::new(input))).to_sat()
            }));
            shares.clear();
            shares.resize(parts.len(), 0);
            let paid_in: u64 = parts.iter().sum();
            match self.options.policy {
                Policy::Poison => shares.copy_from_slice(&parts),
                Policy::Haircut => policy::haircut(attributed, paid_in, &parts, &mut shares),
                Policy::Fifo => attribute_queue(&parts, &wanted, false, &mut shares),
                Policy::Lifo => attribute_queue(&parts, &wanted, true, &mut shares),
            }
            for (input, &share) in inputs.zip(&shares) {
                if share == 0 {
                    continue;
                }
                let spent = self.graph.spent_output(InputId::new(input));
                let creator = self.graph.output_tx(spent);
                let from = FlowNode::Tx(creator);
                if self.seeds.contains(&spent) {
                    // Its whole value is traced as a seed already.
                    self.report.seed_overlap += share;
                    continue;
                }
                if share < self.options.min_amount {
                    self.report.below_min_amount += share;
                    self.edge(FlowNode::Cut, FlowNode::Tx(tx), share, Some(spent));
                    continue;
                }
                let address = self.graph.output_address(spent);
                if let Some(label) = address.and_then(|address| self.stops.stop(address)).cloned() {
                    self.add_reached(&label, share, hops, tx, spent);
                    self.edge(FlowNode::Stop(label), FlowNode::Tx(tx), share, Some(spent));
                    continue;
                }
                if hops >= self.options.max_hops {
                    self.report.beyond_limits += share;
                    self.edge(FlowNode::Cut, FlowNode::Tx(tx), share, Some(spent));
                    continue;
                }
                self.edge(from, FlowNode::Tx(tx), share, Some(spent));
                let entry = self.pending.entry(spent).or_insert((0, hops));
                entry.0 += share;
                entry.1 = entry.1.min(hops);
                if queued.insert(creator) {
                    queue.push(creator);
                }
            }
        }
    }

    fn over_limits(&self, started: Instant) -> Option<Truncation> {
        if self.report.txs_visited >= self.options.max_txs as u64 {
            return Some(Truncation::Transactions);
        }
        let check_time = self.report.txs_visited.is_multiple_of(256);
        match self.options.max_duration {
            Some(limit) if check_time && started.elapsed() > limit => Some(Truncation::Time),
            _ => None,
        }
    }

    fn add_reached(
        &mut self,
        label: &StopLabel,
        amount: u64,
        hops: u32,
        tx: TxNum,
        output: OutputId,
    ) {
        let entry = self.reached.entry(label.clone()).or_insert_with(|| ReachedAccumulator {
            hops: u32::MAX,
            ..ReachedAccumulator::default()
        });
        entry.amount += amount;
        entry.hops = entry.hops.min(hops);
        entry.txs.insert(tx);
        entry.outputs.insert(output);
    }

    fn edge(&mut self, from: FlowNode, to: FlowNode, amount: u64, output: Option<OutputId>) {
        self.report.edges.push(FlowEdge { from, to, amount, output });
    }

    fn finish(mut self) -> TraceReport {
        let mut reached: Vec<Reached> = std::mem::take(&mut self.reached)
            .into_iter()
            .map(|(label, accumulated)| Reached {
                label,
                amount: accumulated.amount,
                hops: accumulated.hops,
                txs: accumulated.txs.into_iter().collect(),
                outputs: accumulated.outputs.into_iter().collect(),
            })
            .collect();
        reached.sort_by(|a, b| b.amount.cmp(&a.amount).then_with(|| a.label.cmp(&b.label)));
        self.report.reached = reached;
        self.report.edges.sort();
        if self.options.direction == Direction::Forward {
            self.report.patterns.find_peel_chains(self.graph, &self.settled);
        }
        self.report.patterns.sort();
        self.report
    }
}

/// Backward FIFO/LIFO: the inputs form a queue of value; each output takes its range of the queue
/// in output order, and its attributed amount is the first part of that range. Returns per input
/// the attributed satoshis it funded.
fn attribute_queue(inputs: &[u64], outputs: &[(u64, u64)], reverse: bool, shares: &mut [u64]) {
    // Ranges of the concatenated input values, in queue order.
    let order: Vec<usize> =
        if reverse { (0..inputs.len()).rev().collect() } else { (0..inputs.len()).collect() };
    let mut input_start = Vec::with_capacity(inputs.len());
    let mut position = 0u64;
    for &index in &order {
        input_start.push((index, position, position + inputs[index]));
        position += inputs[index];
    }
    let mut output_start = 0u64;
    for &(value, amount) in outputs {
        let (start, end) = (output_start, output_start + amount.min(value));
        output_start += value;
        if start == end {
            continue;
        }
        for &(index, from, to) in &input_start {
            let overlap = end.min(to).saturating_sub(start.max(from));
            shares[index] += overlap;
        }
    }
}
