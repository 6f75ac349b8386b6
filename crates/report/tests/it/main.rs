//! Renderings of hand-built trace documents: structure, escaping, determinism, aggregation.

#![allow(clippy::unwrap_used, reason = "tests")]

mod check;
mod fixture;

use std::collections::BTreeSet;

use cointrail_report::{
    CSV_HEADER, TraceDocument, render_flow_svg, to_csv, to_dot, to_graphml, to_html,
};

use check::{csv_rows, dot_structure, escape, xml_elements};
use fixture::{SCRIPT_LABEL, backward, chain_of, layered, peel_chain, txid};

#[test]
fn csv_has_one_quoted_row_per_edge() {
    let doc = peel_chain();
    let csv = to_csv(&doc);
    assert!(csv.starts_with(&format!("{CSV_HEADER}\r\n")));
    assert!(csv.ends_with("\r\n"));
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), doc.edges.len() + 1);
    assert_eq!(rows[0], ["from", "to", "amount", "output", "from_kind", "to_kind"]);
    for (row, edge) in rows[1..].iter().zip(&doc.edges) {
        let kind = |id: &str| doc.nodes.iter().find(|node| node.id == id).unwrap().kind.clone();
        assert_eq!(
            row,
            &[
                edge.from.clone(),
                edge.to.clone(),
                edge.amount.to_string(),
                edge.output.clone().unwrap_or_default(),
                kind(&edge.from),
                kind(&edge.to),
            ]
        );
    }
    // A label with a quote and a comma is quoted, its quotes doubled.
    let kraken = format!(
        "tx:{},\"stop:Kraken \"\"Pro\"\", EU\",300000000,{}:0,tx,stop\r\n",
        txid(2),
        txid(2)
    );
    assert!(csv.contains(&kraken), "{csv}");
    // Fees carry no output.
    assert!(csv.contains(&format!("tx:{},fees,10000,,tx,fees\r\n", txid(1))));
}

#[test]
fn dot_is_structurally_sound_and_deterministic() {
    let doc = peel_chain();
    let dot = to_dot(&doc);
    let structure = dot_structure(&dot);
    assert_eq!(structure.nodes.len(), doc.nodes.len());
    assert_eq!(structure.edges.len(), doc.edges.len());
    for (from, to) in &structure.edges {
        assert!(structure.nodes.contains(from), "{from} not declared");
        assert!(structure.nodes.contains(to), "{to} not declared");
    }
    assert!(dot.contains("rankdir=LR"));
    assert!(dot.contains("shape=doubleoctagon"));
    assert!(dot.contains("shape=ellipse"));
    assert!(dot.contains("shape=plaintext"));
    assert!(dot.contains("label=\"2.00000000 BTC\""));
    assert!(dot.contains("Kraken \\\"Pro\\\", EU\\n(exchange)"));
    let seed = dot.lines().find(|line| line.contains(&format!("\"tx:{}\" [", txid(0)))).unwrap();
    assert!(seed.contains("fillcolor=\"#fef3c7\"") && seed.contains("height 100"), "{seed}");
    // Same document, same bytes, also after a JSON round trip.
    let again: TraceDocument = serde_json::from_str(&serde_json::to_string(&doc).unwrap()).unwrap();
    assert_eq!(to_dot(&again), dot);
    // Undeclared endpoints are declared, and backslashes cannot break out of strings.
    let mut odd = doc.clone();
    odd.nodes.retain(|node| node.kind != "fees");
    odd.nodes[0].label = "ends with \\".to_owned();
    let structure = dot_structure(&to_dot(&odd));
    assert!(structure.nodes.contains("fees"));
    assert_eq!(structure.nodes.len(), doc.nodes.len());
}

