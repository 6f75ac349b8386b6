//! Read access to an EVM chain, shared by readers and the writer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cointrail_types::{B256, EvmAddress, U256};

use super::{
    ADDR_LINK_ROW, ADDR_ROW, ASSET_ROW, AssetInfo, BLOCK_ROW, EvmBlockInfo, EvmChainSpec,
    EvmCounts, EvmManifest, EvmTxInfo, FILES, FLOW_NEXT_ROW, FLOW_ROW, FlowKind, FlowRecord,
    NO_ACCOUNT, NO_TX, TX_ROW, address_index_file, chain_dir, committed_lengths, decode_asset,
    decode_block, tx_index_file,
};
use crate::column::{RoFile, read_u32, read_u64, to_usize};
use crate::error::{Result, StoreError};
use crate::index;

/// A read-only view of one EVM chain of a store: what was committed when it was opened.
#[derive(Debug)]
pub struct EvmStore {
    dir: PathBuf,
    manifest: EvmManifest,
    files: Vec<RoFile>,
    tx_index: RoFile,
    address_index: RoFile,
}

impl EvmStore {
    /// Opens chain `name` of the store at `store_dir` for reading.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] if the store has no such chain, [`StoreError::UnsupportedFormat`],
    /// [`StoreError::ShortFile`] or an I/O error.
    pub fn open(store_dir: &Path, name: &str) -> Result<Self> {
        let dir = chain_dir(store_dir, name);
        let manifest =
            EvmManifest::read(&dir)?.ok_or_else(|| StoreError::NotFound { path: dir.clone() })?;
        let files =
            FILES.iter().map(|file| RoFile::open(&dir.join(file))).collect::<Result<Vec<_>>>()?;
        for ((file, map), want) in FILES.iter().zip(&files).zip(committed_lengths(&manifest.counts))
        {
            let found = map.bytes().len() as u64;
            if found < want {
                return Err(StoreError::ShortFile { path: dir.join(file), expected: want, found });
            }
        }
        Ok(Self {
            tx_index: RoFile::open(&dir.join(tx_index_file(manifest.tx_index_bits)))?,
            address_index: RoFile::open(
                &dir.join(address_index_file(manifest.address_index_bits)),
            )?,
            dir,
            manifest,
            files,
        })
    }

    /// Returns the chain directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns a view of the committed chain.
    pub fn view(&self) -> EvmView<'_> {
        let file = |index: usize| self.files[index].bytes();
        EvmView {
            spec: EvmChainSpec {
                name: self.manifest.chain.clone(),
                chain_id: self.manifest.chain_id,
            },
            first_block: self.manifest.first_block,
            counts: self.manifest.counts,
            blocks: file(0),
            tx_hash: file(1),
            flows: file(2),
            flow_next: file(3),
            addr_key: file(4),
            addr_link: file(5),
            assets: file(6),
            tx_index: self.tx_index.bytes(),
            tx_index_bits: self.manifest.tx_index_bits,
            address_index: self.address_index.bytes(),
            address_index_bits: self.manifest.address_index_bits,
        }
    }
}

/// What an address received and sent of one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetBalance {
    /// Asset id (0 = native).
    pub asset: u32,
    /// Sum of incoming amounts (for EIP-721: number of tokens received).
    pub received: U256,
    /// Sum of outgoing amounts, fees and burns included (for EIP-721: number of tokens sent).
    pub sent: U256,
    /// Incoming flows.
    pub flows_in: u64,
    /// Outgoing flows.
    pub flows_out: u64,
}

impl AssetBalance {
    /// Returns `received - sent`, or `None` if more was sent than received (possible when the
    /// chain was ingested from a block after genesis, or its start balance came from the genesis
    /// allocation, which is not a flow).
    pub fn balance(&self) -> Option<U256> {
        self.received.checked_sub(self.sent)
    }

    /// Returns the balance as text, with a minus sign when more was sent than received.
    pub fn balance_text(&self) -> String {
        match self.balance() {
            Some(balance) => balance.to_string(),
            None => format!("-{}", self.sent.checked_sub(self.received).unwrap_or(U256::ZERO)),
        }
    }
}

/// Column slices of one EVM chain, committed (readers) or pending (the writer).
#[derive(Debug, Clone)]
pub struct EvmView<'a> {
    pub(crate) spec: EvmChainSpec,
    pub(crate) first_block: Option<u64>,
    pub(crate) counts: EvmCounts,
    pub(crate) blocks: &'a [u8],
    pub(crate) tx_hash: &'a [u8],
    pub(crate) flows: &'a [u8],
    pub(crate) flow_next: &'a [u8],
    pub(crate) addr_key: &'a [u8],
    pub(crate) addr_link: &'a [u8],
    pub(crate) assets: &'a [u8],
    pub(crate) tx_index: &'a [u8],
    pub(crate) tx_index_bits: u32,
    pub(crate) address_index: &'a [u8],
    pub(crate) address_index_bits: u32,
}

