//! Risk screening of cointrail: how much of the funds an address received, or a transfer carries,
//! comes from risky labels (sanctions, theft, mixers, ransomware, scams, ...), directly or within
//! `k` hops, and the score and level that a rule file gives it (`docs/risk.md`).
//!
//! Sans-IO: it sees the chain through [`cointrail_types::ChainGraph`] and risky labels through
//! [`cointrail_taint::Stops`] (labels whose category is a risk category, own or through the
//! cluster). The indirect exposure is a backward haircut trace ([`cointrail_taint::trace`]) that
//! stops at risky labels; the flow graph gives each exposure its hops and paths.
//!
//! Start with [`screen`].

mod account;
mod rules;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

pub use account::{
    AccountAssessment, AccountExposure, AccountPath, AccountTargetLabel, screen_account,
};
pub use rules::{CategoryRule, DEFAULT_RULES, Level, Levels, Rules, RulesError};

use cointrail_taint::{
    Direction, FlowNode, Policy, StopLabel, Stops, TraceOptions, Truncation, trace,
};
use cointrail_types::{ChainGraph, OutputId, TxNum};

/// Paths kept per exposure (the largest amounts first).
pub const PATHS_PER_EXPOSURE: usize = 5;

/// Limits of one screening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskOptions {
    /// Look for indirect exposure up to this many transactions back (`k`).
    pub max_hops: u32,
    /// Visit at most this many transactions.
    pub max_txs: usize,
    /// Stop after this much wall time.
    pub max_duration: Option<Duration>,
}

impl Default for RiskOptions {
    /// 5 hops, 50,000 transactions, 2 seconds.
    fn default() -> Self {
        Self { max_hops: 5, max_txs: 50_000, max_duration: Some(Duration::from_secs(2)) }
    }
}

/// A risky label the screened target carries itself (or through its cluster), with the screened
/// value it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetLabel {
    /// The label.
    pub label: StopLabel,
    /// Screened satoshis at addresses carrying it.
    pub amount: u64,
}

/// One way value reached the screened funds from a risky label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposurePath {
    /// Satoshis attributed along this path's last step.
    pub amount: u64,
    /// Transactions from the screened one back to the one that spent the labeled output (empty
    /// when the target itself is labeled).
    pub txs: Vec<TxNum>,
    /// The labeled output the value came from (for a labeled target: none).
    pub source: Option<OutputId>,
}

/// Exposure to one label, direct or indirect.
#[derive(Debug, Clone, PartialEq)]
pub struct Exposure {
    /// The label (name and category).
    pub label: StopLabel,
    /// Satoshis of the screened funds attributed to it.
    pub amount: u64,
    /// `amount` / screened amount (1 for a labeled target with nothing received).
    pub share: f64,
    /// The target itself is labeled (hops 0) or the value came in one hop.
    pub direct: bool,
    /// Fewest transactions between the screened funds and the label (0: the target itself).
    pub hops: u32,
    /// Score of this exposure under the rules.
    pub score: f64,
    /// The largest paths, at most [`PATHS_PER_EXPOSURE`].
    pub paths: Vec<ExposurePath>,
    /// Number of labeled outputs the value came from.
    pub sources: usize,
}

/// The result of a screening.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// Sum of the screened outputs.
    pub screened_amount: u64,
    /// 0-10: the score of the worst exposure, or 10 for a target labeled with a category of
    /// [`Rules::labeled_target_severe`].
    pub score: f64,
    /// The level of the score.
    pub level: Level,
    /// Exposures, highest score first, then largest amount.
    pub exposures: Vec<Exposure>,
    /// Set when the transaction or time limit cut the trace short (figures are then a lower
    /// bound).
    pub truncated: Option<Truncation>,
    /// Transactions visited by the trace.
    pub txs_visited: u64,
    /// Screened value whose origin was not followed: beyond `max_hops` or the other limits.
    pub beyond_limits: u64,
    /// The categories that made the target severe by itself, if any.
    pub severe_by_label: Vec<String>,
}

#[derive(Default)]
struct Accumulator {
    amount: u64,
    hops: u32,
    edges: Vec<(u64, TxNum, OutputId)>,
}

