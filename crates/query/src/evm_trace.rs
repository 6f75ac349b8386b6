//! `trace` on EVM chains: the account-model trace of `cointrail_taint::trace_account` over a
//! stored chain, as a [`TraceDocument`] so every renderer works.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cointrail_report::{Edge, Node, Patterns, Reached, Reproduce, Source, TraceDocument, Unit};
use cointrail_store::LabelTable;
use cointrail_store::evm::{EvmStore, EvmView, FlowKind, FlowRecord};
use cointrail_taint::{
    AccountFlows, AccountLimits, AccountNode, AccountSeed, Flow, Policy, trace_account,
};
use cointrail_types::EvmAddress;

use crate::evm::select_evm_chain;
use crate::evm_risk::resolve_asset;
use crate::{QueryError, Result};

/// The stored flows of an EVM chain as the account-model analyses see them (EIP-721 transfers
/// left out: token ids are not amounts).
pub(crate) struct Flows<'a>(pub(crate) EvmView<'a>);

impl AccountFlows for Flows<'_> {
    fn flows_of(&self, address: &EvmAddress) -> Vec<Flow> {
        self.0
            .flows_of(address)
            .iter()
            // Token ids are not amounts.
            .filter(|flow| flow.kind != FlowKind::Erc721)
            .map(|flow| account_flow(&self.0, flow))
            .collect()
    }
}

/// A flow's amount as `u128`, `u128::MAX` above it (token supplies only).
pub(crate) fn clamped_amount(flow: &FlowRecord) -> u128 {
    let bytes = flow.amount.to_be_bytes();
    if bytes[..16].iter().any(|byte| *byte != 0) {
        return u128::MAX;
    }
    let mut low = [0u8; 16];
    low.copy_from_slice(&bytes[16..]);
    u128::from_be_bytes(low)
}

/// A stored flow as the account-model analyses see it: amounts above `u128::MAX` (token supplies
/// only) clamped, gas and burns marked as fees.
pub(crate) fn account_flow(view: &EvmView<'_>, flow: &FlowRecord) -> Flow {
    let amount = clamped_amount(flow);
    Flow {
        id: flow.id,
        tx: flow.tx.and_then(|number| view.tx(number)).map(|tx| tx.hash),
        from: flow.from,
        to: flow.to,
        asset: flow.asset,
        amount,
        fee: matches!(flow.kind, FlowKind::Fee | FlowKind::Burn),
    }
}

