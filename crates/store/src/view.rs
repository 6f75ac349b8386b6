//! Read access to the transaction graph, shared by readers and the writer.

use std::ops::Range;

use cointrail_types::{AddressId, AddressKey, Hash32, Height, InputId, OutputId, Sats, TxNum};

use crate::column::{ID_BYTES, RoFile, read_id, read_u32, read_u64, to_usize};
use crate::manifest::Counts;
use crate::{index, keys, runs};

/// Bytes per row of `blocks.dat`: hash 32, header 80, first tx u32, size u32.
pub(crate) const BLOCK_ROW: usize = 120;
/// Bytes per row of `tx.txid`.
pub(crate) const TXID_ROW: usize = 32;
/// Bytes per row of `tx.io`: first input id, first output id (u40 each).
pub(crate) const TXIO_ROW: usize = 2 * ID_BYTES;
/// `out.addr` value of an output that pays no address (`OP_RETURN`).
pub(crate) const NO_ADDRESS: u32 = u32::MAX;

/// Whether row `tx` of `tx.txid` (`txids`) holds `txid`: how a hash table's match on a txid's
/// first 8 bytes is confirmed.
pub(crate) fn txid_row_is(txids: &[u8], tx: u32, txid: &[u8]) -> bool {
    txids[to_usize(u64::from(tx)) * TXID_ROW..][..TXID_ROW] == *txid
}

/// A stored block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    /// Height in the stored chain.
    pub height: Height,
    /// Block hash.
    pub hash: Hash32,
    /// The 80-byte header as serialized.
    pub header: [u8; 80],
    /// First transaction of the block.
    pub first_tx: TxNum,
    /// Number of transactions.
    pub tx_count: u32,
    /// Serialized size in bytes.
    pub size: u32,
}

impl BlockInfo {
    /// Returns the header's timestamp (seconds since the Unix epoch).
    pub fn time(&self) -> u32 {
        read_u32(&self.header, 68)
    }

    /// Returns the hash of the previous block.
    pub fn prev_hash(&self) -> Hash32 {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&self.header[4..36]);
        Hash32(hash)
    }
}

/// A stored transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxInfo {
    /// Sequential number.
    pub txnum: TxNum,
    /// Transaction id.
    pub txid: Hash32,
    /// Its spending inputs (empty for a coinbase).
    pub inputs: Range<u64>,
    /// Its outputs.
    pub outputs: Range<u64>,
}

/// A stored output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputInfo {
    /// Value.
    pub value: Sats,
    /// The address paid, `None` for `OP_RETURN`.
    pub address: Option<AddressId>,
    /// The input that spends it, if any.
    pub spent_by: Option<InputId>,
}

/// The column slices and counts that every read goes through. The default has no rows, no
/// address index, and finds txids and address histories by scanning the columns.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Columns<'a> {
    pub(crate) blocks: &'a [u8],
    pub(crate) tx_txid: &'a [u8],
    pub(crate) tx_io: &'a [u8],
    pub(crate) in_spent: &'a [u8],
    pub(crate) out_value: &'a [u8],
    pub(crate) out_addr: &'a [u8],
    pub(crate) addr_key: &'a [u8],
    pub(crate) addr_first: &'a [u8],
    pub(crate) addr_rest: &'a [u8],
    pub(crate) address_index: &'a [u8],
    pub(crate) address_index_bits: u32,
    /// Readers only: an in-memory index of the addresses after the index file's checkpoint
    /// (empty when the file holds every address, and for the writer, whose index is complete).
    pub(crate) address_tail: &'a [u8],
    pub(crate) address_tail_bits: u32,
    /// Which txs may have a txid.
    pub(crate) txids: Txids<'a>,
    /// Which outputs pay each address.
    pub(crate) history: KeyRuns<'a>,
    /// Which input spends each output.
    pub(crate) spends: KeyRuns<'a>,
}

