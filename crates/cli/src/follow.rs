//! `cointrail follow btc`, `cointrail follow evm` and `cointrail watch`: the commands around
//! `cointrail-watch` (which transactions move watched coins; the alert outbox and webhook) and the
//! followers of `cointrail-ingest` (Bitcoin) and `cointrail-evm`.
//!
//! Alerts are written to the store's alert log and synced before their block is committed (none is
//! lost), deduplicated per watch and transaction (none is sent twice), printed as JSON lines, and
//! POSTed to the webhook, retried until it answers 2xx.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use cointrail_btc::{DecodedBlock, Network};
use cointrail_ingest::{BtcRpc, FollowEvents, FollowOptions, RpcAuth, follow_btc};
use cointrail_store::evm::EvmStore;
use cointrail_store::{
    ChainView, Store, Watch, WatchKind, load_incidents, load_watches, save_watches,
};
use cointrail_types::{B256, EvmAddress, Height};
use cointrail_watch::{
    Delivered, Outbox, Watcher, evm_alerts, is_evm_address, parse_outpoint, read_scanned,
    write_scanned,
};
use serde::Serialize;
use serde_json::json;

use crate::args::{FollowBtcArgs, FollowEvmArgs, Format, WatchCommand};
use crate::output::emit;

/// Alerts of `follow evm` are raised for blocks above this many blocks below the last scanned one
/// when the scanned block is no longer in the store (a reorganisation the follower did not see
/// finish, e.g. a crash in the middle of one). Alerts are deduplicated, so a rescan repeats none.
const EVM_RESCAN_DEPTH: u64 = 64;

pub(crate) fn evm(
    args: &FollowEvmArgs,
    chain: Option<&str>,
    store: &Path,
    _format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let delivery = Outbox {
        store: store.to_owned(),
        file: args.follow.alerts.clone(),
        webhook: args.follow.webhook.clone(),
    };
    let mut follower = EvmFollower {
        rpc: args.rpc.clone(),
        store: store.to_owned(),
        chain: chain.map(str::to_owned),
        options: cointrail_evm::IngestOptions::default(),
        delivery,
        blocks: 0,
        reorgs: 0,
        deepest_reorg: 0,
        node_errors: 0,
        tip: None,
    };
    let poll = Duration::from_secs(args.follow.poll_seconds.max(1));
    let mut failures = 0u32;
    let mut announced: Option<(u64, B256)> = None;
    loop {
        match follower.step(out) {
            Ok(tip) => {
                failures = 0;
                if let Some((number, hash)) = tip
                    && (tip != announced || args.follow.exit_when_synced)
                {
                    writeln!(
                        out,
                        "{}",
                        json!({
                            "event": "synced",
                            "chain": follower.chain,
                            "tip_height": number,
                            "tip_hash": hash.to_string(),
                        })
                    )?;
                    out.flush()?;
                    announced = tip;
                }
                if args.follow.exit_when_synced {
                    log_delivery(&follower.delivery.deliver());
                    break;
                }
            }
            Err(StepError::Fatal(error)) => return Err(error),
            Err(StepError::Node(error)) => {
                failures += 1;
                follower.node_errors += 1;
                log(&format!("node error (retrying): {error:#}"));
                if args.follow.exit_when_synced && failures >= 5 {
                    return Err(
                        error.context(format!("follow evm gave up after {failures} failures"))
                    );
                }
            }
        }
        log_delivery(&follower.delivery.deliver());
        std::thread::sleep(poll);
    }
    writeln!(
        out,
        "{}",
        json!({
            "event": "stopped",
            "chain": follower.chain,
            "blocks": follower.blocks,
            "reorgs": follower.reorgs,
            "deepest_reorg": follower.deepest_reorg,
            "node_errors": follower.node_errors,
            "tip_height": follower.tip,
        })
    )?;
    Ok(())
}

