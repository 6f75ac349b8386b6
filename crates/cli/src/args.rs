//! Command-line arguments as the user types them ("low" arguments, as ripgrep calls them).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use cointrail_btc::Network;
use cointrail_synth::Activity;

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

    /// The chain to use when the store holds several (an EVM chain's name, e.g. ethereum)
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) chain: Option<String>,

    /// Output format: `table` (readable, the default) or `json` (one document on stdout). For
    /// `labels import` and `labels diff`, also the format of the files read (ofac-xml, ofac-list,
    /// tagpack, csv, etherscan): give `--format` twice to set both
    #[arg(long, global = true, value_name = "FORMAT", action = clap::ArgAction::Append)]
    pub(crate) format: Vec<String>,
}

impl Cli {
    /// Returns the output format among the `--format` values (default: table).
    pub(crate) fn output_format(&self) -> Result<Format, String> {
        let mut output = Format::Table;
        for value in &self.format {
            match value.as_str() {
                "table" => output = Format::Table,
                "json" => output = Format::Json,
                "csv" if self.is_trace_command() => output = Format::Csv,
                "dot" if self.is_trace_command() => output = Format::Dot,
                "graphml" if self.is_trace_command() => output = Format::Graphml,
                "html" if self.is_trace_command() => output = Format::Html,
                other if self.is_label_command() && is_source_format(other) => {}
                other => {
                    let extra = if self.is_label_command() {
                        ", or ofac-xml, ofac-list, tagpack, csv, etherscan"
                    } else if self.is_trace_command() {
                        ", csv, dot, graphml or html"
                    } else {
                        ""
                    };
                    return Err(format!(
                        "invalid value '{other}' for '--format': expected table or json{extra}"
                    ));
                }
            }
        }
        Ok(output)
    }

    /// Returns the label file format among the `--format` values, if any.
    pub(crate) fn source_format(&self) -> Option<&str> {
        self.format.iter().map(String::as_str).find(|value| is_source_format(value))
    }

    fn is_label_command(&self) -> bool {
        matches!(self.command, Command::Labels(_))
    }

    fn is_trace_command(&self) -> bool {
        matches!(self.command, Command::Trace(_) | Command::Actor(_))
    }
}

/// Returns `true` for a label file format name (`cointrail_labels::SourceFormat`).
fn is_source_format(text: &str) -> bool {
    text.parse::<cointrail_labels::SourceFormat>().is_ok()
}

