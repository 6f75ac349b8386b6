//! The single writer of an EVM chain directory: appends blocks, transactions, assets and flows,
//! commits, recovers, unwinds.
//!
//! The same three rules as the UTXO writer (`crate::writer`): rows past the committed counts do not
//! exist for readers; in-place fields (`flows.next` links, index slots) only change from empty to
//! a value pointing past the committed counts; the one overwritten field, the `last` half of
//! `addr.link`, is only read by the writer and repaired on recovery.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cointrail_types::{B256, EvmAddress};
use fs_err as fs;

use super::view::EvmView;
use super::{
    ADDR_LINK_ROW, ADDR_ROW, AssetInfo, BLOCK_ROW, EVM_FORMAT_VERSION, EvmBlock, EvmChainSpec,
    EvmCounts, EvmManifest, EvmTip, FILES, FLOW_NEXT_ROW, MANIFEST, NO_ACCOUNT, NewFlow, TX_ROW,
    address_index_file, chain_dir, committed_lengths, decode_asset, decode_block, encode_asset,
    encode_block, encode_flow, tx_index_file, valid_chain_name,
};
use crate::column::{RwFile, read_u64, to_usize, write_u64};
use crate::error::{Result, StoreError};
use crate::index;
use crate::manifest::sync_dir;

const BLOCKS: usize = 0;
const TX_HASH: usize = 1;
const FLOWS: usize = 2;
const FLOW_NEXT: usize = 3;
const ADDR_KEY: usize = 4;
const ADDR_LINK: usize = 5;
const ASSETS: usize = 6;

const DIRTY: &str = "DIRTY";
const LOCK: &str = "LOCK";

/// The exclusive writer of one EVM chain of a store.
#[derive(Debug)]
pub struct EvmStoreWriter {
    dir: PathBuf,
    _lock: fs::File,
    committed: EvmManifest,
    first_block: Option<u64>,
    counts: EvmCounts,
    files: Vec<RwFile>,
    tx_index: RwFile,
    tx_index_bits: u32,
    address_index: RwFile,
    address_index_bits: u32,
    assets: HashMap<EvmAddress, u32>,
    recovered: bool,
}

