//! `cointrail show tx|address|block` and `cointrail status`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use cointrail_btc::Network;
use cointrail_store::{ChainView, FORMAT_VERSION, LabelTable, Store};
use cointrail_types::{AddressId, Hash32, Height, InputId, OutputId, TxNum};
use serde::Serialize;

use crate::args::{Format, ShowCommand};
use crate::cluster::{AttributedLabel, Conflict};
use crate::output::{coins, emit, utc};

pub(crate) fn run(
    command: &ShowCommand,
    store_dir: &Path,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let store = Store::open(store_dir)?;
    let network = network_of(&store)?;
    let view = store.view();
    match command {
        ShowCommand::Tx { txid } => {
            let hash = Hash32::from_display_hex(txid.trim())?;
            let txnum =
                view.find_tx(&hash).with_context(|| format!("tx {txid} is not in the store"))?;
            emit(out, format, &tx_json(&view, network, txnum), print_tx)
        }
        ShowCommand::Address { address } => {
            let key = network.parse_address(address.trim())?;
            let id = view.find_address(&key);
            let mut summary = address_json(&view, network, id, address.trim());
            let table = LabelTable::load(store_dir)?;
            let members = match crate::cluster::cluster_of(store_dir, &store, network, id)? {
                Some((cluster, size, members)) => {
                    summary.cluster = Some(ClusterRef { id: cluster, size });
                    members
                }
                None => Vec::new(),
            };
            (summary.labels, summary.conflicts) =
                crate::cluster::attribute(&summary.address, &members, &table);
            emit(out, format, &summary, print_address)
        }
        ShowCommand::Cluster { cluster, limit } => {
            crate::cluster::show(store_dir, cluster, *limit, format, out)
        }
        ShowCommand::Block { block } => {
            let height = parse_block_ref(&view, block)?;
            emit(out, format, &block_json(&view, height), print_block)
        }
    }
}

pub(crate) fn network_of(store: &Store) -> anyhow::Result<Network> {
    let chain = store.chain();
    chain.network.parse().with_context(|| format!("store holds unknown network {chain}"))
}

fn parse_block_ref(view: &ChainView<'_>, text: &str) -> anyhow::Result<Height> {
    let text = text.trim();
    let tip = view.tip().context("the store is empty")?.height;
    if let Ok(height) = text.parse::<u32>() {
        if height > tip.get() {
            bail!("block height {height} is above the store's tip {tip}");
        }
        return Ok(Height::new(height));
    }
    let hash = Hash32::from_display_hex(text)
        .with_context(|| format!("`{text}` is neither a block height nor a block hash"))?;
    view.block_height(&hash).with_context(|| format!("block {text} is not in the store"))
}

#[derive(Serialize)]
struct TxJson {
    txid: String,
    height: u32,
    block_hash: String,
    time: u32,
    coinbase: bool,
    /// Inputs minus outputs; `None` for a coinbase.
    fee: Option<u64>,
    inputs: Vec<InputJson>,
    outputs: Vec<OutputJson>,
}

#[derive(Serialize)]
struct InputJson {
    prevout: String,
    address: Option<String>,
    value: u64,
}

#[derive(Serialize)]
struct OutputJson {
    n: u32,
    address: Option<String>,
    value: u64,
    spent_by: Option<String>,
}

fn address_text(
    view: &ChainView<'_>,
    network: Network,
    address: Option<AddressId>,
) -> Option<String> {
    address.map(|id| network.encode_address(&view.address_key(id)))
}

fn outpoint(view: &ChainView<'_>, output: OutputId) -> String {
    let (txnum, vout) = view.output_location(output);
    format!("{}:{vout}", view.txid(txnum))
}

fn input_point(view: &ChainView<'_>, input: InputId) -> String {
    let (txnum, vin) = view.input_location(input);
    format!("{}:{vin}", view.txid(txnum))
}

