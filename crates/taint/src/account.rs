//! Taint tracing on account-model chains (EVM): every address is a pool of value, and tainted value
//! moves between pools with the chain's value flows, in chain order.
//!
//! Sans-IO: the chain is seen only through [`AccountFlows`]. Semantics (documented in
//! `docs/heuristics.md`, "Account model (EVM)"):
//!
//! - Each address is a pool whose balance starts at zero at its first stored flow. Flows of other
//!   assets are ignored.
//! - **Haircut**: an outgoing flow of amount `a` from a pool of balance `b` holding `t` tainted
//!   units carries `floor(t × a / b)` tainted units (the remainder stays in the pool); a flow larger
//!   than the known balance takes the whole pool.
//! - **FIFO**: the pool is a queue of `(amount, tainted)` segments in arrival order (the balance
//!   before the taint arrived is one clean segment); outgoing flows take from the front.
//! - Tainted value sent by a `fee` flow, to `burn` (no recipient) or by a flow marked as a fee is
//!   counted as fees. Value reaching an address with a stop label is counted there and not followed.
//!   Beyond the hop or flow limits it is cut. What stays in a pool at the end is unspent.
//! - The seed is an address and a first flow id: every incoming flow of the asset to the address
//!   from that flow on is fully tainted, and so is any value it spends from then on beyond its
//!   known balance (an opening balance held before the stored history); their sum is the seed
//!   amount. Tainted value flowing back
//!   into the seed address is already counted there: it is seed overlap.
//!
//! Amounts are `u128` (base units): amounts above `u128::MAX` must be clamped by the caller, and
//! balances saturate at `u128::MAX`. All arithmetic is integer and conserves exactly: reached +
//! unspent + fees + cut + seed overlap = seed amount.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};

use cointrail_types::{B256, EvmAddress};

use crate::{Policy, StopLabel, Truncation};

/// One value flow of an account-model chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// Flow id: flows are numbered in chain order (block, transaction index, position).
    pub id: u64,
    /// Transaction hash (`None` for withdrawals and rewards).
    pub tx: Option<B256>,
    /// Sender (`None`: newly issued, `mint`).
    pub from: Option<EvmAddress>,
    /// Recipient (`None`: destroyed, `burn`).
    pub to: Option<EvmAddress>,
    /// Asset id (0: the native currency).
    pub asset: u32,
    /// Amount in base units.
    pub amount: u128,
    /// Gas paid to the fee recipient or burned: value leaving this way is counted as fees.
    pub fee: bool,
}

/// Read access to an account-model chain.
pub trait AccountFlows {
    /// Returns the flows of `address`, in and out, in chain order (ascending id).
    fn flows_of(&self, address: &EvmAddress) -> Vec<Flow>;
}

impl AccountFlows for Vec<Flow> {
    fn flows_of(&self, address: &EvmAddress) -> Vec<Flow> {
        let mut flows: Self = self
            .iter()
            .filter(|flow| flow.from.as_ref() == Some(address) || flow.to.as_ref() == Some(address))
            .cloned()
            .collect();
        flows.sort_by_key(|flow| flow.id);
        flows
    }
}

/// Limits of an account trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLimits {
    /// Follow tainted value through at most this many flows from the seed.
    pub max_hops: u32,
    /// Process at most this many flows in all.
    pub max_flows: usize,
}

impl Default for AccountLimits {
    fn default() -> Self {
        Self { max_hops: 100, max_flows: 1_000_000 }
    }
}

/// A node of the account flow graph.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountNode {
    /// An address's pool.
    Address(EvmAddress),
    /// A stop label.
    Stop(StopLabel),
    /// Tainted value left in an address's pool.
    Unspent(EvmAddress),
    /// Gas fees and burns.
    Fees,
    /// Value not followed (limits).
    Cut,
}

/// An edge of the account flow graph: the tainted value of every flow from one node to another,
/// summed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountEdge {
    /// Where the value comes from.
    pub from: AccountNode,
    /// Where it goes.
    pub to: AccountNode,
    /// Tainted base units.
    pub amount: u128,
    /// Number of flows summed.
    pub flows: u64,
}

/// The tainted value that reached one stop label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountReached {
    /// The stop label.
    pub label: StopLabel,
    /// Tainted base units.
    pub amount: u128,
    /// Fewest flows between the seed and the label.
    pub hops: u32,
    /// Transactions by which it arrived, sorted.
    pub txs: Vec<B256>,
    /// The labeled addresses it arrived at, sorted.
    pub addresses: Vec<EvmAddress>,
}