#[test]
fn graphml_is_well_formed_with_declared_endpoints() {
    let mut doc = peel_chain();
    doc.nodes[4].label = "A & B <\"quoted\"> 'x'".to_owned();
    let graphml = to_graphml(&doc);
    assert_eq!(
        graphml,
        to_graphml(&serde_json::from_str(&serde_json::to_string(&doc).unwrap()).unwrap())
    );
    let elements = xml_elements(&graphml);
    assert_eq!(elements[0].0, "graphml");
    let keys: BTreeSet<String> = elements
        .iter()
        .filter(|(name, _)| name == "key")
        .map(|(_, attrs)| attrs["id"].clone())
        .collect();
    for key in ["kind", "label", "height", "amount", "output"] {
        assert!(keys.contains(key), "{key}");
    }
    for (name, attrs) in &elements {
        if name == "data" {
            assert!(keys.contains(&attrs["key"]), "undeclared key {}", attrs["key"]);
        }
    }
    let nodes: BTreeSet<String> = elements
        .iter()
        .filter(|(name, _)| name == "node")
        .map(|(_, attrs)| attrs["id"].clone())
        .collect();
    assert_eq!(nodes.len(), doc.nodes.len());
    let edges: Vec<_> = elements.iter().filter(|(name, _)| name == "edge").collect();
    assert_eq!(edges.len(), doc.edges.len());
    for (_, attrs) in edges {
        assert!(nodes.contains(&attrs["source"]) && nodes.contains(&attrs["target"]));
    }
    assert!(
        graphml.contains(
            "<data key=\"label\">A &amp; B &lt;&quot;quoted&quot;&gt; &#39;x&#39;</data>"
        )
    );
    assert!(graphml.contains("<data key=\"amount\">300000000</data>"));
}

#[test]
fn html_report_shows_every_figure_and_escapes_labels() {
    let doc = peel_chain();
    let html = to_html(&doc, "Theft of 10 BTC <from> \"Acme\"");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<title>Theft of 10 BTC &lt;from&gt; &quot;Acme&quot;</title>"));
    for reached in &doc.reached {
        assert!(html.contains(&escape(&reached.label)), "{}", reached.label);
        assert!(html.contains(&doc.unit.format(reached.amount)));
        for tx in &reached.txs {
            assert!(html.contains(tx));
        }
    }
    for figure in [doc.seed_amount, doc.unspent, doc.fees] {
        assert!(html.contains(&doc.unit.format(figure)), "{figure}");
    }
    assert!(html.contains("10.00000000 BTC"));
    assert!(html.contains("20.00 %") && html.contains("30.00 %"));
    assert!(html.contains(&escape(&doc.reproduce.command)));
    assert!(html.contains(doc.reproduce.tip_hash.as_deref().unwrap()));
    assert!(html.contains("Conserved exactly"));
    assert!(html.contains("first in, first out (Clayton's rule)"));
    assert!(html.contains("whirlpool"));
    assert!(!html.contains("Truncated trace"));
    // Every transaction of the flow is listed with its height.
    for node in doc.nodes.iter().filter(|node| node.kind == "tx") {
        assert!(html.contains(&format!("<code class=\"id\">{}</code>", node.label)));
    }
    // Labels from outside are escaped; nothing executable survives.
    assert!(!html.to_ascii_lowercase().contains("<script"), "unescaped script");
    assert!(html.contains(&escape(SCRIPT_LABEL)));
    // No external reference: http(s) only inside text the document provided.
    let mut stripped = html.clone();
    for source in &doc.sources {
        stripped = stripped.replace(&escape(&source.source), "");
        stripped = stripped.replace(&escape(&source.address), "");
    }
    assert!(html.contains("https://"), "the fixture has a URL as a label source");
    assert!(!stripped.contains("http://") && !stripped.contains("https://"));
    for forbidden in [" src=", "<link", "<img", "<iframe", "url(", "@import"] {
        assert!(!stripped.contains(forbidden), "{forbidden}");
    }
    // One SVG element per node.
    assert_eq!(html.matches("class=\"ctf-node").count(), doc.nodes.len());
    for node in &doc.nodes {
        assert!(html.contains(&format!("data-id=\"{}\"", escape(&node.id))), "{}", node.id);
    }
    assert_eq!(html, to_html(&peel_chain(), "Theft of 10 BTC <from> \"Acme\""));
}

#[test]
fn html_says_when_figures_do_not_add_up_or_are_truncated() {
    let mut doc = peel_chain();
    doc.truncated = Some("transactions".to_owned());
    doc.unspent -= 1;
    let html = to_html(&doc, "t");
    assert!(html.contains("Truncated trace"));
    assert!(html.contains("do not add up"));
    assert!(html.contains("0.00000001 BTC less"));
    doc.policy = "poison".to_owned();
    doc.conserved = false;
    let html = to_html(&doc, "t");
    assert!(html.contains("Not conserved by design"));
    assert!(html.contains("any output of a transaction with a tainted input is fully tainted"));
}