/// Output format of every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Aligned text for people
    Table,
    /// One JSON document on stdout
    Json,
    /// Flow edges as CSV (trace)
    Csv,
    /// Graphviz DOT (trace)
    Dot,
    /// GraphML (trace)
    Graphml,
    /// One self-contained HTML report (trace)
    Html,
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
    /// Group addresses into entities (clusters) with co-spend and optional change heuristics
    ///
    /// Multi-input (co-spend) is on by default; CoinJoin transactions (generic equal-output rule,
    /// JoinMarket, Wasabi 1/2, Whirlpool shapes) are never merged. Change heuristics are opt-in:
    /// change:fresh, change:type, change:round, change:optimal (see docs/heuristics.md for what
    /// each does, its sources and its measured precision). Re-running after more blocks were
    /// ingested only examines the new transactions; other heuristics start over.
    ///
    /// With --chain NAME (or in a store holding only EVM chains), clusters an EVM chain with the
    /// deposit-address heuristic instead (Victor 2020): addresses paying into one exchange deposit
    /// address are one customer. The --max-* and --min-deposits options tune it; every run covers
    /// the whole chain.
    ///
    ///   cointrail cluster --store ./store
    ///   cointrail cluster --store ./store --heuristics multi-input,change:type
    ///   cointrail cluster --store ./store --chain ethereum
    #[command(verbatim_doc_comment)]
    Cluster(ClusterArgs),
    /// Explain why two addresses are in one cluster: the chain of transactions and heuristics
    ///
    /// For EVM addresses (0x…, with --chain NAME when the store holds several chains): the
    /// deposit addresses they paid into, the payments and the forwards to the hot wallet.
    Explain {
        /// First address
        address_a: String,
        /// Second address
        address_b: String,
    },
    /// Import labels (OFAC, GraphSense TagPacks, CSV) and compare issues of a list
    #[command(subcommand)]
    Labels(LabelsCommand),
    /// Follow the money from seeds: where stolen coins went (forward) or where funds came from
    ///
    /// A seed is an outpoint `txid:vout`, a txid (all its outputs) or an address (all the outputs
    /// it received). Tracing stops at addresses labeled with a stop category, directly or through
    /// their cluster (run `cointrail cluster` and `cointrail labels import` first).
    ///
    /// Policies: poison (any output of a tx with a tainted input is fully tainted), haircut (each
    /// output carries the tx's tainted share), fifo (value flows from inputs to outputs in order:
    /// Clayton's rule), lifo (last in, first out). For haircut, fifo and lifo the figures add up
    /// exactly: reached + unspent + fees + cut = seed amount.
    ///
    ///   cointrail trace --store ./store --from TXID:0 --policy haircut
    ///   cointrail trace --store ./store --from ADDRESS --direction backward --format json
    ///   cointrail trace --store ./store --from TXID:0 --format html --output report.html
    #[command(verbatim_doc_comment)]
    Trace(TraceArgs),
    /// Record thefts and report per actor: incidents, totals, destinations
    #[command(subcommand)]
    Incident(IncidentCommand),
    /// Report everything recorded about an actor
    #[command(subcommand)]
    Actor(ActorCommand),
    /// Write a synthetic Bitcoin Core blocks directory with planted thefts and ground truth
    ///
    /// The files are what Core writes (blk*.dat rolled at 128 MiB, optional xor.dat, blocks
    /// slightly out of order, valid merkle roots and regtest proof of work), filled with users,
    /// miners, exchanges, services and CoinJoins; truth.json, truth_addresses.tsv and
    /// truth_change.tsv beside them say who owns what and where each planted theft went under
    /// every policy (docs/synth.md). The same seed gives the same bytes.
    ///
    ///   cointrail synth --out ./chain --blocks 200 --txs-per-block 2000 --xor
    ///   cointrail ingest btc --blocks-dir ./chain --store ./store --network regtest
    #[command(verbatim_doc_comment)]
    Synth(SynthArgs),
    /// Serve the screening API over HTTP (JSON under /v1, OpenAPI at /openapi.json)
    Serve(ServeArgs),
    /// Screen an address, a transaction or an output: exposure to risky labels, score and level
    ///
    /// Bitcoin: backward haircut through the transactions that paid the target, within
    /// --max-hops. EVM (0x targets): the haircut make-up of the senders' balances, back through
    /// their own senders, within --max-hops flows. Examples:
    ///
    ///   cointrail risk 1BoatSLRHtKNngkdXEeobR76b53LETtpyT --store ./store
    ///   cointrail risk 0x<tx hash> --store ./store --format json
    ///   cointrail risk 0x<tx hash>:3 --store ./store          (the token transfer of log 3)
    ///   cointrail risk 0x<address> --asset USDT --chain ethereum --store ./store
    #[command(verbatim_doc_comment)]
    Risk(RiskArgs),
    /// Follow a node: pull new blocks as they come, survive reorgs, alert when watched coins move
    #[command(subcommand)]
    Follow(FollowCommand),
    /// Manage the watchlist: addresses, outputs, clusters, incidents or labels to alert on
    #[command(subcommand)]
    Watch(WatchCommand),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address and port to listen on
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub(crate) listen: String,
    /// API keys file (one key per line, stored hashed); without it only loopback clients are served
    #[arg(long, value_name = "FILE")]
    pub(crate) api_keys: Option<PathBuf>,
    /// Risk rules file (JSON; see docs/risk.md); default rules otherwise
    #[arg(long, value_name = "FILE")]
    pub(crate) rules: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RiskArgs {
    /// An address, a txid (its outputs) or an outpoint txid:vout; on an EVM chain an address
    /// (0x + 40 hex), a transaction (0x + 64 hex) or one token transfer HASH:LOG_INDEX
    pub(crate) target: String,
    /// EVM only: the asset to screen (`native`, the native symbol, a token contract or symbol);
    /// default the native currency, or for a transaction the first asset it moves
    #[arg(long, value_name = "ASSET")]
    pub(crate) asset: Option<String>,
    /// Risk rules file (JSON; see docs/risk.md); default rules otherwise
    #[arg(long, value_name = "FILE")]
    pub(crate) rules: Option<PathBuf>,
    /// Look for indirect exposure up to this many transactions back
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub(crate) max_hops: u32,
}

