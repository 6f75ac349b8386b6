//! The writer's two disjoint halves, so that one block can be written by two threads.
//!
//! Every column and index belongs to exactly one half:
//!
//! - [`TxRows`]: `blocks.dat`, `tx.txid`, `tx.io`, `in.spent`, `out.value` and the live
//!   transactions (reading the committed txid and spend runs too): transactions, the resolution of
//!   inputs to the outputs they spend, and values;
//! - [`AddressRows`]: `out.addr`, `addr.key`, `addr.rest`, `addr.first` and the address index:
//!   which address each output pays and new address ids (the address history is sorted from
//!   `out.addr` at commits, `crate::runs`).
//!
//! Neither half reads the other's columns: address ids depend only on the order of outputs (output
//! ids are sequential), and prevout resolution only on transactions. So the two halves of a block
//! can be written at the same time, and the bytes are the same as when one thread writes both, in
//! any interleaving (`StoreWriter::push_blocks`).

use std::path::Path;

use cointrail_types::{AddressKey, Hash32, Height, InputId, OutputId, TxNum};

use crate::column::{
    ID_BYTES, MAX_ID, RoFile, RwFile, ScanAhead, ScratchTable, id_bytes, prefetch, to_usize,
    will_need,
};
use crate::error::{Result, StoreError};
use crate::index;
use crate::keys::{self, ADDR_KEY_ROW};
use crate::live::{LiveTxs, TxKey};
use crate::manifest::Counts;
use crate::view::{BLOCK_ROW, ChainView, Columns, NO_ADDRESS, TXIO_ROW, txid_row_is};

/// How many ids ahead a rebuild prefetches the slot it will insert into.
const REBUILD_LOOKAHEAD: usize = 16;

/// What an input's previous output is, as far as the stored transactions tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prevout {
    /// The output exists and no input spends it yet.
    Unspent(OutputId),
    /// The output exists and an input already spends it.
    Spent(OutputId),
    /// No stored transaction has this txid, or it has no output of that index.
    Unknown,
}

/// The transaction half of the writer (see the module docs): transactions, inputs and output
/// values, with the live transactions and prevout resolution.
#[derive(Debug)]
pub struct TxRows<'w> {
    pub(crate) blocks: &'w mut RwFile,
    pub(crate) tx_txid: &'w mut RwFile,
    pub(crate) tx_io: &'w mut RwFile,
    pub(crate) in_spent: &'w mut RwFile,
    pub(crate) out_value: &'w mut RwFile,
    /// The committed txid and spend runs, of txs `0..txid_run_txs` and inputs
    /// `0..spend_run_inputs`: only for lookups of txs that are not live, which only invalid blocks
    /// make.
    pub(crate) txid_runs: &'w [RoFile],
    pub(crate) txid_run_txs: u64,
    pub(crate) spend_runs: &'w [RoFile],
    pub(crate) spend_run_inputs: u64,
    /// The live transactions, through which inputs are resolved.
    pub(crate) live: &'w mut LiveTxs,
    pub(crate) block_count: &'w mut u64,
    pub(crate) txs: &'w mut u64,
    pub(crate) inputs: &'w mut u64,
    pub(crate) outputs: &'w mut u64,
}

/// The outputs of one block, as the address half of the writer needs them
/// ([`crate::StoreWriter::push_blocks`]).
pub trait BlockOutputs {
    /// Number of outputs of the block (of all its transactions, in order).
    fn output_count(&self) -> usize;
    /// The address the `position`-th output pays, `None` for none (`OP_RETURN`).
    fn address(&self, position: usize) -> Option<&AddressKey>;
}

