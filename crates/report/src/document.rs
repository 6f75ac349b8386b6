//! The trace document: what `cointrail trace --format json` prints.

use serde::{Deserialize, Serialize};

/// The result of one trace, ready to print or render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceDocument {
    /// `poison`, `haircut`, `fifo` or `lifo`.
    pub policy: String,
    /// `forward` or `backward`.
    pub direction: String,
    /// Chain and network, e.g. `bitcoin regtest`.
    pub chain: String,
    /// The unit of every amount: the asset's symbol and decimals (`BTC`, 8 when absent).
    #[serde(default)]
    pub unit: Unit,
    /// The seed outputs as `txid:vout`.
    pub seeds: Vec<String>,
    /// Sum of the seed outputs' values (base units).
    pub seed_amount: u128,
    /// Value per stop label (forward: where it went; backward: where it came from), largest first.
    pub reached: Vec<Reached>,
    /// Forward: tainted value in unspent outputs not at a stop.
    pub unspent: u128,
    /// Number of such outputs.
    pub unspent_outputs: u64,
    /// Forward: tainted value paid as fees.
    pub fees: u128,
    /// Backward: value from coinbases.
    pub mined: u128,
    /// Value not followed: below `--min-amount`.
    pub below_min_amount: u128,
    /// Value not followed: beyond `--max-hops`, `--max-txs` or the time limit.
    pub beyond_limits: u128,
    /// Value flowing between seed outputs (counted once, in `seed_amount`).
    pub seed_overlap: u128,
    /// `true` when the policy conserves value (all but poison): then the figures above add up to
    /// `seed_amount` exactly.
    pub conserved: bool,
    /// Set when a limit cut the trace short: `transactions` or `time`.
    pub truncated: Option<String>,
    /// Transactions visited.
    pub txs_visited: u64,
    /// Flow graph nodes.
    pub nodes: Vec<Node>,
    /// Flow graph edges with amounts.
    pub edges: Vec<Edge>,
    /// Patterns seen on the way.
    pub patterns: Patterns,
    /// Labels used to stop the trace, with their sources (the evidence).
    pub sources: Vec<Source>,
    /// How to reproduce this document.
    pub reproduce: Reproduce,
}

impl TraceDocument {
    /// Returns the sum of every destination of the seed amount: reached, unspent, fees, mined,
    /// below the minimum amount, beyond the limits and seed overlap (saturating). For conserving
    /// policies it equals [`TraceDocument::seed_amount`].
    pub fn accounted(&self) -> u128 {
        crate::text::sum(self.reached.iter().map(|reached| reached.amount).chain([
            self.unspent,
            self.fees,
            self.mined,
            self.below_min_amount,
            self.beyond_limits,
            self.seed_overlap,
        ]))
    }

    /// Returns `true` when the figures add up to the seed amount exactly.
    pub fn adds_up(&self) -> bool {
        self.accounted() == self.seed_amount
    }

    /// Returns the category of a stop label, from [`TraceDocument::reached`] or else
    /// [`TraceDocument::sources`].
    pub fn category_of(&self, label: &str) -> Option<&str> {
        self.reached
            .iter()
            .find(|reached| reached.label == label)
            .map(|reached| reached.category.as_str())
            .or_else(|| {
                self.sources
                    .iter()
                    .find(|source| source.label == label)
                    .map(|source| source.category.as_str())
            })
    }

    /// Returns `true` for a backward trace (where the coins came from).
    pub fn is_backward(&self) -> bool {
        self.direction.eq_ignore_ascii_case("backward")
    }
}

/// The unit of a document's amounts: integer base units of an asset with `decimals` decimals.
/// Amounts are JSON integers of any size (wei exceed 64 bits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// Symbol shown after amounts (`BTC`, `ETH`, a token's symbol or contract).
    pub symbol: String,
    /// Decimals of one whole unit (8 for bitcoin, 18 for ether).
    pub decimals: u8,
}

impl Default for Unit {
    /// Bitcoin: satoshis, 8 decimals.
    fn default() -> Self {
        Self { symbol: "BTC".to_owned(), decimals: 8 }
    }
}