#[test]
fn backward_traces_put_origins_first() {
    let doc = backward();
    let html = to_html(&doc, "Where did the deposit come from");
    assert!(html.contains("Where the seed amount came from"));
    assert!(html.contains("Mined (coinbase)"));
    assert_eq!(html.matches("class=\"ctf-node").count(), doc.nodes.len());
    let svg = render_flow_svg(&doc, 150);
    // The stop (an origin) is left of the seed transaction.
    let x_of = |id: &str| -> f64 {
        let at = svg.find(&format!("data-id=\"{id}\"")).unwrap();
        let rest = &svg[at..];
        let x = rest.find(" x=\"").unwrap() + 4;
        rest[x..x + rest[x..].find('"').unwrap()].parse().unwrap()
    };
    assert!(x_of("stop:Old Exchange") < x_of(&format!("tx:{}", txid(50))));
    assert!(x_of("mined") < x_of(&format!("tx:{}", txid(50))));
}

#[test]
fn svg_is_standalone_and_deterministic() {
    let doc = peel_chain();
    let svg = render_flow_svg(&doc, 150);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    xml_elements(&svg);
    assert_eq!(svg.matches("class=\"ctf-node").count(), doc.nodes.len());
    assert_eq!(svg.matches("<path class=\"ctf-edge\"").count(), doc.edges.len());
    assert!(!svg.contains("more txs"));
    assert_eq!(svg, render_flow_svg(&peel_chain(), 150));
    // Amounts are written on the edges where there is room.
    assert!(svg.contains(">2.00000000 BTC</text>"));
}

#[test]
fn large_graphs_are_folded_and_bounded() {
    for doc in [chain_of(500), layered(10, 50)] {
        let tx_count = doc.nodes.iter().filter(|node| node.kind == "tx").count();
        assert!(tx_count >= 500);
        let svg = render_flow_svg(&doc, 150);
        let shown = svg.matches("class=\"ctf-node").count();
        assert!((40..=150).contains(&shown), "{shown} nodes shown");
        assert!(svg.contains("more txs"), "no folding");
        assert!(svg.contains("folds the other"));
        assert!(svg.len() < 400_000, "{} bytes", svg.len());
        let width: f64 = attribute(&svg, "width").parse().unwrap();
        let height: f64 = attribute(&svg, "height").parse().unwrap();
        assert!(width < 9000.0 && height < 3500.0, "{width} x {height}");
        assert_eq!(svg, render_flow_svg(&doc, 150));
        xml_elements(&svg);
        let html = to_html(&doc, "large");
        assert!(html.contains("folds the other"));
        assert!(html.matches("class=\"ctf-node").count() <= 150);
        // The evidence still lists every transaction.
        for node in doc.nodes.iter().filter(|node| node.kind == "tx") {
            assert!(html.contains(&node.label));
        }
    }
    // Folding starts just above the limit.
    let doc = peel_chain();
    assert!(!render_flow_svg(&doc, doc.nodes.len()).contains("ctf-node ctf-fold"));
    let svg = render_flow_svg(&doc, doc.nodes.len() - 1);
    assert!(svg.contains("ctf-node ctf-fold"));
    assert!(svg.matches("class=\"ctf-node").count() < doc.nodes.len());
    // Small limits and empty documents do not break anything.
    let doc = chain_of(40);
    for max in [0, 1, 2, 5] {
        let svg = render_flow_svg(&doc, max);
        assert!(svg.matches("class=\"ctf-node").count() <= 6.max(max));
        xml_elements(&svg);
    }
    let mut empty = peel_chain();
    empty.nodes.clear();
    empty.edges.clear();
    assert!(render_flow_svg(&empty, 150).contains("No flow"));
    assert!(to_html(&empty, "empty").contains("No flow"));
    assert_eq!(to_csv(&empty), format!("{CSV_HEADER}\r\n"));
    dot_structure(&to_dot(&empty));
    xml_elements(&to_graphml(&empty));
}

fn attribute(svg: &str, name: &str) -> String {
    let head = &svg[..svg.find('>').unwrap()];
    let at = head.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    head[at..at + head[at..].find('"').unwrap()].to_owned()
}