impl TxRows<'_> {
    /// Appends a block; its transactions follow with [`TxRows::push_tx`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Capacity`] past 2^32 - 1 blocks or transactions, or an I/O error.
    pub fn push_block(&mut self, hash: &Hash32, header: &[u8; 80], size: u32) -> Result<Height> {
        let height = u32::try_from(*self.block_count)
            .map_err(|_| StoreError::Capacity { what: "block count" })?;
        let first_tx =
            u32::try_from(*self.txs).map_err(|_| StoreError::Capacity { what: "tx count" })?;
        let mut row = [0u8; BLOCK_ROW];
        row[..32].copy_from_slice(&hash.0);
        row[32..112].copy_from_slice(header);
        row[112..116].copy_from_slice(&first_tx.to_le_bytes());
        row[116..120].copy_from_slice(&size.to_le_bytes());
        self.blocks.append(&row)?;
        *self.block_count += 1;
        Ok(Height::new(height))
    }

    /// Appends a transaction; its inputs and outputs follow.
    ///
    /// # Errors
    ///
    /// [`StoreError::Capacity`] past 2^32 - 1 transactions, or an I/O error.
    pub fn push_tx(&mut self, txid: &Hash32) -> Result<TxNum> {
        let txnum = u32::try_from(*self.txs)
            .ok()
            .filter(|number| *number < u32::MAX)
            .ok_or(StoreError::Capacity { what: "tx count" })?;
        self.tx_txid.append(&txid.0)?;
        let mut row = [0u8; TXIO_ROW];
        row[..ID_BYTES].copy_from_slice(&id_bytes(*self.inputs));
        row[ID_BYTES..].copy_from_slice(&id_bytes(*self.outputs));
        self.tx_io.append(&row)?;
        // The txid runs are sorted from `tx.txid` at commits (`crate::runs`); inputs find the tx
        // through the live transactions.
        let txids = self.tx_txid.bytes();
        let is_key = |tx| txid_row_is(txids, tx, &txid.0);
        let outputs = (*self.outputs, 0);
        let slot = self.live.insert(TxKey::of(&txid.0), txnum, outputs, |_| false, is_key)?;
        self.live.current = Some(slot);
        *self.txs += 1;
        Ok(TxNum::new(txnum))
    }

    /// Appends an input of the last transaction, spending `spent`, and marks `spent` spent in the
    /// live transactions (the spend runs are sorted from `in.spent` at commits, `crate::runs`).
    ///
    /// The caller checks that `spent` exists and is unspent ([`TxRows::find_prevout`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::Capacity`] past 2^40 - 2 inputs, or an I/O error if a file cannot grow.
    pub fn push_input(&mut self, spent: OutputId) -> Result<InputId> {
        let id = *self.inputs;
        if id > MAX_ID {
            return Err(StoreError::Capacity { what: "input count" });
        }
        self.in_spent.append(&id_bytes(spent.get()))?;
        *self.inputs += 1;
        match self.live.found.take() {
            Some((output, slot, vout)) if output == spent.get() => {
                self.live.spend(slot, vout);
            }
            // Not found through `find_prevout` first: the tx of the output is a binary search.
            _ => {
                let view = self.view();
                let (tx, vout) = view.output_location(spent);
                let key = TxKey::of(&view.txid(tx).0);
                if let Some(slot) = self.live.find_tx(key, tx.get()) {
                    self.live.spend(slot, vout);
                }
            }
        }
        Ok(InputId::new(id))
    }

    /// Appends the value of an output of the last transaction (its address is the other half's).
    ///
    /// # Errors
    ///
    /// [`StoreError::Capacity`] past 2^40 - 2 outputs, or an I/O error if a file cannot grow.
    pub fn push_output(&mut self, value: u64) -> Result<OutputId> {
        let id = *self.outputs;
        if id > MAX_ID {
            return Err(StoreError::Capacity { what: "output count" });
        }
        self.out_value.append(&value.to_le_bytes())?;
        *self.outputs += 1;
        if let Some(slot) = self.live.current {
            self.live.add_output(slot);
        }
        Ok(OutputId::new(id))
    }

    /// Looks up output `vout` of transaction `txid` among the stored and pending transactions.
    ///
    /// A live transaction (one with an unspent output) is found in the live map; any other only
    /// through the committed txid runs and a scan of the txs after them (a slow path that only
    /// inputs of invalid blocks take: a double spend or an unknown transaction).
    pub fn find_prevout(&mut self, txid: &Hash32, vout: u32) -> Prevout {
        let txids = self.tx_txid.bytes();
        let key = TxKey::of(&txid.0);
        if let Some(slot) = self.live.find(key, |tx| txid_row_is(txids, tx, &txid.0)) {
            let (start, end) = match self.live.outputs(slot) {
                Some((first, count)) => (first, first + u64::from(count)),
                None => {
                    let (view, tx) = (self.view(), u64::from(self.live.tx(slot)));
                    (view.tx_io(tx).1, view.tx_io(tx + 1).1)
                }
            };
            let id = start + u64::from(vout);
            if id >= end {
                return Prevout::Unknown;
            }
            if !self.live.is_unspent(slot, vout) {
                return Prevout::Spent(OutputId::new(id));
            }
            self.live.found = Some((id, slot, vout));
            return Prevout::Unspent(OutputId::new(id));
        }
        // Not live: spent, unknown, or the earlier of two txs with one txid (BIP-0030) that an
        // unwind of the later uncovered, which is live again from now on.
        let view = self.view();
        let Some(tx) = view.find_tx(txid) else { return Prevout::Unknown };
        let (start, end) =
            (view.tx_io(u64::from(tx.get())).1, view.tx_io(u64::from(tx.get()) + 1).1);
        let id = start + u64::from(vout);
        if id >= end {
            return Prevout::Unknown;
        }
        let output = OutputId::new(id);
        if view.is_spent(output) {
            return Prevout::Spent(output);
        }
        let unspent: Vec<bool> = (start..end).map(|id| !view.is_spent(OutputId::new(id))).collect();
        self.live.repairs += 1;
        let outputs = (start, u32::try_from(end - start).expect("outputs of a tx fit u32"));
        let unspent = |vout: u32| unspent[to_usize(u64::from(vout))];
        if let Ok(slot) = self.live.insert(key, tx.get(), outputs, unspent, |_| false) {
            self.live.found = Some((id, slot, vout));
        }
        Prevout::Unspent(output)
    }

    /// Prefetches the live-map slots that the coming transactions will touch: those of the new
    /// `txids` and of the inputs' `prevouts` (a slot holds which of its transaction's outputs are
    /// unspent, so an input reads nothing else). One pass over all the lookups, so that their
    /// cache misses overlap instead of stalling the writer one at a time. Only a hint: the store
    /// is the same without it.
    pub fn prefetch<'k>(
        &self,
        new_txids: impl Iterator<Item = &'k Hash32>,
        prevouts: impl Iterator<Item = (&'k Hash32, u32)>,
    ) {
        for txid in new_txids.chain(prevouts.map(|(txid, _)| txid)) {
            self.live.prefetch(TxKey::of(&txid.0));
        }
    }

    /// A view of this half's columns: transactions, inputs, outputs' values and spends. It sees no
    /// address (its address count is 0), so only the transaction lookups may be used.
    fn view(&self) -> ChainView<'_> {
        ChainView {
            columns: Columns {
                blocks: self.blocks.bytes(),
                tx_txid: self.tx_txid.bytes(),
                tx_io: self.tx_io.bytes(),
                in_spent: self.in_spent.bytes(),
                out_value: self.out_value.bytes(),
                txids: crate::view::Txids {
                    runs: self.txid_runs,
                    tail: &[],
                    scan_from: self.txid_run_txs,
                },
                spends: crate::view::KeyRuns {
                    runs: self.spend_runs,
                    scan_from: self.spend_run_inputs,
                    ..crate::view::KeyRuns::default()
                },
                ..Columns::default()
            },
            counts: Counts {
                blocks: *self.block_count,
                txs: *self.txs,
                inputs: *self.inputs,
                outputs: *self.outputs,
                addresses: 0,
                wide_addresses: 0,
            },
        }
    }
}