/// Where a view finds a txid (`crate::runs`): in the txid runs of the txs `0..covered`, then in
/// the sorted keys of the tail (readers), then by comparing `tx.txid` from `scan_from` to the
/// count (the writer, whose view has no tail). The default has neither runs nor tail: every txid
/// is scanned for.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Txids<'a> {
    /// The runs, in tx order.
    pub(crate) runs: &'a [RoFile],
    /// [`runs::sorted_txid_keys`] of the txs `covered..scan_from`.
    pub(crate) tail: &'a [u128],
    pub(crate) scan_from: u64,
}

/// Where a view finds the outputs of an address or the input spending an output (`crate::runs`):
/// in the runs of the rows (outputs of `out.addr`, inputs of `in.spent`) `0..covered`, then in
/// the sorted keys of the tail (readers), then by reading the column from `scan_from` to the
/// count (the writer, whose view has no tail).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KeyRuns<'a> {
    pub(crate) runs: &'a [RoFile],
    /// Log2 of the rows of a level-0 run.
    pub(crate) bits: u32,
    pub(crate) covered: u64,
    /// [`runs::sorted_keys`] or [`runs::sorted_spend_keys`] of the rows `covered..scan_from`.
    pub(crate) tail: &'a [u64],
    pub(crate) scan_from: u64,
}

impl<'a> Columns<'a> {
    /// The columns of [`crate::FILES`] as `file` gives them by position, and the default for the
    /// rest (see the type).
    pub(crate) fn of_files(file: impl Fn(usize) -> &'a [u8]) -> Self {
        Columns {
            blocks: file(crate::BLOCKS),
            tx_txid: file(crate::TX_TXID),
            tx_io: file(crate::TX_IO),
            in_spent: file(crate::IN_SPENT),
            out_value: file(crate::OUT_VALUE),
            out_addr: file(crate::OUT_ADDR),
            addr_key: file(crate::ADDR_KEY),
            addr_first: file(crate::ADDR_FIRST),
            addr_rest: file(crate::ADDR_REST),
            ..Columns::default()
        }
    }
}

/// A consistent read view of the chain: committed data for readers, committed plus pending data for
/// the writer.
#[derive(Debug, Clone, Copy)]
pub struct ChainView<'a> {
    pub(crate) columns: Columns<'a>,
    pub(crate) counts: Counts,
}

impl<'a> ChainView<'a> {
    /// Returns the row counts visible in this view.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Returns the highest block, or `None` for an empty store.
    pub fn tip(&self) -> Option<BlockInfo> {
        let blocks = u32::try_from(self.counts.blocks).ok()?;
        self.block(Height::new(blocks.checked_sub(1)?))
    }

