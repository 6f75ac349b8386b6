//! `cointrail follow btc`, `cointrail follow evm` and `cointrail watch`: live blocks, watchlists
//! and alerts (for EVM chains: flows out of watched 0x addresses, see `docs/evm.md`).
//!
//! An alert is raised when a transaction spends a watched coin: an output paid to a watched
//! address, a watched outpoint, an output of a watched cluster or labeled address, or a coin
//! tainted by a watched incident (forward, until an exchange or service, as `trace` stops).
//! Alerts are written to the store's alert log and synced before their block is committed (none is
//! lost), deduplicated per watch and transaction (none is sent twice), printed as JSON lines, and
//! POSTed to the webhook, retried until it answers 2xx.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use cointrail_btc::{DecodedBlock, Network};
use cointrail_ingest::{BtcRpc, FollowEvents, FollowOptions, RpcAuth, follow_btc};
use cointrail_store::evm::{EvmStore, FlowKind, FlowRecord};
use cointrail_store::{
    ChainView, ClusterReader, LabelTable, Store, Watch, WatchKind, append_alerts, delivered_alerts,
    load_incidents, load_watches, read_alerts, save_watches, set_delivered_alerts,
};
use cointrail_taint::{Direction, Policy, StopLabel, TraceOptions, trace};
use cointrail_types::{
    AddressId, AddressKey, B256, ChainGraph, EvmAddress, Hash32, Height, InputId, OutputId, TxNum,
    U256,
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
    let delivery = Delivery {
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
                    follower.delivery.deliver();
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
        follower.delivery.deliver();
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
    delivery: Delivery,
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
            self.delivery.publish(out, &alerts).map_err(|error| fatal(anyhow::anyhow!(error)))?;
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

/// Reads `number hash`, the last block whose alerts were raised.
fn read_scanned(path: &Path) -> anyhow::Result<Option<(u64, B256)>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = fs_err::read_to_string(path)?;
    let (number, hash) = text
        .trim()
        .split_once(' ')
        .with_context(|| format!("{} is not `number hash`", path.display()))?;
    Ok(Some((
        number.parse().with_context(|| format!("bad block number in {}", path.display()))?,
        B256::from_hex(hash).with_context(|| format!("bad block hash in {}", path.display()))?,
    )))
}

/// Records (atomically, synced) that the alerts of the blocks up to `number` were raised.
fn write_scanned(path: &Path, number: u64, hash: B256) -> anyhow::Result<()> {
    let temporary = path.with_extension("tmp");
    fs_err::write(&temporary, format!("{number} {hash}\n"))?;
    fs_err::File::open(&temporary)?.sync_all()?;
    fs_err::rename(&temporary, path)?;
    Ok(())
}

/// True for `0x` and 40 hex digits: an EVM address.
fn is_evm_address(text: &str) -> bool {
    EvmAddress::from_hex(text).is_ok()
}

/// The alerts of the flows out of watched EVM addresses in the blocks above `scan_from` (all if
/// `None`), in chain order, not yet in the alert log: one per watch, transaction and asset. Gas
/// (fee and burn flows) is not an alert.
fn evm_alerts(
    store: &Path,
    chain: &str,
    scan_from: Option<u64>,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let watches = load_watches(store)?;
    let labels = LabelTable::load(store)?;
    let mut watched: BTreeMap<EvmAddress, Vec<&Watch>> = BTreeMap::new();
    for watch in &watches {
        match watch.kind {
            WatchKind::Address => {
                if let Ok(address) = EvmAddress::from_hex(&watch.target) {
                    watched.entry(address).or_default().push(watch);
                }
            }
            WatchKind::Label => {
                for label in labels.all().iter().filter(|label| label.name == watch.target) {
                    if let Ok(address) = EvmAddress::from_hex(&label.address) {
                        watched.entry(address).or_default().push(watch);
                    }
                }
            }
            _ => {}
        }
    }
    if watched.is_empty() {
        return Ok(Vec::new());
    }
    let opened = EvmStore::open(store, chain)?;
    let view = opened.view();
    let mut seen = alerted(store)?;
    let mut alerts: Vec<((u64, u32), serde_json::Value)> = Vec::new();
    for (address, watches) in &watched {
        let mut moved: BTreeMap<(u64, u32, u32), Vec<FlowRecord>> = BTreeMap::new();
        for flow in view.flows_of(address) {
            if flow.from.as_ref() != Some(address)
                || scan_from.is_some_and(|scanned| flow.block <= scanned)
                || matches!(flow.kind, FlowKind::Fee | FlowKind::Burn)
            {
                continue;
            }
            let Some(tx) = flow.tx else { continue };
            moved.entry((flow.block, tx, flow.asset)).or_default().push(flow);
        }
        for ((block, tx, asset), flows) in moved {
            let Some(info) = view.tx(tx) else { continue };
            let txid = info.hash.to_string();
            let token = view.asset(asset);
            let asset_name = token.as_ref().map_or("native".to_owned(), |t| t.contract.to_string());
            let mut total = U256::ZERO;
            for flow in &flows {
                let amount =
                    if flow.kind == FlowKind::Erc721 { U256::from_u64(1) } else { flow.amount };
                total = total.checked_add(amount).unwrap_or(U256::MAX);
            }
            let destinations: Vec<serde_json::Value> = flows
                .iter()
                .map(|flow| {
                    let to = flow.to.map(|to| to.to_string());
                    let names: Vec<String> = to
                        .as_deref()
                        .map(|text| labels.of(text).map(|label| label.name.clone()).collect())
                        .unwrap_or_default();
                    json!({
                        "address": to,
                        "amount": flow.amount.to_string(),
                        "kind": flow.kind.name(),
                        "labels": names,
                    })
                })
                .collect();
            let block_info = view.block(block);
            for watch in watches {
                if !seen.insert((watch.id, format!("{txid}/{asset_name}"))) {
                    continue;
                }
                alerts.push((
                    (block, tx),
                    json!({
                        "event": "alert",
                        "watch": watch.id,
                        "watch_kind": watch.kind.name(),
                        "watch_target": watch.target,
                        "chain": chain,
                        "txid": txid,
                        "block": block,
                        "block_hash": block_info.as_ref().map(|b| b.block.hash.to_string()),
                        "time": block_info.as_ref().map(|b| b.block.timestamp),
                        "from": address.to_string(),
                        "moved": total.to_string(),
                        "asset": asset_name,
                        "symbol": token.as_ref().and_then(|t| t.symbol.clone()),
                        "decimals": token.as_ref().and_then(|t| t.decimals),
                        "destinations": destinations,
                    }),
                ));
            }
        }
    }
    alerts.sort_by_key(|(order, _)| *order);
    Ok(alerts.into_iter().map(|(_, alert)| alert).collect())
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
        delivery: Delivery {
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

/// Where alerts go: the store's alert log, the `--alerts` file or stdout, and the webhook. Shared
/// by `follow btc` and `follow evm`.
struct Delivery {
    store: PathBuf,
    file: Option<PathBuf>,
    webhook: Option<String>,
}

impl Delivery {
    /// Appends `alerts` to the store's alert log (synced), then prints them to the `--alerts` file
    /// or `out`, then POSTs what the webhook has not acknowledged yet.
    fn publish(&self, out: &mut dyn Write, alerts: &[serde_json::Value]) -> Result<(), String> {
        if alerts.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = alerts.iter().map(ToString::to_string).collect();
        append_alerts(&self.store, &lines).map_err(|error| error.to_string())?;
        for line in &lines {
            let written = match &self.file {
                Some(path) => fs_err::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut file| writeln!(file, "{line}")),
                None => writeln!(out, "{line}").and_then(|()| out.flush()),
            };
            written.map_err(|error| error.to_string())?;
        }
        self.deliver();
        Ok(())
    }

    /// POSTs undelivered alerts in order; stops at the first failure (retried at the next poll).
    fn deliver(&self) {
        let Some(url) = &self.webhook else { return };
        let (Ok(lines), Ok(mut delivered)) =
            (read_alerts(&self.store), delivered_alerts(&self.store))
        else {
            return;
        };
        while let Some(line) = lines.get(usize::try_from(delivered).unwrap_or(usize::MAX)) {
            let headers = [("Content-Type", "application/json")];
            match cointrail_ingest::http::post(
                url,
                &headers,
                line.as_bytes(),
                Duration::from_secs(5),
            ) {
                Ok(response) if (200..300).contains(&response.status) => {
                    delivered += 1;
                    if let Err(error) = set_delivered_alerts(&self.store, delivered) {
                        log(&format!("cannot record webhook delivery: {error}"));
                        return;
                    }
                }
                Ok(response) => {
                    log(&format!("webhook {url} answered {}; will retry", response.status));
                    return;
                }
                Err(error) => {
                    log(&format!("webhook {url}: {error}; will retry"));
                    return;
                }
            }
        }
    }
}

/// The (watch, transaction) pairs of the store's alert log, as `(watch, txid)`; EVM alerts carry
/// their asset too (`txid/asset`), since one transaction can move several.
fn alerted(dir: &Path) -> anyhow::Result<HashSet<(u64, String)>> {
    let mut seen = HashSet::new();
    for line in read_alerts(dir)? {
        if let Ok(alert) = serde_json::from_str::<serde_json::Value>(&line)
            && let (Some(watch), Some(txid)) = (alert["watch"].as_u64(), alert["txid"].as_str())
        {
            let key = match alert["asset"].as_str() {
                Some(asset) => format!("{txid}/{asset}"),
                None => txid.to_owned(),
            };
            seen.insert((watch, key));
        }
    }
    Ok(seen)
}

/// Alert delivery and the watch state, as the follow loop's event handler.
struct Alerts<'a> {
    store: PathBuf,
    network: Network,
    delivery: Delivery,
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
        self.delivery.publish(self.out, &alerts)
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
        self.delivery.deliver();
    }
}