/// The result of [`trace_account`]. Amounts are base units of the traced asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTraceReport {
    /// The policy used.
    pub policy: Policy,
    /// The seed address.
    pub seed: EvmAddress,
    /// The asset traced.
    pub asset: u32,
    /// Sum of the seed address's incoming flows of the asset from the seed flow on.
    pub seed_amount: u128,
    /// Number of those flows.
    pub seed_flows: u64,
    /// Part of the seed amount that the seed address spent beyond what its stored flows gave it
    /// (its history starts after genesis): its opening balance, tainted.
    pub opening_balance: u128,
    /// Value per stop label, largest first.
    pub reached: Vec<AccountReached>,
    /// Tainted value left in pools not at a stop.
    pub unspent: u128,
    /// Tainted value left per address, sorted by address.
    pub unspent_at: Vec<(EvmAddress, u128)>,
    /// Tainted value paid as gas fees or burned.
    pub fees: u128,
    /// Value not followed because of the hop or flow limits.
    pub beyond_limits: u64,
    /// Value not followed, in base units (as [`AccountTraceReport::beyond_limits`] but `u128`).
    pub cut: u128,
    /// Tainted value flowing back into the seed address (already in the seed amount).
    pub seed_overlap: u128,
    /// Set when the flow limit stopped the trace.
    pub truncated: Option<Truncation>,
    /// Flows processed.
    pub flows_visited: u64,
    /// The flow graph, sorted.
    pub edges: Vec<AccountEdge>,
}

impl AccountTraceReport {
    /// Returns reached + unspent + fees + cut + seed overlap (saturating): the seed amount.
    pub fn accounted(&self) -> u128 {
        self.reached
            .iter()
            .map(|reached| reached.amount)
            .chain([self.unspent, self.fees, self.cut, self.seed_overlap])
            .fold(0u128, u128::saturating_add)
    }

    /// Returns `true` if the figures add up to the seed amount exactly.
    pub fn conserved(&self) -> bool {
        self.accounted() == self.seed_amount
    }
}

/// What to trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountSeed {
    /// The address whose received value is tainted.
    pub address: EvmAddress,
    /// Incoming flows with this id or above are tainted (0: all).
    pub from_flow: u64,
}

enum Pool {
    Haircut { tainted: u128 },
    Fifo { segments: VecDeque<(u128, bool)> },
}

struct Account {
    flows: Vec<Flow>,
    /// Next flow to process.
    cursor: usize,
    balance: u128,
    pool: Pool,
    hops: u32,
}

impl Account {
    fn tainted(&self) -> u128 {
        match &self.pool {
            Pool::Haircut { tainted } => *tainted,
            Pool::Fifo { segments } => segments
                .iter()
                .filter(|(_, tainted)| *tainted)
                .fold(0u128, |sum, (amount, _)| sum.saturating_add(*amount)),
        }
    }

    fn receive(&mut self, amount: u128, tainted: u128) {
        self.balance = self.balance.saturating_add(amount);
        match &mut self.pool {
            Pool::Haircut { tainted: pool } => *pool = pool.saturating_add(tainted),
            Pool::Fifo { segments } => {
                for (part, is_tainted) in [(tainted, true), (amount.saturating_sub(tainted), false)]
                {
                    if part == 0 {
                        continue;
                    }
                    match segments.back_mut() {
                        Some((last, last_tainted)) if *last_tainted == is_tainted => {
                            *last = last.saturating_add(part);
                        }
                        _ => segments.push_back((part, is_tainted)),
                    }
                }
            }
        }
    }

    /// Sends `amount`; returns the tainted units it carries.
    fn send(&mut self, amount: u128) -> u128 {
        let before = self.balance;
        self.balance = before.saturating_sub(amount);
        match &mut self.pool {
            Pool::Haircut { tainted } => {
                let share =
                    if amount >= before { *tainted } else { mul_div(*tainted, amount, before) };
                *tainted -= share;
                share
            }
            Pool::Fifo { segments } => {
                let (mut need, mut share) = (amount, 0u128);
                while need > 0 {
                    let Some((left, tainted)) = segments.front_mut() else { break };
                    let take = need.min(*left);
                    if *tainted {
                        share += take;
                    }
                    *left -= take;
                    need -= take;
                    if *left == 0 {
                        segments.pop_front();
                    }
                }
                share
            }
        }
    }
}

