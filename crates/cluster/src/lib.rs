//! Address clustering of cointrail: which addresses one entity controls, and why.
//!
//! Owns the heuristics (co-spend, change detection, CoinJoin recognition; on account-model chains
//! the deposit-address heuristic, [`cluster_deposits`]), the union-find over address ids, and the
//! evidence of every merge. It sees the chain only through
//! [`cointrail_types::ChainGraph`] and works on caller-provided slices, so it does no I/O: the store
//! persists its state, and tests run it on an in-memory graph (`cointrail-testkit`).
//!
//! Start with [`Clusterer::run`]; every heuristic is described in `docs/heuristics.md`.

mod coinjoin;
mod deposit;
mod heuristic;
mod unionfind;

pub use coinjoin::{CoinjoinShape, coinjoin_shape};
pub use deposit::{
    AccountFlow, AccountFlowKind, DEFAULT_MAX_AMOUNT_DIFFERENCE, DEFAULT_MAX_BLOCK_DELAY,
    DepositAddress, DepositClustering, DepositConfig, DepositLink, DepositUser, Forward, HotWallet,
    KnownAddresses, Receipt, Service, cluster_deposits,
};
pub use heuristic::{ChangeHeuristic, Config, Heuristic, ParseHeuristicError, detect_change};
pub use unionfind::{ClusterState, UnionOutcome};

use cointrail_types::{AddressId, ChainGraph, InputId, OutputId, TxNum};

/// Why two addresses were put in one cluster: the transaction and the heuristic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Link {
    /// An address already in one of the two clusters.
    pub a: AddressId,
    /// An address of the other cluster.
    pub b: AddressId,
    /// The transaction that shows they belong together.
    pub tx: TxNum,
    /// The heuristic that read it so.
    pub heuristic: Heuristic,
}

/// A merge refused by the collapse guard: it would have joined two large clusters into one larger
/// than [`Config::max_cluster_size`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeldMerge {
    /// The evidence that asked for the merge.
    pub link: Link,
    /// Size of the cluster of `link.a` at that moment.
    pub size_a: u32,
    /// Size of the cluster of `link.b` at that moment.
    pub size_b: u32,
}

/// What one run of clustering did: the merges with their evidence, the merges it held, and counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterChangeSet {
    /// Applied merges, in the order they were applied.
    pub links: Vec<Link>,
    /// Merges refused by the collapse guard.
    pub held: Vec<HeldMerge>,
    /// Transactions examined.
    pub txs: u64,
    /// Transactions recognised as CoinJoins (their inputs are not merged).
    pub coinjoins: u64,
}

/// Runs the configured heuristics over a range of transactions, updating a cluster state.
#[derive(Debug, Clone)]
pub struct Clusterer {
    config: Config,
}

impl Clusterer {
    /// Creates a clusterer.
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    /// Returns the configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Examines transactions `txs` of `graph` in order and merges addresses in `state`.
    ///
    /// `state` must cover every address of `graph`. Returns the merges with their evidence.
    pub fn run(
        &self,
        graph: &impl ChainGraph,
        txs: std::ops::Range<u32>,
        state: &mut ClusterState<'_>,
    ) -> ClusterChangeSet {
        let mut changes = ClusterChangeSet::default();
        let mut inputs: Vec<AddressId> = Vec::new();
        for number in txs {
            let tx = TxNum::new(number);
            changes.txs += 1;
            let input_ids = graph.tx_inputs(tx);
            if input_ids.is_empty() {
                continue; // coinbase
            }
            if coinjoin_shape(graph, tx).is_some() {
                changes.coinjoins += 1;
                continue;
            }
            inputs.clear();
            for input in input_ids {
                let spent = graph.spent_output(InputId::new(input));
                if let Some(address) = graph.output_address(spent) {
                    inputs.push(address);
                }
            }
            let Some(&first) = inputs.first() else { continue };
            if self.config.multi_input {
                for &other in &inputs[1..] {
                    self.merge(state, first, other, tx, Heuristic::MultiInput, &mut changes);
                }
            }
            for &change in &self.config.change {
                if let Some(output) = heuristic::find_change(graph, tx, change, &inputs) {
                    let address =
                        graph.output_address(output).expect("change outputs have an address");
                    self.merge(state, first, address, tx, Heuristic::Change(change), &mut changes);
                }
            }
        }
        changes
    }

    fn merge(
        &self,
        state: &mut ClusterState<'_>,
        a: AddressId,
        b: AddressId,
        tx: TxNum,
        heuristic: Heuristic,
        changes: &mut ClusterChangeSet,
    ) {
        let link = Link { a, b, tx, heuristic };
        match state.union(a, b, self.config.max_cluster_size, self.config.guard_min_side) {
            UnionOutcome::Same => {}
            UnionOutcome::Merged => changes.links.push(link),
            UnionOutcome::Held { size_a, size_b } => {
                changes.held.push(HeldMerge { link, size_a, size_b });
            }
        }
    }
}

/// Returns the output ids of a transaction as [`OutputId`]s.
pub(crate) fn outputs_of(graph: &impl ChainGraph, tx: TxNum) -> impl Iterator<Item = OutputId> {
    graph.tx_outputs(tx).map(OutputId::new)
}
