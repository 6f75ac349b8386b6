//! Command-line arguments as the user types them ("low" arguments, as ripgrep calls them).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use cointrail_btc::Network;

/// cointrail: follow stolen coins across Bitcoin, from one binary and one embedded store.
///
/// Start by ingesting a Bitcoin Core blocks directory, then ask about transactions, addresses and
/// blocks:
///
///   cointrail ingest btc --blocks-dir ~/.bitcoin/blocks --store ./store
///   cointrail show tx f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16 --store ./store
///   cointrail show address 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S --store ./store
///   cointrail status --store ./store --format json
#[derive(Debug, Parser)]
#[command(name = "cointrail", version, verbatim_doc_comment, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,

    /// The store directory (one directory, created by `ingest`)
    #[arg(long, global = true, env = "COINTRAIL_STORE", value_name = "DIR")]
    pub(crate) store: Option<PathBuf>,

    /// Output format: readable tables, or JSON for scripts
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

/// Output format of every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned text for people
    Table,
    /// One JSON document on stdout
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Read blocks into the store (re-running adds only new blocks)
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Show a transaction, an address or a block
    #[command(subcommand)]
    Show(ShowCommand),
    /// Show the store's tip, row counts and size on disk
    Status,
}

#[derive(Debug, Subcommand)]
pub(crate) enum IngestCommand {
    /// Ingest a Bitcoin Core blocks directory (blk*.dat, with xor.dat if Core 28+ wrote it)
    ///
    /// Blocks may be in any file and any order: cointrail scans every header, builds the chain with
    /// the most work from the network's genesis, and ignores blocks off that chain. Every input is
    /// resolved to the output it spends. Work is committed in batches: an interrupted run (even
    /// kill -9) loses at most the last batch, and re-running resumes after the stored tip.
    #[command(verbatim_doc_comment)]
    Btc(IngestBtcArgs),
}

#[derive(Debug, Args)]
pub(crate) struct IngestBtcArgs {
    /// The blocks directory of a Bitcoin Core node (e.g. ~/.bitcoin/blocks)
    #[arg(long, value_name = "DIR")]
    pub(crate) blocks_dir: PathBuf,

    /// Network of the blocks: mainnet, testnet (testnet3), testnet4, signet or regtest
    #[arg(long, default_value = "mainnet", value_name = "NETWORK")]
    pub(crate) network: Network,

    /// Stop after this height (default: the tip of the best chain in the files)
    #[arg(long, value_name = "HEIGHT")]
    pub(crate) to_height: Option<u32>,

    /// Commit after this many transactions (larger batches are faster, smaller lose less on a crash)
    #[arg(long, default_value_t = 250_000, value_name = "N")]
    pub(crate) batch_txs: u64,

    /// Commit after this many blocks, whichever of the two limits comes first
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub(crate) batch_blocks: u32,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ShowCommand {
    /// A transaction: block, fee, inputs with the outputs they spend, outputs with their spenders
    Tx {
        /// The txid, as block explorers show it
        txid: String,
    },
    /// An address: received, sent, balance, number of transactions, first and last height
    Address {
        /// The address in the store's network encoding (multisig-… and nonstandard-… ids too)
        address: String,
    },
    /// A block by height or hash
    Block {
        /// A height (e.g. 170) or a block hash
        block: String,
    },
}