    /// Returns the block at `height`.
    pub fn block(&self, height: Height) -> Option<BlockInfo> {
        let index = u64::from(height.get());
        if index >= self.counts.blocks {
            return None;
        }
        let row = &self.columns.blocks[to_usize(index) * BLOCK_ROW..][..BLOCK_ROW];
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&row[..32]);
        let mut header = [0u8; 80];
        header.copy_from_slice(&row[32..112]);
        let first_tx = read_u32(row, 112);
        let next_tx = if index + 1 < self.counts.blocks {
            read_u32(self.columns.blocks, to_usize(index + 1) * BLOCK_ROW + 112)
        } else {
            u32::try_from(self.counts.txs).expect("tx count fits u32 (checked on insert)")
        };
        Some(BlockInfo {
            height,
            hash: Hash32(hash),
            header,
            first_tx: TxNum::new(first_tx),
            tx_count: next_tx - first_tx,
            size: read_u32(row, 116),
        })
    }

    /// Finds the height of a block by hash (a scan of the block table: about a millisecond per
    /// 100,000 blocks).
    pub fn block_height(&self, hash: &Hash32) -> Option<Height> {
        let blocks = &self.columns.blocks[..to_usize(self.counts.blocks) * BLOCK_ROW];
        blocks
            .chunks_exact(BLOCK_ROW)
            .position(|row| row[..32] == hash.0)
            .map(|index| Height::new(u32::try_from(index).expect("heights fit u32")))
    }

    /// Returns the txid of a transaction.
    pub fn txid(&self, txnum: TxNum) -> Hash32 {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(
            &self.columns.tx_txid[to_usize(u64::from(txnum.get())) * TXID_ROW..][..32],
        );
        Hash32(hash)
    }

    /// Finds a transaction by txid: the latest of that txid (Bitcoin has two duplicated coinbase
    /// txids, BIP-0030, and the later one is the spendable one).
    pub fn find_tx(&self, txid: &Hash32) -> Option<TxNum> {
        let count = self.counts.txs;
        let number = |tx: u64| TxNum::new(u32::try_from(tx).expect("tx numbers fit u32"));
        // The txs in no run nor tail, the latest first: a scan of `tx.txid`.
        let txids = &self.columns.tx_txid[..to_usize(count) * TXID_ROW];
        let from = to_usize(self.columns.txids.scan_from.min(count)) * TXID_ROW;
        if let Some(back) = txids[from..].rchunks_exact(TXID_ROW).position(|row| row == txid.0) {
            return Some(number(count - 1 - back as u64));
        }
        // Then the tail and the runs, the latest first. A run may cover txs past the count in
        // the writer's view while it unwinds.
        let prefix = txid.prefix_u64();
        let is_key = |tx: u64| tx < count && txids[to_usize(tx) * TXID_ROW..][..TXID_ROW] == txid.0;
        let tail = runs::txid_keys_of(self.columns.txids.tail, prefix);
        let mut tail = tail.iter().rev().map(|key| runs::split_txid_key(*key).1);
        if let Some(tx) = tail.find(|tx| is_key(*tx)) {
            return Some(number(tx));
        }
        let kind = runs::Kind::Txids;
        for run in self.columns.txids.runs.iter().rev() {
            let found = runs::entries_of(kind, runs::entries(run.bytes()), prefix);
            let mut rows = found.chunks_exact(kind.entry()).rev().map(|entry| kind.row(entry));
            if let Some(tx) = rows.find(|tx| is_key(*tx)) {
                return Some(number(tx));
            }
        }
        None
    }

    /// First input and first output of `txnum` (the counts for the tx after the last).
    pub(crate) fn tx_io(&self, txnum: u64) -> (u64, u64) {
        if txnum >= self.counts.txs {
            return (self.counts.inputs, self.counts.outputs);
        }
        let at = to_usize(txnum) * TXIO_ROW;
        (read_id(self.columns.tx_io, at), read_id(self.columns.tx_io, at + ID_BYTES))
    }

    /// Returns a transaction by number.
    pub fn tx(&self, txnum: TxNum) -> Option<TxInfo> {
        let number = u64::from(txnum.get());
        if number >= self.counts.txs {
            return None;
        }
        let (first_input, first_output) = self.tx_io(number);
        let (end_input, end_output) = self.tx_io(number + 1);
        Some(TxInfo {
            txnum,
            txid: self.txid(txnum),
            inputs: first_input..end_input,
            outputs: first_output..end_output,
        })
    }

    /// Returns the height of the block holding a transaction.
    pub fn tx_height(&self, txnum: TxNum) -> Height {
        // The last block whose first tx is <= txnum.
        let (mut low, mut high) = (0u64, self.counts.blocks);
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            let first = read_u32(self.columns.blocks, to_usize(middle) * BLOCK_ROW + 112);
            if first <= txnum.get() {
                low = middle;
            } else {
                high = middle;
            }
        }
        Height::new(u32::try_from(low).expect("heights fit u32"))
    }

    /// Returns the output an input spends.
    pub fn spent_output(&self, input: InputId) -> OutputId {
        OutputId::new(read_id(self.columns.in_spent, to_usize(input.get()) * ID_BYTES))
    }

    /// Returns an output.
    pub fn output(&self, output: OutputId) -> OutputInfo {
        let id = to_usize(output.get());
        let value = Sats::from_sat(read_u64(self.columns.out_value, id * 8));
        let address = read_u32(self.columns.out_addr, id * 4);
        OutputInfo {
            value,
            address: (address != NO_ADDRESS).then(|| AddressId::new(address)),
            spent_by: self.spender(output),
        }
    }

    /// Returns `true` if a visible input spends the output.
    pub fn is_spent(&self, output: OutputId) -> bool {
        self.spender(output).is_some()
    }

    /// The visible input that spends an output: a search of each spend run, then of the tail's
    /// keys, then a scan of `in.spent` after them (the writer's view). A valid chain spends an
    /// output once; a run may cover inputs past the count in the writer's view while it unwinds.
    fn spender(&self, output: OutputId) -> Option<InputId> {
        let (spends, inputs, output) = (self.columns.spends, self.counts.inputs, output.get());
        let kind = runs::Kind::Spends;
        for run in spends.runs.iter().rev() {
            let from = runs::entries_from(kind, runs::entries(run.bytes()), output);
            let mut found = from
                .chunks_exact(kind.entry())
                .take_while(|entry| kind.key(entry) == output)
                .map(|entry| kind.row(entry));
            if let Some(input) = found.find(|input| *input < inputs) {
                return Some(InputId::new(input));
            }
        }
        let tail = runs::keys_from(spends.tail, output, spends.bits);
        if let Some((_, offset)) =
            tail.first().map(|key| runs::split_key(*key, spends.bits)).filter(|key| key.0 == output)
        {
            return Some(InputId::new(spends.covered + offset));
        }
        let in_spent = self.columns.in_spent;
        (spends.scan_from.min(inputs)..inputs)
            .rev()
            .find(|input| read_id(in_spent, to_usize(*input) * ID_BYTES) == output)
            .map(InputId::new)
    }

    /// Returns the transaction holding an output and the output's index in it.
    pub fn output_location(&self, output: OutputId) -> (TxNum, u32) {
        let txnum = self.search_tx(output.get(), ID_BYTES);
        let at = to_usize(u64::from(txnum.get())) * TXIO_ROW + ID_BYTES;
        let first = read_id(self.columns.tx_io, at);
        (txnum, u32::try_from(output.get() - first).expect("outputs per tx fit u32"))
    }

    /// Returns the transaction holding an input and the input's index in it.
    pub fn input_location(&self, input: InputId) -> (TxNum, u32) {
        let txnum = self.search_tx(input.get(), 0);
        let first = read_id(self.columns.tx_io, to_usize(u64::from(txnum.get())) * TXIO_ROW);
        (txnum, u32::try_from(input.get() - first).expect("inputs per tx fit u32"))
    }

    /// The last tx whose first id (at `field` in `tx.io`) is <= `id` and that has ids of that kind.
    fn search_tx(&self, id: u64, field: usize) -> TxNum {
        let (mut low, mut high) = (0u64, self.counts.txs);
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            if read_id(self.columns.tx_io, to_usize(middle) * TXIO_ROW + field) <= id {
                low = middle;
            } else {
                high = middle;
            }
        }
        TxNum::new(u32::try_from(low).expect("tx numbers fit u32"))
    }

    /// Returns the key of an address.
    pub fn address_key(&self, address: AddressId) -> AddressKey {
        let row = keys::row(self.columns.addr_key, u64::from(address.get()));
        keys::decode(row, self.columns.addr_rest).expect("address keys are validated when written")
    }

    /// Finds an address by key.
    pub fn find_address(&self, key: &AddressKey) -> Option<AddressId> {
        if self.counts.addresses == 0 {
            return None;
        }
        // Addresses are inserted once, so the first match is the only one.
        let columns = &self.columns;
        let is_key = |candidate: u32| {
            keys::row_is(keys::row(columns.addr_key, u64::from(candidate)), columns.addr_rest, key)
        };
        let (hash, limit) = (key.hash64(), self.counts.addresses);
        // The checkpointed index, then the readers' own index of the addresses after it (an empty
        // table finds nothing).
        [
            (columns.address_index, columns.address_index_bits),
            (columns.address_tail, columns.address_tail_bits),
        ]
        .into_iter()
        .find_map(|(table, bits)| index::AddressSlots::find_first(table, bits, hash, limit, is_key))
        .map(AddressId::new)
    }

    /// Returns the outputs paid to an address, in chain order.
    pub fn address_outputs(&self, address: AddressId) -> AddressOutputs<'a> {
        AddressOutputs {
            view: *self,
            address: address.get(),
            run: 0,
            entries: &[],
            tail: None,
            scan: self.columns.history.scan_from,
        }
    }

    /// The first output paying an address (`addr.first`).
    fn first_output_of_address(&self, address: AddressId) -> u64 {
        read_id(self.columns.addr_first, to_usize(u64::from(address.get())) * ID_BYTES)
    }
}

