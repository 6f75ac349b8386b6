//! Persisted address clusters: a root per address, root sizes, member lists, and the evidence of
//! every merge.
//!
//! The arrays are rewritten as a new generation on every clustering run (copy, extend, update), and
//! `CLUSTERS` (JSON, renamed into place) commits a generation together with its checkpoint (the
//! number of transactions clustered). The evidence file is append-only and cut back to its committed
//! length on open. A crash during a run therefore leaves the previous generation in force.

use std::path::{Path, PathBuf};

use fs_err as fs;
use serde::{Deserialize, Serialize};

use cointrail_types::{AddressId, TxNum};

use crate::column::{RoFile, RwFile, as_u32s_mut, read_u32, to_usize};
use crate::error::{Result, StoreError};
use crate::manifest::{sync_dir, write_json};

/// Version of the cluster files' layout (`docs/store-format.md`).
pub const CLUSTERS_FORMAT_VERSION: u64 = 1;

const MANIFEST: &str = "CLUSTERS";
const LINKS: &str = "cl.links";
const LOCK: &str = "LOCK";
/// Bytes per evidence row: a u32, b u32, tx u32, heuristic u8, 3 bytes of padding.
const LINK_ROW: usize = 16;

/// One merge and its evidence, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StoredLink {
    /// An address of one side.
    pub a: AddressId,
    /// An address of the other side.
    pub b: AddressId,
    /// The transaction that joined them.
    pub tx: TxNum,
    /// The heuristic's stable code (see `cointrail-cluster`'s `Heuristic::code`).
    pub heuristic: u8,
}

impl StoredLink {
    fn to_row(self) -> [u8; LINK_ROW] {
        let mut row = [0u8; LINK_ROW];
        row[..4].copy_from_slice(&self.a.get().to_le_bytes());
        row[4..8].copy_from_slice(&self.b.get().to_le_bytes());
        row[8..12].copy_from_slice(&self.tx.get().to_le_bytes());
        row[12] = self.heuristic;
        row
    }

    fn from_row(row: &[u8]) -> Self {
        Self {
            a: AddressId::new(read_u32(row, 0)),
            b: AddressId::new(read_u32(row, 4)),
            tx: TxNum::new(read_u32(row, 8)),
            heuristic: row[12],
        }
    }
}

/// A merge the collapse guard refused, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StoredHeld {
    /// The evidence that asked for the merge.
    pub link: StoredLink,
    /// Size of one cluster then.
    pub size_a: u32,
    /// Size of the other.
    pub size_b: u32,
}

/// The committed state of clustering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterManifest {
    /// Layout version of the cluster files.
    pub format_version: u64,
    /// Run counter: names the committed array files (`cl.parent.N`, ...).
    pub generation: u64,
    /// Heuristics in force (names); a run with other heuristics starts over.
    pub heuristics: Vec<String>,
    /// Collapse guard: largest cluster a merge of two large ones may create.
    pub max_cluster_size: u32,
    /// Collapse guard: the size from which a cluster counts as large.
    pub guard_min_side: u32,
    /// Transactions clustered (the checkpoint): txs `0..txs`.
    pub txs: u64,
    /// Addresses covered by the arrays.
    pub addresses: u64,
    /// Evidence rows in `cl.links`.
    pub links: u64,
    /// Merges held by the collapse guard.
    pub held: Vec<StoredHeld>,
}

const ARRAYS: [&str; 3] = ["cl.parent", "cl.size", "cl.next"];

fn generation_files(generation: u64) -> [String; 3] {
    ARRAYS.map(|name| format!("{name}.{generation}"))
}

fn read_manifest(dir: &Path) -> Result<Option<ClusterManifest>> {
    crate::manifest::read_versioned(dir, MANIFEST, CLUSTERS_FORMAT_VERSION)
}

/// Drops the committed clusters (after a reorganisation removed transactions they were built
/// from); the next `cointrail cluster` run starts from scratch. The caller holds the store's lock.
///
/// # Errors
///
/// An I/O error.
pub fn invalidate_clusters(dir: &Path) -> Result<()> {
    let path = dir.join(MANIFEST);
    if path.exists() {
        fs::remove_file(&path)?;
        sync_dir(dir)?;
    }
    Ok(())
}

/// Read access to committed clusters.
#[derive(Debug)]
pub struct ClusterReader {
    manifest: ClusterManifest,
    parent: RoFile,
    size: RoFile,
    next: RoFile,
    links: RoFile,
}

impl ClusterReader {
    /// Opens the committed clusters of the store at `dir`, `None` if clustering never ran.
    ///
    /// # Errors
    ///
    /// An unsupported format, a corrupt manifest or an I/O error.
    pub fn open(dir: &Path) -> Result<Option<Self>> {
        let Some(manifest) = read_manifest(dir)? else { return Ok(None) };
        let [parent, size, next] = generation_files(manifest.generation);
        Ok(Some(Self {
            parent: RoFile::open(&dir.join(parent))?,
            size: RoFile::open(&dir.join(size))?,
            next: RoFile::open(&dir.join(next))?,
            links: RoFile::open(&dir.join(LINKS))?,
            manifest,
        }))
    }