/// Resolved watches, and the coins tainted by watched incidents.
struct Watcher {
    network: Network,
    watches: BTreeMap<u64, Watch>,
    addresses: HashMap<AddressKey, Vec<u64>>,
    outpoints: HashMap<(Hash32, u32), Vec<u64>>,
    clusters: HashMap<AddressId, Vec<u64>>,
    cluster_reader: Option<ClusterReader>,
    tainted: HashMap<OutputId, Vec<u64>>,
    labels: LabelTable,
    seen: HashSet<(u64, String)>,
}

impl Watcher {
    fn load(dir: &Path, network: Network, view: &ChainView<'_>) -> anyhow::Result<Self> {
        let watches = load_watches(dir)?;
        let labels = LabelTable::load(dir)?;
        let mut watcher = Self {
            network,
            watches: watches.iter().map(|watch| (watch.id, watch.clone())).collect(),
            addresses: HashMap::new(),
            outpoints: HashMap::new(),
            clusters: HashMap::new(),
            cluster_reader: ClusterReader::open(dir)?,
            tainted: HashMap::new(),
            labels,
            seen: HashSet::new(),
        };
        watcher.seen = alerted(dir)?;
        let incidents = load_incidents(dir)?;
        let mut stops: HashMap<AddressId, StopLabel> = HashMap::new();
        for label in watcher
            .labels
            .all()
            .iter()
            .filter(|label| ["exchange", "service"].contains(&label.category.as_str()))
        {
            if let Ok(key) = network.parse_address(&label.address)
                && let Some(id) = view.find_address(&key)
            {
                stops.insert(
                    id,
                    StopLabel { name: label.name.clone(), category: label.category.clone() },
                );
            }
        }
        for watch in &watches {
            match watch.kind {
                // EVM addresses are `follow evm`'s.
                WatchKind::Address if is_evm_address(&watch.target) => {}
                WatchKind::Address => {
                    let key = network.parse_address(&watch.target)?;
                    watcher.addresses.entry(key).or_default().push(watch.id);
                }
                WatchKind::Outpoint => {
                    let (txid, vout) = parse_outpoint(&watch.target)?;
                    watcher.outpoints.entry((txid, vout)).or_default().push(watch.id);
                }
                WatchKind::Cluster => {
                    let id: u32 = watch.target.parse().context("cluster ids are numbers")?;
                    watcher.clusters.entry(AddressId::new(id)).or_default().push(watch.id);
                }
                WatchKind::Label => {
                    for label in
                        watcher.labels.all().iter().filter(|label| label.name == watch.target)
                    {
                        if let Ok(key) = network.parse_address(&label.address) {
                            watcher.addresses.entry(key).or_default().push(watch.id);
                        }
                    }
                }
                WatchKind::Incident => {
                    let Some(incident) =
                        incidents.iter().find(|incident| incident.name == watch.target)
                    else {
                        bail!("watch {}: no incident named {}", watch.id, watch.target);
                    };
                    let mut seeds = Vec::new();
                    for seed in &incident.seeds {
                        let (txid, vout) = parse_outpoint(seed)?;
                        if let Some(txnum) = view.find_tx(&txid)
                            && let Some(tx) = view.tx(txnum)
                            && u64::from(vout) < tx.outputs.end - tx.outputs.start
                        {
                            seeds.push(OutputId::new(tx.outputs.start + u64::from(vout)));
                        }
                    }
                    let mut options = TraceOptions::new(Policy::Poison, Direction::Forward);
                    options.max_txs = 1_000_000;
                    let report = trace(view, &stops, &seeds, &options);
                    let mut tainted: HashSet<OutputId> = seeds.iter().copied().collect();
                    tainted.extend(report.edges.iter().filter_map(|edge| edge.output));
                    for output in tainted {
                        watcher.tainted.entry(output).or_default().push(watch.id);
                    }
                }
            }
        }
        Ok(watcher)
    }

