//! Laundering patterns seen along a forward trace: peel chains, CoinJoins, consolidations.

use std::collections::{BTreeMap, BTreeSet};

use cointrail_cluster::coinjoin_shape;
use cointrail_types::{ChainGraph, OutputId, TxNum};

use crate::Destination;

/// One peel of a peel chain: a small output leaving the chain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Peel {
    /// The chain transaction.
    pub tx: TxNum,
    /// The peeled output.
    pub output: OutputId,
    /// Tainted satoshis on it.
    pub amount: u64,
    /// Where it went.
    pub destination: Destination,
}

/// A peel chain: transactions with two outputs where one output continues to the next such
/// transaction and the other is peeled off.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PeelChain {
    /// The transactions in chain order.
    pub txs: Vec<TxNum>,
    /// The peels, one per transaction.
    pub peels: Vec<Peel>,
    /// Sum of the peeled tainted amounts.
    pub peeled: u64,
}

/// A CoinJoin the trace crossed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CoinjoinCrossed {
    /// The transaction.
    pub tx: TxNum,
    /// Its shape (`whirlpool`, `wasabi1`, `wasabi2`, `joinmarket`, `generic`).
    pub shape: &'static str,
    /// Tainted satoshis in.
    pub tainted_in: u64,
    /// Tainted satoshis out (fee excluded).
    pub tainted_out: u64,
}

/// A consolidation the trace crossed: many inputs into one or two outputs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Consolidation {
    /// The transaction.
    pub tx: TxNum,
    /// Its inputs.
    pub inputs: u32,
    /// Its tainted inputs.
    pub tainted_inputs: u32,
}

/// Patterns of a trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patterns {
    /// Peel chains of at least [`Patterns::MIN_PEEL_CHAIN`] transactions.
    pub peel_chains: Vec<PeelChain>,
    /// CoinJoins crossed.
    pub coinjoins: Vec<CoinjoinCrossed>,
    /// Consolidations crossed (at least [`Patterns::MIN_CONSOLIDATION`] inputs, at most two
    /// outputs).
    pub consolidations: Vec<Consolidation>,
}

impl Patterns {
    /// Shortest peel chain reported.
    pub const MIN_PEEL_CHAIN: usize = 3;
    /// Fewest inputs of a consolidation.
    pub const MIN_CONSOLIDATION: usize = 5;

    /// Records a visited transaction: `inputs` are (value, taint), `shares` the taint of each
    /// output followed by the fee.
    pub(crate) fn observe(
        &mut self,
        graph: &impl ChainGraph,
        tx: TxNum,
        inputs: &[(u64, u64)],
        shares: &[u64],
    ) {
        let tainted_in: u64 = inputs.iter().map(|(_, taint)| taint).sum();
        if let Some(shape) = coinjoin_shape(graph, tx) {
            let outputs = &shares[..shares.len().saturating_sub(1)];
            self.coinjoins.push(CoinjoinCrossed {
                tx,
                shape: shape.name(),
                tainted_in,
                tainted_out: outputs.iter().sum(),
            });
        }
        let outputs = graph.tx_outputs(tx);
        if inputs.len() >= Self::MIN_CONSOLIDATION && outputs.end - outputs.start <= 2 {
            self.consolidations.push(Consolidation {
                tx,
                inputs: u32::try_from(inputs.len()).unwrap_or(u32::MAX),
                tainted_inputs: u32::try_from(
                    inputs.iter().filter(|(_, taint)| *taint > 0).count(),
                )
                .unwrap_or(u32::MAX),
            });
        }
    }

    /// Finds peel chains among the visited transactions from where each tainted output went.
    pub(crate) fn find_peel_chains(
        &mut self,
        graph: &impl ChainGraph,
        settled: &BTreeMap<OutputId, (u64, Destination)>,
    ) {
        let two_outputs = |tx: TxNum| {
            let outputs = graph.tx_outputs(tx);
            outputs.end - outputs.start == 2
        };
        // For each two-output tx the trace visited: its continuation (next tx) and its peel.
        let mut visited: BTreeSet<TxNum> = BTreeSet::new();
        for (_, destination) in settled.values() {
            if let Destination::Followed(tx) = destination {
                visited.insert(*tx);
            }
        }
        let mut next: BTreeMap<TxNum, (TxNum, OutputId)> = BTreeMap::new();
        for &tx in visited.iter().filter(|tx| two_outputs(**tx)) {
            let outputs: Vec<OutputId> = graph.tx_outputs(tx).map(OutputId::new).collect();
            let continuation = outputs
                .iter()
                .filter_map(|output| match settled.get(output) {
                    Some((_, Destination::Followed(spender))) if two_outputs(*spender) => {
                        Some((graph.output_value(*output), *spender, *output))
                    }
                    _ => None,
                })
                .max();
            if let Some((_, spender, output)) = continuation {
                let peel = if outputs[0] == output { outputs[1] } else { outputs[0] };
                next.insert(tx, (spender, peel));
            }
        }
        let has_predecessor: BTreeSet<TxNum> = next.values().map(|(spender, _)| *spender).collect();
        for (&start, _) in next.iter().filter(|(tx, _)| !has_predecessor.contains(tx)) {
            let mut chain = PeelChain { txs: Vec::new(), peels: Vec::new(), peeled: 0 };
            let mut current = start;
            loop {
                chain.txs.push(current);
                let Some(&(spender, peel)) = next.get(&current) else { break };
                let (amount, destination) =
                    settled.get(&peel).cloned().unwrap_or((0, Destination::Unspent));
                if amount > 0 {
                    chain.peeled += amount;
                    chain.peels.push(Peel { tx: current, output: peel, amount, destination });
                }
                current = spender;
            }
            if chain.txs.len() >= Self::MIN_PEEL_CHAIN {
                self.peel_chains.push(chain);
            }
        }
    }

    pub(crate) fn sort(&mut self) {
        self.peel_chains.sort();
        self.coinjoins.sort();
        self.consolidations.sort();
    }
}