/// The address half of the writer (see the module docs).
#[derive(Debug)]
pub(crate) struct AddressRows<'w> {
    pub(crate) out_addr: &'w mut RwFile,
    pub(crate) addr_key: &'w mut RwFile,
    pub(crate) addr_first: &'w mut RwFile,
    pub(crate) addr_rest: &'w mut RwFile,
    pub(crate) index: &'w mut ScratchTable,
    pub(crate) bits: &'w mut u32,
    pub(crate) addresses: &'w mut u64,
    pub(crate) wide_addresses: &'w mut u64,
    /// Minimum number of addresses the index is sized for.
    pub(crate) reserve: u64,
    /// Where the address index's scratch table lives.
    pub(crate) scratch: &'w Path,
    /// Whether to ask the kernel to read the `addr.key` rows of a block's known addresses from
    /// disk before they are confirmed ([`AddressRows::push_all`]): set by the writer once page
    /// faults show that they are not all cached.
    pub(crate) read_ahead: bool,
}

/// Bytes of a page, for [`AddressRows::read_ahead_keys`] (4 KiB; with larger pages a row is asked
/// for more than once, which is harmless).
const PAGE: usize = 4096;

/// Outputs whose address lookups are prefetched together (see [`AddressRows::prefetch`]).
const PREFETCH_OUTPUTS: usize = 256;

