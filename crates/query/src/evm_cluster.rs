//! Deposit-address clustering of an EVM chain: running it over the stored flows and persisting the
//! result ([`cluster_evm_chain`]), an address's cluster for `show address` ([`evm_cluster_of`]),
//! and why two addresses share one ([`evm_explain`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::time::Instant;

use cointrail_cluster::{
    AccountFlow, AccountFlowKind, ClusterState, DepositConfig, KnownAddresses, cluster_deposits,
};
use cointrail_store::LabelTable;
use cointrail_store::evm::{
    DepositClusters, DepositManifest, EvmStore, EvmTip, EvmView, FlowKind, StoredDeposit,
    StoredDepositLink, StoredDepositParams, StoredDepositUser, StoredForward, StoredHotWallet,
    StoredService, write_deposit_clusters,
};
use cointrail_taint::StopLabel;
use cointrail_types::{AddressId, EvmAddress};
use serde::Serialize;

use crate::evm::{Chain, native_symbol, open_chain, select_evm_chain};
use crate::{AttributedLabel, EvmFlowJson, QueryError, Result};

/// Members listed in [`crate::EvmAddressJson::clustering`] (`show address 0x…`).
pub const EVM_CLUSTER_MEMBERS: usize = 100;

/// What `cointrail cluster --chain NAME` did.
#[derive(Debug, Clone, Serialize)]
pub struct EvmClusterSummaryJson {
    /// The EVM chain clustered.
    pub chain: String,
    /// The heuristic (`deposit-address`).
    pub heuristic: &'static str,
    /// Parameters of the run.
    pub params: StoredDepositParams,
    /// The tip block the run saw.
    pub tip_height: Option<u64>,
    /// Flows examined.
    pub flows: u64,
    /// Addresses covered.
    pub addresses: u64,
    /// Candidate deposit addresses (externally owned, forwarding everything to one address).
    pub candidates: u64,
    /// Hot wallets detected.
    pub hot_wallets: usize,
    /// Deposit addresses detected.
    pub deposit_addresses: usize,
    /// Merges applied.
    pub merges: usize,
    /// Senders left out for paying into too many deposit addresses.
    pub services_excluded: usize,
    /// Clusters of more than one address.
    pub clusters: u64,
    /// Size of the largest cluster.
    pub largest_cluster: u32,
    /// Wall time.
    pub seconds: f64,
}

/// The role an address plays for the heuristic.
#[derive(Debug, Clone, Serialize)]
pub struct EvmRoleJson {
    /// `deposit address`, `hot wallet` or `service` (left out of clustering).
    pub kind: &'static str,
    /// For a deposit address, its hot wallet.
    pub hot_wallet: Option<String>,
    /// For a hot wallet, the deposit addresses forwarding to it; for a service, those it paid.
    pub deposits: Option<u32>,
}

/// A deposit address used by a cluster.
#[derive(Debug, Clone, Serialize)]
pub struct EvmDepositRefJson {
    /// The deposit address.
    pub deposit: String,
    /// Its hot wallet.
    pub hot_wallet: String,
    /// Members of the cluster that paid into it.
    pub payers: Vec<String>,
}

/// The deposit-address cluster of an EVM address (`show address 0x…`).
#[derive(Debug, Clone, Serialize)]
pub struct EvmClusterJson {
    /// Cluster id: the smallest address id of the cluster in this chain.
    pub id: u32,
    /// Number of addresses.
    pub size: u32,
    /// Members (at most [`EVM_CLUSTER_MEMBERS`]), by address id.
    pub members: Vec<String>,
    /// `true` when members were left out.
    pub members_truncated: bool,
    /// Deposit addresses the members paid into.
    pub deposits: Vec<EvmDepositRefJson>,
    /// Labels of the other members (inherited).
    pub labels: Vec<AttributedLabel>,
}

/// What clustering says about one address.
#[derive(Debug, Clone, Serialize)]
pub struct EvmClusteringJson {
    /// Its cluster, when it has more than one address.
    pub cluster: Option<EvmClusterJson>,
    /// Its role (deposit address, hot wallet, service), if any.
    pub role: Option<EvmRoleJson>,
}

/// A forward that passed a payment on.
#[derive(Debug, Clone, Serialize)]
pub struct EvmForwardJson {
    /// The forward.
    pub flow: EvmFlowJson,
    /// Blocks between its first receipt and the forward.
    pub block_delay: u64,
    /// Receipts minus the amount forwarded, in base units.
    pub amount_difference: String,
}

