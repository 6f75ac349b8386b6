//! `cointrail show tx|address|block|cluster` and `cointrail status`: the documents come from
//! `cointrail-query` (the API serves the same), this module prints them.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use cointrail_btc::Network;
use cointrail_query::{
    AddressJson, BlockJson, EvmAddressJson, EvmFlowJson, EvmTxJson, Snapshot, StatusJson, TxJson,
};
use cointrail_store::{LabelTable, Store};

use crate::args::{Format, ShowCommand};
use crate::output::{coins, emit, utc};

/// `show`, with the EVM chain to use when the store holds several (`--chain NAME`): an EVM address
/// (`0x` and 40 hex digits) or transaction hash (`0x` and 64) is answered from that chain, anything
/// else from the UTXO chain.
pub(crate) fn run_on_chain(
    command: &ShowCommand,
    chain: Option<&str>,
    store_dir: &Path,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        ShowCommand::Address { address } if cointrail_query::is_evm_address(address) => {
            let labels = LabelTable::load(store_dir)?;
            let json = cointrail_query::evm_address(store_dir, &labels, chain, address)?;
            return emit(out, format, &json, print_evm_address);
        }
        ShowCommand::Cluster { cluster, limit } if cointrail_query::is_evm_address(cluster) => {
            let labels = LabelTable::load(store_dir)?;
            let json = cointrail_query::evm_cluster(store_dir, &labels, chain, cluster, *limit)?;
            return emit(out, format, &json, crate::cluster::print_evm_clustering);
        }
        ShowCommand::Tx { txid } if cointrail_query::is_evm_tx_hash(txid) => {
            let json = cointrail_query::evm_tx(store_dir, chain, txid)?;
            return emit(out, format, &json, print_evm_tx);
        }
        _ => {}
    }
    let snapshot = Snapshot::open(store_dir)?;
    match command {
        ShowCommand::Tx { txid } => {
            emit(out, format, &cointrail_query::tx(&snapshot, txid)?, print_tx)
        }
        ShowCommand::Address { address } => {
            emit(out, format, &cointrail_query::address(&snapshot, address)?, print_address)
        }
        ShowCommand::Cluster { cluster, limit } => {
            let json = cointrail_query::cluster(&snapshot, cluster, *limit)?;
            emit(out, format, &json, crate::cluster::print_cluster)
        }
        ShowCommand::Block { block } => {
            emit(out, format, &cointrail_query::block(&snapshot, block)?, print_block)
        }
    }
}

/// The network of a store.
pub(crate) fn network_of(store: &Store) -> anyhow::Result<Network> {
    let chain = store.chain();
    chain.network.parse().with_context(|| format!("store holds unknown network {chain}"))
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

pub(crate) fn status(store_dir: &Path, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    emit(out, format, &cointrail_query::store_status(store_dir)?, print_status)
}

fn print_status(out: &mut dyn Write, status: &StatusJson) -> std::io::Result<()> {
    if !status.files.is_empty() || status.evm_chains.is_empty() {
        print_utxo_status(out, status)?;
    }
    for chain in &status.evm_chains {
        let counts = &chain.counts;
        writeln!(out, "\nevm chain  {} (chain id {})", chain.chain, chain.chain_id)?;
        match (&chain.tip_height, &chain.tip_hash) {
            (Some(height), Some(hash)) => writeln!(out, "tip        {height} ({hash})")?,
            _ => writeln!(out, "tip        - (empty)")?,
        }
        if let Some(first) = chain.first_block {
            writeln!(out, "first      {first}")?;
        }
        writeln!(out, "blocks     {}", counts.blocks)?;
        writeln!(out, "txs        {}", counts.txs)?;
        writeln!(out, "flows      {}", counts.flows)?;
        writeln!(out, "addresses  {}", counts.addresses)?;
        writeln!(out, "assets     {}", counts.assets)?;
        let gaps: Vec<String> = chain
            .coverage_gaps
            .iter()
            .map(
                |[first, last]| {
                    if first == last { first.to_string() } else { format!("{first}-{last}") }
                },
            )
            .collect();
        if !gaps.is_empty() {
            writeln!(out, "no traces  blocks {}", gaps.join(", "))?;
        }
        writeln!(out, "on disk    {} bytes", chain.bytes_on_disk)?;
    }
    Ok(())
}

fn print_utxo_status(out: &mut dyn Write, status: &StatusJson) -> std::io::Result<()> {
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

fn time_text(seconds: u64) -> String {
    u32::try_from(seconds).map_or_else(|_| seconds.to_string(), utc)
}

fn asset_text(flow: &EvmFlowJson) -> String {
    match &flow.symbol {
        Some(symbol) if *symbol != flow.asset => format!("{symbol} ({})", flow.asset),
        _ => flow.asset.clone(),
    }
}

fn print_evm_flows(out: &mut dyn Write, flows: &[EvmFlowJson], tx: bool) -> std::io::Result<()> {
    for flow in flows {
        if tx {
            let hash = flow.tx.as_deref().unwrap_or("-");
            writeln!(out, "  {:>10}  {hash}", flow.block)?;
            write!(out, "              ")?;
        } else {
            write!(out, "  ")?;
        }
        writeln!(
            out,
            "{:<10}  {} -> {}  {} {}",
            flow.kind,
            flow.from,
            flow.to,
            flow.amount,
            asset_text(flow)
        )?;
    }
    Ok(())
}

fn print_evm_address(out: &mut dyn Write, address: &EvmAddressJson) -> std::io::Result<()> {
    let block = |b: Option<u64>| b.map_or("-".to_owned(), |b| b.to_string());
    writeln!(out, "address   {} (evm chain {})", address.address, address.chain)?;
    writeln!(out, "flows     {}", address.flow_count)?;
    writeln!(out, "blocks    {} .. {}", block(address.first_block), block(address.last_block))?;
    for label in &address.labels {
        writeln!(out, "label     {} [{}] from {}", label.name, label.category, label.source)?;
    }
    if let Some(clustering) = &address.clustering {
        crate::cluster::print_evm_clustering(out, clustering)?;
    }
    if let Some(note) = &address.clustering_note {
        writeln!(out, "cluster   - ({note})")?;
    }
    writeln!(out, "\nbalances (base units)")?;
    for balance in &address.balances {
        let asset = &balance.asset;
        let name = match (&asset.symbol, &asset.contract) {
            (Some(symbol), Some(contract)) => format!("{symbol} ({contract})"),
            (Some(symbol), None) => symbol.clone(),
            (None, Some(contract)) => contract.clone(),
            (None, None) => format!("asset {}", asset.id),
        };
        let decimals = asset.decimals.map_or(String::new(), |d| format!(", {d} decimals"));
        writeln!(out, "  {name} [{}{decimals}]", asset.kind)?;
        writeln!(
            out,
            "    received {} in {}, sent {} in {}, balance {}",
            balance.received, balance.flows_in, balance.sent, balance.flows_out, balance.balance
        )?;
    }
    let latest = if address.flows_truncated { "latest " } else { "" };
    writeln!(out, "\n{latest}flows ({})", address.flows.len())?;
    print_evm_flows(out, &address.flows, true)
}

fn print_evm_tx(out: &mut dyn Write, tx: &EvmTxJson) -> std::io::Result<()> {
    writeln!(out, "tx      {} (evm chain {})", tx.hash, tx.chain)?;
    writeln!(out, "block   {} ({}), index {}", tx.block, tx.block_hash, tx.index)?;
    writeln!(out, "time    {}", time_text(tx.time))?;
    writeln!(out, "\nflows ({})", tx.flows.len())?;
    print_evm_flows(out, &tx.flows, false)
}
