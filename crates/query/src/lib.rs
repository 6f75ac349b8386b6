//! Read queries of cointrail: the documents that `cointrail show`, `trace` and `risk` print and
//! that `cointrail serve` answers, built in one place so that both say the same thing.
//!
//! Open a [`Snapshot`] (the store's committed chain, its labels and its clusters, read together),
//! then ask it: [`tx`], [`address`], [`block`], [`status`], [`cluster`], [`trace`], [`risk`],
//! [`search_labels`]. Every function returns a serializable document; printing is the caller's.

mod evm;
mod evm_cluster;
mod evm_risk;
mod evm_trace;
mod labels;
mod risk;
mod show;
mod snapshot;
mod trace;

pub use evm::{
    EVM_ADDRESS_FLOWS, EvmAddressJson, EvmAssetJson, EvmBalanceJson, EvmChainStatusJson,
    EvmFlowJson, EvmTxJson, evm_address, evm_status, evm_tx, is_evm_address, is_evm_tx_hash,
    select_evm_chain,
};
pub use evm_cluster::{
    EVM_CLUSTER_MEMBERS, EvmClusterJson, EvmClusterSummaryJson, EvmClusteringJson,
    EvmDepositRefJson, EvmExplanationJson, EvmForwardJson, EvmRoleJson, EvmStepJson,
    cluster_evm_chain, evm_cluster, evm_cluster_of, evm_explain,
};
pub use evm_risk::{
    EvmExposureJson, EvmPathJson, EvmRiskJson, EvmRiskTarget, ScreenedFlowJson, asset_units,
    evm_risk, parse_evm_risk_target,
};
pub use evm_trace::evm_trace;
pub use labels::{LabelSearch, search_labels};
pub use risk::{
    ExposureJson, PathJson, RiskJson, RiskTarget, RiskTargetKind, parse_risk_target, risk,
};
pub use show::{
    AddressJson, AttributedLabel, BlockJson, ClusterJson, ClusterRef, Conflict, CountsJson,
    FileJson, HeldJson, InputJson, OutputJson, StatusJson, TxJson, address, block, cluster, status,
    store_status, tx,
};
pub use snapshot::{Snapshot, StopSet, Stops};
pub use trace::{
    TraceParams, document, parse_direction, resolve_seeds, shortest_path, trace, trace_options,
};

use cointrail_store::StoreError;

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The request is malformed: a bad txid, address, seed or option (the message says which).
    #[error("{0}")]
    Invalid(String),
    /// The request is well-formed but names something the store does not have.
    #[error("{0}")]
    NotFound(String),
    /// The store cannot be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl QueryError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }
}

/// Result with [`QueryError`].
pub type Result<T, E = QueryError> = std::result::Result<T, E>;