/// One step of an [`EvmExplanationJson`]: two addresses paid into one deposit address.
#[derive(Debug, Clone, Serialize)]
pub struct EvmStepJson {
    /// One address.
    pub from: String,
    /// The other.
    pub to: String,
    /// The deposit address both paid into.
    pub deposit: String,
    /// Its hot wallet.
    pub hot_wallet: String,
    /// The payment of `from` into the deposit address.
    pub payment_from: EvmFlowJson,
    /// The payment of `to`.
    pub payment_to: EvmFlowJson,
    /// The forwards that passed them on to the hot wallet (one, or two).
    pub forwards: Vec<EvmForwardJson>,
}

/// Why two EVM addresses are (or are not) in one cluster (`explain 0xA 0xB`).
#[derive(Debug, Clone, Serialize)]
pub struct EvmExplanationJson {
    /// The EVM chain.
    pub chain: String,
    /// First address.
    pub address_a: String,
    /// Second address.
    pub address_b: String,
    /// Whether they are in one cluster.
    pub joined: bool,
    /// The cluster id when they are.
    pub cluster: Option<u32>,
    /// The shortest chain of evidence from `address_a` to `address_b`.
    pub steps: Vec<EvmStepJson>,
}

fn flow_kind(kind: FlowKind) -> AccountFlowKind {
    match kind {
        FlowKind::Native => AccountFlowKind::Transfer,
        FlowKind::Internal => AccountFlowKind::Internal,
        FlowKind::Erc20 => AccountFlowKind::Token,
        FlowKind::Fee | FlowKind::Burn => AccountFlowKind::Gas,
        FlowKind::Withdrawal | FlowKind::Reward => AccountFlowKind::Issued,
        FlowKind::Erc721 => AccountFlowKind::Other,
    }
}

fn account_flow(view: &EvmView<'_>, id: u64) -> Option<AccountFlow> {
    let record = view.flow(id)?;
    let (from, to) = view.flow_party_ids(id)?;
    Some(AccountFlow {
        id,
        block: record.block,
        kind: flow_kind(record.kind),
        from: from.map(AddressId::new),
        to: to.map(AddressId::new),
        asset: record.asset,
        amount: record.amount,
    })
}

/// Token contracts of the chain, and addresses labelled `exchange` in `labels`, as address ids.
fn known_addresses(view: &EvmView<'_>, labels: &LabelTable) -> KnownAddresses {
    let tokens = view
        .assets()
        .into_iter()
        .filter_map(|(_, asset)| view.address_id(&asset.contract))
        .map(AddressId::new)
        .collect();
    let exchanges = labels
        .all()
        .iter()
        .filter(|label| label.category == "exchange")
        .filter_map(|label| EvmAddress::from_hex(&label.address).ok())
        .filter_map(|address| view.address_id(&address))
        .map(AddressId::new)
        .collect();
    KnownAddresses { tokens, exchanges }
}