/// Returns `floor(a × b / c)` for `a ≤ c` or `b ≤ c` (so the result fits), with a 256-bit
/// intermediate product. `c` must not be zero.
fn mul_div(a: u128, b: u128, c: u128) -> u128 {
    const LOW: u128 = u64::MAX as u128;
    let (a_high, a_low) = (a >> 64, a & LOW);
    let (b_high, b_low) = (b >> 64, b & LOW);
    let low_low = a_low * b_low;
    let high_low = a_high * b_low;
    let low_high = a_low * b_high;
    let high_high = a_high * b_high;
    let middle = (low_low >> 64) + (high_low & LOW) + (low_high & LOW);
    let low = (low_low & LOW) | (middle << 64);
    let high = high_high + (high_low >> 64) + (low_high >> 64) + (middle >> 64);
    // Long division of (high, low) by c, one bit at a time.
    let (mut quotient, mut remainder) = (0u128, 0u128);
    for bit in (0..256).rev() {
        let next = if bit >= 128 { (high >> (bit - 128)) & 1 } else { (low >> bit) & 1 };
        let carry = remainder >> 127;
        remainder = (remainder << 1) | next;
        if carry == 1 || remainder >= c {
            remainder = remainder.wrapping_sub(c);
            if bit < 128 {
                quotient |= 1 << bit;
            }
        }
    }
    quotient
}

#[derive(Default)]
struct ReachedAccumulator {
    amount: u128,
    hops: u32,
    txs: BTreeSet<B256>,
    addresses: BTreeSet<EvmAddress>,
}