fn tx_json(view: &ChainView<'_>, network: Network, txnum: TxNum) -> TxJson {
    let tx = view.tx(txnum).expect("found by txid, so stored");
    let height = view.tx_height(txnum);
    let block = view.block(height).expect("a stored tx has a stored block");
    let coinbase = block.first_tx == txnum;
    let inputs: Vec<InputJson> = tx
        .inputs
        .clone()
        .map(|input| {
            let spent = view.spent_output(InputId::new(input));
            let output = view.output(spent);
            InputJson {
                prevout: outpoint(view, spent),
                address: address_text(view, network, output.address),
                value: output.value.to_sat(),
            }
        })
        .collect();
    let outputs: Vec<OutputJson> = tx
        .outputs
        .clone()
        .enumerate()
        .map(|(n, id)| {
            let output = view.output(OutputId::new(id));
            OutputJson {
                n: u32::try_from(n).expect("outputs per tx fit u32"),
                address: address_text(view, network, output.address),
                value: output.value.to_sat(),
                spent_by: output.spent_by.map(|input| input_point(view, input)),
            }
        })
        .collect();
    let paid_in: u64 = inputs.iter().map(|input| input.value).sum();
    let paid_out: u64 = outputs.iter().map(|output| output.value).sum();
    TxJson {
        txid: tx.txid.to_string(),
        height: height.get(),
        block_hash: block.hash.to_string(),
        time: block.time(),
        coinbase,
        fee: (!coinbase).then(|| paid_in.saturating_sub(paid_out)),
        inputs,
        outputs,
    }
}

