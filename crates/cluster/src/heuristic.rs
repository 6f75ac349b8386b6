//! The heuristics by name, their configuration, and change detection.

use std::fmt;
use std::str::FromStr;

use cointrail_types::{AddressId, ChainGraph, InputId, OutputId, TxNum};

use crate::outputs_of;

/// A change heuristic: picks the output of a transaction that pays back to the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeHeuristic {
    /// `change:fresh`: the only output whose address appears for the first time (Meiklejohn et al.
    /// 2013), when no output pays back to an input address.
    Fresh,
    /// `change:type`: the only output of the same address type as all inputs (Ermilov et al. 2017;
    /// Kappos et al. 2022).
    AddressType,
    /// `change:round`: in a two-output transaction, the output that is not a round amount when the
    /// other is (Androulaki et al. 2013; Nick 2015).
    Round,
    /// `change:optimal`: the only output smaller than every input (Nick 2015).
    Optimal,
}

impl ChangeHeuristic {
    /// Every change heuristic.
    pub const ALL: [Self; 4] = [Self::Fresh, Self::AddressType, Self::Round, Self::Optimal];

    /// Returns the name used on the command line (`fresh`, `type`, `round`, `optimal`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::AddressType => "type",
            Self::Round => "round",
            Self::Optimal => "optimal",
        }
    }
}

/// A heuristic that can join two addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Heuristic {
    /// `multi-input`: all inputs of a non-CoinJoin transaction are controlled by one entity
    /// (Nakamoto 2008; Reid and Harrigan 2011; Meiklejohn et al. 2013).
    MultiInput,
    /// A change heuristic: the change output's address belongs to the sender.
    Change(ChangeHeuristic),
}

impl Heuristic {
    /// Returns a stable number for storage.
    pub fn code(self) -> u8 {
        match self {
            Self::MultiInput => 1,
            Self::Change(ChangeHeuristic::Fresh) => 2,
            Self::Change(ChangeHeuristic::AddressType) => 3,
            Self::Change(ChangeHeuristic::Round) => 4,
            Self::Change(ChangeHeuristic::Optimal) => 5,
        }
    }

    /// Returns the heuristic for a stored number.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::MultiInput,
            2 => Self::Change(ChangeHeuristic::Fresh),
            3 => Self::Change(ChangeHeuristic::AddressType),
            4 => Self::Change(ChangeHeuristic::Round),
            5 => Self::Change(ChangeHeuristic::Optimal),
            _ => return None,
        })
    }
}

impl fmt::Display for Heuristic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MultiInput => f.write_str("multi-input"),
            Self::Change(change) => write!(f, "change:{}", change.name()),
        }
    }
}

impl FromStr for Heuristic {
    type Err = ParseHeuristicError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "multi-input" {
            return Ok(Self::MultiInput);
        }
        let change = text.strip_prefix("change:").and_then(|name| {
            ChangeHeuristic::ALL.into_iter().find(|heuristic| heuristic.name() == name)
        });
        change.map(Self::Change).ok_or_else(|| ParseHeuristicError { text: text.to_owned() })
    }
}

/// A heuristic name that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown heuristic `{text}`: expected multi-input, change:fresh, change:type, change:round or \
     change:optimal"
)]
pub struct ParseHeuristicError {
    /// The text given.
    pub text: String,
}

/// Which heuristics run, and the collapse guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Merge the inputs of non-CoinJoin transactions.
    pub multi_input: bool,
    /// Change heuristics, applied in this order.
    pub change: Vec<ChangeHeuristic>,
    /// A merge that would make a cluster larger than this...
    pub max_cluster_size: u32,
    /// ...out of two clusters of at least this size each is held, not applied.
    pub guard_min_side: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            multi_input: true,
            change: Vec::new(),
            max_cluster_size: 1_000_000,
            guard_min_side: 1_000,
        }
    }
}

