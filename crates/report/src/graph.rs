//! The flow graph of a document as indices: nodes deduplicated, every edge endpoint declared, and
//! a layering from left (where value comes from) to right (where it goes).

use std::collections::{BTreeMap, VecDeque};

use crate::document::TraceDocument;

/// Kind of a flow node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// A transaction.
    Tx,
    /// A stop label.
    Stop,
    /// Unspent outputs of an address.
    Unspent,
    /// Fees.
    Fees,
    /// Newly mined coins.
    Mined,
    /// Value not followed.
    Cut,
    /// A kind this version does not know.
    Other,
}

impl Kind {
    /// Parses a document's `kind`.
    pub(crate) fn parse(kind: &str) -> Self {
        match kind {
            "tx" => Self::Tx,
            "stop" => Self::Stop,
            "unspent" => Self::Unspent,
            "fees" => Self::Fees,
            "mined" => Self::Mined,
            "cut" => Self::Cut,
            _ => Self::Other,
        }
    }

    /// Infers kind, kind name and label from a node id alone (`tx:<txid>`, `stop:<label>`, ...),
    /// for edge endpoints that the document does not declare.
    fn infer(id: &str) -> (Self, &str, &str) {
        for (prefix, kind, name) in [
            ("tx:", Self::Tx, "tx"),
            ("stop:", Self::Stop, "stop"),
            ("unspent:", Self::Unspent, "unspent"),
        ] {
            if let Some(label) = id.strip_prefix(prefix) {
                return (kind, name, label);
            }
        }
        match id {
            "fees" => (Self::Fees, "fees", id),
            "mined" => (Self::Mined, "mined", id),
            "cut" => (Self::Cut, "cut", id),
            _ => (Self::Other, "other", id),
        }
    }
}

/// A node of the flow graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GNode<'a> {
    /// The document's id.
    pub(crate) id: &'a str,
    /// Parsed kind.
    pub(crate) kind: Kind,
    /// The kind as the document spells it.
    pub(crate) kind_name: &'a str,
    /// Text to show.
    pub(crate) label: &'a str,
    /// Block height of a transaction.
    pub(crate) height: Option<u32>,
    /// A seed transaction.
    pub(crate) seed: bool,
}

/// An edge between node indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GEdge<'a> {
    /// Index of the node the value leaves.
    pub(crate) from: usize,
    /// Index of the node it reaches.
    pub(crate) to: usize,
    /// Base units.
    pub(crate) amount: u128,
    /// Output carrying it.
    pub(crate) output: Option<&'a str>,
}

/// The flow graph of a document.
#[derive(Debug, Clone)]
pub(crate) struct Graph<'a> {
    /// Nodes: the document's in order (first of duplicate ids kept), then undeclared edge
    /// endpoints in order of first appearance.
    pub(crate) nodes: Vec<GNode<'a>>,
    /// Edges in document order.
    pub(crate) edges: Vec<GEdge<'a>>,
    /// Category of each stop label (as [`TraceDocument::category_of`] finds it).
    categories: BTreeMap<&'a str, &'a str>,
}

