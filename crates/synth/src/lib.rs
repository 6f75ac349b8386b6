//! Synthetic Bitcoin chains for cointrail: a Bitcoin Core-style blocks directory with realistic
//! content and planted scenarios whose ground truth is written beside the blocks.
//!
//! No real chain bigger than a few hundred blocks ships with cointrail, yet ingest, the store and
//! the heuristics must be measured at chain scale and against known answers. [`generate`] writes
//! `blk?????.dat` files (rolled at 128 MiB, optionally XOR-obfuscated as Core 28+ does, blocks
//! slightly out of order) whose every block links, has a valid merkle root and proof of work at
//! regtest difficulty, and whose every input spends an existing unspent output exactly once.
//!
//! The content follows an economy of entities (users, mining pools, exchanges, services, CoinJoin
//! coordinators, thieves) with a recent script-type mix, change, address reuse, exchange deposit
//! sweeps and batch withdrawals, four CoinJoin shapes and planted thefts laundered through peel
//! chains, splits, a CoinJoin and exchange deposits. The ground truth (`truth.json`,
//! `truth_addresses.tsv`, `truth_change.tsv`) names the owner of every address, every change
//! output, every CoinJoin, and for each theft the exact amounts reaching each exchange under the
//! poison, haircut, FIFO and LIFO taint policies, computed by an independent reference tracer.
//! `docs/synth.md` documents every parameter and the file formats.
//!
//! The blocks carry dummy signatures: they are valid for cointrail (which does not run scripts)
//! but not under Bitcoin Core's script rules.

use std::path::{Path, PathBuf};

use cointrail_btc::Network;
use cointrail_types::Hash32;
use serde::{Deserialize, Serialize};

mod blkout;
mod generator;
mod genesis;
mod rng;
mod script;
mod taint;
mod truth;

pub use truth::{
    CoinjoinTruth, EntityTruth, ExchangeTruth, PolicyTruth, TRUTH_FORMAT, TheftTruth, Truth,
};

/// Bitcoin Core's blk-file size limit (`MAX_BLOCKFILE_SIZE`, 128 MiB).
pub const DEFAULT_FILE_SIZE_LIMIT: u64 = 128 * 1024 * 1024;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthConfig {
    /// Blocks after genesis (the tip height).
    pub blocks: u32,
    /// Target average number of transactions per block, coinbase included (default 2000).
    pub txs_per_block: u32,
    /// Seed of every random choice: the same seed and config give byte-identical files.
    pub seed: u64,
    /// [`Network::Regtest`] (regtest magic, genesis and addresses) or [`Network::Mainnet`]
    /// (mainnet magic, genesis and addresses; later blocks still at regtest difficulty).
    pub network: Network,
    /// Write `xor.dat` and obfuscate the blk files with it (Bitcoin Core 28+).
    pub xor: bool,
    /// Which users pay and get paid: mostly recently active ones (the default, as on mainnet)
    /// or any user alike.
    pub activity: Activity,
    /// A new blk file starts when the next block would pass this size (Core: 128 MiB). For tests.
    #[doc(hidden)]
    pub file_size_limit: u64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            blocks: 1000,
            txs_per_block: 2000,
            seed: 1,
            network: Network::Regtest,
            xor: false,
            activity: Activity::Recent,
            file_size_limit: DEFAULT_FILE_SIZE_LIMIT,
        }
    }
}

/// Which users pay and which get paid (`docs/synth.md`, "Activity").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activity {
    /// Mostly recently active users: 90 % of user payments are made by a user drawn from the
    /// last 2^20 credits to users, and 90 % of payments to users go to a recent joiner (users join
    /// at an even pace over the chain), each with a chance falling off as one over the distance
    /// beyond a window of the newest. Most outputs are then spent within hours and most reused
    /// addresses were last paid recently, as on mainnet.
    #[default]
    Recent,
    /// Any user alike: payers from every user holding outputs, payees from every user. Outputs
    /// and reused addresses are as likely to come from early in the chain as from late; the
    /// chains measured until 2026-12-07 were generated this way.
    Uniform,
}

impl std::str::FromStr for Activity {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "recent" => Ok(Self::Recent),
            "uniform" => Ok(Self::Uniform),
            _ => Err(format!("unknown activity {text:?}: expected recent or uniform")),
        }
    }
}

/// What [`generate`] wrote; also written as `summary.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynthSummary {
    /// Blocks, genesis included.
    pub blocks: u64,
    /// Transactions, coinbases (and the genesis coinbase) included.
    pub txs: u64,
    /// Outputs, `OP_RETURN` outputs and the genesis output included.
    pub outputs: u64,
    /// Spending inputs (coinbase inputs excluded).
    pub inputs: u64,
    /// Sum of every output's value in satoshis, the genesis output included.
    pub total_output_value: u64,
    /// Bytes of every blk file (records with their 8-byte prefix).
    pub bytes: u64,
    /// Number of blk files.
    pub files: u32,
    /// Hash of the tip block.
    #[serde(with = "hash_hex")]
    pub tip_hash: Hash32,
}

/// An error of [`generate`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// The output directory exists and is not empty.
    #[error("output directory {path} is not empty; choose a new or empty directory")]
    NotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// The configuration cannot be generated.
    #[error("invalid synth configuration: {0}")]
    Config(String),
    /// Reading or writing a file failed (the message names the file).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Serializing the summary or the ground truth failed.
    #[error("writing {file}: {source}")]
    Json {
        /// The file being written.
        file: PathBuf,
        /// The serializer's error.
        source: serde_json::Error,
    },
}

/// Generates a chain into `out` (created if absent; an existing directory must be empty) and
/// returns its summary. `progress` is called with each height after its block is built.
///
/// # Errors
///
/// [`SynthError::NotEmpty`] if `out` has entries, [`SynthError::Config`] for an unusable
/// configuration (no blocks is fine: genesis only), [`SynthError::Io`] naming the file that could
/// not be written.
pub fn generate(
    config: &SynthConfig,
    out: &Path,
    progress: &mut dyn FnMut(u32),
) -> Result<SynthSummary, SynthError> {
    generator::run(config, out, progress)
}

/// Serde helpers for hashes as display hex.
mod hash_hex {
    use cointrail_types::Hash32;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(hash: &Hash32, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(hash)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash32, D::Error> {
        let text = String::deserialize(d)?;
        Hash32::from_display_hex(&text).map_err(serde::de::Error::custom)
    }
}
