//! Persisted deposit-address clusters of one EVM chain (`DIR/evm/<chain>/`): the cluster of every
//! address, and the evidence (hot wallets, deposit addresses, forwards, merges).
//!
//! `DEPOSITS` (JSON, renamed into place) commits a run: the parameters, the chain tip it saw, the
//! evidence and the generation `G` of the cluster map `deposit.map.G` (one u32 per address id: the
//! cluster id, which is the smallest address id of the cluster). A run writes the new map under a
//! new generation, then renames `DEPOSITS` into place, then deletes generations older than the
//! previous one (a reader that opened the previous manifest can still open its map). A crash
//! leaves the previous run in force. Layout: `docs/store-format.md` ("Deposit-address clusters").

use std::path::Path;

use fs_err as fs;
use serde::{Deserialize, Serialize};

use super::{EvmTip, chain_dir};
use crate::column::{RoFile, read_u32, to_usize};
use crate::error::{Result, StoreError};
use crate::manifest::{replace_file, sync_dir, write_json};

/// Version of the deposit-cluster files' layout.
pub const DEPOSITS_FORMAT_VERSION: u64 = 1;

const MANIFEST: &str = "DEPOSITS";
const LOCK: &str = "DEPOSITS.LOCK";

fn map_file(generation: u64) -> String {
    format!("deposit.map.{generation}")
}

/// Parameters of a run (amounts as exact decimal strings of base units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDepositParams {
    /// Largest shortfall of a native forward, in wei.
    pub max_amount_difference: String,
    /// Largest shortfall of a token forward, in token units.
    pub max_token_difference: String,
    /// Largest number of blocks between a receipt and its forward.
    pub max_block_delay: u64,
    /// Candidates needed for a hot wallet.
    pub min_deposits: u32,
    /// Deposit addresses a sender may pay into and still be clustered.
    pub max_sender_deposits: u32,
}

/// A hot wallet, by address id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHotWallet {
    /// Address id.
    pub address: u32,
    /// Candidate deposit addresses forwarding to it.
    pub deposits: u32,
    /// Whether a label named it an exchange.
    pub known: bool,
}

/// A forward of a deposit address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredForward {
    /// Flow id of the forward.
    pub flow: u64,
    /// Its block.
    pub block: u64,
    /// Recipient address id.
    pub to: u32,
    /// Asset id.
    pub asset: u32,
    /// Amount forwarded (decimal).
    pub amount: String,
    /// Flow ids of the receipts it passes on.
    pub receipts: Vec<u64>,
    /// Blocks between the first receipt and the forward.
    pub block_delay: u64,
    /// Receipts minus forward (decimal).
    pub amount_difference: String,
}

/// A customer address of a deposit address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDepositUser {
    /// Address id.
    pub address: u32,
    /// Flow id of its first payment that a forward passed on.
    pub receipt: u64,
    /// Flow id of that forward.
    pub forward: u64,
}

/// A deposit address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDeposit {
    /// Address id.
    pub address: u32,
    /// Address id of its hot wallet.
    pub hot_wallet: u32,
    /// Its customers' addresses.
    pub users: Vec<StoredDepositUser>,
    /// Its forwards.
    pub forwards: Vec<StoredForward>,
}

/// One merge and its evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDepositLink {
    /// Address id of one side.
    pub a: u32,
    /// Address id of the other.
    pub b: u32,
    /// The deposit address both paid into.
    pub deposit: u32,
    /// Flow id of the payment of `a`.
    pub receipt_a: u64,
    /// Flow id of the forward of that payment.
    pub forward_a: u64,
    /// Flow id of the payment of `b`.
    pub receipt_b: u64,
    /// Flow id of the forward of that payment.
    pub forward_b: u64,
}

/// A sender left out for paying into too many deposit addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredService {
    /// Address id.
    pub address: u32,
    /// Deposit addresses it paid into.
    pub deposits: u32,
}