impl AddressRows<'_> {
    /// Records that output `output` (the next output id) pays `address`, or nothing
    /// (`OP_RETURN`): a new address gets the next address id.
    ///
    /// # Errors
    ///
    /// [`StoreError::Capacity`] past 2^32 - 1 addresses, or an I/O error.
    pub(crate) fn push(&mut self, output: u64, address: Option<&AddressKey>) -> Result<()> {
        let address_id = match address {
            None => NO_ADDRESS,
            Some(key) => match self.find(key) {
                Some(existing) => existing,
                None => self.push_address(key, output)?,
            },
        };
        self.out_addr.append(&address_id.to_le_bytes())
    }

    /// [`AddressRows::push`] for `count` consecutive outputs from `first_output`, the address of
    /// the `i`-th given by `address(i)`, prefetching each stretch of lookups before it.
    pub(crate) fn push_all<'k>(
        &mut self,
        first_output: u64,
        count: usize,
        address: &impl Fn(usize) -> Option<&'k AddressKey>,
    ) -> Result<()> {
        if self.read_ahead {
            self.read_ahead_keys((0..count).filter_map(address));
        }
        let mut start = 0;
        while start < count {
            let end = (start + PREFETCH_OUTPUTS).min(count);
            self.prefetch((start..end).filter_map(address));
            for position in start..end {
                self.push(first_output + position as u64, address(position))?;
            }
            start = end;
        }
        Ok(())
    }

    /// Prefetches what the lookups of `keys` will read: their index slots, then the `addr.key`
    /// rows the slots point at. Only a hint.
    pub(crate) fn prefetch<'k>(&self, keys: impl Iterator<Item = &'k AddressKey> + Clone) {
        let (table, bits) = (&**self.index, *self.bits);
        for key in keys.clone() {
            index::AddressSlots::prefetch_slot(table, bits, key.hash64());
        }
        let addr_key = self.addr_key.bytes();
        self.for_each_candidate_row(keys, |at| prefetch(addr_key, at));
    }

    /// Asks the kernel to read into the page cache the `addr.key` rows that the lookups of `keys`
    /// will confirm (`MADV_WILLNEED` on each row's page, once per page in a row): the reads of
    /// those that are not cached then overlap on the disk instead of faulting in one at a time as
    /// the lookups reach them. A system call per row, so only when the rows miss (`read_ahead`).
    /// Only a hint.
    fn read_ahead_keys<'k>(&self, keys: impl Iterator<Item = &'k AddressKey>) {
        let addr_key = self.addr_key.bytes();
        let mut last_page = usize::MAX;
        self.for_each_candidate_row(keys, |at| {
            if at / PAGE != last_page {
                last_page = at / PAGE;
                will_need(addr_key, at, ADDR_KEY_ROW);
            }
        });
    }

    /// Calls `row` with the offset in `addr.key` of every row that the lookups of `keys` will
    /// compare (the address index's candidates for each key, in probe order).
    fn for_each_candidate_row<'k>(
        &self,
        keys: impl Iterator<Item = &'k AddressKey>,
        mut row: impl FnMut(usize),
    ) {
        let (table, bits, count) = (&**self.index, *self.bits, *self.addresses);
        for key in keys {
            index::AddressSlots::for_each_candidate(table, bits, key.hash64(), count, |id| {
                row(to_usize(u64::from(id)) * ADDR_KEY_ROW);
                true
            });
        }
    }

    /// The address id of `key`, if it has one (addresses are inserted once: the first match is
    /// the only one).
    fn find(&self, key: &AddressKey) -> Option<u32> {
        if *self.addresses == 0 {
            return None;
        }
        let (keys, rest) = (self.addr_key.bytes(), self.addr_rest.bytes());
        let is_key = |id: u32| keys::row_is(keys::row(keys, u64::from(id)), rest, key);
        index::AddressSlots::find_first(
            self.index,
            *self.bits,
            key.hash64(),
            *self.addresses,
            is_key,
        )
    }

    fn push_address(&mut self, key: &AddressKey, first_output: u64) -> Result<u32> {
        let id = u32::try_from(*self.addresses)
            .ok()
            .filter(|number| *number != NO_ADDRESS)
            .ok_or(StoreError::Capacity { what: "address count" })?;
        let rest = u32::try_from(*self.wide_addresses)
            .map_err(|_| StoreError::Capacity { what: "address count" })?;
        let (row, tail) = keys::encode(key, rest);
        self.addr_key.append(&row)?;
        if let Some(tail) = tail {
            self.addr_rest.append(&tail)?;
            *self.wide_addresses += 1;
        }
        self.addr_first.append(&id_bytes(first_output))?;
        let bits = index::bits_for((*self.addresses + 1).max(self.reserve));
        if bits > *self.bits {
            let keys = &self.addr_key.bytes()[..to_usize(*self.addresses) * ADDR_KEY_ROW];
            rebuild_address_table(self.index, self.bits, self.scratch, keys, bits)?;
        }
        index::AddressSlots::insert(self.index, *self.bits, key.hash64(), id);
        *self.addresses += 1;
        Ok(id)
    }
}

