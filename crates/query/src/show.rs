//! `show tx|address|block|cluster` and `status`: the documents and their builders.

use std::collections::BTreeSet;

use cointrail_btc::Network;
use cointrail_cluster::Heuristic;
use cointrail_store::{ChainView, FORMAT_VERSION, StoreError};
use cointrail_types::{AddressId, Hash32, Height, InputId, Label, OutputId, TxNum};
use serde::Serialize;

use crate::snapshot::Snapshot;
use crate::{QueryError, Result};

/// A transaction (`show tx`).
#[derive(Debug, Clone, Serialize)]
pub struct TxJson {
    /// Txid.
    pub txid: String,
    /// Height of its block.
    pub height: u32,
    /// Hash of its block.
    pub block_hash: String,
    /// Block time (seconds since the epoch).
    pub time: u32,
    /// `true` for a coinbase.
    pub coinbase: bool,
    /// Inputs minus outputs; `None` for a coinbase.
    pub fee: Option<u64>,
    /// Inputs with the outputs they spend.
    pub inputs: Vec<InputJson>,
    /// Outputs with their spenders.
    pub outputs: Vec<OutputJson>,
}

/// An input of [`TxJson`].
#[derive(Debug, Clone, Serialize)]
pub struct InputJson {
    /// The output spent, `txid:vout`.
    pub prevout: String,
    /// Its address.
    pub address: Option<String>,
    /// Its value.
    pub value: u64,
}

/// An output of [`TxJson`].
#[derive(Debug, Clone, Serialize)]
pub struct OutputJson {
    /// Index in the transaction.
    pub n: u32,
    /// Address paid (`None` for `OP_RETURN`).
    pub address: Option<String>,
    /// Value.
    pub value: u64,
    /// The spending input, `txid:vin`.
    pub spent_by: Option<String>,
}

/// An address (`show address`).
#[derive(Debug, Clone, Serialize)]
pub struct AddressJson {
    /// The address, as the store's network writes it.
    pub address: String,
    /// Its kind (`p2wpkh`, ...).
    pub kind: &'static str,
    /// Total received.
    pub received: u64,
    /// Total spent.
    pub sent: u64,
    /// Received minus sent.
    pub balance: u64,
    /// Transactions paying or spending it.
    pub tx_count: u64,
    /// Outputs paid to it.
    pub outputs: u64,
    /// Of those, unspent.
    pub unspent_outputs: u64,
    /// First height it appears at.
    pub first_height: Option<u32>,
    /// Last height it appears at.
    pub last_height: Option<u32>,
    /// The address's cluster, once `cointrail cluster` has run.
    pub cluster: Option<ClusterRef>,
    /// Its own labels, then those inherited from its cluster.
    pub labels: Vec<AttributedLabel>,
    /// Labels of its cluster that disagree (two actors, two exchanges).
    pub conflicts: Vec<Conflict>,
}

/// A cluster's id and size.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterRef {
    /// Cluster id (its smallest address id).
    pub id: u32,
    /// Number of addresses.
    pub size: u32,
}

/// A label of a cluster member, with the member it comes from.
#[derive(Debug, Clone, Serialize)]
pub struct AttributedLabel {
    /// The label.
    #[serde(flatten)]
    pub label: Label,
    /// `true` when the label is on another address of the cluster.
    pub inherited: bool,
    /// The address that carries the label.
    pub via: String,
}

/// Two labels of one cluster that cannot both be right.
#[derive(Debug, Clone, Serialize)]
pub struct Conflict {
    /// `actors` or `exchanges`.
    pub kind: &'static str,
    /// The disagreeing values.
    pub values: Vec<String>,
}

/// A block (`show block`).
#[derive(Debug, Clone, Serialize)]
pub struct BlockJson {
    /// Height.
    pub height: u32,
    /// Hash.
    pub hash: String,
    /// Previous block's hash.
    pub prev_hash: String,
    /// Header time.
    pub time: u32,
    /// Transactions.
    pub tx_count: u32,
    /// Serialized size in bytes.
    pub size: u32,
    /// Every txid, in block order.
    pub txids: Vec<String>,
}

