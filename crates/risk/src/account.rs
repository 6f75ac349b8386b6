//! Screening on account-model chains (EVM): where the value of an incoming transfer came from,
//! back through the senders' balances, under the haircut rule.
//!
//! Semantics (documented in `docs/risk.md`, "EVM transfers"):
//!
//! - A screened flow of amount `x` from sender `S` carries the make-up of `S`'s balance just before
//!   it. Under haircut, an outgoing flow takes the same share of every part of a balance, so the
//!   make-up is each earlier incoming flow of the asset in proportion to what is left of it: its
//!   amount scaled down by every outgoing flow after it (`1 − sent / balance`).
//! - The part of `x` above `S`'s known balance (value held before the stored history) and value
//!   issued by `mint` (withdrawals, rewards) have no stored origin: **unattributed**.
//! - Walking back stops at a sender with a risky label (an exposure at that many hops: 1 when the
//!   screened transfer's own sender carries it), at `max_hops` (**beyond limits**), or when the
//!   flow or time budget runs out (the rest is beyond limits and the result says truncated). The
//!   walk goes nearer hops first, and a labeled sender counts even after a budget ran out.
//! - Amounts are integers: each step splits its amount over the incoming flows by their shares
//!   (computed in `f64`), rounding down, and gives the remainder to the largest part, so the
//!   figures add up exactly: exposures (not counting the target's own labels) + unattributed +
//!   beyond limits = screened amount.
//!
//! Sans-IO: the chain is seen only through [`AccountFlows`], labels through a closure.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use cointrail_taint::{AccountFlows, Flow, StopLabel, Truncation};
use cointrail_types::EvmAddress;

use crate::{Level, PATHS_PER_EXPOSURE, RiskOptions, Rules};

/// A risky label the screened address (or the recipient of the screened transfer) carries itself,
/// with the screened value it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTargetLabel {
    /// The label.
    pub label: StopLabel,
    /// Screened base units at addresses carrying it.
    pub amount: u128,
}

/// One way value reached the screened flows from a risky label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountPath {
    /// Base units attributed along this path.
    pub amount: u128,
    /// Flow ids from the screened flow back to the flow that left the labeled address (empty when
    /// the target itself is labeled).
    pub flows: Vec<u64>,
    /// The labeled sender (none when the target itself is labeled).
    pub labeled: Option<EvmAddress>,
}

/// Exposure to one label.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountExposure {
    /// The label.
    pub label: StopLabel,
    /// Base units of the screened value attributed to it.
    pub amount: u128,
    /// `amount` / screened amount (1 for a labeled target with nothing screened).
    pub share: f64,
    /// The target itself is labeled (hops 0) or the value came in one hop.
    pub direct: bool,
    /// Fewest flows between the screened value and the label (0: the target itself).
    pub hops: u32,
    /// Score under the rules.
    pub score: f64,
    /// The largest paths, at most [`PATHS_PER_EXPOSURE`].
    pub paths: Vec<AccountPath>,
    /// Distinct flows out of labeled addresses the value came from.
    pub sources: usize,
}

/// The result of [`screen_account`].
#[derive(Debug, Clone, PartialEq)]
pub struct AccountAssessment {
    /// Sum of the screened flows.
    pub screened_amount: u128,
    /// 0-10.
    pub score: f64,
    /// The level of the score.
    pub level: Level,
    /// Exposures, highest score first, then largest amount.
    pub exposures: Vec<AccountExposure>,
    /// Screened value with no stored origin: balances held before the stored history, `mint`.
    pub unattributed: u128,
    /// Screened value not followed to its origin: beyond `max_hops` or the budget.
    pub beyond_limits: u128,
    /// Set when the flow or time budget cut the walk short (exposures are then a lower bound).
    pub truncated: Option<Truncation>,
    /// Flows read.
    pub flows_visited: u64,
    /// The categories that made the target severe by itself, if any.
    pub severe_by_label: Vec<String>,
}

impl AccountAssessment {
    /// Returns exposures through flows + unattributed + beyond limits (saturating): the screened
    /// amount when the figures add up.
    pub fn accounted(&self) -> u128 {
        self.exposures
            .iter()
            .filter(|exposure| exposure.hops > 0)
            .map(|exposure| exposure.amount)
            .chain([self.unattributed, self.beyond_limits])
            .fold(0u128, u128::saturating_add)
    }
}

/// Value of one flow still to explain.
struct Pending {
    flow: Flow,
    amount: u128,
    hops: u32,
    /// Flow ids from the screened flow to this one.
    path: Vec<u64>,
}