    /// Returns the committed manifest.
    pub fn manifest(&self) -> &ClusterManifest {
        &self.manifest
    }

    /// Returns the cluster id (its smallest address id) and size of an address. Addresses newer
    /// than the last clustering run are their own cluster of one.
    pub fn cluster_of(&self, address: AddressId) -> (AddressId, u32) {
        let index = u64::from(address.get());
        if index >= self.manifest.addresses {
            return (address, 1);
        }
        let root = read_u32(self.parent.bytes(), to_usize(index) * 4);
        (AddressId::new(root), read_u32(self.size.bytes(), to_usize(u64::from(root)) * 4))
    }

    /// Returns `true` if `address` is the id of a cluster (a root).
    pub fn is_cluster(&self, address: AddressId) -> bool {
        self.cluster_of(address).0 == address
    }

    /// Returns the members of the cluster that `address` belongs to, in id order.
    pub fn members(&self, address: AddressId) -> Vec<AddressId> {
        let (root, _) = self.cluster_of(address);
        if u64::from(root.get()) >= self.manifest.addresses {
            return vec![root];
        }
        let mut members = vec![root];
        let mut current = read_u32(self.next.bytes(), to_usize(u64::from(root.get())) * 4);
        while current != root.get() {
            members.push(AddressId::new(current));
            current = read_u32(self.next.bytes(), to_usize(u64::from(current)) * 4);
        }
        members.sort_unstable();
        members
    }

    /// Returns every evidence row whose addresses are in the cluster of `address`.
    pub fn links_of_cluster(&self, address: AddressId) -> Vec<StoredLink> {
        let (root, _) = self.cluster_of(address);
        let rows = &self.links.bytes()[..to_usize(self.manifest.links) * LINK_ROW];
        rows.chunks_exact(LINK_ROW)
            .map(StoredLink::from_row)
            .filter(|link| self.cluster_of(link.a).0 == root)
            .collect()
    }
}

/// The writer of cluster files; holds the store's lock.
#[derive(Debug)]
pub struct ClusterWriter {
    dir: PathBuf,
    _lock: fs::File,
    committed: Option<ClusterManifest>,
    parent: RwFile,
    size: RwFile,
    next: RwFile,
    links: RwFile,
    manifest: ClusterManifest,
}

