//! `cointrail show tx|address|block|cluster` and `cointrail status`: the documents come from
//! `cointrail-query` (the API serves the same), this module prints them.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use cointrail_btc::Network;
use cointrail_query::{AddressJson, BlockJson, Snapshot, StatusJson, TxJson};
use cointrail_store::Store;

use crate::args::{Format, ShowCommand};
use crate::output::{coins, emit, utc};

pub(crate) fn run(
    command: &ShowCommand,
    store_dir: &Path,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
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
    let snapshot = Snapshot::open(store_dir)?;
    emit(out, format, &cointrail_query::status(&snapshot)?, print_status)
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