/// The store (`status`).
#[derive(Debug, Clone, Serialize)]
pub struct StatusJson {
    /// Store format version.
    pub format_version: u64,
    /// Chain family.
    pub chain: String,
    /// Network.
    pub network: String,
    /// Tip height (`None` when empty).
    pub tip_height: Option<u32>,
    /// Tip hash.
    pub tip_hash: Option<String>,
    /// Row counts.
    pub counts: CountsJson,
    /// Sum of the files' sizes.
    pub bytes_on_disk: u64,
    /// Every file with its size.
    pub files: Vec<FileJson>,
    /// The store's EVM chains (left out when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evm_chains: Vec<crate::evm::EvmChainStatusJson>,
}

/// Row counts of [`StatusJson`].
#[derive(Debug, Clone, Serialize)]
pub struct CountsJson {
    /// Blocks.
    pub blocks: u64,
    /// Transactions.
    pub txs: u64,
    /// Spending inputs.
    pub inputs: u64,
    /// Outputs.
    pub outputs: u64,
    /// Addresses.
    pub addresses: u64,
}

/// A file of [`StatusJson`].
#[derive(Debug, Clone, Serialize)]
pub struct FileJson {
    /// File name.
    pub name: String,
    /// Size.
    pub bytes: u64,
}

/// A cluster (`show cluster`).
#[derive(Debug, Clone, Serialize)]
pub struct ClusterJson {
    /// Cluster id.
    pub id: u32,
    /// Number of addresses.
    pub size: u32,
    /// Labels of its members.
    pub labels: Vec<AttributedLabel>,
    /// Conflicting labels.
    pub conflicts: Vec<Conflict>,
    /// Merges with other clusters held by the collapse guard.
    pub held_merges: Vec<HeldJson>,
    /// Member addresses, at most the limit asked for.
    pub addresses: Vec<String>,
    /// `true` when members were left out.
    pub addresses_truncated: bool,
}

/// A held merge of [`ClusterJson`].
#[derive(Debug, Clone, Serialize)]
pub struct HeldJson {
    /// The other cluster.
    pub other_cluster: u32,
    /// The transaction that asked for the merge.
    pub txid: String,
    /// The heuristic.
    pub heuristic: String,
    /// Sizes of both sides then.
    pub sizes: [u32; 2],
}

fn parse_txid(text: &str) -> Result<Hash32> {
    Hash32::from_display_hex(text.trim()).map_err(|error| QueryError::invalid(error.to_string()))
}

/// Returns the transaction `txid`.
///
/// # Errors
///
/// [`QueryError::Invalid`] for text that is not a txid, [`QueryError::NotFound`] for a txid the
/// store does not have.
pub fn tx(snapshot: &Snapshot, txid: &str) -> Result<TxJson> {
    let hash = parse_txid(txid)?;
    let view = snapshot.view();
    let txnum = view
        .find_tx(&hash)
        .ok_or_else(|| QueryError::not_found(format!("tx {} is not in the store", txid.trim())))?;
    tx_json(&view, snapshot.network(), txnum)
}

fn address_text(
    view: &ChainView<'_>,
    network: Network,
    address: Option<AddressId>,
) -> Option<String> {
    address.map(|id| network.encode_address(&view.address_key(id)))
}

pub(crate) fn outpoint(view: &ChainView<'_>, output: OutputId) -> String {
    let (txnum, vout) = view.output_location(output);
    format!("{}:{vout}", view.txid(txnum))
}

fn input_point(view: &ChainView<'_>, input: InputId) -> String {
    let (txnum, vin) = view.input_location(input);
    format!("{}:{vin}", view.txid(txnum))
}

fn corrupt(what: &str) -> QueryError {
    QueryError::Store(StoreError::Corrupt { what: what.to_owned() })
}

fn tx_json(view: &ChainView<'_>, network: Network, txnum: TxNum) -> Result<TxJson> {
    let tx = view.tx(txnum).ok_or_else(|| corrupt("a tx found by txid is not stored"))?;
    let height = view.tx_height(txnum);
    let block = view.block(height).ok_or_else(|| corrupt("a stored tx has no block"))?;
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
        .zip(0u32..)
        .map(|(id, n)| {
            let output = view.output(OutputId::new(id));
            OutputJson {
                n,
                address: address_text(view, network, output.address),
                value: output.value.to_sat(),
                spent_by: output.spent_by.map(|input| input_point(view, input)),
            }
        })
        .collect();
    let paid_in: u64 = inputs.iter().map(|input| input.value).sum();
    let paid_out: u64 = outputs.iter().map(|output| output.value).sum();
    Ok(TxJson {
        txid: tx.txid.to_string(),
        height: height.get(),
        block_hash: block.hash.to_string(),
        time: block.time(),
        coinbase,
        fee: (!coinbase).then(|| paid_in.saturating_sub(paid_out)),
        inputs,
        outputs,
    })
}