/// A failed poll of `follow evm`: the node's (retried) or the store's and the alerts' (fatal).
enum StepError {
    Node(anyhow::Error),
    Fatal(anyhow::Error),
}

impl From<cointrail_evm::EvmError> for StepError {
    fn from(error: cointrail_evm::EvmError) -> Self {
        match error {
            cointrail_evm::EvmError::Store(_) => Self::Fatal(error.into()),
            _ => Self::Node(error.into()),
        }
    }
}

fn fatal(error: impl Into<anyhow::Error>) -> StepError {
    StepError::Fatal(error.into())
}

/// The state of `follow evm` between polls.
struct EvmFollower {
    rpc: String,
    store: PathBuf,
    /// The store's chain name (asked of the node's chain id at the first poll without `--chain`).
    chain: Option<String>,
    options: cointrail_evm::IngestOptions,
    delivery: Outbox,
    blocks: u64,
    reorgs: u64,
    deepest_reorg: u64,
    node_errors: u64,
    tip: Option<u64>,
}

/// Collects the reorganisations an ingest call unwinds.
#[derive(Default)]
struct Unwound(Vec<(u64, u64)>);

impl cointrail_evm::Progress for Unwound {
    fn reorg(&mut self, from: u64, to: u64) {
        self.0.push((from, to));
    }
}

impl EvmFollower {
    /// Ingests what the node has beyond the stored tip (unwinding reorganisations), then raises the
    /// alerts of the new blocks and records them as scanned. Returns the stored tip.
    fn step(&mut self, out: &mut dyn Write) -> Result<Option<(u64, B256)>, StepError> {
        let chain = match &self.chain {
            Some(chain) => chain.clone(),
            None => {
                let source = cointrail_evm::RpcSource::new(&self.rpc, self.options.source.clone())?;
                let chain = cointrail_evm::default_chain_name(source.chain_id()?);
                self.chain = Some(chain.clone());
                chain
            }
        };
        let before = evm_tip(&self.store, &chain).map_err(fatal)?;
        let scanned_file = self.store.join(format!("alerts.evm.{chain}.scanned"));
        // Alerts are raised for the blocks above `scan_from` (all blocks if `None`).
        let mut scan_from = match read_scanned(&scanned_file).map_err(fatal)? {
            Some((number, hash)) => {
                if evm_block_hash(&self.store, &chain, number).map_err(fatal)? == Some(hash) {
                    Some(number)
                } else {
                    let below = before.map_or(number, |(tip, _)| tip.min(number));
                    below.checked_sub(EVM_RESCAN_DEPTH)
                }
            }
            None => before.map(|(number, _)| number),
        };
        let mut unwound = Unwound::default();
        let result = cointrail_evm::ingest_with(
            &self.rpc,
            &self.store,
            Some(&chain),
            None,
            None,
            &self.options,
            &mut unwound,
        );
        for (from, to) in unwound.0 {
            self.reorgs += 1;
            self.deepest_reorg = self.deepest_reorg.max(from - to);
            scan_from = scan_from.map(|scanned| scanned.min(to));
            let event =
                json!({"event": "reorg", "chain": chain, "from_height": from, "fork_height": to});
            writeln!(out, "{event}").map_err(fatal)?;
        }
        let report = result?;
        self.blocks += report.blocks;
        self.tip = report.tip.map(|(number, _)| number);
        let Some((tip, hash)) = report.tip else { return Ok(None) };
        if scan_from.is_none_or(|scanned| scanned < tip) {
            let alerts = evm_alerts(&self.store, &chain, scan_from).map_err(fatal)?;
            let delivered = self
                .delivery
                .publish(out, &alerts)
                .map_err(|error| fatal(anyhow::anyhow!(error)))?;
            log_delivery(&delivered);
        }
        if read_scanned(&scanned_file).map_err(fatal)? != Some((tip, hash)) {
            write_scanned(&scanned_file, tip, hash).map_err(fatal)?;
        }
        Ok(Some((tip, hash)))
    }
}