#[derive(Default)]
struct Accumulator {
    amount: u128,
    hops: u32,
    arrivals: Vec<(u128, Vec<u64>, EvmAddress)>,
}

/// Screens `seeds` (the incoming flows of one asset an address received, or the flows of a
/// transfer): exposure to the risky labels `stops` returns within `options.max_hops` flows back
/// (`options.max_txs` bounds the flows read), plus the risky labels the target carries itself.
pub fn screen_account(
    flows: &impl AccountFlows,
    stops: &impl Fn(&EvmAddress) -> Option<StopLabel>,
    seeds: &[Flow],
    target_labels: &[AccountTargetLabel],
    rules: &Rules,
    options: &RiskOptions,
) -> AccountAssessment {
    let started = Instant::now();
    let screened = seeds.iter().fold(0u128, |sum, flow| sum.saturating_add(flow.amount));
    let share_of = |amount: u128| {
        if screened == 0 {
            if amount == 0 { 1.0 } else { 0.0 }
        } else {
            amount as f64 / screened as f64
        }
    };
    let max_hops = options.max_hops.max(1);
    let mut exposures = Vec::new();
    let mut severe_by_label = Vec::new();
    for target in target_labels {
        if rules.labeled_target_severe.contains(&target.label.category)
            && !severe_by_label.contains(&target.label.category)
        {
            severe_by_label.push(target.label.category.clone());
        }
        let share = if screened == 0 { 1.0 } else { share_of(target.amount) };
        exposures.push(AccountExposure {
            label: target.label.clone(),
            amount: target.amount,
            share,
            direct: true,
            hops: 0,
            score: rules.exposure_score(&target.label.category, share, 0),
            paths: vec![AccountPath { amount: target.amount, flows: Vec::new(), labeled: None }],
            sources: 0,
        });
    }

    // Pending value per (hops, flow): nearer hops first, so that a budget running out never hides
    // a closer exposure; within a hop the latest flow first, so that value reaching a flow by
    // several ways at that hop is merged before it is split further.
    let mut pending: BTreeMap<(u32, Reverse<u64>), Pending> = BTreeMap::new();
    let add = |pending: &mut BTreeMap<(u32, Reverse<u64>), Pending>, item: Pending| {
        if item.amount == 0 {
            return;
        }
        match pending.get_mut(&(item.hops, Reverse(item.flow.id))) {
            Some(existing) => existing.amount = existing.amount.saturating_add(item.amount),
            None => {
                pending.insert((item.hops, Reverse(item.flow.id)), item);
            }
        }
    };
    for seed in seeds {
        let path = vec![seed.id];
        add(&mut pending, Pending { flow: seed.clone(), amount: seed.amount, hops: 1, path });
    }

    let mut cache: HashMap<EvmAddress, Vec<Flow>> = HashMap::new();
    let mut grouped: BTreeMap<(StopLabel, bool), Accumulator> = BTreeMap::new();
    let (mut unattributed, mut beyond, mut visited) = (0u128, 0u128, 0u64);
    let mut truncated = None;
    // One hop at a time; within it, each sender's history is read once and swept forward, its
    // balance's make-up taken at each of its flows to explain.
    while let Some(&(hops, _)) = pending.keys().next() {
        let rest = pending.split_off(&(hops + 1, Reverse(u64::MAX)));
        let level = std::mem::replace(&mut pending, rest);
        let mut by_sender: BTreeMap<(EvmAddress, u32), Vec<Pending>> = BTreeMap::new();
        for item in level.into_values() {
            let Some(sender) = item.flow.from else {
                unattributed = unattributed.saturating_add(item.amount);
                continue;
            };
            // A labeled sender costs no read: it counts even after a budget ran out.
            if let Some(label) = stops(&sender) {
                let entry = grouped
                    .entry((label, item.hops <= 1))
                    .or_insert_with(|| Accumulator { hops: u32::MAX, ..Accumulator::default() });
                entry.amount = entry.amount.saturating_add(item.amount);
                entry.hops = entry.hops.min(item.hops);
                entry.arrivals.push((item.amount, item.path, sender));
                continue;
            }
            if truncated.is_some() || item.hops >= max_hops {
                beyond = beyond.saturating_add(item.amount);
                continue;
            }
            by_sender.entry((sender, item.flow.asset)).or_default().push(item);
        }
        for ((sender, asset), mut items) in by_sender {
            if truncated.is_none()
                && options.max_duration.is_some_and(|limit| started.elapsed() >= limit)
            {
                truncated = Some(Truncation::Time);
            }
            items.sort_by_key(|item| item.flow.id);
            let history = cache.entry(sender).or_insert_with(|| flows.flows_of(&sender));
            let last = items.last().map_or(0, |item| item.flow.id);
            let needed = history.partition_point(|flow| flow.id < last);
            visited += needed as u64 + items.len() as u64;
            if truncated.is_some() || visited > options.max_txs as u64 {
                truncated.get_or_insert(Truncation::Transactions);
                let amount = items.iter().fold(0u128, |sum, item| sum.saturating_add(item.amount));
                beyond = beyond.saturating_add(amount);
                continue;
            }
            let mut balance = MakeUp::default();
            let mut cursor = 0;
            for item in items {
                while cursor < history.len() && history[cursor].id < item.flow.id {
                    balance.apply(cursor, &history[cursor], &sender, asset);
                    cursor += 1;
                }
                // The part of the flow above the known balance came from before the history.
                let known = balance.balance;
                let explained = if item.flow.amount == 0 || known >= item.flow.amount {
                    item.amount
                } else {
                    mul_div_f64(item.amount, known, item.flow.amount)
                };
                unattributed = unattributed.saturating_add(item.amount - explained);
                let mut left = explained;
                for (index, amount) in split(explained, &balance.parts) {
                    let flow = history[index].clone();
                    left -= amount;
                    let mut path = item.path.clone();
                    path.push(flow.id);
                    add(&mut pending, Pending { flow, amount, hops: hops + 1, path });
                }
                // No part to give it to (an empty balance): nothing stored explains it.
                unattributed = unattributed.saturating_add(left);
            }
        }
    }

    for ((label, direct), mut accumulated) in grouped {
        accumulated.arrivals.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let mut sources: Vec<u64> =
            accumulated.arrivals.iter().filter_map(|(_, path, _)| path.last().copied()).collect();
        sources.sort_unstable();
        sources.dedup();
        let share = share_of(accumulated.amount);
        exposures.push(AccountExposure {
            score: rules.exposure_score(&label.category, share, accumulated.hops),
            paths: accumulated
                .arrivals
                .iter()
                .take(PATHS_PER_EXPOSURE)
                .map(|(amount, path, sender)| AccountPath {
                    amount: *amount,
                    flows: path.clone(),
                    labeled: Some(*sender),
                })
                .collect(),
            sources: sources.len(),
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
    AccountAssessment {
        screened_amount: screened,
        score,
        level: rules.level(score),
        exposures,
        unattributed,
        beyond_limits: beyond,
        truncated,
        flows_visited: visited,
        severe_by_label,
    }
}

/// The make-up of an address's balance of one asset, built by [`MakeUp::apply`] over its flows in
/// chain order: `(index in its history, weight)` of every incoming flow still in it, and the
/// balance. Weights are kept divided by a common scale, so an outgoing flow is one
/// multiplication (only the weights' ratios matter).
struct MakeUp {
    parts: Vec<(usize, f64)>,
    scale: f64,
    balance: u128,
}

impl Default for MakeUp {
    fn default() -> Self {
        Self { parts: Vec::new(), scale: 1.0, balance: 0 }
    }
}

impl MakeUp {
    /// Applies `flow` (number `index` of `address`'s history) for `asset`.
    fn apply(&mut self, index: usize, flow: &Flow, address: &EvmAddress, asset: u32) {
        if flow.asset != asset || flow.amount == 0 {
            return;
        }
        let incoming = flow.to.as_ref() == Some(address);
        let outgoing = flow.from.as_ref() == Some(address);
        if incoming == outgoing {
            // A self-transfer changes nothing.
            return;
        }
        if incoming {
            self.balance = self.balance.saturating_add(flow.amount);
            self.parts.push((index, flow.amount as f64 / self.scale));
        } else if flow.amount >= self.balance {
            self.parts.clear();
            self.scale = 1.0;
            self.balance = 0;
        } else {
            self.scale *= 1.0 - flow.amount as f64 / self.balance as f64;
            self.balance -= flow.amount;
            if self.scale < 1e-200 {
                for part in &mut self.parts {
                    part.1 *= self.scale;
                }
                self.parts.retain(|part| part.1 > 0.0);
                self.scale = 1.0;
            }
        }
    }
}

/// Splits `amount` by `parts`' weights: each rounded down, the remainder to the largest weight
/// (the earliest of equal ones). Parts that get nothing are left out.
fn split(amount: u128, parts: &[(usize, f64)]) -> Vec<(usize, u128)> {
    let total: f64 = parts.iter().map(|part| part.1).sum();
    if parts.is_empty() || total <= 0.0 || amount == 0 {
        return Vec::new();
    }
    let mut out: Vec<(usize, u128)> = parts
        .iter()
        .map(|&(index, weight)| {
            let share = (amount as f64 * (weight / total)).floor();
            (index, float_to_amount(share, amount))
        })
        .collect();
    let mut given = out.iter().fold(0u128, |sum, part| sum.saturating_add(part.1));
    if given > amount {
        // Float rounding up: take the excess back from the largest parts.
        let mut order: Vec<usize> = (0..out.len()).collect();
        order.sort_by(|a, b| out[*b].1.cmp(&out[*a].1));
        for at in order {
            let take = (given - amount).min(out[at].1);
            out[at].1 -= take;
            given -= take;
            if given == amount {
                break;
            }
        }
    }
    let largest = parts
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.1.total_cmp(&b.1.1).then(b.0.cmp(&a.0)))
        .map_or(0, |(at, _)| at);
    out[largest].1 += amount - given;
    out.retain(|part| part.1 > 0);
    out
}

/// `amount × part / whole` for `part < whole`, rounded down and never above `amount`.
fn mul_div_f64(amount: u128, part: u128, whole: u128) -> u128 {
    float_to_amount((amount as f64 * (part as f64 / whole as f64)).floor(), amount)
}

/// A non-negative whole `value` as an integer, at most `cap` (`as` saturates; NaN gives 0).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "saturating by design")]
fn float_to_amount(value: f64, cap: u128) -> u128 {
    if value <= 0.0 { 0 } else { (value as u128).min(cap) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(byte: u8) -> EvmAddress {
        EvmAddress([byte; 20])
    }

    fn flow(id: u64, from: Option<u8>, to: u8, amount: u128) -> Flow {
        Flow {
            id,
            tx: None,
            from: from.map(address),
            to: Some(address(to)),
            asset: 0,
            amount,
            fee: false,
        }
    }

    fn label(name: &str, category: &str) -> StopLabel {
        StopLabel { name: name.to_owned(), category: category.to_owned() }
    }

    fn rules() -> Rules {
        Rules::default_rules().expect("default rules parse")
    }

    /// Mixer (0x11) and a clean exchange (0x22) pay 0x33, which spends some and pays 0x44.
    fn chain() -> Vec<Flow> {
        vec![
            flow(0, None, 0x11, 1_000),
            flow(1, None, 0x22, 1_000),
            flow(2, Some(0x11), 0x33, 300),
            flow(3, Some(0x22), 0x33, 100),
            flow(4, Some(0x33), 0x55, 200),
            flow(5, Some(0x22), 0x33, 200),
            flow(6, Some(0x33), 0x44, 400),
        ]
    }

    fn stops(address: &EvmAddress) -> Option<StopLabel> {
        (address.0[0] == 0x11).then(|| label("Mixer", "mixer"))
    }

    #[test]
    fn haircut_make_up_of_the_sender_balance() {
        let chain = chain();
        let seed = chain[6].clone();
        let options = RiskOptions::default();
        let assessment = screen_account(&chain, &stops, &[seed], &[], &rules(), &options);
        // 0x33 held 300 mixer + 100 clean, sent half (200): 150 + 50 left; then 200 clean came:
        // 150 mixer of 400, so the 400 sent carries 150 mixer.
        assert_eq!(assessment.screened_amount, 400);
        assert_eq!(assessment.exposures.len(), 1);
        let exposure = &assessment.exposures[0];
        assert_eq!(exposure.amount, 150);
        assert_eq!(exposure.hops, 2);
        assert!(!exposure.direct);
        assert_eq!(exposure.paths[0].flows, vec![6, 2]);
        assert_eq!(exposure.paths[0].labeled, Some(address(0x11)));
        // The clean part traced back to 0x22's mint.
        assert_eq!(assessment.unattributed, 250);
        assert_eq!(assessment.beyond_limits, 0);
        assert_eq!(assessment.accounted(), 400);
        assert!((exposure.share - 0.375).abs() < 1e-12);
    }

    #[test]
    fn direct_exposure_and_hop_limit() {
        let chain = chain();
        let options = RiskOptions { max_hops: 1, ..RiskOptions::default() };
        let direct = screen_account(&chain, &stops, &[chain[2].clone()], &[], &rules(), &options);
        assert_eq!(direct.exposures[0].amount, 300);
        assert!(direct.exposures[0].direct);
        assert_eq!(direct.exposures[0].hops, 1);
        let limited = screen_account(&chain, &stops, &[chain[6].clone()], &[], &rules(), &options);
        assert!(limited.exposures.is_empty());
        assert_eq!(limited.beyond_limits, 400);
        assert_eq!(limited.accounted(), 400);
    }

    #[test]
    fn value_above_the_known_balance_is_unattributed() {
        // 0x33 received 100 from the mixer but sends 400: 300 came before the stored history.
        let chain = vec![flow(0, Some(0x11), 0x33, 100), flow(1, Some(0x33), 0x44, 400)];
        let assessment = screen_account(
            &chain,
            &stops,
            &[chain[1].clone()],
            &[],
            &rules(),
            &RiskOptions::default(),
        );
        assert_eq!(assessment.exposures[0].amount, 100);
        assert_eq!(assessment.unattributed, 300);
        assert_eq!(assessment.accounted(), 400);
    }

    #[test]
    fn labeled_target_is_severe_and_budget_truncates() {
        let chain = chain();
        let own = [AccountTargetLabel { label: label("SDN", "sanctions"), amount: 400 }];
        let options = RiskOptions { max_txs: 2, ..RiskOptions::default() };
        let assessment =
            screen_account(&chain, &stops, &[chain[6].clone()], &own, &rules(), &options);
        assert_eq!(assessment.score, 10.0);
        assert_eq!(assessment.severe_by_label, vec!["sanctions".to_owned()]);
        assert_eq!(assessment.truncated, Some(Truncation::Transactions));
        assert_eq!(assessment.accounted(), 400);
    }

    #[test]
    fn a_spent_budget_never_hides_a_labeled_sender() {
        // S received 100 each from U1, U2 and the mixer (0x11), then paid 300: the budget covers
        // S's history only, so U1 and U2 are not followed, but the mixer's 100 is still found.
        let chain = vec![
            flow(0, None, 0xa1, 1_000),
            flow(1, None, 0xa2, 1_000),
            flow(2, None, 0x11, 1_000),
            flow(3, Some(0x11), 0x33, 100),
            flow(4, Some(0xa1), 0x33, 100),
            flow(5, Some(0xa2), 0x33, 100),
            flow(6, Some(0x33), 0x44, 300),
        ];
        let options = RiskOptions { max_txs: 4, ..RiskOptions::default() };
        let assessment =
            screen_account(&chain, &stops, &[chain[6].clone()], &[], &rules(), &options);
        assert_eq!(assessment.truncated, Some(Truncation::Transactions));
        assert_eq!(assessment.exposures.len(), 1, "{assessment:?}");
        assert_eq!(assessment.exposures[0].amount, 100);
        assert_eq!(assessment.exposures[0].hops, 2);
        assert_eq!(assessment.beyond_limits, 200);
        assert_eq!(assessment.accounted(), 300);
    }

    #[test]
    fn split_conserves_and_rounds_down() {
        let parts = [(0, 1.0), (1, 1.0), (2, 1.0)];
        assert_eq!(split(10, &parts), vec![(0, 4), (1, 3), (2, 3)]);
        let huge = u128::MAX / 3;
        let total: u128 = split(huge, &[(0, 0.3), (1, 0.7)]).iter().map(|part| part.1).sum();
        assert_eq!(total, huge);
    }

    #[test]
    fn conservation_on_a_random_chain() {
        // A deterministic pseudo-random chain of 40 addresses: every figure adds up.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut chain = Vec::new();
        for id in 0..2_000u64 {
            let from = (next() % 41) as u8;
            let to = (next() % 40) as u8 + 1;
            let from = (from != 0).then_some(from);
            chain.push(flow(id, from, to, u128::from(next() % 1_000_000)));
        }
        let stops =
            |address: &EvmAddress| address.0[0].is_multiple_of(7).then(|| label("Thief", "theft"));
        for seed in chain.iter().rev().take(50) {
            let assessment = screen_account(
                &chain,
                &stops,
                std::slice::from_ref(seed),
                &[],
                &rules(),
                &RiskOptions { max_hops: 6, ..RiskOptions::default() },
            );
            assert_eq!(assessment.accounted(), seed.amount, "seed flow {}", seed.id);
        }
    }
}