/// Screens `seeds` (the outputs an address received, a transaction's outputs, or one output):
/// exposure to the risky labels of `stops` within `options.max_hops`, plus the risky labels the
/// target carries itself (`target_labels`), scored by `rules`.
pub fn screen(
    graph: &impl ChainGraph,
    stops: &impl Stops,
    seeds: &[OutputId],
    target_labels: &[TargetLabel],
    rules: &Rules,
    options: &RiskOptions,
) -> Assessment {
    let mut seeds = seeds.to_vec();
    seeds.sort_unstable();
    seeds.dedup();
    let screened: u64 = seeds.iter().map(|seed| graph.output_value(*seed).to_sat()).sum();
    let share_of = |amount: u64| {
        if screened == 0 {
            if amount == 0 { 1.0 } else { 0.0 }
        } else {
            amount as f64 / screened as f64
        }
    };
    let mut exposures = Vec::new();
    let mut severe_by_label = Vec::new();
    for target in target_labels {
        let share = if screened == 0 { 1.0 } else { share_of(target.amount) };
        if rules.labeled_target_severe.contains(&target.label.category)
            && !severe_by_label.contains(&target.label.category)
        {
            severe_by_label.push(target.label.category.clone());
        }
        exposures.push(Exposure {
            label: target.label.clone(),
            amount: target.amount,
            share,
            direct: true,
            hops: 0,
            score: rules.exposure_score(&target.label.category, share, 0),
            paths: vec![ExposurePath { amount: target.amount, txs: Vec::new(), source: None }],
            sources: 0,
        });
    }
    let mut options_trace = TraceOptions::new(Policy::Haircut, Direction::Backward);
    options_trace.max_hops = options.max_hops.max(1);
    options_trace.max_txs = options.max_txs;
    options_trace.max_duration = options.max_duration;
    let report = trace(graph, stops, &seeds, &options_trace);

    // Hops of every transaction of the flow graph: 1 for the creators of the seeds, one more per
    // step back; `toward` is the next transaction toward the seeds on a shortest path.
    let mut later: HashMap<TxNum, Vec<TxNum>> = HashMap::new();
    let mut arrivals: Vec<(&StopLabel, u64, TxNum, OutputId)> = Vec::new();
    for edge in &report.edges {
        match (&edge.from, &edge.to) {
            (FlowNode::Tx(from), FlowNode::Tx(to)) => later.entry(*to).or_default().push(*from),
            (FlowNode::Stop(label), FlowNode::Tx(to)) => {
                if let Some(output) = edge.output {
                    arrivals.push((label, edge.amount, *to, output));
                }
            }
            _ => {}
        }
    }
    let mut hops: HashMap<TxNum, (u32, Option<TxNum>)> = HashMap::new();
    let mut queue = VecDeque::new();
    for seed in &seeds {
        let creator = graph.output_tx(*seed);
        if hops.insert(creator, (1, None)).is_none() {
            queue.push_back(creator);
        }
    }
    while let Some(tx) = queue.pop_front() {
        let (at, _) = hops[&tx];
        for earlier in later.get(&tx).into_iter().flatten() {
            if !hops.contains_key(earlier) {
                hops.insert(*earlier, (at + 1, Some(tx)));
                queue.push_back(*earlier);
            }
        }
    }
    let path_to = |tx: TxNum| {
        let mut path = vec![tx];
        let mut at = tx;
        while let Some((_, Some(next))) = hops.get(&at) {
            path.push(*next);
            at = *next;
        }
        path.reverse();
        path
    };

    let mut grouped: BTreeMap<(StopLabel, bool), Accumulator> = BTreeMap::new();
    for (label, amount, tx, output) in arrivals {
        let at = hops.get(&tx).map_or(1, |(hops, _)| *hops);
        let entry = grouped
            .entry((label.clone(), at <= 1))
            .or_insert_with(|| Accumulator { hops: u32::MAX, ..Accumulator::default() });
        entry.amount += amount;
        entry.hops = entry.hops.min(at);
        entry.edges.push((amount, tx, output));
    }
    for ((label, direct), mut accumulated) in grouped {
        accumulated.edges.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut distinct = accumulated.edges.iter().map(|edge| edge.2).collect::<Vec<_>>();
        distinct.sort_unstable();
        distinct.dedup();
        let share = share_of(accumulated.amount);
        exposures.push(Exposure {
            score: rules.exposure_score(&label.category, share, accumulated.hops),
            paths: accumulated
                .edges
                .iter()
                .take(PATHS_PER_EXPOSURE)
                .map(|&(amount, tx, output)| ExposurePath {
                    amount,
                    txs: path_to(tx),
                    source: Some(output),
                })
                .collect(),
            sources: distinct.len(),
            label,
            amount: accumulated.amount,
            share,
            direct,
            hops: accumulated.hops,
        });
    }
    exposures.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.amount.cmp(&a.amount))
            .then(a.hops.cmp(&b.hops))
            .then(a.label.cmp(&b.label))
    });
    let worst = exposures.iter().map(|exposure| exposure.score).fold(0.0, f64::max);
    let score = if severe_by_label.is_empty() { worst } else { 10.0 };
    Assessment {
        screened_amount: screened,
        score,
        level: rules.level(score),
        exposures,
        truncated: report.truncated,
        txs_visited: report.txs_visited,
        beyond_limits: report.beyond_limits,
        severe_by_label,
    }
}