/// Replaces the address index `table` of `*table_bits` with a new one of `bits` in a scratch
/// mapping at `scratch`, holding every row of `keys` (the `addr.key` column), inserted in order.
///
/// The new table is built from `keys` alone, so the old one goes first: the two are never held at
/// once (at chain scale 6 and 12 GiB). Should the build fail, the index is left empty with 0 bits
/// (it finds nothing), which a rollback rebuilds.
pub(crate) fn rebuild_address_table(
    table: &mut ScratchTable,
    table_bits: &mut u32,
    scratch: &Path,
    keys: &[u8],
    bits: u32,
) -> Result<()> {
    *table = ScratchTable::none();
    *table_bits = 0;
    *table = build_address_table(scratch, keys, bits)?;
    *table_bits = bits;
    Ok(())
}

/// A new address index table of `bits` (see [`rebuild_address_table`]).
fn build_address_table(scratch: &Path, keys: &[u8], bits: u32) -> Result<ScratchTable> {
    let mut table = ScratchTable::create(scratch, index::AddressSlots::table_bytes(bits), None)?;
    let hash = |id: usize| keys::hash_of_row(keys::row(keys, id as u64));
    let count = keys.len() / ADDR_KEY_ROW;
    let mut ahead = ScanAhead::default();
    for id in 0..count {
        ahead.at(keys, id * ADDR_KEY_ROW);
        if id + REBUILD_LOOKAHEAD < count {
            index::AddressSlots::prefetch_slot(&table, bits, hash(id + REBUILD_LOOKAHEAD)?);
        }
        let hash = hash(id)?;
        let id = u32::try_from(id).expect("address ids fit u32");
        index::AddressSlots::insert(&mut table, bits, hash, id);
    }
    Ok(table)
}