/// Iterator over the outputs paid to one address, in chain order: those in the history runs, run
/// by run, then those of the tail, then those after it.
#[derive(Debug, Clone)]
pub struct AddressOutputs<'a> {
    view: ChainView<'a>,
    address: u32,
    /// The next run to search.
    run: usize,
    /// The address's entries of the current run not returned yet.
    entries: &'a [u8],
    /// The address's tail keys not returned yet (`None` before the tail is searched).
    tail: Option<&'a [u64]>,
    /// The next output of `out.addr` to read.
    scan: u64,
}

impl Iterator for AddressOutputs<'_> {
    type Item = OutputId;

    fn next(&mut self) -> Option<OutputId> {
        let history = self.view.columns.history;
        loop {
            let kind = runs::Kind::History;
            if let Some((entry, rest)) = self.entries.split_at_checked(kind.entry()) {
                self.entries = rest;
                return Some(OutputId::new(kind.row(entry)));
            }
            if let Some(run) = history.runs.get(self.run) {
                let address = u64::from(self.address);
                self.entries = runs::entries_of(kind, runs::entries(run.bytes()), address);
                self.run += 1;
                continue;
            }
            match self.tail {
                None => {
                    let address = u64::from(self.address);
                    self.tail = Some(runs::keys_of(history.tail, address, history.bits));
                }
                Some([key, rest @ ..]) => {
                    self.tail = Some(rest);
                    let offset = runs::split_key(*key, history.bits).1;
                    return Some(OutputId::new(history.covered + offset));
                }
                Some([]) => break,
            }
        }
        let out_addr = self.view.columns.out_addr;
        while self.scan < self.view.counts.outputs {
            let output = self.scan;
            self.scan += 1;
            if read_u32(out_addr, to_usize(output) * 4) == self.address {
                return Some(OutputId::new(output));
            }
        }
        None
    }
}

