//! CSV: one row per flow edge.

use std::fmt;

use crate::document::TraceDocument;
use crate::graph::Graph;
use crate::text::put;

/// The header of [`to_csv`].
pub const CSV_HEADER: &str = "from,to,amount,output,from_kind,to_kind";

/// Renders the flow edges as CSV (RFC 4180: CRLF line ends, fields with a comma, quote or line
/// break quoted, quotes doubled).
///
/// The header is [`CSV_HEADER`]; then one row per edge in document order: node ids, the amount in
/// integer base units (satoshis), the output `txid:vout` (empty for fees and mined coins), and the
/// kind of each node (`tx`, `stop`, `unspent`, `fees`, `mined`, `cut`).
pub fn to_csv(doc: &TraceDocument) -> String {
    let graph = Graph::new(doc);
    let mut out = String::with_capacity(64 + doc.edges.len() * 160);
    out.push_str(CSV_HEADER);
    out.push_str("\r\n");
    for edge in &graph.edges {
        let from = &graph.nodes[edge.from];
        let to = &graph.nodes[edge.to];
        put!(
            &mut out,
            "{},{},{},{},{},{}\r\n",
            Field(from.id),
            Field(to.id),
            edge.amount,
            Field(edge.output.unwrap_or("")),
            Field(from.kind_name),
            Field(to.kind_name),
        );
    }
    out
}

/// One CSV field, quoted when needed.
struct Field<'a>(&'a str);

impl fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.contains([',', '"', '\r', '\n']) {
            write!(f, "\"{}\"", self.0.replace('"', "\"\""))
        } else {
            f.write_str(self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        assert_eq!(Field("plain").to_string(), "plain");
        assert_eq!(Field("a,b").to_string(), "\"a,b\"");
        assert_eq!(Field("say \"hi\"").to_string(), "\"say \"\"hi\"\"\"");
        assert_eq!(Field("two\nlines").to_string(), "\"two\nlines\"");
        assert_eq!(Field("").to_string(), "");
    }
}