impl ClusterWriter {
    /// Opens the cluster files of the store at `dir` for a run that covers `addresses` addresses
    /// with `heuristics`. If the heuristics or guard differ from the committed ones, the run
    /// starts from scratch.
    ///
    /// # Errors
    ///
    /// [`StoreError::Locked`] while another writer works on the store, or an I/O error.
    pub fn open(
        dir: &Path,
        heuristics: &[String],
        max_cluster_size: u32,
        guard_min_side: u32,
    ) -> Result<Self> {
        let lock =
            fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(LOCK))?;
        if lock.file().try_lock().is_err() {
            return Err(StoreError::Locked { path: dir.to_owned() });
        }
        let mut committed = read_manifest(dir)?;
        let same_config = committed.as_ref().is_some_and(|manifest| {
            manifest.heuristics == heuristics
                && manifest.max_cluster_size == max_cluster_size
                && manifest.guard_min_side == guard_min_side
        });
        if committed.is_some() && !same_config {
            // Other heuristics: the old clusters no longer apply. Drop them first, so that a crash
            // during the new run leaves a store with no clusters rather than mismatched files.
            fs::remove_file(dir.join(MANIFEST))?;
            // The evidence starts anew in a new file: unlinking (not truncating) the old one keeps
            // it whole for readers that still map it (a server's snapshot).
            let links = dir.join(LINKS);
            if links.exists() {
                fs::remove_file(links)?;
            }
            sync_dir(dir)?;
            committed = None;
        }
        let base = match (&committed, same_config) {
            (Some(manifest), true) => manifest.clone(),
            _ => ClusterManifest {
                format_version: CLUSTERS_FORMAT_VERSION,
                generation: 0,
                heuristics: heuristics.to_vec(),
                max_cluster_size,
                guard_min_side,
                txs: 0,
                addresses: 0,
                links: 0,
                held: Vec::new(),
            },
        };
        // Remove files of interrupted runs (anything but the committed generation).
        let keep = committed.as_ref().map(|manifest| generation_files(manifest.generation));
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let array = ARRAYS.iter().any(|array| name.starts_with(&format!("{array}.")));
            let kept = keep.as_ref().is_some_and(|files| files.contains(&name));
            if (array && !kept) || name == "CLUSTERS.tmp" {
                fs::remove_file(dir.join(&name))?;
            }
        }
        let array_len = base.addresses * 4;
        let sources = generation_files(base.generation);
        let mut arrays = Vec::with_capacity(3);
        for (array, source) in ARRAYS.iter().zip(&sources) {
            let path = dir.join(format!("{array}.work"));
            if array_len > 0 {
                fs::copy(dir.join(source), &path)?;
            } else {
                fs::File::create(&path)?;
            }
            arrays.push(RwFile::open(&path, array_len)?);
        }
        let [parent, size, next]: [RwFile; 3] =
            arrays.try_into().map_err(|_| StoreError::Corrupt { what: "cluster arrays".into() })?;
        let links_committed = if same_config { base.links } else { 0 };
        Ok(Self {
            dir: dir.to_owned(),
            _lock: lock,
            parent,
            size,
            next,
            links: RwFile::open(&dir.join(LINKS), links_committed * LINK_ROW as u64)?,
            manifest: base,
            committed,
        })
    }

    /// Returns the state the run starts from.
    pub fn manifest(&self) -> &ClusterManifest {
        &self.manifest
    }

    /// Extends the arrays to `addresses` entries (zeros; the caller makes them singletons) and
    /// returns the three arrays as `u32` slices: parent, size, next.
    ///
    /// # Errors
    ///
    /// An I/O error if a file cannot grow.
    pub fn arrays(&mut self, addresses: u64) -> Result<(&mut [u32], &mut [u32], &mut [u32])> {
        let extra = addresses.saturating_sub(self.manifest.addresses);
        let zeros = vec![0u8; to_usize(extra * 4)];
        for file in [&mut self.parent, &mut self.size, &mut self.next] {
            file.append(&zeros)?;
        }
        self.manifest.addresses = self.manifest.addresses.max(addresses);
        Ok((
            as_u32s_mut(self.parent.bytes_mut()),
            as_u32s_mut(self.size.bytes_mut()),
            as_u32s_mut(self.next.bytes_mut()),
        ))
    }

    /// Appends evidence rows.
    ///
    /// # Errors
    ///
    /// An I/O error if the file cannot grow.
    pub fn push_links(&mut self, links: &[StoredLink]) -> Result<()> {
        for link in links {
            self.links.append(&link.to_row())?;
        }
        self.manifest.links += links.len() as u64;
        Ok(())
    }

    /// Records merges held by the collapse guard.
    pub fn push_held(&mut self, held: &[StoredHeld]) {
        self.manifest.held.extend_from_slice(held);
    }

    /// Commits the run as having clustered transactions `0..txs`.
    ///
    /// # Errors
    ///
    /// An I/O error; the previous run then stays in force.
    pub fn commit(mut self, txs: u64) -> Result<ClusterManifest> {
        self.manifest.txs = txs;
        self.manifest.generation =
            self.committed.as_ref().map_or(1, |manifest| manifest.generation + 1);
        let names = generation_files(self.manifest.generation);
        for ((file, array), name) in
            [&mut self.parent, &mut self.size, &mut self.next].into_iter().zip(ARRAYS).zip(&names)
        {
            file.trim()?;
            fs::rename(self.dir.join(format!("{array}.work")), self.dir.join(name))?;
        }
        self.links.trim()?;
        write_json(&self.dir, MANIFEST, &self.manifest)?;
        if let Some(previous) = &self.committed {
            for name in generation_files(previous.generation) {
                let path = self.dir.join(name);
                if path.exists() {
                    fs::remove_file(path)?;
                }
            }
        }
        Ok(self.manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(a: u32, b: u32, tx: u32) -> StoredLink {
        StoredLink { a: AddressId::new(a), b: AddressId::new(b), tx: TxNum::new(tx), heuristic: 1 }
    }

    fn run(dir: &Path, heuristics: &[&str], links: &[StoredLink]) {
        let names: Vec<String> = heuristics.iter().map(|name| (*name).to_owned()).collect();
        let mut writer = ClusterWriter::open(dir, &names, 0, 0).unwrap();
        let (parent, size, next) = writer.arrays(4).unwrap();
        // One cluster of all four addresses, rooted at 0.
        for index in 0..4u32 {
            parent[index as usize] = 0;
            size[index as usize] = if index == 0 { 4 } else { 1 };
            next[index as usize] = (index + 1) % 4;
        }
        writer.push_links(links).unwrap();
        writer.commit(10).unwrap();
    }

    #[test]
    fn a_run_with_other_heuristics_leaves_open_readers_whole() {
        let dir = tempfile::tempdir().unwrap();
        let first = [link(0, 1, 1), link(1, 2, 2), link(2, 3, 3)];
        run(dir.path(), &["multi-input"], &first);
        let reader = ClusterReader::open(dir.path()).unwrap().unwrap();
        assert_eq!(reader.links_of_cluster(AddressId::new(3)), first);

        // Other heuristics: a fresh start with one link. The old reader still reads its three
        // (a truncated mapping would fault here).
        run(dir.path(), &["change:type"], &[link(0, 3, 9)]);
        assert_eq!(reader.links_of_cluster(AddressId::new(3)), first);
        let fresh = ClusterReader::open(dir.path()).unwrap().unwrap();
        assert_eq!(fresh.links_of_cluster(AddressId::new(3)), [link(0, 3, 9)]);
        assert_eq!(fresh.manifest().heuristics, ["change:type"]);
    }
}
