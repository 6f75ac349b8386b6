//! Watchlists and alerts of cointrail: which transactions move watched coins, and where the alerts
//! go.
//!
//! An alert is raised when a transaction spends a watched coin: an output paid to a watched
//! address, a watched outpoint, an output of a watched cluster or labeled address, or a coin
//! tainted by a watched incident (forward, until an exchange or service, as `trace` stops); on EVM
//! chains, a flow out of a watched `0x` address ([`evm_alerts`]). Alerts are JSON objects; the
//! [`Outbox`] writes them to the store's alert log (synced: none is lost), prints them, and POSTs
//! them to a webhook in order until each is acknowledged (none is sent twice). Alerts are
//! deduplicated per watch and transaction (and asset on EVM chains) against the log.
//!
//! `cointrail follow btc` drives a [`Watcher`] from its block callback; `cointrail follow evm`
//! calls [`evm_alerts`] after each ingest. The watchlist itself is the store's (`watches.json`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cointrail_btc::{DecodedBlock, Network};
use cointrail_store::evm::{EvmStore, FlowKind, FlowRecord};
use cointrail_store::{
    ChainView, ClusterReader, LabelTable, StoreError, Watch, WatchKind, append_alerts,
    delivered_alerts, load_incidents, load_watches, read_alerts, set_delivered_alerts,
};
use cointrail_taint::{Direction, Policy, StopLabel, TraceOptions, trace};
use cointrail_types::{
    AddressId, AddressKey, B256, ChainGraph, EvmAddress, Hash32, Height, InputId, OutputId, TxNum,
    U256,
};
use serde_json::json;

/// Why watching failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The store (watchlist, labels, incidents, alert log, chain) cannot be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file of the watch state cannot be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A watch or a state file says something malformed (the message names it).
    #[error("{0}")]
    Invalid(String),
}

/// Result of this crate.
pub type Result<T, E = WatchError> = std::result::Result<T, E>;

fn invalid(message: impl Into<String>) -> WatchError {
    WatchError::Invalid(message.into())
}

/// Returns `true` for `0x` and 40 hex digits: an EVM address.
pub fn is_evm_address(text: &str) -> bool {
    EvmAddress::from_hex(text).is_ok()
}

/// Parses `txid:vout`.
///
/// # Errors
///
/// [`WatchError::Invalid`] naming the text.
pub fn parse_outpoint(text: &str) -> Result<(Hash32, u32)> {
    let (txid, vout) =
        text.split_once(':').ok_or_else(|| invalid(format!("`{text}` is not txid:vout")))?;
    Ok((
        Hash32::from_display_hex(txid).map_err(|error| invalid(format!("`{text}`: {error}")))?,
        vout.parse().map_err(|_| invalid(format!("bad output index in `{text}`")))?,
    ))
}

/// Reads `number hash`, the last block whose alerts were raised.
///
/// # Errors
///
/// An I/O error, or [`WatchError::Invalid`] for a file of another shape.
pub fn read_scanned(path: &Path) -> Result<Option<(u64, B256)>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = fs_err::read_to_string(path)?;
    let (number, hash) = text
        .trim()
        .split_once(' ')
        .ok_or_else(|| invalid(format!("{} is not `number hash`", path.display())))?;
    Ok(Some((
        number.parse().map_err(|_| invalid(format!("bad block number in {}", path.display())))?,
        B256::from_hex(hash)
            .map_err(|_| invalid(format!("bad block hash in {}", path.display())))?,
    )))
}

/// Records (atomically, synced) that the alerts of the blocks up to `number` were raised.
///
/// # Errors
///
/// An I/O error.
pub fn write_scanned(path: &Path, number: u64, hash: B256) -> Result<()> {
    let temporary = path.with_extension("tmp");
    fs_err::write(&temporary, format!("{number} {hash}\n"))?;
    fs_err::File::open(&temporary)?.sync_all()?;
    fs_err::rename(&temporary, path)?;
    Ok(())
}

/// The alerts of the flows out of watched EVM addresses in the blocks above `scan_from` (all if
/// `None`), in chain order, not yet in the alert log: one per watch, transaction and asset. Gas
/// (fee and burn flows) is not an alert.
///
/// # Errors
///
/// A store error reading the watchlist, the labels, the alert log or the chain.
pub fn evm_alerts(
    store: &Path,
    chain: &str,
    scan_from: Option<u64>,
) -> Result<Vec<serde_json::Value>> {
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

/// Where alerts go: the store's alert log, a file (or the caller's output), and a webhook.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// The store whose alert log and delivery cursor are kept.
    pub store: PathBuf,
    /// Append alerts to this file (JSON lines) instead of the caller's output.
    pub file: Option<PathBuf>,
    /// POST each alert to this URL (`http://`), in order, until it answers 2xx.
    pub webhook: Option<String>,
}

/// What one delivery attempt did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Alerts acknowledged by the webhook in this attempt.
    pub sent: u64,
    /// Why the attempt stopped early (retried at the next attempt).
    pub error: Option<String>,
}

