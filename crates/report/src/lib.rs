//! Trace documents of cointrail and their renderings.
//!
//! A [`TraceDocument`] is the self-describing result of a trace (the JSON contract of
//! `cointrail trace --format json`): every id already turned into txids and addresses, every
//! amount in integer base units. This crate renders it as CSV, Graphviz DOT, GraphML and one
//! self-contained HTML report. It knows no store and no chain: documents in, text out.

mod document;

pub use document::{
    Coinjoin, Consolidation, Edge, Node, Patterns, Peel, PeelChain, Reached, Reproduce, Source,
    TraceDocument,
};
