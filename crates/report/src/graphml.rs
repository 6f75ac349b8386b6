//! GraphML.

use crate::document::TraceDocument;
use crate::graph::{Graph, Kind};
use crate::text::{Esc, put};

/// Renders the flow graph as GraphML (for Gephi, yEd, Cytoscape, NetworkX).
///
/// Node keys: `kind`, `label`, `height` (transactions), `seed` (seed transactions) and
/// `category` (stop labels); edge keys: `amount` (integer base units) and `output` (`txid:vout`,
/// absent for fees and mined coins). Node ids are the document's (`tx:<txid>`, `stop:<label>`,
/// ...), edge ids `e0`, `e1`, ... in document order; every edge endpoint is declared as a node.
/// All text is XML-escaped, and the same document gives the same text.
pub fn to_graphml(doc: &TraceDocument) -> String {
    let graph = Graph::new(doc);
    let mut out = String::with_capacity(1024 + graph.nodes.len() * 200 + graph.edges.len() * 160);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(
        "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns \
         http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">\n",
    );
    for (id, domain, kind) in [
        ("kind", "node", "string"),
        ("label", "node", "string"),
        ("height", "node", "long"),
        ("seed", "node", "boolean"),
        ("category", "node", "string"),
        ("amount", "edge", "long"),
        ("output", "edge", "string"),
    ] {
        put!(
            &mut out,
            "  <key id=\"{id}\" for=\"{domain}\" attr.name=\"{id}\" attr.type=\"{kind}\"/>\n"
        );
    }
    put!(
        &mut out,
        "  <graph id=\"cointrail\" edgedefault=\"directed\">\n    <desc>cointrail {} trace \
         ({}) of {}</desc>\n",
        Esc(&doc.direction),
        Esc(&doc.policy),
        Esc(&doc.seeds.join(" "))
    );
    for node in &graph.nodes {
        put!(&mut out, "    <node id=\"{}\">\n", Esc(node.id));
        put!(&mut out, "      <data key=\"kind\">{}</data>\n", Esc(node.kind_name));
        put!(&mut out, "      <data key=\"label\">{}</data>\n", Esc(node.label));
        if let Some(height) = node.height {
            put!(&mut out, "      <data key=\"height\">{height}</data>\n");
        }
        if node.seed {
            out.push_str("      <data key=\"seed\">true</data>\n");
        }
        if node.kind == Kind::Stop
            && let Some(category) = graph.category(node.label)
        {
            put!(&mut out, "      <data key=\"category\">{}</data>\n", Esc(category));
        }
        out.push_str("    </node>\n");
    }
    for (index, edge) in graph.edges.iter().enumerate() {
        put!(
            &mut out,
            "    <edge id=\"e{index}\" source=\"{}\" target=\"{}\">\n      <data \
             key=\"amount\">{}</data>\n",
            Esc(graph.nodes[edge.from].id),
            Esc(graph.nodes[edge.to].id),
            edge.amount
        );
        if let Some(output) = edge.output {
            put!(&mut out, "      <data key=\"output\">{}</data>\n", Esc(output));
        }
        out.push_str("    </edge>\n");
    }
    out.push_str("  </graph>\n</graphml>\n");
    out
}