/// Returns the stored tip of EVM chain `chain`, if the store has it.
fn evm_tip(store: &Path, chain: &str) -> anyhow::Result<Option<(u64, B256)>> {
    if !cointrail_evm::chains(store)?.iter().any(|name| name == chain) {
        return Ok(None);
    }
    let opened = EvmStore::open(store, chain)?;
    Ok(opened.view().tip().map(|tip| (tip.block.number, tip.block.hash)))
}

fn evm_block_hash(store: &Path, chain: &str, number: u64) -> anyhow::Result<Option<B256>> {
    if !cointrail_evm::chains(store)?.iter().any(|name| name == chain) {
        return Ok(None);
    }
    let opened = EvmStore::open(store, chain)?;
    Ok(opened.view().block(number).map(|info| info.block.hash))
}

pub(crate) fn btc(
    args: &FollowBtcArgs,
    store: &Path,
    _format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let network: Network = args.network.parse()?;
    let auth = match (&args.rpc_user, &args.rpc_password, &args.rpc_cookie) {
        (Some(user), Some(password), _) => RpcAuth::UserPass(user.clone(), password.clone()),
        (_, _, Some(cookie)) => RpcAuth::Cookie(cookie.clone()),
        _ => RpcAuth::None,
    };
    let rpc = BtcRpc::new(&args.rpc, auth).with_timeout(Duration::from_secs(30));
    let options = FollowOptions {
        network,
        store_dir: store.to_owned(),
        poll: Duration::from_secs(args.follow.poll_seconds.max(1)),
        exit_when_synced: args.follow.exit_when_synced,
        batch_blocks: 1_000,
        max_failures: args.follow.exit_when_synced.then_some(5),
    };
    let mut alerts = Alerts {
        store: store.to_owned(),
        network,
        delivery: Outbox {
            store: store.to_owned(),
            file: args.follow.alerts.clone(),
            webhook: args.follow.webhook.clone(),
        },
        watcher: None,
        watches_seen: None,
        out,
    };
    let report = follow_btc(&rpc, &options, &mut alerts)?;
    let out = alerts.out;
    writeln!(
        out,
        "{}",
        json!({
            "event": "stopped",
            "blocks": report.blocks,
            "reorgs": report.reorgs,
            "deepest_reorg": report.deepest_reorg,
            "node_errors": report.node_errors,
            "tip_height": report.tip,
        })
    )?;
    Ok(())
}

/// Alert delivery and the watch state, as the follow loop's event handler.
struct Alerts<'a> {
    store: PathBuf,
    network: Network,
    delivery: Outbox,
    /// Built at the first block, and again after a reorganisation or a change of the watchlist.
    watcher: Option<Watcher>,
    /// Modification time of `watches.json` when the watcher was built.
    watches_seen: Option<std::time::SystemTime>,
    out: &'a mut dyn Write,
}

#[allow(clippy::print_stderr, reason = "follow logs to stderr")]
fn log(message: &str) {
    eprintln!("{message}");
}

/// Logs why a webhook delivery stopped early (it is retried at the next poll).
fn log_delivery(delivered: &Delivered) {
    if let Some(error) = &delivered.error {
        log(error);
    }
}