impl EvmStoreWriter {
    /// Opens chain `spec.name` of the store at `store_dir` for writing (in `store_dir/evm/<name>`),
    /// creating it if absent and recovering it if a previous writer was interrupted.
    ///
    /// # Errors
    ///
    /// [`StoreError::WrongChain`] if the directory holds another chain id or the name is not
    /// usable as a directory name, [`StoreError::UnsupportedFormat`], [`StoreError::NotAStore`],
    /// [`StoreError::Locked`] or an I/O error.
    pub fn open(store_dir: &Path, spec: &EvmChainSpec) -> Result<Self> {
        let dir = chain_dir(store_dir, &spec.name);
        if !valid_chain_name(&spec.name) {
            return Err(StoreError::WrongChain {
                path: dir,
                found: "an invalid chain name".to_owned(),
                expected: "a name of lower-case letters, digits, '-' and '_'".to_owned(),
            });
        }
        fs::create_dir_all(&dir)?;
        let lock =
            fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(LOCK))?;
        if lock.file().try_lock().is_err() {
            return Err(StoreError::Locked { path: dir });
        }
        let committed = match EvmManifest::read(&dir)? {
            Some(manifest) => {
                if manifest.chain_id != spec.chain_id || manifest.chain != spec.name {
                    return Err(StoreError::WrongChain {
                        path: dir,
                        found: format!("{} (chain id {})", manifest.chain, manifest.chain_id),
                        expected: format!("{} (chain id {})", spec.name, spec.chain_id),
                    });
                }
                manifest
            }
            None => create(&dir, spec)?,
        };
        let files = FILES
            .iter()
            .zip(committed_lengths(&committed.counts))
            .map(|(name, len)| RwFile::open(&dir.join(name), len))
            .collect::<Result<Vec<_>>>()?;
        let tx_index = RwFile::open(
            &dir.join(tx_index_file(committed.tx_index_bits)),
            index::WideSlots::table_bytes(committed.tx_index_bits),
        )?;
        let address_index = RwFile::open(
            &dir.join(address_index_file(committed.address_index_bits)),
            index::WideSlots::table_bytes(committed.address_index_bits),
        )?;
        let mut writer = Self {
            dir: dir.clone(),
            _lock: lock,
            first_block: committed.first_block,
            counts: committed.counts,
            tx_index_bits: committed.tx_index_bits,
            address_index_bits: committed.address_index_bits,
            committed,
            files,
            tx_index,
            address_index,
            assets: HashMap::new(),
            recovered: false,
        };
        if dir.join(DIRTY).exists() {
            writer.recover()?;
            writer.recovered = true;
        } else {
            fs::write(dir.join(DIRTY), b"a writer has this chain open\n")?;
            sync_dir(&dir)?;
        }
        writer.load_assets();
        Ok(writer)
    }

    fn load_assets(&mut self) {
        let rows = self.files[ASSETS].bytes();
        self.assets = rows
            .chunks_exact(super::ASSET_ROW)
            .take(to_usize(self.counts.assets))
            .enumerate()
            .filter_map(|(row, bytes)| {
                Some((decode_asset(bytes).contract, u32::try_from(row + 1).ok()?))
            })
            .collect();
    }

    /// Returns whether opening recovered an interrupted writer's leftovers.
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    /// Returns the chain directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns a view of the committed and pending data.
    pub fn view(&self) -> EvmView<'_> {
        let file = |index: usize| self.files[index].bytes();
        EvmView {
            spec: EvmChainSpec {
                name: self.committed.chain.clone(),
                chain_id: self.committed.chain_id,
            },
            first_block: self.first_block,
            counts: self.counts,
            blocks: file(BLOCKS),
            tx_hash: file(TX_HASH),
            flows: file(FLOWS),
            flow_next: file(FLOW_NEXT),
            addr_key: file(ADDR_KEY),
            addr_link: file(ADDR_LINK),
            assets: file(ASSETS),
            tx_index: self.tx_index.bytes(),
            tx_index_bits: self.tx_index_bits,
            address_index: self.address_index.bytes(),
            address_index_bits: self.address_index_bits,
        }
    }

    /// Returns the counts of the last commit.
    pub fn committed_counts(&self) -> EvmCounts {
        self.committed.counts
    }

    /// Appends a block; its transactions, assets and flows follow.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if the block does not directly follow the stored tip (number and
    /// parent hash), [`StoreError::Capacity`], or an I/O error.
    pub fn push_block(&mut self, block: &EvmBlock) -> Result<()> {
        if let Some(tip) = self.view().tip() {
            if block.number != tip.block.number + 1 || block.parent_hash != tip.block.hash {
                return Err(StoreError::Corrupt {
                    what: format!(
                        "block {} ({}) does not extend the stored tip {} ({})",
                        block.number, block.hash, tip.block.number, tip.block.hash
                    ),
                });
            }
        } else {
            self.first_block = Some(block.number);
        }
        let row = encode_block(block, &self.counts)?;
        self.files[BLOCKS].append(&row)?;
        self.counts.blocks += 1;
        Ok(())
    }

    /// Appends a transaction of the last block and returns its number.
    ///
    /// # Errors
    ///
    /// [`StoreError::Capacity`] past 2^32 - 1 transactions, or an I/O error.
    pub fn push_tx(&mut self, hash: &B256) -> Result<u32> {
        let number = u32::try_from(self.counts.txs)
            .ok()
            .filter(|number| *number < u32::MAX)
            .ok_or(StoreError::Capacity { what: "evm tx count" })?;
        self.files[TX_HASH].append(&hash.0)?;
        if index::bits_for(self.counts.txs + 1) > self.tx_index_bits {
            self.rebuild_tx_index(index::bits_for(self.counts.txs + 1))?;
        }
        index::WideSlots::insert(
            self.tx_index.bytes_mut(),
            self.tx_index_bits,
            hash.prefix_u64(),
            number,
        );
        self.counts.txs += 1;
        Ok(number)
    }

    /// Returns the asset id of token contract `contract`, if stored.
    pub fn asset_id(&self, contract: &EvmAddress) -> Option<u32> {
        self.assets.get(contract).copied()
    }

    /// Appends a token asset (after the block that first moves it) and returns its id.
    ///
    /// # Errors
    ///
    /// [`StoreError::Capacity`] past 2^32 - 2 assets, or an I/O error.
    pub fn push_asset(&mut self, asset: &AssetInfo) -> Result<u32> {
        if let Some(id) = self.asset_id(&asset.contract) {
            return Ok(id);
        }
        let id = u32::try_from(self.counts.assets + 1)
            .ok()
            .filter(|id| *id < u32::MAX)
            .ok_or(StoreError::Capacity { what: "evm asset count" })?;
        self.files[ASSETS].append(&encode_asset(asset))?;
        self.counts.assets += 1;
        self.assets.insert(asset.contract, id);
        Ok(id)
    }

    /// Appends a flow of the last block and links it into the histories of its parties.
    ///
    /// # Errors
    ///
    /// [`StoreError::Capacity`] past 2^32 - 2 addresses, or an I/O error.
    pub fn push_flow(&mut self, flow: &NewFlow) -> Result<u64> {
        let id = self.counts.flows;
        let from = match &flow.from {
            Some(address) => self.link(address, id)?,
            None => NO_ACCOUNT,
        };
        let to = match &flow.to {
            Some(address) if flow.from.as_ref() == Some(address) => from,
            Some(address) => self.link(address, id)?,
            None => NO_ACCOUNT,
        };
        self.files[FLOWS].append(&encode_flow(flow, from, to))?;
        self.files[FLOW_NEXT].append(&[0u8; FLOW_NEXT_ROW])?;
        self.counts.flows += 1;
        Ok(id)
    }

    /// Returns the id of `address`, creating it with `flow` as its first flow, or links `flow`
    /// after the address's last flow.
    fn link(&mut self, address: &EvmAddress, flow: u64) -> Result<u32> {
        if let Some(id) = self.view().address_id(address) {
            let at = to_usize(u64::from(id)) * ADDR_LINK_ROW;
            let last = read_u64(self.files[ADDR_LINK].bytes(), at + 8);
            self.set_next(last, id, flow + 1);
            write_u64(self.files[ADDR_LINK].bytes_mut(), at + 8, flow);
            return Ok(id);
        }
        let id = u32::try_from(self.counts.addresses)
            .ok()
            .filter(|id| *id != NO_ACCOUNT)
            .ok_or(StoreError::Capacity { what: "evm address count" })?;
        self.files[ADDR_KEY].append(&address.0)?;
        let mut link = [0u8; ADDR_LINK_ROW];
        link[..8].copy_from_slice(&flow.to_le_bytes());
        link[8..].copy_from_slice(&flow.to_le_bytes());
        self.files[ADDR_LINK].append(&link)?;
        if index::bits_for(self.counts.addresses + 1) > self.address_index_bits {
            self.rebuild_address_index(index::bits_for(self.counts.addresses + 1))?;
        }
        index::WideSlots::insert(
            self.address_index.bytes_mut(),
            self.address_index_bits,
            address.hash64(),
            id,
        );
        self.counts.addresses += 1;
        Ok(id)
    }

    /// Writes the link after `flow` in the history of `address` (its `from` side if the address
    /// sent it, else its `to` side).
    fn set_next(&mut self, flow: u64, address: u32, value: u64) {
        let (from, _) = self.view().flow_parties(flow);
        let side = if from == address { 0 } else { 8 };
        write_u64(self.files[FLOW_NEXT].bytes_mut(), to_usize(flow) * FLOW_NEXT_ROW + side, value);
    }

    fn rebuild_tx_index(&mut self, bits: u32) -> Result<()> {
        let mut table = new_table(&self.dir.join(tx_index_file(bits)), bits)?;
        for (number, row) in self.files[TX_HASH]
            .bytes()
            .chunks_exact(TX_ROW)
            .take(to_usize(self.counts.txs))
            .enumerate()
        {
            let mut hash = [0u8; 32];
            hash.copy_from_slice(row);
            let number = u32::try_from(number).expect("tx numbers fit u32");
            index::WideSlots::insert(table.bytes_mut(), bits, B256(hash).prefix_u64(), number);
        }
        let old = std::mem::replace(&mut self.tx_index_bits, bits);
        self.tx_index = table;
        if old != self.committed.tx_index_bits && old != bits {
            fs::remove_file(self.dir.join(tx_index_file(old)))?;
        }
        Ok(())
    }

    fn rebuild_address_index(&mut self, bits: u32) -> Result<()> {
        let mut table = new_table(&self.dir.join(address_index_file(bits)), bits)?;
        for (id, row) in self.files[ADDR_KEY]
            .bytes()
            .chunks_exact(ADDR_ROW)
            .take(to_usize(self.counts.addresses))
            .enumerate()
        {
            let mut key = [0u8; 20];
            key.copy_from_slice(row);
            let id = u32::try_from(id).expect("address ids fit u32");
            index::WideSlots::insert(table.bytes_mut(), bits, EvmAddress(key).hash64(), id);
        }
        let old = std::mem::replace(&mut self.address_index_bits, bits);
        self.address_index = table;
        if old != self.committed.address_index_bits && old != bits {
            fs::remove_file(self.dir.join(address_index_file(old)))?;
        }
        Ok(())
    }

    /// Makes everything pushed so far durable and visible to readers, in one atomic step (the
    /// manifest rename, which also records the new tip: the checkpoint).
    ///
    /// # Errors
    ///
    /// An I/O error; the previous commit then stays in force.
    pub fn commit(&mut self) -> Result<()> {
        for file in &self.files {
            file.sync()?;
        }
        self.tx_index.sync()?;
        self.address_index.sync()?;
        let tip =
            self.view().tip().map(|tip| EvmTip { number: tip.block.number, hash: tip.block.hash });
        let manifest = EvmManifest {
            first_block: self.first_block.filter(|_| self.counts.blocks > 0),
            tip,
            counts: self.counts,
            tx_index_bits: self.tx_index_bits,
            address_index_bits: self.address_index_bits,
            ..self.committed.clone()
        };
        manifest.write(&self.dir)?;
        let previous = std::mem::replace(&mut self.committed, manifest);
        if previous.tx_index_bits != self.tx_index_bits {
            fs::remove_file(self.dir.join(tx_index_file(previous.tx_index_bits)))?;
        }
        if previous.address_index_bits != self.address_index_bits {
            fs::remove_file(self.dir.join(address_index_file(previous.address_index_bits)))?;
        }
        Ok(())
    }

    /// Commits, trims every file to its content and closes the chain cleanly.
    ///
    /// # Errors
    ///
    /// An I/O error; the chain is then recovered at the next open.
    pub fn finish(mut self) -> Result<()> {
        self.commit()?;
        for file in &mut self.files {
            file.trim()?;
        }
        self.tx_index.trim()?;
        self.address_index.trim()?;
        fs::remove_file(self.dir.join(DIRTY))?;
        sync_dir(&self.dir)
    }

    /// Discards everything pushed since the last commit, restoring its exact bytes.
    ///
    /// # Errors
    ///
    /// An I/O error.
    pub fn rollback(&mut self) -> Result<()> {
        let committed = self.committed.clone();
        if self.tx_index_bits != committed.tx_index_bits {
            self.tx_index = RwFile::open(
                &self.dir.join(tx_index_file(committed.tx_index_bits)),
                index::WideSlots::table_bytes(committed.tx_index_bits),
            )?;
            self.tx_index_bits = committed.tx_index_bits;
        }
        if self.address_index_bits != committed.address_index_bits {
            self.address_index = RwFile::open(
                &self.dir.join(address_index_file(committed.address_index_bits)),
                index::WideSlots::table_bytes(committed.address_index_bits),
            )?;
            self.address_index_bits = committed.address_index_bits;
        }
        for (file, len) in self.files.iter_mut().zip(committed_lengths(&committed.counts)) {
            file.truncate(len);
        }
        self.counts = committed.counts;
        self.first_block = committed.first_block;
        self.recover()?;
        self.load_assets();
        Ok(())
    }

    /// Removes every block above `number` (a reorganisation; below the first stored block, every
    /// block) and commits, leaving exactly the bytes an ingest of the blocks up to `number` would
    /// have written. Pending data is discarded first.
    ///
    /// # Errors
    ///
    /// An I/O error; the chain then recovers at the next open.
    pub fn unwind_to(&mut self, number: u64) -> Result<()> {
        self.rollback()?;
        let Some(first_block) = self.view().first_block() else { return Ok(()) };
        let keep_blocks = match number.checked_sub(first_block) {
            Some(offset) => offset + 1,
            None => 0,
        };
        if keep_blocks >= self.counts.blocks {
            return Ok(());
        }
        let (_, keep) = decode_block(
            &self.files[BLOCKS].bytes()[to_usize(keep_blocks) * BLOCK_ROW..][..BLOCK_ROW],
        );
        let keep = EvmCounts { blocks: keep_blocks, ..keep };
        // 1. Surviving addresses that took part in removed flows get their history cut back.
        let mut touched: Vec<u32> = (keep.flows..self.counts.flows)
            .flat_map(|flow| {
                let (from, to) = self.view().flow_parties(flow);
                [from, to]
            })
            .filter(|address| *address != NO_ACCOUNT && u64::from(*address) < keep.addresses)
            .collect();
        touched.sort_unstable();
        touched.dedup();
        for address in touched {
            let view = self.view();
            let mut last = view.first_flow_of(address);
            while let Some(next) = view.next_flow_of(last, address) {
                if next >= keep.flows {
                    break;
                }
                last = next;
            }
            self.set_next(last, address, 0);
            let at = to_usize(u64::from(address)) * ADDR_LINK_ROW + 8;
            write_u64(self.files[ADDR_LINK].bytes_mut(), at, last);
        }
        // 2. Index entries of removed txs and addresses, latest first (exact in linear probing).
        for number in (keep.txs..self.counts.txs).rev() {
            let mut hash = [0u8; 32];
            hash.copy_from_slice(
                &self.files[TX_HASH].bytes()[to_usize(number) * TX_ROW..][..TX_ROW],
            );
            let id = u32::try_from(number).expect("tx numbers fit u32");
            index::WideSlots::remove(
                self.tx_index.bytes_mut(),
                self.tx_index_bits,
                B256(hash).prefix_u64(),
                id,
            );
        }
        for address in (keep.addresses..self.counts.addresses).rev() {
            let mut key = [0u8; 20];
            key.copy_from_slice(
                &self.files[ADDR_KEY].bytes()[to_usize(address) * ADDR_ROW..][..ADDR_ROW],
            );
            let id = u32::try_from(address).expect("address ids fit u32");
            index::WideSlots::remove(
                self.address_index.bytes_mut(),
                self.address_index_bits,
                EvmAddress(key).hash64(),
                id,
            );
        }
        // 3. Cut the columns (truncation zeroes the removed `flows.next` rows too).
        self.counts = keep;
        for (file, len) in self.files.iter_mut().zip(committed_lengths(&self.counts)) {
            file.truncate(len);
        }
        if keep.blocks == 0 {
            self.first_block = None;
        }
        // 4. Tables that grew with the removed rows shrink back to a fresh ingest's size.
        if index::bits_for(self.counts.txs) < self.tx_index_bits {
            self.rebuild_tx_index(index::bits_for(self.counts.txs))?;
        }
        if index::bits_for(self.counts.addresses) < self.address_index_bits {
            self.rebuild_address_index(index::bits_for(self.counts.addresses))?;
        }
        self.load_assets();
        self.commit()
    }

    /// Restores the bytes of the last commit after an interrupted writer.
    fn recover(&mut self) -> Result<()> {
        let keep = [tx_index_file(self.tx_index_bits), address_index_file(self.address_index_bits)];
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let stray_index = (name.starts_with("tx.idx.") || name.starts_with("addr.idx."))
                && !keep.contains(&name);
            if stray_index || name == "MANIFEST.tmp" {
                fs::remove_file(self.dir.join(&name))?;
            }
        }
        let counts = self.counts;
        index::WideSlots::clear_from(self.tx_index.bytes_mut(), counts.txs);
        index::WideSlots::clear_from(self.address_index.bytes_mut(), counts.addresses);
        for chunk in self.files[FLOW_NEXT].bytes_mut().chunks_exact_mut(8) {
            if read_u64(chunk, 0) > counts.flows {
                write_u64(chunk, 0, 0);
            }
        }
        for address in 0..counts.addresses {
            let at = to_usize(address) * ADDR_LINK_ROW + 8;
            if read_u64(self.files[ADDR_LINK].bytes(), at) < counts.flows {
                continue;
            }
            let id = u32::try_from(address).expect("address ids fit u32");
            let view = self.view();
            let mut last = view.first_flow_of(id);
            while let Some(next) = view.next_flow_of(last, id) {
                last = next;
            }
            write_u64(self.files[ADDR_LINK].bytes_mut(), at, last);
        }
        for file in &self.files {
            file.sync()?;
        }
        self.tx_index.sync()?;
        self.address_index.sync()
    }
}