impl Unit {
    /// Formats `amount` base units with all decimals and the symbol, exactly:
    /// `123456789` → `1.23456789 BTC`.
    pub fn format(&self, amount: u128) -> String {
        format!("{} {}", self.number(amount), self.symbol)
    }

    /// Formats `amount` base units with all decimals, without the symbol.
    pub fn number(&self, amount: u128) -> String {
        let decimals = u32::from(self.decimals.min(38));
        if decimals == 0 {
            return amount.to_string();
        }
        let scale = 10u128.pow(decimals);
        format!("{}.{:0width$}", amount / scale, amount % scale, width = decimals as usize)
    }
}

/// Value at one stop label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reached {
    /// The label (e.g. an exchange's name).
    pub label: String,
    /// Its category (`exchange`, `service`, ...).
    pub category: String,
    /// Base units.
    pub amount: u128,
    /// Fewest transactions from a seed.
    pub hops: u32,
    /// Txids by which the value arrived (forward) or left (backward).
    pub txs: Vec<String>,
    /// The outputs at the label, `txid:vout`.
    pub outputs: Vec<String>,
}

/// A node of the flow graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Unique id: `tx:<txid>`, `stop:<label>`, `unspent:<address>`, `fees`, `mined`, `cut`.
    pub id: String,
    /// `tx`, `stop`, `unspent`, `fees`, `mined` or `cut`.
    pub kind: String,
    /// Text to show: a txid, a label, an address.
    pub label: String,
    /// Block height of a transaction node.
    pub height: Option<u32>,
    /// `true` for the transactions that created the seed outputs.
    pub seed: bool,
}

/// An edge of the flow graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    /// Node id the value leaves.
    pub from: String,
    /// Node id it reaches.
    pub to: String,
    /// Base units.
    pub amount: u128,
    /// The output carrying it, `txid:vout` (none for fees and mined coins).
    pub output: Option<String>,
}

/// Patterns of a trace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patterns {
    /// Peel chains.
    pub peel_chains: Vec<PeelChain>,
    /// CoinJoins crossed.
    pub coinjoins: Vec<Coinjoin>,
    /// Consolidations crossed.
    pub consolidations: Vec<Consolidation>,
}

/// A peel chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeelChain {
    /// Number of transactions.
    pub length: usize,
    /// Txids in chain order.
    pub txs: Vec<String>,
    /// Sum of peeled amounts.
    pub peeled: u64,
    /// Each peel.
    pub peels: Vec<Peel>,
}

/// One peel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peel {
    /// The chain transaction.
    pub tx: String,
    /// The peeled output, `txid:vout`.
    pub output: String,
    /// Tainted amount peeled.
    pub amount: u64,
    /// Where it went: a stop label, `unspent`, `followed`, or `cut`.
    pub destination: String,
}

/// A CoinJoin crossed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coinjoin {
    /// Txid.
    pub tx: String,
    /// Shape name.
    pub shape: String,
    /// Tainted value in.
    pub tainted_in: u64,
    /// Tainted value out.
    pub tainted_out: u64,
}

/// A consolidation crossed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consolidation {
    /// Txid.
    pub tx: String,
    /// Inputs.
    pub inputs: u32,
    /// Tainted inputs.
    pub tainted_inputs: u32,
}

/// A label used as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The label.
    pub label: String,
    /// Its category.
    pub category: String,
    /// The labeled address that defines it.
    pub address: String,
    /// Where the label comes from.
    pub source: String,
    /// `true` if the stop applies through the address's cluster rather than the address itself.
    pub via_cluster: bool,
    /// For a stop through a cluster: the address the value reached, and the chain of merges
    /// joining it to the labeled address, each `heuristic in txid` (see `cointrail explain`).
    #[serde(default)]
    pub reached_address: Option<String>,
    /// The merges, in order from the labeled address.
    #[serde(default)]
    pub joined_by: Vec<String>,
}

/// What reproduces a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reproduce {
    /// The command line (store path included).
    pub command: String,
    /// Height of the store's tip when the trace ran.
    pub tip_height: Option<u32>,
    /// Hash of that tip.
    pub tip_hash: Option<String>,
    /// Transactions clustered when the trace ran (0 if never).
    pub clustered_txs: u64,
    /// cointrail version.
    pub version: String,
}
