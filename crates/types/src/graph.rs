//! Read-only access to a UTXO transaction graph, as the analysis crates see it.
//!
//! The store implements [`ChainGraph`] over its columns; tests implement it over a handful of
//! transactions in memory. Analysis code (clustering, tracing) depends only on this trait.

use std::ops::Range;

use crate::{AddressId, AddressKind, InputId, OutputId, Sats, TxNum};

/// The transaction graph of a UTXO chain, by sequential ids.
pub trait ChainGraph {
    /// Number of transactions.
    fn tx_count(&self) -> u64;
    /// Number of addresses.
    fn address_count(&self) -> u64;
    /// The spending inputs of a transaction (empty for a coinbase).
    fn tx_inputs(&self, tx: TxNum) -> Range<u64>;
    /// The outputs of a transaction.
    fn tx_outputs(&self, tx: TxNum) -> Range<u64>;
    /// The output an input spends.
    fn spent_output(&self, input: InputId) -> OutputId;
    /// The value of an output.
    fn output_value(&self, output: OutputId) -> Sats;
    /// The address an output pays, `None` for `OP_RETURN`.
    fn output_address(&self, output: OutputId) -> Option<AddressId>;
    /// The input that spends an output, if any.
    fn output_spender(&self, output: OutputId) -> Option<InputId>;
    /// The kind of an address.
    fn address_kind(&self, address: AddressId) -> AddressKind;
    /// The first output ever paid to an address.
    fn address_first_output(&self, address: AddressId) -> OutputId;
    /// The transaction that created an output.
    fn output_tx(&self, output: OutputId) -> TxNum;
    /// The transaction an input belongs to.
    fn input_tx(&self, input: InputId) -> TxNum;
}
