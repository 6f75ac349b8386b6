//! Trace documents of cointrail and their renderings.
//!
//! A [`TraceDocument`] is the self-describing result of a trace (the JSON contract of
//! `cointrail trace --format json`): every id already turned into txids and addresses, every
//! amount in integer base units. This crate renders it as CSV ([`to_csv`]), Graphviz DOT
//! ([`to_dot`]), GraphML ([`to_graphml`]), a standalone SVG picture of the flow
//! ([`render_flow_svg`]) and one self-contained HTML investigation report ([`to_html`]). It knows
//! no store and no chain: documents in, text out. Every renderer is deterministic: the same
//! document gives the same bytes.

mod csv;
mod document;
mod dot;
mod graph;
mod graphml;
mod html;
mod svg;
mod text;

pub use csv::{CSV_HEADER, to_csv};
pub use document::{
    Coinjoin, Consolidation, Edge, Node, Patterns, Peel, PeelChain, Reached, Reproduce, Source,
    TraceDocument, Unit,
};
pub use dot::to_dot;
pub use graphml::to_graphml;
pub use html::to_html;
pub use svg::render_flow_svg;