impl Config {
    /// Builds a configuration from heuristic names (`multi-input`, `change:fresh`, ...).
    ///
    /// # Errors
    ///
    /// [`ParseHeuristicError`] for an unknown name.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Self, ParseHeuristicError> {
        let mut config = Self { multi_input: false, ..Self::default() };
        for name in names {
            match name.as_ref().trim().parse::<Heuristic>()? {
                Heuristic::MultiInput => config.multi_input = true,
                Heuristic::Change(change) => {
                    if !config.change.contains(&change) {
                        config.change.push(change);
                    }
                }
            }
        }
        Ok(config)
    }

    /// Returns the names of the enabled heuristics.
    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if self.multi_input {
            names.push(Heuristic::MultiInput.to_string());
        }
        names.extend(self.change.iter().map(|change| Heuristic::Change(*change).to_string()));
        names
    }
}

/// A value is round when it is a whole multiple of 0.0001 BTC.
const ROUND: u64 = 10_000;

/// Returns the output of `tx` that `heuristic` calls change, if it names exactly one. CoinJoins,
/// coinbases and single-output transactions have none.
pub fn detect_change(
    graph: &impl ChainGraph,
    tx: TxNum,
    heuristic: ChangeHeuristic,
) -> Option<OutputId> {
    if graph.tx_inputs(tx).is_empty() || crate::coinjoin_shape(graph, tx).is_some() {
        return None;
    }
    let inputs: Vec<AddressId> = graph
        .tx_inputs(tx)
        .filter_map(|input| graph.output_address(graph.spent_output(InputId::new(input))))
        .collect();
    if inputs.is_empty() {
        return None;
    }
    find_change(graph, tx, heuristic, &inputs)
}

/// Returns the change output of `tx` according to `heuristic`, if it names exactly one.
pub(crate) fn find_change(
    graph: &impl ChainGraph,
    tx: TxNum,
    heuristic: ChangeHeuristic,
    input_addresses: &[AddressId],
) -> Option<OutputId> {
    let outputs = graph.tx_outputs(tx);
    if outputs.end - outputs.start < 2 {
        return None;
    }
    let address = |output: OutputId| graph.output_address(output);
    let mut candidates = outputs_of(graph, tx).filter(|output| address(*output).is_some());
    let unique = |mut matches: Box<dyn Iterator<Item = OutputId> + '_>| {
        let first = matches.next()?;
        matches.next().is_none().then_some(first)
    };
    match heuristic {
        ChangeHeuristic::Fresh => {
            if candidates
                .any(|output| address(output).is_some_and(|a| input_addresses.contains(&a)))
            {
                return None;
            }
            unique(Box::new(outputs_of(graph, tx).filter(|output| {
                address(*output).is_some_and(|a| graph.address_first_output(a) == *output)
            })))
        }
        ChangeHeuristic::AddressType => {
            let kind = graph.address_kind(*input_addresses.first()?);
            if input_addresses.iter().any(|a| graph.address_kind(*a) != kind) {
                return None;
            }
            unique(Box::new(
                outputs_of(graph, tx).filter(|output| {
                    address(*output).is_some_and(|a| graph.address_kind(a) == kind)
                }),
            ))
        }
        ChangeHeuristic::Round => {
            if outputs.end - outputs.start != 2 {
                return None;
            }
            let round =
                |output: &OutputId| graph.output_value(*output).to_sat().is_multiple_of(ROUND);
            let (rounds, others): (Vec<OutputId>, Vec<OutputId>) =
                outputs_of(graph, tx).partition(round);
            (rounds.len() == 1 && others.len() == 1 && address(others[0]).is_some())
                .then(|| others[0])
        }
        ChangeHeuristic::Optimal => {
            let smallest_input = graph
                .tx_inputs(tx)
                .map(|input| graph.output_value(graph.spent_output(InputId::new(input))))
                .min()?;
            unique(Box::new(outputs_of(graph, tx).filter(|output| {
                address(*output).is_some() && graph.output_value(*output) < smallest_input
            })))
        }
    }
}
