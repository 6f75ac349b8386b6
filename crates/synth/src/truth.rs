//! The ground truth written beside the blocks (`truth.json`), as serde types.
//!
//! The two large tables are TSV files beside it: `truth_addresses.tsv` (every address the
//! generator created: `address`, `entity`, `role`) and `truth_change.tsv` (every change output:
//! `txid`, `vout`, `entity`). `docs/synth.md` specifies all three.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the ground-truth format; bumped on any incompatible change.
pub const TRUTH_FORMAT: u32 = 1;

/// The content of `truth.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Truth {
    /// [`TRUTH_FORMAT`].
    pub format: u32,
    /// Network name (`regtest` or `mainnet`): the encoding of every address text.
    pub network: String,
    /// The seed the chain was generated from.
    pub seed: u64,
    /// Blocks after genesis (the tip height).
    pub blocks: u32,
    /// Every entity, by id.
    pub entities: Vec<EntityTruth>,
    /// Every exchange, in entity order.
    pub exchanges: Vec<ExchangeTruth>,
    /// Every CoinJoin transaction, in chain order.
    pub coinjoins: Vec<CoinjoinTruth>,
    /// The planted thefts, in order.
    pub thefts: Vec<TheftTruth>,
}

/// An entity: who owns addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EntityTruth {
    /// Id, as used in the TSV files.
    pub id: u32,
    /// `user`, `miner`, `exchange`, `service`, `coinjoin_coordinator` or `thief`.
    pub kind: String,
    /// Display name.
    pub name: String,
    /// Number of addresses it owns in `truth_addresses.tsv`.
    pub address_count: u64,
}

/// An exchange and its wallets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExchangeTruth {
    /// Name (also the entity's name).
    pub name: String,
    /// Entity id.
    pub entity: u32,
    /// Hot-wallet addresses (heavily reused): label these as the exchange.
    pub hot_wallet: Vec<String>,
    /// Number of deposit addresses (role `deposit` in `truth_addresses.tsv`).
    pub deposit_address_count: u64,
}

/// A CoinJoin transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CoinjoinTruth {
    /// Transaction id (display hex).
    pub txid: String,
    /// Height of its block.
    pub height: u32,
    /// `joinmarket`, `wasabi1`, `wasabi2` or `whirlpool`.
    pub shape: String,
    /// Entity ids of the participants (distinct, sorted; the coordinator is not a participant).
    pub participants: Vec<u32>,
    /// Number of inputs.
    pub inputs: u32,
    /// Number of outputs.
    pub outputs: u32,
    /// Value of the equal outputs (for `wasabi2`: the smallest standard denomination used).
    pub denomination: u64,
}

/// A planted theft, how it was laundered, and where its value went under each taint policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TheftTruth {
    /// Name, e.g. `theft-1`.
    pub name: String,
    /// Entity id of the thief.
    pub thief: u32,
    /// Name of the exchange whose hot wallet was robbed.
    pub victim: String,
    /// Height of the theft transaction.
    pub height: u32,
    /// The theft transaction (spends the victim's hot-wallet outputs).
    pub txid: String,
    /// The stolen outputs (`txid:vout`), paid to thief addresses: the seeds of every trace.
    pub seeds: Vec<String>,
    /// Sum of the seeds' values.
    pub amount: u64,
    /// The thief's clean output spent together with stolen outputs, if any (`txid:vout`).
    pub clean_input: Option<String>,
    /// Value of the clean input (0 if none).
    pub clean_amount: u64,
    /// The split transaction (seeds, and the clean input, to many thief addresses).
    pub split_txid: String,
    /// The peel chain's transactions, in order.
    pub peel_chain: Vec<String>,
    /// The CoinJoin the thief took part in, if it happened.
    pub coinjoin_txid: Option<String>,
    /// Transactions paying the thief's coins into exchange deposit addresses.
    pub deposit_txids: Vec<String>,
    /// Outputs left unspent on thief addresses at the tip (`txid:vout`).
    pub dormant: Vec<String>,
    /// Per policy (`poison`, `haircut`, `fifo`, `lifo`): what reached each exchange, what is left
    /// unspent elsewhere, and what went to fees.
    pub policies: BTreeMap<String, PolicyTruth>,
}

/// Where the tainted value of one theft went under one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PolicyTruth {
    /// Exchange name to tainted satoshis received at its addresses (exchanges receiving zero are
    /// omitted).
    pub reached: BTreeMap<String, u64>,
    /// Tainted satoshis in outputs unspent at the tip, not at an exchange.
    pub unspent: u64,
    /// Tainted satoshis paid as fees.
    pub fees: u64,
}

impl PolicyTruth {
    /// Returns reached + unspent + fees: the seed amount for haircut, FIFO and LIFO.
    pub fn total(&self) -> u64 {
        self.reached.values().sum::<u64>() + self.unspent + self.fees
    }
}