impl<'a> Graph<'a> {
    /// Indexes a document's flow graph.
    pub(crate) fn new(doc: &'a TraceDocument) -> Self {
        let mut nodes = Vec::with_capacity(doc.nodes.len());
        let mut index: BTreeMap<&'a str, usize> = BTreeMap::new();
        for node in &doc.nodes {
            if index.contains_key(node.id.as_str()) {
                continue;
            }
            index.insert(&node.id, nodes.len());
            nodes.push(GNode {
                id: &node.id,
                kind: Kind::parse(&node.kind),
                kind_name: &node.kind,
                label: &node.label,
                height: node.height,
                seed: node.seed,
            });
        }
        let mut edges = Vec::with_capacity(doc.edges.len());
        for edge in &doc.edges {
            let mut endpoint = |id: &'a str| {
                *index.entry(id).or_insert_with(|| {
                    let (kind, kind_name, label) = Kind::infer(id);
                    nodes.push(GNode { id, kind, kind_name, label, height: None, seed: false });
                    nodes.len() - 1
                })
            };
            let from = endpoint(&edge.from);
            let to = endpoint(&edge.to);
            edges.push(GEdge { from, to, amount: edge.amount, output: edge.output.as_deref() });
        }
        let mut categories = BTreeMap::new();
        for (label, category) in doc
            .reached
            .iter()
            .map(|reached| (&reached.label, &reached.category))
            .chain(doc.sources.iter().map(|source| (&source.label, &source.category)))
        {
            categories.entry(label.as_str()).or_insert(category.as_str());
        }
        Self { nodes, edges, categories }
    }

    /// The category of a stop label, if the document gives one.
    pub(crate) fn category(&self, label: &str) -> Option<&'a str> {
        self.categories.get(label).copied()
    }

    /// Sum of the amounts into and out of each node (saturating).
    pub(crate) fn flows(&self) -> (Vec<u128>, Vec<u128>) {
        let mut inflow = vec![0u128; self.nodes.len()];
        let mut outflow = vec![0u128; self.nodes.len()];
        for edge in &self.edges {
            outflow[edge.from] = outflow[edge.from].saturating_add(edge.amount);
            inflow[edge.to] = inflow[edge.to].saturating_add(edge.amount);
        }
        (inflow, outflow)
    }

    /// Assigns each node a layer, left to right in the direction value flows.
    ///
    /// A transaction's layer is the longest path to it from a transaction without transaction
    /// predecessors (a seed forward; the earliest funding transactions backward). Other nodes
    /// (stops, unspent, fees, mined, cut) are terminals: those that only send value (the origins
    /// of a backward trace) take the first layer, all others the last. Cycles, which a chain
    /// cannot have but a hand-made document might, are broken in node order.
    pub(crate) fn layers(&self) -> Layers {
        let count = self.nodes.len();
        let is_tx = |node: usize| self.nodes[node].kind == Kind::Tx;
        let mut successors: Vec<Vec<usize>> = vec![Vec::new(); count];
        let mut predecessors: Vec<Vec<usize>> = vec![Vec::new(); count];
        let mut has_in = vec![false; count];
        let mut has_out = vec![false; count];
        for edge in &self.edges {
            has_out[edge.from] = true;
            has_in[edge.to] = true;
            if edge.from != edge.to && is_tx(edge.from) && is_tx(edge.to) {
                successors[edge.from].push(edge.to);
                predecessors[edge.to].push(edge.from);
            }
        }
        let mut pending: Vec<usize> = predecessors.iter().map(Vec::len).collect();
        let mut layer: Vec<Option<usize>> = vec![None; count];
        let mut queue: VecDeque<usize> =
            (0..count).filter(|&node| is_tx(node) && pending[node] == 0).collect();
        for &node in &queue {
            layer[node] = Some(0);
        }
        loop {
            while let Some(node) = queue.pop_front() {
                let next = layer[node].unwrap_or(0) + 1;
                for &successor in &successors[node] {
                    if pending[successor] == 0 {
                        // Released from a cycle already: placed.
                        continue;
                    }
                    layer[successor] = Some(layer[successor].map_or(next, |at| at.max(next)));
                    pending[successor] -= 1;
                    if pending[successor] == 0 {
                        queue.push_back(successor);
                    }
                }
            }
            // What remains sits on a cycle: release its first node and go on.
            let Some(stuck) = (0..count).find(|&node| is_tx(node) && pending[node] > 0) else {
                break;
            };
            pending[stuck] = 0;
            layer[stuck].get_or_insert(0);
            queue.push_back(stuck);
        }
        let sources: Vec<bool> =
            (0..count).map(|node| !is_tx(node) && has_out[node] && !has_in[node]).collect();
        let offset = usize::from(sources.iter().any(|&source| source));
        let tx_max = (0..count).filter(|&node| is_tx(node)).filter_map(|node| layer[node]).max();
        let last = tx_max.map_or(offset, |max| max + offset + 1);
        let of = (0..count)
            .map(|node| {
                if is_tx(node) {
                    layer[node].unwrap_or(0) + offset
                } else if sources[node] {
                    0
                } else {
                    last
                }
            })
            .collect();
        Layers { of, count: last + 1, first_terminal: offset == 1, last }
    }
}