/// Runs the deposit-address heuristic over every stored flow of EVM chain `chain` (or the store's
/// only one) and commits the result under `DIR/evm/<chain>/`. Addresses labelled `exchange` in
/// `labels` count as hot wallets whatever the number of their deposit addresses.
///
/// # Errors
///
/// [`QueryError::NotFound`] or [`QueryError::Invalid`] when the chain cannot be selected,
/// [`QueryError::Invalid`] for a chain too large to cluster in memory, or a store error.
pub fn cluster_evm_chain(
    dir: &Path,
    labels: &LabelTable,
    chain: Option<&str>,
    config: &DepositConfig,
) -> Result<EvmClusterSummaryJson> {
    let started = Instant::now();
    let name = select_evm_chain(dir, chain)?;
    let store = EvmStore::open(dir, &name)?;
    let view = store.view();
    let counts = view.counts();
    let len = usize::try_from(counts.addresses)
        .map_err(|_| QueryError::invalid("too many addresses to cluster in memory"))?;
    let (mut parent, mut size, mut next) = (vec![0u32; len], vec![0u32; len], vec![0u32; len]);
    let mut state = ClusterState::new(&mut parent, &mut size, &mut next);
    state.init_singletons(0);
    let known = known_addresses(&view, labels);
    let flows = (0..counts.flows).filter_map(|id| account_flow(&view, id));
    let result = cluster_deposits(flows, &known, config, &mut state);
    state.canonicalize();
    let mut clusters = 0u64;
    let mut largest = 0u32;
    for (index, root) in parent.iter().enumerate() {
        if *root as usize == index && size[index] > 1 {
            clusters += 1;
            largest = largest.max(size[index]);
        }
    }
    let id = |address: AddressId| address.get();
    let params = StoredDepositParams {
        max_amount_difference: config.max_amount_difference.to_string(),
        max_token_difference: config.max_token_difference.to_string(),
        max_block_delay: config.max_block_delay,
        min_deposits: config.min_deposits,
        max_sender_deposits: config.max_sender_deposits,
    };
    let manifest = DepositManifest {
        format_version: 0,
        generation: 0,
        params: params.clone(),
        tip: view.tip().map(|tip| EvmTip { number: tip.block.number, hash: tip.block.hash }),
        flows: result.flows,
        addresses: counts.addresses,
        clusters,
        largest_cluster: largest,
        hot_wallets: result
            .hot_wallets
            .iter()
            .map(|hot| StoredHotWallet {
                address: id(hot.address),
                deposits: hot.deposits,
                known: hot.known,
            })
            .collect(),
        deposits: result
            .deposits
            .iter()
            .map(|deposit| StoredDeposit {
                address: id(deposit.address),
                hot_wallet: id(deposit.hot_wallet),
                users: deposit
                    .users
                    .iter()
                    .map(|user| StoredDepositUser {
                        address: id(user.address),
                        receipt: user.receipt,
                        forward: user.forward,
                    })
                    .collect(),
                forwards: deposit
                    .forwards
                    .iter()
                    .map(|forward| StoredForward {
                        flow: forward.flow,
                        block: forward.block,
                        to: id(forward.to),
                        asset: forward.asset,
                        amount: forward.amount.to_string(),
                        receipts: forward.receipts.iter().map(|receipt| receipt.flow).collect(),
                        block_delay: forward.block_delay,
                        amount_difference: forward.amount_difference.to_string(),
                    })
                    .collect(),
            })
            .collect(),
        links: result
            .links
            .iter()
            .map(|link| StoredDepositLink {
                a: id(link.a),
                b: id(link.b),
                deposit: id(link.deposit),
                receipt_a: link.receipt_a,
                forward_a: link.forward_a,
                receipt_b: link.receipt_b,
                forward_b: link.forward_b,
            })
            .collect(),
        services: result
            .services
            .iter()
            .map(|service| StoredService {
                address: id(service.address),
                deposits: service.deposits,
            })
            .collect(),
    };
    let manifest = write_deposit_clusters(dir, &name, manifest, &parent)?;
    Ok(EvmClusterSummaryJson {
        chain: name,
        heuristic: "deposit-address",
        params,
        tip_height: manifest.tip.map(|tip| tip.number),
        flows: manifest.flows,
        addresses: manifest.addresses,
        candidates: result.candidates,
        hot_wallets: manifest.hot_wallets.len(),
        deposit_addresses: manifest.deposits.len(),
        merges: manifest.links.len(),
        services_excluded: manifest.services.len(),
        clusters,
        largest_cluster: largest,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Opens the committed clusters of a chain and checks that the chain still holds the tip they saw
/// (a reorganisation renumbers addresses).
pub(crate) fn open_clusters(dir: &Path, view: &EvmView<'_>) -> Result<Option<DepositClusters>> {
    let Some(clusters) = DepositClusters::open(dir, &view.spec().name)? else { return Ok(None) };
    if let Some(tip) = clusters.manifest().tip
        && view.block(tip.number).map(|block| block.block.hash) != Some(tip.hash)
    {
        return Err(QueryError::invalid(format!(
            "the clusters of EVM chain {} were computed at block {} ({}), which the chain no \
             longer holds: re-run `cointrail cluster --chain {}`",
            view.spec().name,
            tip.number,
            tip.hash,
            view.spec().name
        )));
    }
    Ok(Some(clusters))
}

fn address_text(view: &EvmView<'_>, id: u32) -> String {
    view.address(id).map_or_else(|| format!("address #{id}"), |address| address.to_string())
}

/// Returns what deposit clustering says of `address` on the chain of `view`: its cluster (at most
/// `limit` members listed, with the labels of all other members from `labels`) and its role. `None`
/// when the chain was never clustered or the address has no flows.
///
/// # Errors
///
/// [`QueryError::Invalid`] when the clusters are stale (the chain was reorganised since), or a store
/// error.
pub fn evm_cluster_of(
    dir: &Path,
    view: &EvmView<'_>,
    labels: &LabelTable,
    address: &EvmAddress,
    limit: usize,
) -> Result<Option<EvmClusteringJson>> {
    let Some(clusters) = open_clusters(dir, view)? else { return Ok(None) };
    let Some(id) = view.address_id(address) else { return Ok(None) };
    let manifest = clusters.manifest();
    let text = |id: u32| address_text(view, id);
    let role =
        if let Some(deposit) = manifest.deposits.iter().find(|d| d.address == id) {
            Some(EvmRoleJson {
                kind: "deposit address",
                hot_wallet: Some(text(deposit.hot_wallet)),
                deposits: None,
            })
        } else if let Some(hot) = manifest.hot_wallets.iter().find(|hot| hot.address == id) {
            Some(EvmRoleJson { kind: "hot wallet", hot_wallet: None, deposits: Some(hot.deposits) })
        } else {
            manifest.services.iter().find(|service| service.address == id).map(|service| {
                EvmRoleJson { kind: "service", hot_wallet: None, deposits: Some(service.deposits) }
            })
        };
    let cluster_id = clusters.cluster_of(id);
    let members = clusters.members(cluster_id);
    let cluster = (members.len() > 1).then(|| {
        let member_set: BTreeSet<u32> = members.iter().copied().collect();
        let mut deposits: BTreeMap<u32, (u32, Vec<String>)> = BTreeMap::new();
        for deposit in &manifest.deposits {
            for user in &deposit.users {
                if member_set.contains(&user.address) {
                    deposits
                        .entry(deposit.address)
                        .or_insert_with(|| (deposit.hot_wallet, Vec::new()))
                        .1
                        .push(text(user.address));
                }
            }
        }
        let own = address.to_string();
        let labels = members
            .iter()
            .map(|member| text(*member))
            .filter(|member| *member != own)
            .flat_map(|member| {
                labels
                    .of(&member)
                    .map(|label| AttributedLabel {
                        label: label.clone(),
                        inherited: true,
                        via: member.clone(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        EvmClusterJson {
            id: cluster_id,
            size: u32::try_from(members.len()).unwrap_or(u32::MAX),
            members: members.iter().take(limit).map(|member| text(*member)).collect(),
            members_truncated: members.len() > limit,
            deposits: deposits
                .into_iter()
                .map(|(deposit, (hot_wallet, payers))| EvmDepositRefJson {
                    deposit: text(deposit),
                    hot_wallet: text(hot_wallet),
                    payers,
                })
                .collect(),
            labels,
        }
    });
    Ok(Some(EvmClusteringJson { cluster, role }))
}

/// Returns the deposit-address cluster and role of the EVM address `text` on chain `chain` (or the
/// store's only EVM chain), listing at most `limit` members (`show cluster 0x…`).
///
/// # Errors
///
/// [`QueryError::Invalid`] for text that is not an EVM address, an ambiguous chain or stale
/// clusters; [`QueryError::NotFound`] for a chain never clustered or an address without flows.
pub fn evm_cluster(
    dir: &Path,
    labels: &LabelTable,
    chain: Option<&str>,
    text: &str,
    limit: usize,
) -> Result<EvmClusteringJson> {
    let address = EvmAddress::from_hex(text.trim())
        .map_err(|error| QueryError::invalid(error.to_string()))?;
    let store = open_chain(dir, chain)?;
    let view = store.view();
    let name = view.spec().name.clone();
    if DepositClusters::open(dir, &name)?.is_none() {
        return Err(QueryError::not_found(format!(
            "EVM chain {name} has no clusters: run `cointrail cluster --chain {name}` first"
        )));
    }
    evm_cluster_of(dir, &view, labels, &address, limit)?.ok_or_else(|| {
        QueryError::not_found(format!("address {address} has no flows in EVM chain {name}"))
    })
}

/// Breadth-first search over the merges of one cluster: the fewest merges from `a` to `b`, each as
/// (from, to, link).
fn shortest_path(
    links: &[StoredDepositLink],
    a: u32,
    b: u32,
) -> Option<Vec<(u32, u32, StoredDepositLink)>> {
    let mut adjacent: HashMap<u32, Vec<(u32, StoredDepositLink)>> = HashMap::new();
    for link in links {
        adjacent.entry(link.a).or_default().push((link.b, *link));
        adjacent.entry(link.b).or_default().push((link.a, *link));
    }
    let mut came_from: HashMap<u32, (u32, StoredDepositLink)> = HashMap::new();
    let mut queue = VecDeque::from([a]);
    while let Some(current) = queue.pop_front() {
        if current == b {
            let mut path = Vec::new();
            let mut at = b;
            while at != a {
                let (previous, link) = *came_from.get(&at)?;
                path.push((previous, at, link));
                at = previous;
            }
            path.reverse();
            return Some(path);
        }
        for (next, link) in adjacent.get(&current).into_iter().flatten() {
            if *next != a && !came_from.contains_key(next) {
                came_from.insert(*next, (current, *link));
                queue.push_back(*next);
            }
        }
    }
    None
}

/// Explains why the EVM addresses `a` and `b` are in one deposit-address cluster of chain `chain`
/// (or the store's only EVM chain): the shortest chain of deposit addresses they, and the addresses
/// between them, paid into, with the payments and the forwards to the hot wallet.
///
/// # Errors
///
/// [`QueryError::Invalid`] for text that is not an EVM address, an ambiguous chain or stale
/// clusters; [`QueryError::NotFound`] for an address without flows or a chain never clustered.
pub fn evm_explain(
    dir: &Path,
    chain: Option<&str>,
    a: &str,
    b: &str,
) -> Result<EvmExplanationJson> {
    let store = open_chain(dir, chain)?;
    let view = store.view();
    let name = view.spec().name.clone();
    let clusters = open_clusters(dir, &view)?.ok_or_else(|| {
        QueryError::not_found(format!(
            "EVM chain {name} has no clusters: run `cointrail cluster --chain {name}` first"
        ))
    })?;
    let resolve = |text: &str| -> Result<(String, u32)> {
        let address = EvmAddress::from_hex(text.trim())
            .map_err(|error| QueryError::invalid(error.to_string()))?;
        let id = view.address_id(&address).ok_or_else(|| {
            QueryError::not_found(format!("address {address} has no flows in EVM chain {name}"))
        })?;
        Ok((address.to_string(), id))
    };
    let ((text_a, id_a), (text_b, id_b)) = (resolve(a)?, resolve(b)?);
    let cluster = clusters.cluster_of(id_a);
    let mut explanation = EvmExplanationJson {
        chain: name.clone(),
        address_a: text_a,
        address_b: text_b,
        joined: false,
        cluster: None,
        steps: Vec::new(),
    };
    if cluster != clusters.cluster_of(id_b) {
        return Ok(explanation);
    }
    explanation.joined = true;
    explanation.cluster = Some(cluster);
    let manifest = clusters.manifest();
    let links: Vec<StoredDepositLink> = manifest
        .links
        .iter()
        .filter(|link| clusters.cluster_of(link.a) == cluster)
        .copied()
        .collect();
    let path = shortest_path(&links, id_a, id_b).ok_or_else(|| {
        QueryError::Store(cointrail_store::StoreError::Corrupt {
            what: format!("the deposit-cluster evidence of EVM chain {name} is incomplete"),
        })
    })?;
    let chain = Chain { native: native_symbol(view.spec().chain_id), view };
    let flow = |id: u64| chain.view.flow(id).map(|record| chain.flow(&record));
    let deposits: HashMap<u32, &StoredDeposit> =
        manifest.deposits.iter().map(|deposit| (deposit.address, deposit)).collect();
    for (from, to, link) in path {
        let deposit = deposits.get(&link.deposit);
        let forward = |id: u64| {
            let stored = deposit?.forwards.iter().find(|forward| forward.flow == id)?;
            Some(EvmForwardJson {
                flow: flow(id)?,
                block_delay: stored.block_delay,
                amount_difference: stored.amount_difference.clone(),
            })
        };
        let ((receipt_from, forward_from), (receipt_to, forward_to)) = if from == link.a {
            ((link.receipt_a, link.forward_a), (link.receipt_b, link.forward_b))
        } else {
            ((link.receipt_b, link.forward_b), (link.receipt_a, link.forward_a))
        };
        let mut forwards: Vec<EvmForwardJson> = forward(forward_from).into_iter().collect();
        if forward_to != forward_from {
            forwards.extend(forward(forward_to));
        }
        let missing = || {
            QueryError::Store(cointrail_store::StoreError::Corrupt {
                what: format!("a flow of the deposit-cluster evidence of EVM chain {name}"),
            })
        };
        explanation.steps.push(EvmStepJson {
            from: address_text(&chain.view, from),
            to: address_text(&chain.view, to),
            deposit: address_text(&chain.view, link.deposit),
            hot_wallet: deposit
                .map_or_else(String::new, |deposit| address_text(&chain.view, deposit.hot_wallet)),
            payment_from: flow(receipt_from).ok_or_else(missing)?,
            payment_to: flow(receipt_to).ok_or_else(missing)?,
            forwards,
        });
    }
    Ok(explanation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(a: u32, b: u32, deposit: u32) -> StoredDepositLink {
        StoredDepositLink { a, b, deposit, receipt_a: 0, forward_a: 1, receipt_b: 2, forward_b: 3 }
    }

    #[test]
    fn shortest_path_walks_links_both_ways() {
        let links = [link(1, 5, 10), link(1, 7, 11), link(7, 9, 12), link(1, 9, 13)];
        let path = shortest_path(&links, 5, 9).unwrap();
        let steps: Vec<(u32, u32, u32)> =
            path.iter().map(|(f, t, l)| (*f, *t, l.deposit)).collect();
        assert_eq!(steps, [(5, 1, 10), (1, 9, 13)]);
        assert_eq!(shortest_path(&links, 5, 5).unwrap(), []);
        assert!(shortest_path(&links, 5, 42).is_none());
    }
}

/// A label that stops an analysis at an EVM address: its own, or one of its deposit cluster's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EvmStop {
    /// The label.
    pub(crate) label: StopLabel,
    /// The address that carries it (differs from the address stopped at through a cluster).
    pub(crate) labeled: EvmAddress,
    /// Where the label comes from.
    pub(crate) source: String,
}

/// The labels of `labels` whose category passes `is_stop`, on the addresses of one EVM chain and,
/// when the chain was clustered, on every member of their deposit clusters.
pub(crate) struct EvmStops<'a> {
    labels: &'a LabelTable,
    view: EvmView<'a>,
    clusters: Option<DepositClusters>,
    /// Stop labels per cluster id (of labeled members).
    by_cluster: HashMap<u32, Vec<EvmStop>>,
    is_stop: Box<dyn Fn(&str) -> bool + 'a>,
}

impl<'a> EvmStops<'a> {
    /// Indexes the labels of `labels` with a stop category by the clusters of the chain of
    /// `view`.
    ///
    /// # Errors
    ///
    /// Stale clusters (see [`open_clusters`]) or a store error.
    pub(crate) fn new(
        dir: &Path,
        view: EvmView<'a>,
        labels: &'a LabelTable,
        is_stop: impl Fn(&str) -> bool + 'a,
    ) -> Result<Self> {
        let clusters = open_clusters(dir, &view)?;
        let mut by_cluster: HashMap<u32, Vec<EvmStop>> = HashMap::new();
        if let Some(clusters) = &clusters {
            for label in labels.all().iter().filter(|label| is_stop(&label.category)) {
                let Ok(address) = EvmAddress::from_hex(&label.address) else { continue };
                let Some(id) = view.address_id(&address) else { continue };
                by_cluster.entry(clusters.cluster_of(id)).or_default().push(EvmStop {
                    label: StopLabel { name: label.name.clone(), category: label.category.clone() },
                    labeled: address,
                    source: label.source.clone(),
                });
            }
        }
        Ok(Self { labels, view, clusters, by_cluster, is_stop: Box::new(is_stop) })
    }

    /// Returns every stop label of `address`: its own first, then its cluster's.
    pub(crate) fn all(&self, address: &EvmAddress) -> Vec<EvmStop> {
        let mut stops: Vec<EvmStop> = self
            .labels
            .of(&address.to_string())
            .filter(|label| (self.is_stop)(&label.category))
            .map(|label| EvmStop {
                label: StopLabel { name: label.name.clone(), category: label.category.clone() },
                labeled: *address,
                source: label.source.clone(),
            })
            .collect();
        if let Some(clusters) = &self.clusters
            && let Some(id) = self.view.address_id(address)
            && let Some(inherited) = self.by_cluster.get(&clusters.cluster_of(id))
        {
            for stop in inherited {
                if !stops.iter().any(|known| known.label == stop.label) {
                    stops.push(stop.clone());
                }
            }
        }
        stops
    }

    /// Returns the first stop label of `address` (own before inherited).
    pub(crate) fn stop(&self, address: &EvmAddress) -> Option<StopLabel> {
        self.all(address).into_iter().next().map(|stop| stop.label)
    }
}