/// Traces the value received by `seed.address` through the pools of the addresses it flows to,
/// in chain order, under `policy` (haircut or FIFO), stopping at addresses `stops` labels.
///
/// # Panics
///
/// If `policy` is poison or LIFO: only haircut and FIFO are defined on account pools.
pub fn trace_account(
    flows: &impl AccountFlows,
    stops: &impl Fn(&EvmAddress) -> Option<StopLabel>,
    seed: AccountSeed,
    asset: u32,
    policy: Policy,
    limits: AccountLimits,
) -> AccountTraceReport {
    assert!(
        matches!(policy, Policy::Haircut | Policy::Fifo),
        "account traces support haircut and fifo only"
    );
    let mut report = AccountTraceReport {
        policy,
        seed: seed.address,
        asset,
        seed_amount: 0,
        seed_flows: 0,
        opening_balance: 0,
        reached: Vec::new(),
        unspent: 0,
        unspent_at: Vec::new(),
        fees: 0,
        beyond_limits: 0,
        cut: 0,
        seed_overlap: 0,
        truncated: None,
        flows_visited: 0,
        edges: Vec::new(),
    };
    let mut accounts: HashMap<EvmAddress, Account> = HashMap::new();
    let mut queue: BinaryHeap<Reverse<(u64, bool, EvmAddress)>> = BinaryHeap::new();
    // Tainted units (and hops) on their way to a recipient, by flow id.
    let mut pending: HashMap<u64, (u128, u32)> = HashMap::new();
    let mut edges: BTreeMap<(AccountNode, AccountNode), (u128, u64)> = BTreeMap::new();
    let mut reached: BTreeMap<StopLabel, ReachedAccumulator> = BTreeMap::new();
    let mut edge = |from: AccountNode, to: AccountNode, amount: u128| {
        let entry = edges.entry((from, to)).or_insert((0, 0));
        entry.0 += amount;
        entry.1 += 1;
    };
    let new_account = |address: &EvmAddress| {
        let flows: Vec<Flow> =
            flows.flows_of(address).into_iter().filter(|flow| flow.asset == asset).collect();
        Account {
            flows,
            cursor: 0,
            balance: 0,
            pool: match policy {
                Policy::Fifo => Pool::Fifo { segments: VecDeque::new() },
                _ => Pool::Haircut { tainted: 0 },
            },
            hops: u32::MAX,
        }
    };
    // Activates `address` at flow `at`: replays its flows before `at` (untainted) and queues it.
    let activate = |accounts: &mut HashMap<EvmAddress, Account>,
                    queue: &mut BinaryHeap<Reverse<(u64, bool, EvmAddress)>>,
                    address: EvmAddress,
                    at: u64,
                    hops: u32| {
        if let Some(account) = accounts.get_mut(&address) {
            account.hops = account.hops.min(hops);
            return;
        }
        let mut account = new_account(&address);
        account.hops = hops;
        while let Some(flow) = account.flows.get(account.cursor) {
            if flow.id >= at {
                break;
            }
            let (incoming, outgoing) = sides(flow, &address);
            if incoming && !outgoing {
                account.receive(flow.amount, 0);
            } else if outgoing && !incoming {
                account.send(flow.amount);
            }
            account.cursor += 1;
        }
        if let Some(flow) = account.flows.get(account.cursor) {
            queue.push(Reverse(key(flow, address)));
        }
        accounts.insert(address, account);
    };
    activate(&mut accounts, &mut queue, seed.address, seed.from_flow, 0);

    while let Some(Reverse((id, _, address))) = queue.pop() {
        if report.flows_visited >= limits.max_flows as u64 {
            report.truncated = Some(Truncation::Transactions);
            break;
        }
        report.flows_visited += 1;
        let Some(account) = accounts.get_mut(&address) else { continue };
        let Some(flow) = account.flows.get(account.cursor).cloned() else { continue };
        debug_assert_eq!(flow.id, id);
        account.cursor += 1;
        if let Some(next) = account.flows.get(account.cursor) {
            queue.push(Reverse(key(next, address)));
        }
        let (incoming, outgoing) = sides(&flow, &address);
        if incoming && outgoing {
            continue; // A self-transfer leaves the pool as it is.
        }
        if incoming {
            let from_taint = pending.remove(&flow.id).map_or(0, |(amount, _)| amount);
            if address == seed.address && flow.id >= seed.from_flow {
                report.seed_amount += flow.amount;
                report.seed_flows += 1;
                report.seed_overlap += from_taint;
                account.receive(flow.amount, flow.amount);
            } else {
                account.receive(flow.amount, from_taint);
            }
            continue;
        }
        if address == seed.address && flow.id >= seed.from_flow && flow.amount > account.balance {
            // The seed spends value it held before the stored history: opening balance, tainted.
            let opening = flow.amount - account.balance;
            report.seed_amount += opening;
            report.opening_balance += opening;
            account.receive(opening, opening);
        }
        let share = account.send(flow.amount);
        if share == 0 {
            continue;
        }
        let hops = account.hops.saturating_add(1);
        let from = AccountNode::Address(address);
        let recipient = match flow.to {
            Some(to) if !flow.fee => to,
            _ => {
                report.fees += share;
                edge(from, AccountNode::Fees, share);
                continue;
            }
        };
        if recipient == seed.address && flow.id >= seed.from_flow {
            // Counted as seed overlap when the seed receives it.
            pending.entry(flow.id).or_insert((0, hops)).0 += share;
            edge(from, AccountNode::Address(recipient), share);
            continue;
        }
        if let Some(label) = stops(&recipient) {
            let entry = reached
                .entry(label.clone())
                .or_insert_with(|| ReachedAccumulator { hops: u32::MAX, ..Default::default() });
            entry.amount += share;
            entry.hops = entry.hops.min(hops);
            entry.txs.extend(flow.tx);
            entry.addresses.insert(recipient);
            edge(from, AccountNode::Stop(label), share);
            continue;
        }
        if hops > limits.max_hops {
            report.cut += share;
            edge(from, AccountNode::Cut, share);
            continue;
        }
        pending.entry(flow.id).or_insert((0, hops)).0 += share;
        edge(from, AccountNode::Address(recipient), share);
        activate(&mut accounts, &mut queue, recipient, flow.id, hops);
    }
    // Taint still on its way (the flow limit stopped the trace) is cut, and so are the seed's
    // incoming flows not reached: they are part of the seed amount.
    if report.truncated.is_some()
        && let Some(account) = accounts.get(&seed.address)
    {
        for flow in &account.flows[account.cursor..] {
            let (incoming, outgoing) = sides(flow, &seed.address);
            if incoming && !outgoing && flow.id >= seed.from_flow {
                report.seed_amount += flow.amount;
                report.seed_flows += 1;
                report.cut += flow.amount;
            }
        }
    }
    for (amount, _) in pending.into_values() {
        report.cut += amount;
    }
    let mut unspent: Vec<(EvmAddress, u128)> = accounts
        .iter()
        .map(|(address, account)| (*address, account.tainted()))
        .filter(|(_, tainted)| *tainted > 0)
        .collect();
    unspent.sort();
    for &(address, tainted) in &unspent {
        if report.truncated.is_some() {
            report.cut += tainted;
            edge(AccountNode::Address(address), AccountNode::Cut, tainted);
        } else {
            report.unspent += tainted;
            edge(AccountNode::Address(address), AccountNode::Unspent(address), tainted);
        }
    }
    if report.truncated.is_none() {
        report.unspent_at = unspent;
    }
    report.beyond_limits = u64::try_from(report.cut).unwrap_or(u64::MAX);
    let mut reached: Vec<AccountReached> = reached
        .into_iter()
        .map(|(label, accumulated)| AccountReached {
            label,
            amount: accumulated.amount,
            hops: accumulated.hops,
            txs: accumulated.txs.into_iter().collect(),
            addresses: accumulated.addresses.into_iter().collect(),
        })
        .collect();
    reached.sort_by(|a, b| b.amount.cmp(&a.amount).then_with(|| a.label.cmp(&b.label)));
    report.reached = reached;
    report.edges = edges
        .into_iter()
        .map(|((from, to), (amount, flows))| AccountEdge { from, to, amount, flows })
        .collect();
    report
}