    /// Alerts for the transactions of the block at `height` (already in `view`).
    fn check(
        &mut self,
        view: &ChainView<'_>,
        height: Height,
        block: &DecodedBlock,
    ) -> Vec<serde_json::Value> {
        let Some(info) = view.block(height) else { return Vec::new() };
        let mut alerts = Vec::new();
        for index in 0..block.txs.len() {
            let txnum = TxNum::new(info.first_tx.get() + u32::try_from(index).unwrap_or(0));
            let mut moved: BTreeMap<u64, (u64, Vec<serde_json::Value>)> = BTreeMap::new();
            let mut taints: Vec<u64> = Vec::new();
            for input in view.tx_inputs(txnum) {
                let spent = view.spent_output(InputId::new(input));
                let output = view.output(spent);
                let mut matched: Vec<u64> = Vec::new();
                if let Some(address) = output.address {
                    if let Some(ids) = self.addresses.get(&view.address_key(address)) {
                        matched.extend(ids);
                    }
                    if let Some(reader) = &self.cluster_reader
                        && let Some(ids) = self.clusters.get(&reader.cluster_of(address).0)
                    {
                        matched.extend(ids);
                    }
                }
                let (spent_tx, vout) = view.output_location(spent);
                if let Some(ids) = self.outpoints.get(&(view.txid(spent_tx), vout)) {
                    matched.extend(ids);
                }
                if let Some(ids) = self.tainted.get(&spent) {
                    matched.extend(ids);
                    taints.extend(ids);
                }
                matched.sort_unstable();
                matched.dedup();
                for id in matched {
                    let entry = moved.entry(id).or_default();
                    entry.0 += output.value.to_sat();
                    entry.1.push(json!({
                        "outpoint": format!("{}:{vout}", view.txid(spent_tx)),
                        "address": output.address.map(|a| self.network.encode_address(&view.address_key(a))),
                        "value": output.value.to_sat(),
                    }));
                }
            }
            // Coins of a watched incident taint what they pay (poison), for later blocks.
            taints.sort_unstable();
            taints.dedup();
            for output in view.tx_outputs(txnum) {
                for id in &taints {
                    self.tainted.entry(OutputId::new(output)).or_default().push(*id);
                }
            }
            if moved.is_empty() {
                continue;
            }
            let txid = view.txid(txnum).to_string();
            let destinations: Vec<serde_json::Value> = view
                .tx_outputs(txnum)
                .map(|output| {
                    let output = OutputId::new(output);
                    let address = view.output_address(output).map(|a| self.network.encode_address(&view.address_key(a)));
                    let labels: Vec<String> = address
                        .as_deref()
                        .map(|text| self.labels.of(text).map(|label| label.name.clone()).collect())
                        .unwrap_or_default();
                    json!({"address": address, "value": view.output_value(output).to_sat(), "labels": labels})
                })
                .collect();
            for (id, (amount, inputs)) in moved {
                if !self.seen.insert((id, txid.clone())) {
                    continue;
                }
                let watch = &self.watches[&id];
                alerts.push(json!({
                    "event": "alert",
                    "watch": id,
                    "watch_kind": watch.kind.name(),
                    "watch_target": watch.target,
                    "txid": txid,
                    "height": height.get(),
                    "block_hash": info.hash.to_string(),
                    "time": info.time(),
                    "moved": amount,
                    "inputs": inputs,
                    "destinations": destinations,
                }));
            }
        }
        alerts
    }
}

fn parse_outpoint(text: &str) -> anyhow::Result<(Hash32, u32)> {
    let (txid, vout) =
        text.split_once(':').with_context(|| format!("`{text}` is not txid:vout"))?;
    Ok((
        Hash32::from_display_hex(txid)?,
        vout.parse().with_context(|| format!("bad output index in `{text}`"))?,
    ))
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