/// Returns the address `text` with its totals, cluster, labels and conflicts. An address with no
/// activity is not an error: it shows zeros (and any labels it carries).
///
/// # Errors
///
/// [`QueryError::Invalid`] for text that is not an address of the store's network.
pub fn address(snapshot: &Snapshot, text: &str) -> Result<AddressJson> {
    let network = snapshot.network();
    let text = text.trim();
    let key =
        network.parse_address(text).map_err(|error| QueryError::invalid(error.to_string()))?;
    let view = snapshot.view();
    let id = view.find_address(&key);
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
    if let Some(id) = id {
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
        if let Some(clusters) = snapshot.clusters() {
            let (root, size) = clusters.cluster_of(id);
            summary.cluster = Some(ClusterRef { id: root.get(), size });
        }
    }
    (summary.labels, summary.conflicts) = attribute(snapshot, &summary.address, id);
    Ok(summary)
}

/// Labels of an address: its own, then those of the other members of its cluster (in id order);
/// and conflicts (two actors, or two exchanges, in one cluster). With `own` empty: the labels of
/// every member of `address`'s cluster.
pub(crate) fn attribute(
    snapshot: &Snapshot,
    own: &str,
    address: Option<AddressId>,
) -> (Vec<AttributedLabel>, Vec<Conflict>) {
    let table = snapshot.labels();
    let mut labels: Vec<AttributedLabel> = table
        .of(own)
        .map(|label| AttributedLabel {
            label: label.clone(),
            inherited: false,
            via: own.to_owned(),
        })
        .collect();
    if let (Some(address), Some(_)) = (address, snapshot.clusters()) {
        for (_, member) in snapshot.labeled_members(address) {
            if member == own {
                continue;
            }
            labels.extend(table.of(member).map(|label| AttributedLabel {
                label: label.clone(),
                inherited: true,
                via: member.clone(),
            }));
        }
    }
    let mut conflicts = Vec::new();
    let actors: BTreeSet<String> = labels
        .iter()
        .filter_map(|attributed| attributed.label.actor.as_ref())
        .map(|actor| actor.to_lowercase())
        .collect();
    if actors.len() > 1 {
        conflicts.push(Conflict { kind: "actors", values: actors.into_iter().collect() });
    }
    let exchanges: BTreeSet<String> = labels
        .iter()
        .filter(|attributed| attributed.label.category == "exchange")
        .map(|attributed| attributed.label.name.clone())
        .collect();
    if exchanges.len() > 1 {
        conflicts.push(Conflict { kind: "exchanges", values: exchanges.into_iter().collect() });
    }
    (labels, conflicts)
}

/// Returns a block by height or hash.
///
/// # Errors
///
/// [`QueryError::Invalid`] for text that is neither, [`QueryError::NotFound`] for a height above
/// the tip or an unknown hash.
pub fn block(snapshot: &Snapshot, text: &str) -> Result<BlockJson> {
    let view = snapshot.view();
    let height = parse_block_ref(&view, text)?;
    let block = view.block(height).ok_or_else(|| corrupt("a height below the tip has no block"))?;
    let first = block.first_tx.get();
    Ok(BlockJson {
        height: height.get(),
        hash: block.hash.to_string(),
        prev_hash: block.prev_hash().to_string(),
        time: block.time(),
        tx_count: block.tx_count,
        size: block.size,
        txids: (first..first + block.tx_count)
            .map(|txnum| view.txid(TxNum::new(txnum)).to_string())
            .collect(),
    })
}

fn parse_block_ref(view: &ChainView<'_>, text: &str) -> Result<Height> {
    let text = text.trim();
    let tip = view.tip().ok_or_else(|| QueryError::not_found("the store is empty"))?.height;
    if let Ok(height) = text.parse::<u32>() {
        if height > tip.get() {
            return Err(QueryError::not_found(format!(
                "block height {height} is above the store's tip {tip}"
            )));
        }
        return Ok(Height::new(height));
    }
    let hash = Hash32::from_display_hex(text).map_err(|_| {
        QueryError::invalid(format!("`{text}` is neither a block height nor a block hash"))
    })?;
    view.block_height(&hash)
        .ok_or_else(|| QueryError::not_found(format!("block {text} is not in the store")))
}

