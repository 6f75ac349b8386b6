//! Recognising CoinJoin transactions, whose inputs belong to several entities.
//!
//! Rules (see `docs/heuristics.md` for sources and failure modes), checked in this order:
//! - **Whirlpool**: exactly 5 inputs and 5 outputs, all outputs of one pool denomination
//!   (0.001, 0.01, 0.05 or 0.5 BTC).
//! - **Wasabi 1**: at least 10 outputs of one value between 0.09 and 0.11 BTC, and at least as
//!   many inputs as such outputs.
//! - **Wasabi 2**: at least 50 inputs and 50 outputs, and at least half of the outputs share their
//!   value with another output.
//! - **JoinMarket**: `n >= 3` outputs of one value, between `n` and `2n + 1` outputs in all (the
//!   equal outputs plus at most one change output per participant and the maker fee remainder),
//!   and at least `n` inputs.
//! - **Generic equal-output**: at least 2 inputs, at least 3 outputs, and the most common output
//!   value is shared by at least 2 outputs that make up at least half of the non-change outputs
//!   (`2 * equal >= outputs - 1`).

use std::collections::HashMap;

use cointrail_types::{ChainGraph, OutputId, TxNum};

/// The CoinJoin shape a transaction matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoinjoinShape {
    /// Samourai Whirlpool (5 x 5, pool denomination).
    Whirlpool,
    /// Wasabi Wallet 1 (ZeroLink, ~0.1 BTC equal outputs).
    Wasabi1,
    /// Wasabi Wallet 2 (WabiSabi, many standard denominations).
    Wasabi2,
    /// JoinMarket (maker/taker equal outputs plus change).
    JoinMarket,
    /// Any other equal-output transaction.
    Generic,
}

impl CoinjoinShape {
    /// Returns the lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Whirlpool => "whirlpool",
            Self::Wasabi1 => "wasabi1",
            Self::Wasabi2 => "wasabi2",
            Self::JoinMarket => "joinmarket",
            Self::Generic => "generic",
        }
    }
}

const WHIRLPOOL_POOLS: [u64; 4] = [100_000, 1_000_000, 5_000_000, 50_000_000];

/// Returns the CoinJoin shape of a transaction, or `None` if it does not look like one.
pub fn coinjoin_shape(graph: &impl ChainGraph, tx: TxNum) -> Option<CoinjoinShape> {
    let inputs = graph.tx_inputs(tx);
    let outputs = graph.tx_outputs(tx);
    let input_count = inputs.end - inputs.start;
    let output_count = outputs.end - outputs.start;
    if input_count < 2 || output_count < 3 {
        return None;
    }
    let mut counts: HashMap<u64, u64> = HashMap::new();
    for output in outputs {
        let value = graph.output_value(OutputId::new(output)).to_sat();
        if value > 0 {
            *counts.entry(value).or_default() += 1;
        }
    }
    // The most common value; ties go to the larger value (deterministic).
    let (value, equal) = counts.iter().map(|(v, c)| (*v, *c)).max_by_key(|(v, c)| (*c, *v))?;
    if equal < 2 {
        return None;
    }
    if input_count == 5 && output_count == 5 && equal == 5 && WHIRLPOOL_POOLS.contains(&value) {
        return Some(CoinjoinShape::Whirlpool);
    }
    if equal >= 10 && (9_000_000..=11_000_000).contains(&value) && input_count >= equal {
        return Some(CoinjoinShape::Wasabi1);
    }
    if input_count >= 50 && output_count >= 50 {
        let shared: u64 = counts.values().filter(|count| **count >= 2).sum();
        if 2 * shared >= output_count {
            return Some(CoinjoinShape::Wasabi2);
        }
    }
    if equal >= 3 && output_count <= 2 * equal + 1 && input_count >= equal {
        return Some(CoinjoinShape::JoinMarket);
    }
    if 2 * equal >= output_count - 1 {
        return Some(CoinjoinShape::Generic);
    }
    None
}