impl Outbox {
    /// Appends `alerts` to the store's alert log (synced), then prints them to the `--alerts` file
    /// or `out`, then POSTs what the webhook has not acknowledged yet.
    ///
    /// # Errors
    ///
    /// The alert log or the output cannot be written (the caller must not commit the block).
    pub fn publish(
        &self,
        out: &mut dyn Write,
        alerts: &[serde_json::Value],
    ) -> Result<Delivered, String> {
        if alerts.is_empty() {
            return Ok(Delivered::default());
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
        Ok(self.deliver())
    }

    /// POSTs undelivered alerts in order; stops at the first failure (retried at the next poll).
    pub fn deliver(&self) -> Delivered {
        let mut report = Delivered::default();
        let Some(url) = &self.webhook else { return report };
        let (lines, mut delivered) = match (read_alerts(&self.store), delivered_alerts(&self.store))
        {
            (Ok(lines), Ok(delivered)) => (lines, delivered),
            (Err(error), _) | (_, Err(error)) => {
                report.error = Some(format!("cannot read the alert log: {error}"));
                return report;
            }
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
                    report.sent += 1;
                    if let Err(error) = set_delivered_alerts(&self.store, delivered) {
                        report.error = Some(format!("cannot record webhook delivery: {error}"));
                        return report;
                    }
                }
                Ok(response) => {
                    report.error =
                        Some(format!("webhook {url} answered {}; will retry", response.status));
                    return report;
                }
                Err(error) => {
                    report.error = Some(format!("webhook {url}: {error}; will retry"));
                    return report;
                }
            }
        }
        report
    }
}

/// The (watch, transaction) pairs of the store's alert log, as `(watch, txid)`; EVM alerts carry
/// their asset too (`txid/asset`), since one transaction can move several.
fn alerted(dir: &Path) -> Result<HashSet<(u64, String)>> {
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

/// Resolved watches of a Bitcoin-family chain, and the coins tainted by watched incidents.
#[derive(Debug)]
pub struct Watcher {
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
    /// Resolves the watchlist of the store at `dir` against `view`: addresses, outpoints,
    /// clusters, labels, and the coins tainted by watched incidents (a forward poison trace from
    /// their seeds, stopping at exchanges and services). EVM address watches are left to
    /// [`evm_alerts`].
    ///
    /// # Errors
    ///
    /// A store error, or [`WatchError::Invalid`] for a watch that does not parse or names an
    /// unknown incident.
    pub fn load(dir: &Path, network: Network, view: &ChainView<'_>) -> Result<Self> {
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
                    let key = network
                        .parse_address(&watch.target)
                        .map_err(|error| invalid(format!("watch {}: {error}", watch.id)))?;
                    watcher.addresses.entry(key).or_default().push(watch.id);
                }
                WatchKind::Outpoint => {
                    let (txid, vout) = parse_outpoint(&watch.target)?;
                    watcher.outpoints.entry((txid, vout)).or_default().push(watch.id);
                }
                WatchKind::Cluster => {
                    let id: u32 = watch.target.parse().map_err(|_| {
                        invalid(format!("watch {}: cluster ids are numbers", watch.id))
                    })?;
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
                        return Err(invalid(format!(
                            "watch {}: no incident named {}",
                            watch.id, watch.target
                        )));
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

    /// Returns the alerts for the transactions of the block at `height` (already in `view`), and
    /// marks what the incidents' coins pay as tainted for later blocks.
    pub fn check(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outpoints_parse_or_say_why() {
        let txid = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16";
        let (hash, vout) = parse_outpoint(&format!("{txid}:1")).unwrap();
        assert_eq!((hash.to_string().as_str(), vout), (txid, 1));
        assert!(parse_outpoint(txid).unwrap_err().to_string().contains("is not txid:vout"));
        assert!(
            parse_outpoint(&format!("{txid}:x")).unwrap_err().to_string().contains("bad output")
        );
    }

    #[test]
    fn scan_marks_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.evm.anvil.scanned");
        assert_eq!(read_scanned(&path).unwrap(), None);
        let hash = B256([7; 32]);
        write_scanned(&path, 42, hash).unwrap();
        assert_eq!(read_scanned(&path).unwrap(), Some((42, hash)));
        fs_err::write(&path, "42").unwrap();
        assert!(read_scanned(&path).unwrap_err().to_string().contains("is not `number hash`"));
    }

    #[test]
    fn the_outbox_logs_before_it_prints_and_reports_webhook_failures() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("printed.jsonl");
        // Nothing listens on port 9 of loopback: delivery fails and says so, the log keeps both.
        let outbox = Outbox {
            store: dir.path().to_owned(),
            file: Some(file.clone()),
            webhook: Some("http://127.0.0.1:9/hook".to_owned()),
        };
        let alerts = [json!({"event": "alert", "watch": 1, "txid": "a"}), json!({"watch": 2})];
        let mut out = Vec::new();
        let delivered = outbox.publish(&mut out, &alerts).unwrap();
        assert_eq!(delivered.sent, 0);
        assert!(delivered.error.unwrap().contains("will retry"));
        assert!(out.is_empty(), "alerts go to the file");
        assert_eq!(fs_err::read_to_string(&file).unwrap().lines().count(), 2);
        assert_eq!(read_alerts(dir.path()).unwrap().len(), 2);
        assert_eq!(delivered_alerts(dir.path()).unwrap(), 0);
        assert_eq!(alerted(dir.path()).unwrap(), HashSet::from([(1, "a".to_owned())]));
    }
}