#[derive(Debug, Subcommand)]
pub(crate) enum FollowCommand {
    /// Follow a Bitcoin Core-compatible node over JSON-RPC
    Btc(FollowBtcArgs),
    /// Follow an EVM node over JSON-RPC
    Evm(FollowEvmArgs),
}

#[derive(Debug, Args)]
pub(crate) struct FollowEvmArgs {
    /// The node's JSON-RPC URL
    #[arg(long, value_name = "URL")]
    pub(crate) rpc: String,
    #[command(flatten)]
    pub(crate) follow: FollowArgs,
}

/// Options shared by `follow btc` and `follow evm`.
#[derive(Debug, Args)]
pub(crate) struct FollowArgs {
    /// Stop once the store has the node's tip (instead of following forever)
    #[arg(long)]
    pub(crate) exit_when_synced: bool,
    /// Seconds between polls of the node's tip
    #[arg(long, default_value_t = 2, value_name = "SECONDS")]
    pub(crate) poll_seconds: u64,
    /// Append alerts as JSON lines to this file (stdout otherwise)
    #[arg(long, value_name = "FILE")]
    pub(crate) alerts: Option<PathBuf>,
    /// POST each alert to this URL (retried until delivered)
    #[arg(long, value_name = "URL")]
    pub(crate) webhook: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct FollowBtcArgs {
    /// The node's JSON-RPC URL, e.g. http://127.0.0.1:8332
    #[arg(long, value_name = "URL")]
    pub(crate) rpc: String,
    /// RPC user name
    #[arg(long, value_name = "USER", requires = "rpc_password")]
    pub(crate) rpc_user: Option<String>,
    /// RPC password
    #[arg(long, value_name = "PASSWORD", requires = "rpc_user")]
    pub(crate) rpc_password: Option<String>,
    /// RPC cookie file (the node's .cookie)
    #[arg(long, value_name = "FILE", conflicts_with = "rpc_user")]
    pub(crate) rpc_cookie: Option<PathBuf>,
    /// Network of the node: mainnet, testnet, testnet4, signet, regtest, litecoin,
    /// litecoin-testnet, litecoin-regtest
    #[arg(long, default_value = "mainnet", value_name = "NETWORK")]
    pub(crate) network: String,
    #[command(flatten)]
    pub(crate) follow: FollowArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum WatchCommand {
    /// Watch an address, an outpoint txid:vout, a cluster id, an incident or a label
    Add {
        /// An address, an outpoint txid:vout, or a cluster id
        target: Option<String>,
        /// Watch the coins of a recorded incident (and everything tainted by them)
        #[arg(long, value_name = "NAME", conflicts_with = "target")]
        incident: Option<String>,
        /// Watch every address carrying this label
        #[arg(long, value_name = "LABEL", conflicts_with_all = ["target", "incident"])]
        label: Option<String>,
    },
    /// List watches
    List,
    /// Remove a watch by its id
    Remove {
        /// The watch id (from `watch list`)
        id: u64,
    },
}

#[derive(Debug, Args)]
pub(crate) struct SynthArgs {
    /// Output directory (created; must be empty)
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Blocks after genesis
    #[arg(long, value_name = "N")]
    pub(crate) blocks: u32,
    /// Average transactions per block
    #[arg(long, default_value_t = 2000, value_name = "M")]
    pub(crate) txs_per_block: u32,
    /// Seed of every random choice
    #[arg(long, default_value_t = 1, value_name = "S")]
    pub(crate) seed: u64,
    /// regtest or mainnet (mainnet magic, genesis and addresses; regtest difficulty)
    #[arg(long, default_value = "regtest", value_name = "NETWORK")]
    pub(crate) network: Network,
    /// Obfuscate the files with an xor.dat key, as Bitcoin Core 28+ does
    #[arg(long)]
    pub(crate) xor: bool,
    /// Who pays and gets paid: recent (mostly users active in the last hours, so most outputs are
    /// spent and most reused addresses paid again soon, as on mainnet) or uniform (any user
    /// alike: accesses spread over the whole chain, the harder case for an ingest's page cache)
    #[arg(long, default_value = "recent", value_name = "ACTIVITY")]
    pub(crate) activity: Activity,
}

#[derive(Debug, Args)]
pub(crate) struct TraceArgs {
    /// Seeds: txid:vout, txid, or address (repeat or separate with commas)
    #[arg(long = "from", required = true, value_delimiter = ',', value_name = "SEED")]
    pub(crate) seeds: Vec<String>,
    #[command(flatten)]
    pub(crate) options: TraceOptionArgs,
    /// EVM seeds only: the asset to trace (`native`, the native symbol, a token contract or a
    /// token symbol); default the native currency
    #[arg(long, value_name = "ASSET")]
    pub(crate) asset: Option<String>,
    /// Write the result to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

/// Options shared by `trace` and `actor report`.
#[derive(Debug, Args, Clone)]
pub(crate) struct TraceOptionArgs {
    /// forward (where the coins went) or backward (where they came from)
    #[arg(long, default_value = "forward", value_name = "DIRECTION")]
    pub(crate) direction: String,
    /// poison, haircut, fifo or lifo
    #[arg(long, default_value = "haircut", value_name = "POLICY")]
    pub(crate) policy: String,
    /// Follow at most this many transactions from a seed
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub(crate) max_hops: u32,
    /// Visit at most this many transactions in all (the trace says so when it stops early)
    #[arg(long, default_value_t = 200_000, value_name = "N")]
    pub(crate) max_txs: usize,
    /// Stop after this many seconds
    #[arg(long, value_name = "SECONDS")]
    pub(crate) max_seconds: Option<u64>,
    /// Do not follow outputs carrying less than this many satoshis
    #[arg(long, default_value_t = 0, value_name = "SAT")]
    pub(crate) min_amount: u64,
    /// Label categories where tracing stops, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "exchange,service", value_name = "LIST")]
    pub(crate) stop_category: Vec<String>,
    /// Count value as reached at an address whose output is swept entirely into one stop label
    /// (an unlabeled deposit address of a labeled exchange), before the sweep's fee
    #[arg(long)]
    pub(crate) deposit_forwarding: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum IncidentCommand {
    /// Record a theft: its name, the actor, and the stolen outputs (seeds)
    Add {
        /// Name of the incident (unique in the store)
        #[arg(long)]
        name: String,
        /// The actor responsible (e.g. "Lazarus Group")
        #[arg(long)]
        actor: String,
        /// Stolen outputs: txid:vout, txid or address (repeat or separate with commas)
        #[arg(long = "seed", required = true, value_delimiter = ',', value_name = "SEED")]
        seeds: Vec<String>,
        /// Date of the theft, YYYY-MM-DD (default: the date of the seeds' block)
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<String>,
        /// Where the attribution comes from (a URL, a report)
        #[arg(long, value_name = "URL")]
        source: Option<String>,
    },
    /// List recorded incidents
    List,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ActorCommand {
    /// Total stolen by an actor (overlapping incidents counted once), where it went, and its value
    Report {
        /// The actor, as recorded with `incident add`
        actor: String,
        #[command(flatten)]
        options: TraceOptionArgs,
        /// Daily prices, CSV `date,price` (USD per coin), to value each theft at its date
        #[arg(long, value_name = "CSV")]
        prices: Option<PathBuf>,
        /// Write the result to this file instead of stdout
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ClusterArgs {
    /// Heuristics, comma-separated: multi-input, change:fresh, change:type, change:round,
    /// change:optimal
    #[arg(long, value_delimiter = ',', default_value = "multi-input", value_name = "LIST")]
    pub(crate) heuristics: Vec<String>,

    /// Collapse guard: a merge that would create a cluster larger than this...
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub(crate) max_cluster_size: u32,

    /// ...from two clusters that each have at least this many addresses is held and reported
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    pub(crate) guard_min_side: u32,

    /// EVM (deposit-address heuristic): largest shortfall of an ether forward against what the
    /// deposit address received, in wei (default 0.01 ether, Victor 2020)
    #[arg(long, default_value = "10000000000000000", value_name = "WEI")]
    pub(crate) max_amount_difference: String,

    /// EVM: largest shortfall of a token forward, in token units
    #[arg(long, default_value = "0", value_name = "UNITS")]
    pub(crate) max_token_difference: String,

    /// EVM: largest number of blocks between a payment into a deposit address and its forward
    #[arg(long, default_value_t = 10_000, value_name = "BLOCKS")]
    pub(crate) max_block_delay: u64,

    /// EVM: deposit addresses that must forward to one address before it counts as a hot wallet
    /// (addresses labelled `exchange` count with one)
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub(crate) min_deposits: u32,

    /// EVM: a sender paying into more deposit addresses than this is a service and not clustered
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub(crate) max_sender_deposits: u32,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LabelsCommand {
    /// Import label files into the store (idempotent; all files or nothing)
    ///
    ///   cointrail labels import --store ./store --format ofac-xml sdn_advanced.xml
    ///   cointrail labels import --store ./store --format ofac-list sanctioned_addresses_XBT.txt
    ///   cointrail labels import --store ./store --format tagpack lazarus.yaml
    ///   cointrail labels import --store ./store --format csv mine.csv   # address,label,category[,actor,source,confidence,asset]
    #[command(verbatim_doc_comment)]
    ///
    /// --format names the files' format: ofac-xml (Treasury's sdn_advanced.xml), ofac-list (one
    /// address per line, file named sanctioned_addresses_<ASSET>.txt), tagpack (GraphSense YAML)
    /// or csv. Add --format json for a JSON report.
    Import {
        /// Override the source recorded with each label
        #[arg(long, value_name = "TEXT")]
        source: Option<String>,
        /// Import date recorded with each label (default: today, UTC)
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<String>,
        /// Files to import
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// List what changed between two issues of a label list: added and removed addresses
    ///
    /// --format may name the files' format; by default it follows the file name (.xml ofac-xml,
    /// .yaml/.yml tagpack, .csv csv, anything else ofac-list).
    Diff {
        /// The older issue
        old: PathBuf,
        /// The newer issue
        new: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum IngestCommand {
    /// Ingest a Bitcoin Core blocks directory (blk*.dat, with xor.dat if Core 28+ wrote it)
    ///
    /// Blocks may be in any file and any order: cointrail scans every header, builds the chain with
    /// the most work from the network's genesis, and ignores blocks off that chain. Every input is
    /// resolved to the output it spends. Work is committed in batches: an interrupted run (even
    /// kill -9) loses at most the last batch, and re-running resumes after the stored tip.
    ///
    /// Memory: the address index (12 GiB for a whole mainnet chain) stays in memory while it is
    /// at most 5/8 of RAM (or of the container's limit) and leaves a quarter free; otherwise it
    /// goes to a scratch file in the store and the ingest slows down where memory is short. The
    /// live transactions (the map inputs are resolved through, 4-8 GiB for a whole chain) go to
    /// a scratch file too when they no longer fit beside the rest. The summary says which
    /// (address_index_in_memory, live_map_in_memory with --format json). Once the stored address
    /// rows (addr.key) stop fitting in the page cache, the ingest reads a block's rows ahead of
    /// its lookups; the summary says so too (address_read_ahead).
    #[command(verbatim_doc_comment)]
    Btc(IngestBtcArgs),
    /// Ingest an EVM chain (Ethereum and compatibles) from any JSON-RPC node
    ///
    /// Value flows: native transfers, gas fees, internal transfers from traces (when the node has
    /// debug_traceBlockByNumber or trace_block; otherwise the gap is recorded), ERC-20 and ERC-721
    /// Transfer logs. Resumable; reorganisations are unwound to the fork point.
    #[command(verbatim_doc_comment)]
    Evm(IngestEvmArgs),
}

#[derive(Debug, Args)]
pub(crate) struct IngestEvmArgs {
    /// The node's JSON-RPC URL (http:// or https://)
    #[arg(long, value_name = "URL")]
    pub(crate) rpc: String,
    /// First block (default: after the stored tip, or 0)
    #[arg(long, value_name = "N")]
    pub(crate) from: Option<u64>,
    /// Last block (default: the node's latest)
    #[arg(long, value_name = "M")]
    pub(crate) to: Option<u64>,
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
    #[arg(long, default_value_t = 2_000_000, value_name = "N")]
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
    /// A cluster (entity): size, labels, conflicts and members
    Cluster {
        /// The cluster id (a number, as `show address` prints it) or any address in it; for an
        /// EVM chain, an address (0x…) of the cluster
        cluster: String,
        /// List at most this many member addresses
        #[arg(long, default_value_t = 100, value_name = "N")]
        limit: usize,
    },
}