fn print_tx(out: &mut dyn Write, tx: &TxJson) -> std::io::Result<()> {
    writeln!(out, "tx      {}", tx.txid)?;
    writeln!(out, "block   {} ({})", tx.height, tx.block_hash)?;
    writeln!(out, "time    {}", utc(tx.time))?;
    match tx.fee {
        Some(fee) => writeln!(out, "fee     {} BTC", coins(fee))?,
        None => writeln!(out, "fee     - (coinbase)")?,
    }
    writeln!(out, "\ninputs ({})", tx.inputs.len())?;
    for (n, input) in tx.inputs.iter().enumerate() {
        let address = input.address.as_deref().unwrap_or("-");
        writeln!(out, "  {n:>4}  {:>20}  {address}  <- {}", coins(input.value), input.prevout)?;
    }
    writeln!(out, "\noutputs ({})", tx.outputs.len())?;
    for output in &tx.outputs {
        let address = output.address.as_deref().unwrap_or("- (OP_RETURN)");
        let spent =
            output.spent_by.as_deref().map_or("unspent".to_owned(), |by| format!("-> {by}"));
        writeln!(out, "  {:>4}  {:>20}  {address}  {spent}", output.n, coins(output.value))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct AddressJson {
    address: String,
    kind: &'static str,
    received: u64,
    sent: u64,
    balance: u64,
    tx_count: u64,
    outputs: u64,
    unspent_outputs: u64,
    first_height: Option<u32>,
    last_height: Option<u32>,
    /// The address's cluster, once `cointrail cluster` has run.
    cluster: Option<ClusterRef>,
    /// Its own labels, then those inherited from its cluster.
    labels: Vec<AttributedLabel>,
    /// Labels of its cluster that disagree (two actors, two exchanges).
    conflicts: Vec<Conflict>,
}

#[derive(Serialize)]
struct ClusterRef {
    id: u32,
    size: u32,
}

fn address_json(
    view: &ChainView<'_>,
    network: Network,
    id: Option<AddressId>,
    text: &str,
) -> AddressJson {
    let key = network.parse_address(text).expect("parsed by the caller");
    let mut summary = AddressJson {
        address: network.encode_address(&key),
        kind: key.kind.name(),
        received: 0,
        sent: 0,
        balance: 0,
        tx_count: 0,
        outputs: 0,
        unspent_outputs: 0,
        first_height: None,
        last_height: None,
        cluster: None,
        labels: Vec::new(),
        conflicts: Vec::new(),
    };
    let Some(id) = id else { return summary };
    let mut txs = BTreeSet::new();
    for output_id in view.address_outputs(id) {
        let output = view.output(output_id);
        summary.outputs += 1;
        summary.received += output.value.to_sat();
        txs.insert(view.output_location(output_id).0);
        match output.spent_by {
            Some(input) => {
                summary.sent += output.value.to_sat();
                txs.insert(view.input_location(input).0);
            }
            None => summary.unspent_outputs += 1,
        }
    }
    summary.balance = summary.received - summary.sent;
    summary.tx_count = txs.len() as u64;
    summary.first_height = txs.first().map(|txnum| view.tx_height(*txnum).get());
    summary.last_height = txs.last().map(|txnum| view.tx_height(*txnum).get());
    summary
}

fn print_address(out: &mut dyn Write, address: &AddressJson) -> std::io::Result<()> {
    let height = |h: Option<u32>| h.map_or("-".to_owned(), |h| h.to_string());
    writeln!(out, "address   {} ({})", address.address, address.kind)?;
    writeln!(out, "received  {} BTC in {} outputs", coins(address.received), address.outputs)?;
    writeln!(out, "sent      {} BTC", coins(address.sent))?;
    writeln!(
        out,
        "balance   {} BTC in {} unspent outputs",
        coins(address.balance),
        address.unspent_outputs
    )?;
    writeln!(out, "txs       {}", address.tx_count)?;
    writeln!(out, "heights   {} .. {}", height(address.first_height), height(address.last_height))?;
    if let Some(cluster) = &address.cluster {
        writeln!(out, "cluster   {} ({} addresses)", cluster.id, cluster.size)?;
    }
    crate::cluster::print_labels(out, &address.labels, &address.conflicts)
}

#[derive(Serialize)]
struct BlockJson {
    height: u32,
    hash: String,
    prev_hash: String,
    time: u32,
    tx_count: u32,
    size: u32,
    txids: Vec<String>,
}

fn block_json(view: &ChainView<'_>, height: Height) -> BlockJson {
    let block = view.block(height).expect("height checked by the caller");
    let first = block.first_tx.get();
    BlockJson {
        height: height.get(),
        hash: block.hash.to_string(),
        prev_hash: block.prev_hash().to_string(),
        time: block.time(),
        tx_count: block.tx_count,
        size: block.size,
        txids: (first..first + block.tx_count)
            .map(|txnum| view.txid(TxNum::new(txnum)).to_string())
            .collect(),
    }
}

fn print_block(out: &mut dyn Write, block: &BlockJson) -> std::io::Result<()> {
    writeln!(out, "block     {} ({})", block.height, block.hash)?;
    writeln!(out, "previous  {}", block.prev_hash)?;
    writeln!(out, "time      {}", utc(block.time))?;
    writeln!(out, "size      {} bytes", block.size)?;
    writeln!(out, "txs       {}", block.tx_count)?;
    for txid in block.txids.iter().take(20) {
        writeln!(out, "  {txid}")?;
    }
    if block.txids.len() > 20 {
        writeln!(out, "  ... {} more (--format json lists all)", block.txids.len() - 20)?;
    }
    Ok(())
}

#[derive(Serialize)]
struct StatusJson {
    format_version: u64,
    chain: String,
    network: String,
    tip_height: Option<u32>,
    tip_hash: Option<String>,
    counts: CountsJson,
    bytes_on_disk: u64,
    files: Vec<FileJson>,
}

#[derive(Serialize)]
struct CountsJson {
    blocks: u64,
    txs: u64,
    inputs: u64,
    outputs: u64,
    addresses: u64,
}

#[derive(Serialize)]
struct FileJson {
    name: String,
    bytes: u64,
}

pub(crate) fn status(store_dir: &Path, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = Store::open(store_dir)?;
    let view = store.view();
    let counts = view.counts();
    let tip = view.tip();
    let files: Vec<FileJson> =
        store.disk_usage()?.into_iter().map(|(name, bytes)| FileJson { name, bytes }).collect();
    let chain = store.chain();
    let status = StatusJson {
        format_version: FORMAT_VERSION,
        chain: chain.chain,
        network: chain.network,
        tip_height: tip.as_ref().map(|block| block.height.get()),
        tip_hash: tip.as_ref().map(|block| block.hash.to_string()),
        counts: CountsJson {
            blocks: counts.blocks,
            txs: counts.txs,
            inputs: counts.inputs,
            outputs: counts.outputs,
            addresses: counts.addresses,
        },
        bytes_on_disk: files.iter().map(|file| file.bytes).sum(),
        files,
    };
    emit(out, format, &status, print_status)
}

fn print_status(out: &mut dyn Write, status: &StatusJson) -> std::io::Result<()> {
    writeln!(
        out,
        "store      {} {} (format v{})",
        status.chain, status.network, status.format_version
    )?;
    match (&status.tip_height, &status.tip_hash) {
        (Some(height), Some(hash)) => writeln!(out, "tip        {height} ({hash})")?,
        _ => writeln!(out, "tip        - (empty)")?,
    }
    let counts = &status.counts;
    writeln!(out, "blocks     {}", counts.blocks)?;
    writeln!(out, "txs        {}", counts.txs)?;
    writeln!(out, "inputs     {}", counts.inputs)?;
    writeln!(out, "outputs    {}", counts.outputs)?;
    writeln!(out, "addresses  {}", counts.addresses)?;
    let per_tx =
        if counts.txs == 0 { 0.0 } else { status.bytes_on_disk as f64 / counts.txs as f64 };
    writeln!(out, "on disk    {} bytes ({per_tx:.1} bytes/tx)", status.bytes_on_disk)
}