/// The layering of a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layers {
    /// Layer of each node.
    pub(crate) of: Vec<usize>,
    /// Number of layers.
    pub(crate) count: usize,
    /// Layer 0 holds terminals (origins) rather than transactions.
    pub(crate) first_terminal: bool,
    /// The last layer, holding the terminals that receive value.
    pub(crate) last: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{Edge, Node, Patterns, Reproduce};

    fn doc(nodes: &[(&str, &str)], edges: &[(&str, &str)]) -> TraceDocument {
        TraceDocument {
            policy: "fifo".into(),
            direction: "forward".into(),
            chain: "bitcoin regtest".into(),
            unit: crate::Unit::default(),
            seeds: vec![],
            seed_amount: 0,
            reached: vec![],
            unspent: 0,
            unspent_outputs: 0,
            fees: 0,
            mined: 0,
            below_min_amount: 0,
            beyond_limits: 0,
            seed_overlap: 0,
            conserved: true,
            truncated: None,
            txs_visited: 0,
            nodes: nodes
                .iter()
                .map(|(id, kind)| Node {
                    id: (*id).into(),
                    kind: (*kind).into(),
                    label: (*id).into(),
                    height: None,
                    seed: false,
                })
                .collect(),
            edges: edges
                .iter()
                .map(|(from, to)| Edge {
                    from: (*from).into(),
                    to: (*to).into(),
                    amount: 1,
                    output: None,
                })
                .collect(),
            patterns: Patterns::default(),
            sources: vec![],
            reproduce: Reproduce {
                command: String::new(),
                tip_height: None,
                tip_hash: None,
                clustered_txs: 0,
                version: String::new(),
            },
        }
    }

    #[test]
    fn longest_path_layers_with_terminals_last() {
        let doc = doc(
            &[("tx:a", "tx"), ("tx:b", "tx"), ("tx:c", "tx"), ("stop:x", "stop"), ("fees", "fees")],
            &[
                ("tx:a", "tx:b"),
                ("tx:b", "tx:c"),
                ("tx:a", "tx:c"),
                ("tx:a", "stop:x"),
                ("tx:c", "fees"),
            ],
        );
        let graph = Graph::new(&doc);
        let layers = graph.layers();
        assert_eq!(layers.of, vec![0, 1, 2, 3, 3]);
        assert_eq!(layers.count, 4);
        assert!(!layers.first_terminal);
    }

    #[test]
    fn backward_origins_first_and_undeclared_endpoints() {
        let doc = doc(
            &[("tx:seed", "tx")],
            &[("stop:x", "tx:p"), ("mined", "tx:q"), ("tx:p", "tx:seed"), ("tx:q", "tx:seed")],
        );
        let graph = Graph::new(&doc);
        assert_eq!(graph.nodes.len(), 5);
        assert_eq!(graph.nodes[1].kind, Kind::Stop);
        assert_eq!(graph.nodes[1].label, "x");
        assert_eq!(graph.nodes[3].kind, Kind::Mined);
        let layers = graph.layers();
        // seed, stop:x, tx:p, mined, tx:q
        assert_eq!(layers.of, vec![2, 0, 1, 0, 1]);
        assert!(layers.first_terminal);
    }

    #[test]
    fn cycles_do_not_hang() {
        let doc = doc(
            &[("tx:a", "tx"), ("tx:b", "tx"), ("tx:a", "tx")],
            &[("tx:a", "tx:b"), ("tx:b", "tx:a"), ("tx:b", "tx:b")],
        );
        let graph = Graph::new(&doc);
        assert_eq!(graph.nodes.len(), 2);
        let layers = graph.layers();
        assert_eq!(layers.of.len(), 2);
        assert!(layers.count <= 3);
    }
}