/// Returns the store's tip, counts and files.
///
/// # Errors
///
/// An I/O error listing the directory.
pub fn status(snapshot: &Snapshot) -> Result<StatusJson> {
    if !snapshot.store().has_utxo_chain() {
        return store_status(snapshot.store().dir());
    }
    utxo_status(snapshot.store())
}

/// Returns the status of the store at `dir`: its UTXO chain, if it has one, and its EVM chains. A
/// store that holds only EVM chains answers with an empty UTXO part (`chain` `evm`, `network`
/// `none`, no tip, zero counts, no files).
///
/// # Errors
///
/// A store error (no store at all, another format version, a file missing or short).
pub fn store_status(dir: &std::path::Path) -> Result<StatusJson> {
    match cointrail_store::Store::open(dir) {
        Ok(store) => utxo_status(&store),
        Err(StoreError::NotFound { path }) => {
            let evm_chains = crate::evm::evm_status(dir)?;
            if evm_chains.is_empty() {
                return Err(StoreError::NotFound { path }.into());
            }
            Ok(StatusJson {
                format_version: cointrail_store::evm::EVM_FORMAT_VERSION,
                chain: "evm".to_owned(),
                network: "none".to_owned(),
                tip_height: None,
                tip_hash: None,
                counts: CountsJson { blocks: 0, txs: 0, inputs: 0, outputs: 0, addresses: 0 },
                bytes_on_disk: 0,
                files: Vec::new(),
                evm_chains,
            })
        }
        Err(error) => Err(error.into()),
    }
}

fn utxo_status(store: &cointrail_store::Store) -> Result<StatusJson> {
    let view = store.view();
    let counts = view.counts();
    let tip = view.tip();
    let files: Vec<FileJson> =
        store.disk_usage()?.into_iter().map(|(name, bytes)| FileJson { name, bytes }).collect();
    let chain = store.chain();
    Ok(StatusJson {
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
        evm_chains: crate::evm::evm_status(store.dir())?,
    })
}

/// Returns a cluster, by id or by any of its addresses, with at most `limit` member addresses.
///
/// # Errors
///
/// [`QueryError::NotFound`] without clusters, for a number that is not a cluster id or an address
/// with no activity; [`QueryError::Invalid`] for text that is neither a number nor an address.
pub fn cluster(snapshot: &Snapshot, text: &str, limit: usize) -> Result<ClusterJson> {
    let view = snapshot.view();
    let network = snapshot.network();
    let reader = snapshot.clusters().ok_or_else(|| {
        QueryError::not_found("no clusters in this store: run `cointrail cluster` first")
    })?;
    let text = text.trim();
    let id = match text.parse::<u32>() {
        Ok(number) => {
            let id = AddressId::new(number);
            if u64::from(number) >= view.counts().addresses || !reader.is_cluster(id) {
                return Err(QueryError::not_found(format!(
                    "{number} is not a cluster id (ids are printed by `cointrail show address`)"
                )));
            }
            id
        }
        Err(_) => {
            let key = network
                .parse_address(text)
                .map_err(|error| QueryError::invalid(error.to_string()))?;
            view.find_address(&key).ok_or_else(|| {
                QueryError::not_found(format!("address {text} has no activity in this store"))
            })?
        }
    };
    let (root, size) = reader.cluster_of(id);
    let (mut labels, conflicts) = attribute(snapshot, "", Some(root));
    for label in &mut labels {
        label.inherited = false;
    }
    let held_merges = reader
        .manifest()
        .held
        .iter()
        .filter_map(|held| {
            let (side_a, side_b) =
                (reader.cluster_of(held.link.a).0, reader.cluster_of(held.link.b).0);
            let other = if side_a == root {
                side_b
            } else if side_b == root {
                side_a
            } else {
                return None;
            };
            Some(HeldJson {
                other_cluster: other.get(),
                txid: view.txid(held.link.tx).to_string(),
                heuristic: Heuristic::from_code(held.link.heuristic)
                    .map_or_else(String::new, |h| h.to_string()),
                sizes: [held.size_a, held.size_b],
            })
        })
        .collect();
    let members = reader.members(root);
    Ok(ClusterJson {
        id: root.get(),
        size,
        labels,
        conflicts,
        held_merges,
        addresses_truncated: members.len() > limit,
        addresses: members
            .into_iter()
            .take(limit)
            .map(|member| network.encode_address(&view.address_key(member)))
            .collect(),
    })
}