impl FollowEvents for Alerts<'_> {
    fn block(
        &mut self,
        view: &ChainView<'_>,
        height: Height,
        block: &DecodedBlock,
    ) -> Result<(), String> {
        let modified =
            fs_err::metadata(self.store.join("watches.json")).and_then(|meta| meta.modified()).ok();
        if modified != self.watches_seen {
            self.watcher = None;
            self.watches_seen = modified;
        }
        if self.watcher.is_none() {
            self.watcher = Some(
                Watcher::load(&self.store, self.network, view)
                    .map_err(|error| format!("{error:#}"))?,
            );
        }
        let watcher = self.watcher.as_mut().expect("loaded above");
        let alerts = watcher.check(view, height, block);
        self.delivery.publish(self.out, &alerts).map(|delivered| log_delivery(&delivered))
    }

    fn reorg(&mut self, from: Height, to: Height) {
        // Taint and clusters are rebuilt from the unwound store at the next block.
        self.watcher = None;
        let _ = writeln!(
            self.out,
            "{}",
            json!({"event": "reorg", "from_height": from.get(), "fork_height": to.get()})
        );
    }

    fn synced(&mut self, tip: Height) {
        let _ = writeln!(self.out, "{}", json!({"event": "synced", "tip_height": tip.get()}));
        let _ = self.out.flush();
    }

    fn node_error(&mut self, error: &str) {
        log(&format!("node error (retrying): {error}"));
    }

    fn idle(&mut self) {
        log_delivery(&self.delivery.deliver());
    }
}

#[derive(Serialize)]
struct WatchJson<'a> {
    id: u64,
    kind: &'static str,
    target: &'a str,
}

pub(crate) fn watch(
    command: &WatchCommand,
    store: &Path,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    // No store lock: a running `follow` holds it, and picks up the new list at its next block.
    // The list is replaced atomically.
    let mut watches = load_watches(store)?;
    match command {
        WatchCommand::Add { target, incident, label } => {
            let (kind, target) = match (target, incident, label) {
                (_, Some(incident), _) => {
                    if !load_incidents(store)?.iter().any(|known| &known.name == incident) {
                        bail!("no incident named `{incident}` (see `cointrail incident list`)");
                    }
                    (WatchKind::Incident, incident.clone())
                }
                (_, _, Some(label)) => (WatchKind::Label, label.clone()),
                (Some(target), _, _) => {
                    let target = target.trim();
                    if target.contains(':') && target.len() > 64 {
                        parse_outpoint(target)?;
                        (WatchKind::Outpoint, target.to_owned())
                    } else if target.parse::<u32>().is_ok() {
                        (WatchKind::Cluster, target.to_owned())
                    } else if is_evm_address(target)
                        || (target.starts_with("0x") && !cointrail_evm::chains(store)?.is_empty())
                    {
                        let address = EvmAddress::from_hex(target).with_context(|| {
                            format!("`{target}` is not an EVM address (0x and 40 hex digits)")
                        })?;
                        (WatchKind::Address, address.to_string())
                    } else {
                        // The Bitcoin store is opened only here: a store may hold EVM chains only.
                        let network: Network = crate::show::network_of(&Store::open(store)?)?;
                        let key = network.parse_address(target)?;
                        (WatchKind::Address, network.encode_address(&key))
                    }
                }
                (None, None, None) => bail!(
                    "say what to watch: an address, txid:vout, cluster id, --incident or --label"
                ),
            };
            let id = watches.iter().map(|watch| watch.id).max().map_or(1, |max| max + 1);
            let watch = Watch { id, kind, target };
            watches.push(watch.clone());
            save_watches(store, &watches)?;
            emit(
                out,
                format,
                &WatchJson { id, kind: kind.name(), target: &watch.target },
                |out, watch| writeln!(out, "watch {}: {} {}", watch.id, watch.kind, watch.target),
            )
        }
        WatchCommand::List => {
            let list: Vec<WatchJson<'_>> = watches
                .iter()
                .map(|watch| WatchJson {
                    id: watch.id,
                    kind: watch.kind.name(),
                    target: &watch.target,
                })
                .collect();
            emit(out, format, &list, |out, list| {
                for watch in list {
                    writeln!(out, "{:>4}  {:<9} {}", watch.id, watch.kind, watch.target)?;
                }
                Ok(())
            })
        }
        WatchCommand::Remove { id } => {
            let before = watches.len();
            watches.retain(|watch| watch.id != *id);
            if watches.len() == before {
                bail!("no watch with id {id}");
            }
            save_watches(store, &watches)?;
            emit(out, format, &json!({"removed": id}), |out, _| writeln!(out, "removed watch {id}"))
        }
    }
}