impl EvmView<'_> {
    /// Returns the chain's name and id.
    pub fn spec(&self) -> &EvmChainSpec {
        &self.spec
    }

    /// Returns the row counts.
    pub fn counts(&self) -> EvmCounts {
        self.counts
    }

    /// Returns the number of the first stored block.
    pub fn first_block(&self) -> Option<u64> {
        self.first_block.filter(|_| self.counts.blocks > 0)
    }

    /// Returns the stored tip.
    pub fn tip(&self) -> Option<EvmBlockInfo> {
        let first = self.first_block()?;
        self.block(first + self.counts.blocks - 1)
    }

    /// Returns the stored block `number`.
    pub fn block(&self, number: u64) -> Option<EvmBlockInfo> {
        let row = number.checked_sub(self.first_block()?)?;
        if row >= self.counts.blocks {
            return None;
        }
        let (block, first) = decode_block(&self.blocks[to_usize(row) * BLOCK_ROW..][..BLOCK_ROW]);
        let next = if row + 1 < self.counts.blocks {
            decode_block(&self.blocks[to_usize(row + 1) * BLOCK_ROW..][..BLOCK_ROW]).1
        } else {
            self.counts
        };
        Some(EvmBlockInfo {
            block,
            first_tx: u32::try_from(first.txs).expect("tx numbers fit u32"),
            tx_count: u32::try_from(next.txs - first.txs).expect("tx numbers fit u32"),
            first_flow: first.flows,
            flow_count: next.flows - first.flows,
        })
    }

    /// Returns the block ranges whose internal transfers are not covered (the node had no
    /// tracing), merged into inclusive `(first, last)` ranges.
    pub fn coverage_gaps(&self) -> Vec<(u64, u64)> {
        let mut gaps: Vec<(u64, u64)> = Vec::new();
        for row in self.blocks.chunks_exact(BLOCK_ROW).take(to_usize(self.counts.blocks)) {
            let (block, _) = decode_block(row);
            if block.traced {
                continue;
            }
            match gaps.last_mut() {
                Some(last) if last.1 + 1 == block.number => last.1 = block.number,
                _ => gaps.push((block.number, block.number)),
            }
        }
        gaps
    }

    fn tx_hash_at(&self, number: u32) -> B256 {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&self.tx_hash[to_usize(u64::from(number)) * TX_ROW..][..TX_ROW]);
        B256(hash)
    }

    /// Returns the transaction with sequential number `number`.
    pub fn tx(&self, number: u32) -> Option<EvmTxInfo> {
        if u64::from(number) >= self.counts.txs {
            return None;
        }
        // The block is the last one whose first tx is at or below `number`.
        let (mut low, mut high) = (0u64, self.counts.blocks);
        while low + 1 < high {
            let middle = low + (high - low) / 2;
            let first = read_u32(self.blocks, to_usize(middle) * BLOCK_ROW + 88);
            if first <= number {
                low = middle;
            } else {
                high = middle;
            }
        }
        let (block, first) = decode_block(&self.blocks[to_usize(low) * BLOCK_ROW..][..BLOCK_ROW]);
        let first_tx = u32::try_from(first.txs).expect("tx numbers fit u32");
        Some(EvmTxInfo {
            number,
            hash: self.tx_hash_at(number),
            block: block.number,
            index: number - first_tx,
        })
    }

    /// Returns the transaction with `hash`.
    pub fn tx_by_hash(&self, hash: &B256) -> Option<EvmTxInfo> {
        let number = index::WideSlots::find(
            self.tx_index,
            self.tx_index_bits,
            hash.prefix_u64(),
            self.counts.txs,
            |number| self.tx_hash_at(number) == *hash,
        )?;
        self.tx(number)
    }

    /// Returns the address with id `id`.
    pub fn address(&self, id: u32) -> Option<EvmAddress> {
        if u64::from(id) >= self.counts.addresses {
            return None;
        }
        let mut key = [0u8; 20];
        key.copy_from_slice(&self.addr_key[to_usize(u64::from(id)) * ADDR_ROW..][..ADDR_ROW]);
        Some(EvmAddress(key))
    }

    /// Returns the id of `address`, if it appears in a flow.
    pub fn address_id(&self, address: &EvmAddress) -> Option<u32> {
        index::WideSlots::find(
            self.address_index,
            self.address_index_bits,
            address.hash64(),
            self.counts.addresses,
            |id| self.address(id).as_ref() == Some(address),
        )
    }

    /// Returns token asset `id` (ids start at 1; 0 is the native currency and has no row).
    pub fn asset(&self, id: u32) -> Option<AssetInfo> {
        let row = u64::from(id).checked_sub(1)?;
        if row >= self.counts.assets {
            return None;
        }
        Some(decode_asset(&self.assets[to_usize(row) * ASSET_ROW..][..ASSET_ROW]))
    }

    /// Returns every token asset with its id, in order of first appearance.
    pub fn assets(&self) -> Vec<(u32, AssetInfo)> {
        (1..=self.counts.assets)
            .filter_map(|id| u32::try_from(id).ok())
            .filter_map(|id| self.asset(id).map(|asset| (id, asset)))
            .collect()
    }

    /// Returns the id of the token contract `contract`. A linear scan: assets are few, and the
    /// writer keeps its own map.
    pub fn asset_id(&self, contract: &EvmAddress) -> Option<u32> {
        self.assets
            .chunks_exact(ASSET_ROW)
            .take(to_usize(self.counts.assets))
            .position(|row| row[..20] == contract.0)
            .and_then(|row| u32::try_from(row + 1).ok())
    }

    pub(crate) fn flow_parties(&self, id: u64) -> (u32, u32) {
        let at = to_usize(id) * FLOW_ROW;
        (read_u32(self.flows, at + 20), read_u32(self.flows, at + 24))
    }

    /// Returns the sender and recipient of flow `id` as address ids (`None`: `mint` / `burn`), for
    /// scans that need ids rather than addresses.
    pub fn flow_party_ids(&self, id: u64) -> Option<(Option<u32>, Option<u32>)> {
        if id >= self.counts.flows {
            return None;
        }
        let (from, to) = self.flow_parties(id);
        let party = |party: u32| (party != NO_ACCOUNT).then_some(party);
        Some((party(from), party(to)))
    }

    /// Returns flow `id`.
    pub fn flow(&self, id: u64) -> Option<FlowRecord> {
        if id >= self.counts.flows {
            return None;
        }
        let row = &self.flows[to_usize(id) * FLOW_ROW..][..FLOW_ROW];
        let tx = read_u32(row, 8);
        let party = |at: usize| {
            let id = read_u32(row, at);
            if id == NO_ACCOUNT { None } else { self.address(id) }
        };
        let mut amount = [0u8; 32];
        amount.copy_from_slice(&row[32..]);
        Some(FlowRecord {
            id,
            block: read_u64(row, 0),
            tx: (tx != NO_TX).then_some(tx),
            position: read_u32(row, 12),
            kind: FlowKind::from_code(row[16])?,
            from: party(20),
            to: party(24),
            asset: read_u32(row, 28),
            amount: U256::from_be_bytes(amount),
        })
    }

    /// Returns the next flow of address `address` after flow `id` (the address must be a party of
    /// `id`), ignoring links past the counts.
    pub(crate) fn next_flow_of(&self, id: u64, address: u32) -> Option<u64> {
        let (from, _) = self.flow_parties(id);
        let side = if from == address { 0 } else { 8 };
        let next = read_u64(self.flow_next, to_usize(id) * FLOW_NEXT_ROW + side);
        (next != 0 && next <= self.counts.flows).then(|| next - 1)
    }

    pub(crate) fn first_flow_of(&self, address: u32) -> u64 {
        read_u64(self.addr_link, to_usize(u64::from(address)) * ADDR_LINK_ROW)
    }

    /// Returns the flows of `address`, in and out, in chain order.
    pub fn flows_of(&self, address: &EvmAddress) -> Vec<FlowRecord> {
        let Some(id) = self.address_id(address) else { return Vec::new() };
        let mut flows = Vec::new();
        let mut current = Some(self.first_flow_of(id));
        while let Some(flow) = current {
            if let Some(record) = self.flow(flow) {
                flows.push(record);
            }
            current = self.next_flow_of(flow, id);
        }
        flows
    }

    /// Returns what `address` received and sent, per asset (native first, then by asset id).
    ///
    /// Amounts are summed exactly; for EIP-721 assets the sums count tokens.
    pub fn balances(&self, address: &EvmAddress) -> Vec<AssetBalance> {
        let mut sums: BTreeMap<u32, AssetBalance> = BTreeMap::new();
        for flow in self.flows_of(address) {
            let entry = sums.entry(flow.asset).or_insert_with(|| AssetBalance {
                asset: flow.asset,
                received: U256::ZERO,
                sent: U256::ZERO,
                flows_in: 0,
                flows_out: 0,
            });
            let amount =
                if flow.kind == FlowKind::Erc721 { U256::from_u64(1) } else { flow.amount };
            // A self-transfer counts both ways and so leaves the balance unchanged.
            if flow.to.as_ref() == Some(address) {
                entry.received = entry.received.checked_add(amount).unwrap_or(U256::MAX);
                entry.flows_in += 1;
            }
            if flow.from.as_ref() == Some(address) {
                entry.sent = entry.sent.checked_add(amount).unwrap_or(U256::MAX);
                entry.flows_out += 1;
            }
        }
        sums.into_values().collect()
    }
}

// Keep the row-width constants referenced from one place for the reader's length checks.
const _: () = assert!(FLOW_NEXT_ROW == 16 && ADDR_LINK_ROW == 16);
