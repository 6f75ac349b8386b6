//! A consistent read of a store: the committed chain, the labels and the clusters, opened
//! together, with the indexes every query shares (labeled addresses per cluster, stop labels).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cointrail_btc::Network;
use cointrail_store::{ChainView, ClusterReader, LabelTable, Store, StoreError};
use cointrail_taint::StopLabel;
use cointrail_types::AddressId;

use crate::Result;

/// Stop-label sets kept per snapshot (one per distinct category list asked for).
const STOP_CACHE: usize = 16;

/// The store, its labels and its clusters as committed when opened.
#[derive(Debug)]
pub struct Snapshot {
    store: Store,
    network: Network,
    labels: LabelTable,
    clusters: Option<ClusterReader>,
    /// Labeled addresses (id and text) per cluster id (per address id without clusters), in id
    /// order.
    labeled: HashMap<AddressId, Vec<(AddressId, String)>>,
    stop_sets: Mutex<Vec<(Vec<String>, Arc<StopSet>)>>,
}

impl Snapshot {
    /// Opens the store at `dir` with its labels and clusters. A store that holds only EVM chains
    /// opens with an empty UTXO chain.
    ///
    /// # Errors
    ///
    /// A store error (no store, another format version, a file missing or short), or
    /// [`crate::QueryError::Invalid`] for a store of an unknown network.
    pub fn open(dir: &Path) -> Result<Self> {
        let (store, network) = match Store::open(dir) {
            Ok(store) => {
                let chain = store.chain();
                let network: Network = chain.network.parse().map_err(|_| StoreError::Corrupt {
                    what: format!("store holds unknown network {chain}"),
                })?;
                (store, network)
            }
            // A store of EVM chains only: an empty UTXO part (Bitcoin addresses parse, and have
            // no activity).
            Err(StoreError::NotFound { .. })
                if !cointrail_store::evm::evm_chains(dir)?.is_empty() =>
            {
                (Store::empty(dir), Network::Mainnet)
            }
            Err(error) => return Err(error.into()),
        };
        let labels = LabelTable::load(dir)?;
        let clusters = ClusterReader::open(dir)?;
        let mut snapshot = Self {
            store,
            network,
            labels,
            clusters,
            labeled: HashMap::new(),
            stop_sets: Mutex::new(Vec::new()),
        };
        snapshot.labeled = snapshot.index_labeled();
        Ok(snapshot)
    }

    fn index_labeled(&self) -> HashMap<AddressId, Vec<(AddressId, String)>> {
        let view = self.view();
        let mut labeled: HashMap<AddressId, Vec<(AddressId, String)>> = HashMap::new();
        for label in self.labels.all() {
            let Ok(key) = self.network.parse_address(&label.address) else { continue };
            // Attribution matches address texts exactly, as `show` always did.
            if self.network.encode_address(&key) != label.address {
                continue;
            }
            let Some(id) = view.find_address(&key) else { continue };
            labeled.entry(self.cluster_key(id)).or_default().push((id, label.address.clone()));
        }
        for members in labeled.values_mut() {
            members.sort();
            members.dedup();
        }
        labeled
    }

    /// Returns the store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Returns a view of the committed chain.
    pub fn view(&self) -> ChainView<'_> {
        self.store.view()
    }

    /// Returns the store's network.
    pub fn network(&self) -> Network {
        self.network
    }

    /// Returns the labels.
    pub fn labels(&self) -> &LabelTable {
        &self.labels
    }

    /// Returns the clusters, if `cointrail cluster` has run.
    pub fn clusters(&self) -> Option<&ClusterReader> {
        self.clusters.as_ref()
    }

    /// Returns the text of an address.
    pub fn address_text(&self, address: AddressId) -> String {
        self.network.encode_address(&self.view().address_key(address))
    }

    /// The key under which an address's cluster is indexed: its cluster id, or the address itself
    /// without clusters.
    fn cluster_key(&self, address: AddressId) -> AddressId {
        self.clusters.as_ref().map_or(address, |clusters| clusters.cluster_of(address).0)
    }

    /// Returns the labeled members (id and text, in id order) of the cluster of `address`.
    pub(crate) fn labeled_members(&self, address: AddressId) -> &[(AddressId, String)] {
        self.labeled.get(&self.cluster_key(address)).map_or(&[], Vec::as_slice)
    }

    /// Returns the stop labels for `categories` (built once per snapshot and category list).
    pub fn stop_set(&self, categories: &[String]) -> Arc<StopSet> {
        let mut key = categories.to_vec();
        key.sort();
        key.dedup();
        if let Ok(cache) = self.stop_sets.lock()
            && let Some((_, set)) = cache.iter().find(|(cached, _)| *cached == key)
        {
            return Arc::clone(set);
        }
        let set = Arc::new(StopSet::build(self, &key));
        if let Ok(mut cache) = self.stop_sets.lock() {
            if cache.len() >= STOP_CACHE {
                cache.remove(0);
            }
            cache.push((key, Arc::clone(&set)));
        }
        set
    }

    /// Returns the stops of a stop set over this snapshot's clusters.
    pub fn stops<'a>(&'a self, set: &'a StopSet) -> Stops<'a> {
        Stops { set, snapshot: self }
    }
}

/// The labels at which tracing stops, per cluster (per address without clusters): the first
/// label, in label order, of a stop category on any member, with the labeled address that defines
/// it and the label's source.
#[derive(Debug, Default)]
pub struct StopSet {
    by_cluster: HashMap<AddressId, (StopLabel, AddressId, String)>,
}

impl StopSet {
    fn build(snapshot: &Snapshot, categories: &[String]) -> Self {
        let view = snapshot.view();
        let mut by_cluster = HashMap::new();
        for label in
            snapshot.labels.all().iter().filter(|label| categories.contains(&label.category))
        {
            let Ok(key) = snapshot.network.parse_address(&label.address) else { continue };
            let Some(id) = view.find_address(&key) else { continue };
            if let Entry::Vacant(entry) = by_cluster.entry(snapshot.cluster_key(id)) {
                let stop = StopLabel { name: label.name.clone(), category: label.category.clone() };
                entry.insert((stop, id, label.source.clone()));
            }
        }
        Self { by_cluster }
    }

    /// Returns the number of labeled clusters (or addresses) in the set.
    pub fn len(&self) -> usize {
        self.by_cluster.len()
    }

    /// Returns `true` if no address stops a trace.
    pub fn is_empty(&self) -> bool {
        self.by_cluster.is_empty()
    }
}

/// A [`StopSet`] applied through a snapshot's clusters: what the taint and risk walks ask.
#[derive(Debug, Clone, Copy)]
pub struct Stops<'a> {
    set: &'a StopSet,
    snapshot: &'a Snapshot,
}

impl Stops<'_> {
    /// Returns the labeled address that gives `address` its stop label, and the label's source.
    pub fn defined_by(&self, address: AddressId) -> Option<(AddressId, &str)> {
        self.set
            .by_cluster
            .get(&self.snapshot.cluster_key(address))
            .map(|(_, defining, source)| (*defining, source.as_str()))
    }
}

impl cointrail_taint::Stops for Stops<'_> {
    fn stop(&self, address: AddressId) -> Option<&StopLabel> {
        self.set.by_cluster.get(&self.snapshot.cluster_key(address)).map(|(label, _, _)| label)
    }
}
