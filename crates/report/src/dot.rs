//! Graphviz DOT.

use crate::document::TraceDocument;
use crate::graph::{Graph, Kind};
use crate::text::{DotStr, LogScale, amount_text, palette, put, short_id};

/// Renders the flow graph as a Graphviz digraph (`dot -Tsvg trace.dot > trace.svg`).
///
/// Left to right (`rankdir=LR`): transactions are boxes (short txid and height; seed
/// transactions filled amber with a bold border), stop labels double octagons (label and
/// category, coloured by category), unspent addresses ellipses, fees, mined coins and cut value
/// plain text. Edges carry their amount in BTC with 8 decimals and a pen width growing with the
/// logarithm of the amount. Nodes and edges come in document order, so the same document gives
/// the same text.
pub fn to_dot(doc: &TraceDocument) -> String {
    let graph = Graph::new(doc);
    let mut out = String::with_capacity(256 + graph.nodes.len() * 160 + graph.edges.len() * 120);
    let title = format!(
        "cointrail {} trace ({}), {} from {} seed output{}",
        doc.direction,
        doc.policy,
        amount_text(&doc.unit, doc.seed_amount),
        doc.seeds.len(),
        if doc.seeds.len() == 1 { "" } else { "s" }
    );
    out.push_str("digraph cointrail {\n");
    put!(
        &mut out,
        "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=12, labelloc=t, label={}];\n",
        DotStr(&title)
    );
    out.push_str("  node [fontname=\"Helvetica\", fontsize=10];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9, color=\"#64748b\"];\n");
    for node in &graph.nodes {
        put!(&mut out, "  {} [", DotStr(node.id));
        match node.kind {
            Kind::Tx => {
                let mut label = short_id(node.label, 8, 6);
                if let Some(height) = node.height {
                    put!(&mut label, "\nheight {height}");
                }
                put!(
                    &mut out,
                    "shape=box, label={}, tooltip={}",
                    DotStr(&label),
                    DotStr(node.label)
                );
                if node.seed {
                    out.push_str(
                        ", style=\"filled,bold\", fillcolor=\"#fef3c7\", color=\"#b45309\", \
                         penwidth=2",
                    );
                }
            }
            Kind::Stop => {
                let category = graph.category(node.label).unwrap_or("");
                let colours = palette(category);
                let label = if category.is_empty() {
                    node.label.to_owned()
                } else {
                    format!("{}\n({category})", node.label)
                };
                put!(
                    &mut out,
                    "shape=doubleoctagon, style=filled, fillcolor=\"{}\", color=\"{}\", label={}",
                    colours.fill,
                    colours.stroke,
                    DotStr(&label)
                );
            }
            Kind::Unspent => {
                let label = format!("unspent\n{}", short_id(node.label, 12, 8));
                put!(
                    &mut out,
                    "shape=ellipse, style=filled, fillcolor=\"#f0fdf4\", color=\"#15803d\", \
                     label={}, tooltip={}",
                    DotStr(&label),
                    DotStr(node.label)
                );
            }
            Kind::Fees | Kind::Mined | Kind::Cut | Kind::Other => {
                let label = match node.kind {
                    Kind::Fees => "fees",
                    Kind::Mined => "mined (coinbase)",
                    Kind::Cut => "cut (not followed)",
                    _ => node.label,
                };
                put!(&mut out, "shape=plaintext, label={}", DotStr(label));
            }
        }
        out.push_str("];\n");
    }
    let widths = LogScale::new(graph.edges.iter().map(|edge| edge.amount), 1.0, 6.0);
    for edge in &graph.edges {
        put!(
            &mut out,
            "  {} -> {} [label=\"{}\", penwidth={:.2}",
            DotStr(graph.nodes[edge.from].id),
            DotStr(graph.nodes[edge.to].id),
            amount_text(&doc.unit, edge.amount),
            widths.of(edge.amount),
        );
        if let Some(output) = edge.output {
            put!(&mut out, ", tooltip={}", DotStr(output));
        }
        out.push_str("];\n");
    }
    out.push_str("}\n");
    out
}