/// Traces what the EVM address `seed` (`0x` and 40 hex digits) received of `asset` (`native`, the
/// native symbol, a token contract or symbol; default the native currency) forward on chain
/// `chain` (or the store's only EVM chain) under `policy` (`haircut` or `fifo`), stopping at
/// addresses whose labels in `labels` have a category in `stop_categories`.
///
/// Amounts are base units of the asset (wei for ether), exact to 128 bits; the document's unit
/// names the asset's symbol and decimals.
///
/// # Errors
///
/// [`QueryError::Invalid`] for a bad address, an unsupported policy or direction, or an ambiguous
/// asset; [`QueryError::NotFound`] without (such) an EVM chain or asset.
#[allow(clippy::too_many_arguments)]
pub fn evm_trace(
    dir: &Path,
    labels: &LabelTable,
    chain: Option<&str>,
    seed: &str,
    asset: Option<&str>,
    policy: &str,
    direction: &str,
    max_hops: u32,
    max_flows: usize,
    stop_categories: &[String],
    command: String,
) -> Result<TraceDocument> {
    let policy: Policy = policy.parse().map_err(|error: cointrail_taint::ParsePolicyError| {
        QueryError::invalid(error.to_string())
    })?;
    if !matches!(policy, Policy::Haircut | Policy::Fifo) {
        return Err(QueryError::invalid(format!(
            "policy {policy} is not defined on EVM account balances: use haircut or fifo"
        )));
    }
    if direction != "forward" {
        return Err(QueryError::invalid("EVM traces are forward only"));
    }
    let address = EvmAddress::from_hex(seed.trim())
        .map_err(|error| QueryError::invalid(error.to_string()))?;
    let name = select_evm_chain(dir, chain)?;
    let store = EvmStore::open(dir, &name)?;
    let view = store.view();
    let native = crate::evm::native_symbol(view.spec().chain_id);
    let asset_id = asset.map(|text| resolve_asset(&view, native, text)).transpose()?.unwrap_or(0);
    // Stop labels: own, or inherited through the address's deposit cluster.
    let index = crate::evm_cluster::EvmStops::new(dir, view.clone(), labels, |category| {
        stop_categories.iter().any(|stop| stop == category)
    })?;
    let stops = |address: &EvmAddress| index.stop(address);
    let flows = Flows(view.clone());
    let report = trace_account(
        &flows,
        &stops,
        AccountSeed { address, from_flow: 0 },
        asset_id,
        policy,
        AccountLimits { max_hops, max_flows },
    );
    let asset_json = crate::evm::Chain { view: view.clone(), native }.asset(asset_id);
    let unit = Unit {
        symbol: asset_json
            .symbol
            .clone()
            .or_else(|| asset_json.contract.clone())
            .unwrap_or_else(|| format!("asset {asset_id}")),
        decimals: asset_json.decimals.unwrap_or(0),
    };
    let seed_amount = report.seed_amount;
    let seed_text = address.to_string();
    let node_id = |node: &AccountNode| match node {
        AccountNode::Address(address) => format!("tx:{address}"),
        AccountNode::Stop(label) => format!("stop:{}", label.name),
        AccountNode::Unspent(address) => format!("unspent:{address}"),
        AccountNode::Fees => "fees".to_owned(),
        AccountNode::Cut => "cut".to_owned(),
    };
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    nodes.insert(
        format!("tx:{seed_text}"),
        Node {
            id: format!("tx:{seed_text}"),
            kind: "tx".to_owned(),
            label: seed_text.clone(),
            height: None,
            seed: true,
        },
    );
    let mut edges = Vec::with_capacity(report.edges.len());
    for edge in &report.edges {
        for node in [&edge.from, &edge.to] {
            let id = node_id(node);
            nodes.entry(id.clone()).or_insert_with(|| {
                let (kind, label) = match node {
                    AccountNode::Address(address) => ("tx", address.to_string()),
                    AccountNode::Stop(label) => {
                        ("stop", format!("{} ({})", label.name, label.category))
                    }
                    AccountNode::Unspent(address) => ("unspent", address.to_string()),
                    AccountNode::Fees => ("fees", "fees".to_owned()),
                    AccountNode::Cut => ("cut", "not followed".to_owned()),
                };
                Node { id, kind: kind.to_owned(), label, height: None, seed: false }
            });
        }
        edges.push(Edge {
            from: node_id(&edge.from),
            to: node_id(&edge.to),
            amount: edge.amount,
            output: None,
        });
    }
    let mut sources = BTreeSet::new();
    let mut reached = Vec::with_capacity(report.reached.len());
    for at in &report.reached {
        for address in &at.addresses {
            for stop in index.all(address).into_iter().filter(|stop| stop.label == at.label) {
                // Through a deposit cluster, the label sits on another member.
                let reached = (stop.labeled != *address).then(|| address.to_string());
                sources.insert((
                    stop.label.name,
                    stop.label.category,
                    stop.labeled.to_string(),
                    stop.source,
                    reached,
                ));
            }
        }
        reached.push(Reached {
            label: at.label.name.clone(),
            category: at.label.category.clone(),
            amount: at.amount,
            hops: at.hops,
            txs: at.txs.iter().map(ToString::to_string).collect(),
            outputs: at.addresses.iter().map(ToString::to_string).collect(),
        });
    }
    let tip = view.tip();
    Ok(TraceDocument {
        policy: policy.name().to_owned(),
        direction: "forward".to_owned(),
        chain: format!("evm {name} (chain id {})", view.spec().chain_id),
        unit,
        seeds: vec![seed_text],
        seed_amount,
        reached,
        unspent: report.unspent,
        unspent_outputs: report.unspent_at.len() as u64,
        fees: report.fees,
        mined: 0,
        below_min_amount: 0,
        beyond_limits: report.cut,
        seed_overlap: report.seed_overlap,
        conserved: report.conserved(),
        truncated: report.truncated.map(|reason| crate::trace::truncation_name(reason).to_owned()),
        txs_visited: report.flows_visited,
        nodes: nodes.into_values().collect(),
        edges,
        patterns: Patterns::default(),
        sources: sources
            .into_iter()
            .map(|(label, category, address, source, reached)| Source {
                label,
                category,
                address,
                source,
                via_cluster: reached.is_some(),
                reached_address: reached,
                joined_by: Vec::new(),
            })
            .collect(),
        reproduce: Reproduce {
            command,
            tip_height: tip.and_then(|tip| u32::try_from(tip.block.number).ok()),
            tip_hash: tip.map(|tip| tip.block.hash.to_string()),
            clustered_txs: 0,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
    })
}