/// Creates a zero-filled index table file, replacing any leftover of an interrupted growth.
fn new_table(path: &Path, bits: u32) -> Result<RwFile> {
    let file = fs::File::create(path)?;
    file.set_len(index::WideSlots::table_bytes(bits))?;
    drop(file);
    RwFile::open(path, index::WideSlots::table_bytes(bits))
}

/// Creates the files of an empty chain directory and its first manifest. A directory holding
/// only chain files but no manifest is a creation interrupted before its manifest: replaced.
fn create(dir: &Path, spec: &EvmChainSpec) -> Result<EvmManifest> {
    let ours = |name: &str| {
        FILES.contains(&name)
            || [LOCK, DIRTY, "MANIFEST.tmp"].contains(&name)
            || name.starts_with("tx.idx.")
            || name.starts_with("addr.idx.")
    };
    let indexes = [tx_index_file(index::MIN_BITS), address_index_file(index::MIN_BITS)];
    let empty_index = index::WideSlots::table_bytes(index::MIN_BITS);
    crate::manifest::lay_out(dir, ours, &FILES, &indexes, empty_index)?;
    let manifest = EvmManifest {
        format_version: EVM_FORMAT_VERSION,
        chain: spec.name.clone(),
        chain_id: spec.chain_id,
        first_block: None,
        tip: None,
        counts: EvmCounts::default(),
        tx_index_bits: index::MIN_BITS,
        address_index_bits: index::MIN_BITS,
    };
    manifest.write(dir)?;
    debug_assert!(dir.join(MANIFEST).exists());
    Ok(manifest)
}
