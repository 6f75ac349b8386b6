//! Test helpers of cointrail: [`MemGraph`], an in-memory [`ChainGraph`] built transaction by
//! transaction, so that analysis code is tested on hand-made graphs without a store.
//!
//! A dev-dependency only. Addresses are named in tests; a prefix picks the kind
//! (`pkh:`, `sh:`, `wpkh:`, `wsh:`, `tr:`; no prefix means P2WPKH), and `None` pays no address
//! (`OP_RETURN`).
//!
//! ```
//! use cointrail_testkit::MemGraph;
//! let mut graph = MemGraph::default();
//! let mined = graph.coinbase(&[(Some("alice"), 50)]);
//! let paid = graph.tx(&[(mined, 0)], &[(Some("bob"), 20), (Some("alice-change"), 29)]);
//! assert_eq!(graph.fee(paid), 1);
//! ```

#![allow(clippy::cast_possible_truncation, reason = "test graphs are small; 64-bit targets only")]

pub mod anvil;
pub mod rpc;

use std::collections::HashMap;
use std::ops::Range;

use cointrail_types::{AddressId, AddressKind, ChainGraph, InputId, OutputId, Sats, TxNum};

#[derive(Debug, Clone)]
struct Output {
    value: u64,
    address: Option<AddressId>,
    spender: Option<u64>,
}

/// An in-memory transaction graph.
#[derive(Debug, Clone, Default)]
pub struct MemGraph {
    txs: Vec<(Range<u64>, Range<u64>)>,
    inputs: Vec<u64>,
    outputs: Vec<Output>,
    addresses: Vec<(AddressKind, u64, String)>,
    names: HashMap<String, AddressId>,
}

impl MemGraph {
    /// Adds a coinbase transaction paying `outputs` (address name, value in satoshis).
    pub fn coinbase(&mut self, outputs: &[(Option<&str>, u64)]) -> TxNum {
        self.tx(&[], outputs)
    }

    /// Adds a transaction spending `(tx, vout)` outpoints and paying `outputs`.
    ///
    /// # Panics
    ///
    /// Panics if an outpoint does not exist or is already spent (a test bug).
    pub fn tx(&mut self, spends: &[(TxNum, u32)], outputs: &[(Option<&str>, u64)]) -> TxNum {
        let number = u32::try_from(self.txs.len()).expect("small graphs");
        let input_start = self.inputs.len() as u64;
        for &(tx, vout) in spends {
            let output = self.outpoint(tx, vout);
            let slot = &mut self.outputs[output.get() as usize];
            assert!(slot.spender.is_none(), "outpoint {tx}:{vout} spent twice");
            slot.spender = Some(self.inputs.len() as u64);
            self.inputs.push(output.get());
        }
        let output_start = self.outputs.len() as u64;
        for &(name, value) in outputs {
            let id = self.outputs.len() as u64;
            let address = name.map(|name| self.intern(name, id));
            self.outputs.push(Output { value, address, spender: None });
        }
        self.txs
            .push((input_start..self.inputs.len() as u64, output_start..self.outputs.len() as u64));
        TxNum::new(number)
    }

    fn intern(&mut self, name: &str, first_output: u64) -> AddressId {
        if let Some(id) = self.names.get(name) {
            return *id;
        }
        let kind = match name.split_once(':').map(|(prefix, _)| prefix) {
            Some("pkh") => AddressKind::P2pkh,
            Some("sh") => AddressKind::P2sh,
            Some("wsh") => AddressKind::P2wsh,
            Some("tr") => AddressKind::P2tr,
            _ => AddressKind::P2wpkh,
        };
        let id = AddressId::new(u32::try_from(self.addresses.len()).expect("small graphs"));
        self.addresses.push((kind, first_output, name.to_owned()));
        self.names.insert(name.to_owned(), id);
        id
    }

    /// Returns the id of a named address.
    ///
    /// # Panics
    ///
    /// Panics if no output paid that name.
    pub fn address(&self, name: &str) -> AddressId {
        *self.names.get(name).unwrap_or_else(|| panic!("no address named {name}"))
    }

    /// Returns the name of an address.
    pub fn name(&self, address: AddressId) -> &str {
        &self.addresses[address.get() as usize].2
    }

    /// Returns the output id of `tx:vout`.
    ///
    /// # Panics
    ///
    /// Panics if there is no such output.
    pub fn outpoint(&self, tx: TxNum, vout: u32) -> OutputId {
        let outputs = &self.txs[tx.get() as usize].1;
        let id = outputs.start + u64::from(vout);
        assert!(id < outputs.end, "no output {tx}:{vout}");
        OutputId::new(id)
    }

    /// Returns inputs minus outputs of a transaction (0 for a coinbase).
    pub fn fee(&self, tx: TxNum) -> u64 {
        let (inputs, outputs) = &self.txs[tx.get() as usize];
        let paid_in: u64 = inputs
            .clone()
            .map(|input| self.outputs[self.inputs[input as usize] as usize].value)
            .sum();
        let paid_out: u64 = outputs.clone().map(|output| self.outputs[output as usize].value).sum();
        paid_in.saturating_sub(paid_out)
    }
}

impl ChainGraph for MemGraph {
    fn tx_count(&self) -> u64 {
        self.txs.len() as u64
    }

    fn address_count(&self) -> u64 {
        self.addresses.len() as u64
    }

    fn tx_inputs(&self, tx: TxNum) -> Range<u64> {
        self.txs[tx.get() as usize].0.clone()
    }

    fn tx_outputs(&self, tx: TxNum) -> Range<u64> {
        self.txs[tx.get() as usize].1.clone()
    }

    fn spent_output(&self, input: InputId) -> OutputId {
        OutputId::new(self.inputs[input.get() as usize])
    }

    fn output_value(&self, output: OutputId) -> Sats {
        Sats::from_sat(self.outputs[output.get() as usize].value)
    }

    fn output_address(&self, output: OutputId) -> Option<AddressId> {
        self.outputs[output.get() as usize].address
    }

    fn output_spender(&self, output: OutputId) -> Option<InputId> {
        self.outputs[output.get() as usize].spender.map(InputId::new)
    }

    fn address_kind(&self, address: AddressId) -> AddressKind {
        self.addresses[address.get() as usize].0
    }

    fn address_first_output(&self, address: AddressId) -> OutputId {
        OutputId::new(self.addresses[address.get() as usize].1)
    }

    fn output_tx(&self, output: OutputId) -> TxNum {
        let index = self.txs.partition_point(|(_, outputs)| outputs.end <= output.get());
        TxNum::new(u32::try_from(index).expect("small graphs"))
    }

    fn input_tx(&self, input: InputId) -> TxNum {
        let index = self.txs.partition_point(|(inputs, _)| inputs.end <= input.get());
        TxNum::new(u32::try_from(index).expect("small graphs"))
    }
}

/// Every file of a directory with its bytes, except the names in `skip`: what "identical store"
/// means in tests.
///
/// # Panics
///
/// Panics if the directory cannot be read (a test bug).
pub fn dir_snapshot(
    dir: &std::path::Path,
    skip: &[&str],
) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
        .map(|entry| entry.unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display())))
        .map(|entry| (entry.file_name().to_string_lossy().into_owned(), entry.path()))
        .filter(|(name, _)| !skip.contains(&name.as_str()))
        .map(|(name, path)| {
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
            (name, bytes)
        })
        .collect()
}