/// Returns the queue key of `flow` at `address`: in chain order, the sender before the recipient.
fn key(flow: &Flow, address: EvmAddress) -> (u64, bool, EvmAddress) {
    (flow.id, flow.to == Some(address) && flow.from != Some(address), address)
}

/// Returns whether `flow` comes into and goes out of `address`.
fn sides(flow: &Flow, address: &EvmAddress) -> (bool, bool) {
    (flow.to.as_ref() == Some(address), flow.from.as_ref() == Some(address))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(n: u8) -> EvmAddress {
        EvmAddress([n; 20])
    }

    fn flow(id: u64, from: Option<u8>, to: Option<u8>, amount: u128) -> Flow {
        Flow {
            id,
            tx: Some(B256([u8::try_from(id % 256).unwrap(); 32])),
            from: from.map(address),
            to: to.map(address),
            asset: 0,
            amount,
            fee: false,
        }
    }

    fn exchange(address: &EvmAddress) -> Option<StopLabel> {
        (address.0[0] == 9)
            .then(|| StopLabel { name: "Exchange".to_owned(), category: "exchange".to_owned() })
    }

    /// Address 2 holds 100 clean, receives 100 tainted from the seed (1), sends 50 to the
    /// exchange (9), pays a fee of 10, and sends 40 to 3.
    fn chain() -> Vec<Flow> {
        let mut fee = flow(6, Some(2), Some(7), 10);
        fee.fee = true;
        vec![
            flow(1, Some(5), Some(2), 100),
            flow(2, Some(5), Some(1), 100),
            flow(3, Some(1), Some(2), 100),
            flow(4, Some(2), Some(9), 50),
            fee,
            flow(7, Some(2), Some(3), 40),
            flow(8, Some(5), Some(6), 1000),
        ]
    }

    fn run(flows: &Vec<Flow>, policy: Policy) -> AccountTraceReport {
        trace_account(
            flows,
            &exchange,
            AccountSeed { address: address(1), from_flow: 0 },
            0,
            policy,
            AccountLimits::default(),
        )
    }

    #[test]
    fn haircut_shares_the_pool() {
        let report = run(&chain(), Policy::Haircut);
        assert_eq!(report.seed_amount, 100);
        // Pool of 2: 200 with 100 tainted. 50 out: 25 tainted (pool 150/75). Fee 10: 5 (140/70).
        // 40 to 3: 20 (100/50).
        assert_eq!(report.reached.len(), 1);
        assert_eq!(report.reached[0].amount, 25);
        assert_eq!(report.reached[0].hops, 2);
        assert_eq!(report.fees, 5);
        assert_eq!(report.unspent, 70);
        assert_eq!(report.unspent_at, vec![(address(2), 50), (address(3), 20)]);
        assert!(report.conserved());
    }

    #[test]
    fn fifo_takes_the_oldest_value_first() {
        let report = run(&chain(), Policy::Fifo);
        // Pool of 2: [100 clean, 100 tainted]. 50 and 10 and 40 take the clean 100.
        assert!(report.reached.is_empty());
        assert_eq!(report.fees, 0);
        assert_eq!(report.unspent_at, vec![(address(2), 100)]);
        let mut flows = chain();
        flows.push(flow(9, Some(2), Some(9), 30));
        let report = run(&flows, Policy::Fifo);
        assert_eq!(report.reached[0].amount, 30);
        assert_eq!(report.unspent, 70);
        assert!(report.conserved());
    }

    #[test]
    fn haircut_rounds_down_and_keeps_the_remainder() {
        let flows = vec![
            flow(1, Some(5), Some(1), 1),
            flow(2, Some(5), Some(1), 2),
            flow(3, Some(1), Some(9), 1),
            flow(4, Some(1), Some(9), 1),
            flow(5, Some(1), Some(9), 1),
        ];
        let report = run(&flows, Policy::Haircut);
        assert_eq!(report.seed_amount, 3);
        assert_eq!(report.reached[0].amount, 3);
        assert_eq!(report.unspent, 0);
        // A pool of 3 units, 1 of them tainted: 1 of 3 carries floor(1/3) = 0.
        let flows = vec![
            flow(1, Some(5), Some(2), 2),
            flow(2, Some(5), Some(1), 1),
            flow(3, Some(1), Some(2), 1),
            flow(4, Some(2), Some(9), 1),
        ];
        let report = run(&flows, Policy::Haircut);
        assert!(report.reached.is_empty());
        assert_eq!(report.unspent, 1);
        assert!(report.conserved());
    }

    #[test]
    fn seed_overlap_and_hop_limit() {
        let flows = vec![
            flow(1, Some(5), Some(1), 10),
            flow(2, Some(1), Some(2), 10),
            flow(3, Some(2), Some(1), 4),
            flow(4, Some(2), Some(3), 6),
        ];
        let report = trace_account(
            &flows,
            &exchange,
            AccountSeed { address: address(1), from_flow: 0 },
            0,
            Policy::Haircut,
            AccountLimits { max_hops: 1, max_flows: 100 },
        );
        assert_eq!(report.seed_amount, 14);
        assert_eq!(report.seed_overlap, 4);
        assert_eq!(report.cut, 6);
        assert_eq!(report.unspent, 4);
        assert!(report.conserved());
    }

    #[test]
    fn seed_opening_balance_is_tainted() {
        let mut fee = flow(2, Some(1), Some(7), 3);
        fee.fee = true;
        let flows = vec![flow(1, Some(1), Some(9), 40), fee, flow(3, Some(5), Some(1), 10)];
        for policy in [Policy::Haircut, Policy::Fifo] {
            let report = run(&flows, policy);
            assert_eq!(report.seed_amount, 53);
            assert_eq!(report.opening_balance, 43);
            assert_eq!(report.reached[0].amount, 40);
            assert_eq!(report.reached[0].hops, 1);
            assert_eq!(report.fees, 3);
            assert_eq!(report.unspent, 10);
            assert!(report.conserved());
        }
    }

    #[test]
    fn mul_div_is_exact() {
        assert_eq!(mul_div(u128::MAX, u128::MAX, u128::MAX), u128::MAX);
        assert_eq!(mul_div(u128::MAX - 1, u128::MAX, u128::MAX), u128::MAX - 1);
        assert_eq!(mul_div(7, 5, 10), 3);
        assert_eq!(mul_div(1 << 100, 1 << 100, 1 << 101), 1 << 99);
        assert_eq!(mul_div(0, 5, 10), 0);
    }

    /// Random flow sequences among a few addresses (some labeled, some fees, some burns, some
    /// larger than the sender's known balance): the figures always add up to the seed amount.
    #[test]
    fn conservation_holds_on_random_flows() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        for case in 0..300 {
            let count = 1 + next(60);
            let mut flows = Vec::new();
            for id in 0..count {
                let from = match next(10) {
                    0 => None,
                    n => Some(u8::try_from(n % 7).unwrap()),
                };
                let to = match next(12) {
                    0 => None,
                    n => Some(if n == 11 { 9 } else { u8::try_from(n % 7).unwrap() }),
                };
                let amount = if next(20) == 0 {
                    u128::from(next(u64::MAX)) << 50
                } else {
                    u128::from(next(1000))
                };
                let mut flow = flow(id, from, to, amount);
                flow.fee = next(8) == 0;
                flow.asset = u32::from(next(10) == 0);
                flows.push(flow);
            }
            for policy in [Policy::Haircut, Policy::Fifo] {
                let limits = AccountLimits {
                    max_hops: u32::try_from(next(5)).unwrap(),
                    max_flows: usize::try_from(next(200)).unwrap(),
                };
                let report = trace_account(
                    &flows,
                    &exchange,
                    AccountSeed { address: address(1), from_flow: next(count) },
                    0,
                    policy,
                    limits,
                );
                assert!(
                    report.conserved(),
                    "case {case} {policy}: {} != {}",
                    report.accounted(),
                    report.seed_amount
                );
            }
        }
    }
}