/// The committed result of a deposit-clustering run (`DEPOSITS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositManifest {
    /// Layout version.
    pub format_version: u64,
    /// Names the committed map file (`deposit.map.G`).
    pub generation: u64,
    /// Parameters of the run.
    pub params: StoredDepositParams,
    /// The chain tip the run saw: the result holds while this block is still in the chain.
    pub tip: Option<EvmTip>,
    /// Flows examined (flow ids `0..flows`).
    pub flows: u64,
    /// Entries of the map (address ids `0..addresses`; newer addresses are clusters of one).
    pub addresses: u64,
    /// Clusters of more than one address.
    pub clusters: u64,
    /// Size of the largest cluster.
    pub largest_cluster: u32,
    /// Hot wallets, by address id.
    pub hot_wallets: Vec<StoredHotWallet>,
    /// Deposit addresses, by address id.
    pub deposits: Vec<StoredDeposit>,
    /// Merges, in the order they were applied.
    pub links: Vec<StoredDepositLink>,
    /// Senders left out as services.
    pub services: Vec<StoredService>,
}

fn read_manifest(dir: &Path) -> Result<Option<DepositManifest>> {
    crate::manifest::read_versioned(dir, MANIFEST, DEPOSITS_FORMAT_VERSION)
}

/// Encodes a cluster map: one little-endian u32 per address id.
fn encode_map(clusters: &[u32]) -> Vec<u8> {
    clusters.iter().flat_map(|cluster| cluster.to_le_bytes()).collect()
}

/// Commits a run for chain `chain` of the store at `store_dir`: `clusters` (the cluster id of
/// every address id `0..clusters.len()`) and `manifest` (its `format_version`, `generation` and
/// `addresses` are set here).
///
/// # Errors
///
/// [`StoreError::NotFound`] if the chain does not exist, [`StoreError::Locked`] while another run
/// writes, [`StoreError::UnsupportedFormat`] for a previous run of another layout, or an I/O
/// error.
pub fn write_deposit_clusters(
    store_dir: &Path,
    chain: &str,
    mut manifest: DepositManifest,
    clusters: &[u32],
) -> Result<DepositManifest> {
    let dir = chain_dir(store_dir, chain);
    if !dir.join(super::MANIFEST).is_file() {
        return Err(StoreError::NotFound { path: dir });
    }
    let lock =
        fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(LOCK))?;
    if lock.file().try_lock().is_err() {
        return Err(StoreError::Locked { path: dir });
    }
    let previous = read_manifest(&dir)?.map(|previous| previous.generation);
    let generation = previous.map_or(0, |previous| previous + 1);
    manifest.format_version = DEPOSITS_FORMAT_VERSION;
    manifest.generation = generation;
    manifest.addresses = clusters.len() as u64;
    replace_file(&dir, &map_file(generation), &encode_map(clusters))?;
    write_json(&dir, MANIFEST, &manifest)?;
    // Keep the previous generation for readers that opened its manifest; delete older ones.
    for entry in fs::read_dir(&dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let Some(number) = name.strip_prefix("deposit.map.") else { continue };
        let keep = number
            .parse::<u64>()
            .is_ok_and(|number| number == generation || Some(number) == previous);
        if !keep {
            fs::remove_file(dir.join(&name))?;
        }
    }
    sync_dir(&dir)?;
    Ok(manifest)
}

/// The committed deposit clusters of one EVM chain.
#[derive(Debug)]
pub struct DepositClusters {
    manifest: DepositManifest,
    map: RoFile,
}

impl DepositClusters {
    /// Opens the deposit clusters of chain `chain`, if a run committed any.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnsupportedFormat`], [`StoreError::CorruptManifest`], [`StoreError::ShortFile`]
    /// or an I/O error.
    pub fn open(store_dir: &Path, chain: &str) -> Result<Option<Self>> {
        let dir = chain_dir(store_dir, chain);
        let Some(manifest) = read_manifest(&dir)? else { return Ok(None) };
        let path = dir.join(map_file(manifest.generation));
        let map = RoFile::open(&path)?;
        let expected = manifest.addresses * 4;
        let found = map.bytes().len() as u64;
        if found < expected {
            return Err(StoreError::ShortFile { path, expected, found });
        }
        Ok(Some(Self { manifest, map }))
    }