impl cointrail_types::ChainGraph for ChainView<'_> {
    fn tx_count(&self) -> u64 {
        self.counts.txs
    }

    fn address_count(&self) -> u64 {
        self.counts.addresses
    }

    fn tx_inputs(&self, tx: TxNum) -> Range<u64> {
        let number = u64::from(tx.get());
        self.tx_io(number).0..self.tx_io(number + 1).0
    }

    fn tx_outputs(&self, tx: TxNum) -> Range<u64> {
        let number = u64::from(tx.get());
        self.tx_io(number).1..self.tx_io(number + 1).1
    }

    fn spent_output(&self, input: InputId) -> OutputId {
        ChainView::spent_output(self, input)
    }

    fn output_value(&self, output: OutputId) -> Sats {
        Sats::from_sat(read_u64(self.columns.out_value, to_usize(output.get()) * 8))
    }

    fn output_address(&self, output: OutputId) -> Option<AddressId> {
        let address = read_u32(self.columns.out_addr, to_usize(output.get()) * 4);
        (address != NO_ADDRESS).then(|| AddressId::new(address))
    }

    fn output_spender(&self, output: OutputId) -> Option<InputId> {
        self.spender(output)
    }

    fn address_kind(&self, address: AddressId) -> cointrail_types::AddressKind {
        self.address_key(address).kind
    }

    fn address_first_output(&self, address: AddressId) -> OutputId {
        OutputId::new(self.first_output_of_address(address))
    }

    fn output_tx(&self, output: OutputId) -> TxNum {
        self.output_location(output).0
    }

    fn input_tx(&self, input: InputId) -> TxNum {
        self.input_location(input).0
    }
}