    /// Returns the manifest: parameters and evidence.
    pub fn manifest(&self) -> &DepositManifest {
        &self.manifest
    }

    /// Returns the cluster id of address id `address` (itself for addresses newer than the run).
    pub fn cluster_of(&self, address: u32) -> u32 {
        if u64::from(address) >= self.manifest.addresses {
            return address;
        }
        read_u32(self.map.bytes(), to_usize(u64::from(address)) * 4)
    }

    /// Returns the address ids of cluster `cluster`, ascending (a scan of the map).
    pub fn members(&self, cluster: u32) -> Vec<u32> {
        let mut members: Vec<u32> = self
            .map
            .bytes()
            .chunks_exact(4)
            .take(to_usize(self.manifest.addresses))
            .enumerate()
            .filter(|(_, entry)| read_u32(entry, 0) == cluster)
            .filter_map(|(index, _)| u32::try_from(index).ok())
            .collect();
        if members.is_empty() {
            members.push(cluster);
        }
        members
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> DepositManifest {
        DepositManifest {
            format_version: 0,
            generation: 0,
            params: StoredDepositParams {
                max_amount_difference: "10000000000000000".to_owned(),
                max_token_difference: "0".to_owned(),
                max_block_delay: 3_200,
                min_deposits: 3,
                max_sender_deposits: 3,
            },
            tip: None,
            flows: 9,
            addresses: 0,
            clusters: 1,
            largest_cluster: 2,
            hot_wallets: vec![StoredHotWallet { address: 3, deposits: 3, known: false }],
            deposits: Vec::new(),
            links: vec![StoredDepositLink {
                a: 0,
                b: 2,
                deposit: 1,
                receipt_a: 0,
                forward_a: 4,
                receipt_b: 2,
                forward_b: 4,
            }],
            services: Vec::new(),
        }
    }

    #[test]
    fn map_layout_is_stable() {
        assert_eq!(
            encode_map(&[0, 1, 0, 0x0102_0304]),
            [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4, 3, 2, 1]
        );
    }

    #[test]
    fn runs_commit_generations_and_read_back() {
        let temp = tempfile::tempdir().unwrap();
        let store = temp.path();
        assert!(matches!(
            write_deposit_clusters(store, "anvil", manifest(), &[0, 1, 0]),
            Err(StoreError::NotFound { .. })
        ));
        let dir = chain_dir(store, "anvil");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(super::super::MANIFEST), "{}").unwrap();
        assert!(DepositClusters::open(store, "anvil").unwrap().is_none());
        for generation in 0..3 {
            let written =
                write_deposit_clusters(store, "anvil", manifest(), &[0, 1, 0, 3]).unwrap();
            assert_eq!((written.generation, written.addresses), (generation, 4));
        }
        let mut maps: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("deposit.map."))
            .collect();
        maps.sort();
        assert_eq!(maps, ["deposit.map.1", "deposit.map.2"]);
        let clusters = DepositClusters::open(store, "anvil").unwrap().unwrap();
        assert_eq!(clusters.manifest().links, manifest().links);
        assert_eq!(clusters.cluster_of(2), 0);
        assert_eq!(clusters.cluster_of(9), 9, "newer addresses are alone");
        assert_eq!(clusters.members(0), [0, 2]);
        assert_eq!(clusters.members(1), [1]);

        let text = fs::read_to_string(dir.join(MANIFEST)).unwrap();
        fs::write(
            dir.join(MANIFEST),
            text.replace("\"format_version\": 1", "\"format_version\": 9"),
        )
        .unwrap();
        assert!(matches!(
            DepositClusters::open(store, "anvil"),
            Err(StoreError::UnsupportedFormat { found: 9, expected: 1, .. })
        ));
    }
}
