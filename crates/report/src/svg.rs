//! The flow picture: a layered left-to-right drawing of the flow graph as inline SVG.
//!
//! Sugiyama-style, without any library: layers by longest path ([`Graph::layers`]), folding of
//! the lightest nodes when the graph is large, barycenter ordering within layers, vertical
//! placement that pulls nodes towards their neighbours, and cubic edges whose width grows with
//! the logarithm of the amount. Everything is computed in a fixed order from the document alone,
//! so the same document gives the same picture.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use crate::document::TraceDocument;
use crate::graph::{Graph, Kind, Layers};
use crate::text::{Esc, LogScale, Palette, amount_text, palette, put, short_id, sum, truncate};

/// Renders the flow picture as a standalone SVG document.
///
/// Value flows left to right: seed transactions (forward) or origins (backward) on the left,
/// destinations on the right. Each transaction sits in the layer of its longest path from the
/// start; stop labels, unspent addresses, fees, mined coins and cut value form the outer layers.
/// Stop labels are coloured by category (exchange blue, service teal, sanctions and theft red,
/// mixer purple, other grey); edge widths grow with the logarithm of the amount, and amounts are
/// written on the edges where there is room.
///
/// When the graph has more than `max_nodes` nodes, the nodes on the heaviest paths are kept (by
/// the widest path through each node) and the others are folded into one "+N more" node per layer
/// and kind (runs of layers without kept nodes become one layer), so that the picture shows at
/// most `max_nodes` nodes, 24 layers and 24 nodes per layer; a line under the picture says so.
pub fn render_flow_svg(doc: &TraceDocument, max_nodes: usize) -> String {
    Picture::new(doc, max_nodes).svg(true)
}

/// Node width.
const NODE_W: f64 = 156.0;
/// Horizontal space between layers (room for an amount label).
const COL_GAP: f64 = 104.0;
/// Vertical space between nodes of a layer.
const ROW_GAP: f64 = 16.0;
/// Space around the drawing.
const MARGIN: f64 = 16.0;
/// Most layers shown when folding.
const MAX_COLUMNS: usize = 24;
/// Most nodes in one layer when folding.
const MAX_ROWS: usize = 24;
/// Most amount labels written on edges.
const MAX_EDGE_LABELS: usize = 400;
/// Smallest and largest edge widths.
const THIN: f64 = 1.5;
/// See [`THIN`].
const THICK: f64 = 14.0;

/// A node of the picture: one flow node, or several folded into a "+N more" node.
#[derive(Debug, Clone)]
struct PNode {
    /// Flow nodes it stands for (more than one when folded), in node order.
    members: Vec<usize>,
    /// Its column.
    column: usize,
    /// The kind of its members.
    kind: Kind,
    /// Value in and out (saturating).
    inflow: u128,
    outflow: u128,
}

impl PNode {
    fn folded(&self) -> bool {
        self.members.len() > 1
    }

    fn amount(&self) -> u128 {
        self.inflow.max(self.outflow)
    }

    fn height(&self) -> f64 {
        if self.folded() {
            return 42.0;
        }
        match self.kind {
            Kind::Tx => 40.0,
            Kind::Stop | Kind::Unspent => 54.0,
            Kind::Fees | Kind::Mined | Kind::Cut | Kind::Other => 38.0,
        }
    }
}

/// An edge of the picture: the flow edges between two picture nodes, merged.
#[derive(Debug, Clone)]
struct PEdge {
    from: usize,
    to: usize,
    amount: u128,
    /// Flow edges merged into it.
    count: usize,
}

/// The flow picture, laid out.
#[derive(Debug)]
pub(crate) struct Picture<'a> {
    doc: &'a TraceDocument,
    graph: Graph<'a>,
    nodes: Vec<PNode>,
    edges: Vec<PEdge>,
    /// Picture nodes of each column, top to bottom.
    columns: Vec<Vec<usize>>,
    /// Top-left corner of each node.
    x: Vec<f64>,
    y: Vec<f64>,
    width: f64,
    height: f64,
}

/// What folding keeps: counts used to check the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Size {
    nodes: usize,
    columns: usize,
    tallest: usize,
}

impl<'a> Picture<'a> {
    /// Lays out the flow graph of `doc` with at most `max_nodes` picture nodes (when possible).
    pub(crate) fn new(doc: &'a TraceDocument, max_nodes: usize) -> Self {
        let graph = Graph::new(doc);
        let layers = graph.layers();
        let keep = if graph.nodes.len() <= max_nodes {
            vec![true; graph.nodes.len()]
        } else {
            choose(&graph, &layers, max_nodes)
        };
        let (nodes, column_count) = fold(&graph, &layers, &keep);
        let edges = merge_edges(&graph, &nodes);
        let mut picture = Self {
            doc,
            graph,
            nodes,
            edges,
            columns: vec![Vec::new(); column_count],
            x: Vec::new(),
            y: Vec::new(),
            width: 0.0,
            height: 0.0,
        };
        picture.order();
        picture.place();
        picture
    }

    /// Flow nodes in the document's graph.
    pub(crate) fn total_nodes(&self) -> usize {
        self.graph.nodes.len()
    }

    /// Picture nodes drawn.
    pub(crate) fn visible_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Flow nodes folded into "+N more" nodes.
    pub(crate) fn folded_nodes(&self) -> usize {
        self.nodes.iter().filter(|node| node.folded()).map(|node| node.members.len()).sum()
    }

    /// "+N more" nodes drawn.
    pub(crate) fn fold_count(&self) -> usize {
        self.nodes.iter().filter(|node| node.folded()).count()
    }

    /// Sentence saying what was folded, if anything; `in_report` points to the report's tables.
    pub(crate) fn folding_note(&self, in_report: bool) -> Option<String> {
        let folded = self.folded_nodes();
        (folded > 0).then(|| {
            format!(
                "The flow graph has {} nodes: this picture shows the {} on the heaviest paths and \
                 folds the other {} into {} \"+N more\" boxes (one per layer and kind). {}",
                self.total_nodes(),
                self.visible_nodes() - self.fold_count(),
                folded,
                self.fold_count(),
                if in_report {
                    "Every transaction and amount is listed in the tables below."
                } else {
                    "The CSV, DOT and GraphML renderings hold every node and edge."
                }
            )
        })
    }

    /// Orders the nodes within columns to reduce crossings: barycenter sweeps, left to right
    /// then right to left, twice.
    fn order(&mut self) {
        let count = self.nodes.len();
        for (index, node) in self.nodes.iter().enumerate() {
            self.columns[node.column].push(index);
        }
        let (incoming, outgoing) = self.neighbours();
        let mut position = vec![0.0f64; count];
        let update = |columns: &[Vec<usize>], position: &mut Vec<f64>, column: usize| {
            let len = columns[column].len() as f64;
            for (row, &node) in columns[column].iter().enumerate() {
                position[node] = (row as f64 + 0.5) / len;
            }
        };
        for column in 0..self.columns.len() {
            update(&self.columns, &mut position, column);
        }
        let last = self.columns.len().saturating_sub(1);
        for sweep in 0..4 {
            let forward = sweep % 2 == 0;
            let order: Vec<usize> =
                if forward { (1..=last).collect() } else { (0..last).rev().collect() };
            for column in order {
                let neighbours = if forward { &incoming } else { &outgoing };
                let mut keyed: Vec<(f64, usize, usize)> = self.columns[column]
                    .iter()
                    .enumerate()
                    .map(|(row, &node)| {
                        let (total, weight) = neighbours[node]
                            .iter()
                            .filter(|&&(other, _)| self.nodes[other].column != column)
                            .fold((0.0, 0.0), |(total, weight), &(other, w)| {
                                (total + position[other] * w, weight + w)
                            });
                        let key = if weight > 0.0 { total / weight } else { position[node] };
                        (key, row, node)
                    })
                    .collect();
                keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                self.columns[column] = keyed.into_iter().map(|(_, _, node)| node).collect();
                update(&self.columns, &mut position, column);
            }
        }
    }

    /// Neighbours of each node in and out, with a weight growing with the amount.
    #[allow(clippy::type_complexity, reason = "two local adjacency lists")]
    fn neighbours(&self) -> (Vec<Vec<(usize, f64)>>, Vec<Vec<(usize, f64)>>) {
        let mut incoming = vec![Vec::new(); self.nodes.len()];
        let mut outgoing = vec![Vec::new(); self.nodes.len()];
        for edge in &self.edges {
            let weight = 1.0 + (edge.amount as f64).ln_1p();
            incoming[edge.to].push((edge.from, weight));
            outgoing[edge.from].push((edge.to, weight));
        }
        (incoming, outgoing)
    }

    /// Places nodes: columns left to right, and within a column in order, pulled towards the
    /// weighted mean of their neighbours without overlapping.
    fn place(&mut self) {
        let count = self.nodes.len();
        self.x = self
            .nodes
            .iter()
            .map(|node| MARGIN + node.column as f64 * (NODE_W + COL_GAP))
            .collect();
        let heights: Vec<f64> = self.nodes.iter().map(PNode::height).collect();
        let stack = |column: &[usize]| -> f64 {
            column.iter().map(|&node| heights[node] + ROW_GAP).sum::<f64>() - ROW_GAP
        };
        let tallest = self.columns.iter().map(|column| stack(column)).fold(0.0, f64::max);
        let mut top = vec![0.0f64; count];
        for column in &self.columns {
            let mut at = (tallest - stack(column)) / 2.0;
            for &node in column {
                top[node] = at;
                at += heights[node] + ROW_GAP;
            }
        }
        let (incoming, outgoing) = self.neighbours();
        let last = self.columns.len().saturating_sub(1);
        for pass in 0..5 {
            let forward = pass % 2 == 0;
            let order: Vec<usize> =
                if forward { (1..=last).collect() } else { (0..last).rev().collect() };
            for column in order {
                let neighbours = if forward { &incoming } else { &outgoing };
                let nodes = &self.columns[column];
                let desired: Vec<f64> = nodes
                    .iter()
                    .map(|&node| {
                        let (total, weight) = neighbours[node]
                            .iter()
                            .filter(|&&(other, _)| self.nodes[other].column != column)
                            .fold((0.0, 0.0), |(total, weight), &(other, w)| {
                                (total + (top[other] + heights[other] / 2.0) * w, weight + w)
                            });
                        if weight > 0.0 { total / weight - heights[node] / 2.0 } else { top[node] }
                    })
                    .collect();
                // Push down from the top, push up from the bottom, take the mean: both respect the
                // gaps, so their mean does too.
                let mut down = desired.clone();
                for row in 1..nodes.len() {
                    let floor = down[row - 1] + heights[nodes[row - 1]] + ROW_GAP;
                    down[row] = down[row].max(floor);
                }
                let mut up = desired;
                for row in (0..nodes.len().saturating_sub(1)).rev() {
                    let ceiling = up[row + 1] - heights[nodes[row]] - ROW_GAP;
                    up[row] = up[row].min(ceiling);
                }
                for (row, &node) in nodes.iter().enumerate() {
                    top[node] = (down[row] + up[row]) / 2.0;
                }
            }
        }
        let min = top.iter().copied().fold(f64::INFINITY, f64::min);
        let shift = if min.is_finite() { MARGIN + 22.0 - min } else { MARGIN };
        for value in &mut top {
            *value += shift;
        }
        self.y = top;
        let bottom = (0..count).map(|node| self.y[node] + heights[node]).fold(MARGIN, f64::max);
        let right = self.x.iter().map(|x| x + NODE_W).fold(MARGIN, f64::max);
        self.width = (right + MARGIN).max(LEGEND_W + 2.0 * MARGIN);
        self.height = bottom + MARGIN;
    }

    /// The SVG text; `standalone` adds the XML namespace and the folding note, which the HTML
    /// report writes under the picture itself.
    pub(crate) fn svg(&self, standalone: bool) -> String {
        let mut out = String::with_capacity(4096 + self.nodes.len() * 700 + self.edges.len() * 300);
        let note = if standalone { self.folding_note(false) } else { None };
        let note_lines: Vec<String> = note.as_deref().map(wrap_note).unwrap_or_default();
        let legend_top = self.height + 6.0;
        let total_height = legend_top + 34.0 + note_lines.len() as f64 * 15.0 + MARGIN;
        let description = format!(
            "Flow of {} from {} seed output(s), {} trace, {} policy",
            amount_text(&self.doc.unit, self.doc.seed_amount),
            self.doc.seeds.len(),
            self.doc.direction,
            self.doc.policy
        );
        out.push_str("<svg ");
        if standalone {
            out.push_str("xmlns=\"http://www.w3.org/2000/svg\" ");
        } else {
            // In a page: fit the width available, but neither enlarge the picture nor shrink it
            // below 70 % (wider pictures scroll).
            put!(
                &mut out,
                "style=\"width:100%;max-width:{:.0}px;min-width:{:.0}px\" ",
                self.width,
                self.width * 0.7
            );
        }
        put!(
            &mut out,
            "class=\"ctf\" viewBox=\"0 0 {w:.0} {h:.0}\" width=\"{w:.0}\" height=\"{h:.0}\" \
             role=\"img\" aria-label=\"{}\">\n<title>{}</title>\n",
            Esc(&description),
            Esc(&description),
            w = self.width,
            h = total_height,
        );
        out.push_str(STYLE);
        put!(
            &mut out,
            "<rect class=\"ctf-bg\" x=\"0\" y=\"0\" width=\"{:.0}\" height=\"{:.0}\"/>\n",
            self.width,
            total_height
        );
        if self.nodes.is_empty() {
            put!(
                &mut out,
                "<text class=\"ctf-empty\" x=\"{:.0}\" y=\"{:.0}\">No flow: the trace followed no \
                 value.</text>\n",
                MARGIN,
                MARGIN + 24.0
            );
        }
        let ports = self.ports();
        self.draw_edges(&mut out, &ports);
        for (index, node) in self.nodes.iter().enumerate() {
            self.draw_node(&mut out, index, node);
        }
        self.draw_edge_labels(&mut out, &ports);
        draw_legend(&mut out, legend_top);
        for (line, text) in note_lines.iter().enumerate() {
            put!(
                &mut out,
                "<text class=\"ctf-note\" x=\"{:.0}\" y=\"{:.1}\">{}</text>\n",
                MARGIN,
                legend_top + 44.0 + line as f64 * 15.0,
                Esc(text)
            );
        }
        out.push_str("</svg>\n");
        out
    }

    /// Edge widths and the points where each edge leaves and enters its nodes: edges of a node
    /// are stacked along its side in the order of the nodes at their other end.
    fn ports(&self) -> Ports {
        let scale = LogScale::new(self.edges.iter().map(|edge| edge.amount), THIN, THICK);
        let width: Vec<f64> = self.edges.iter().map(|edge| scale.of(edge.amount)).collect();
        let mut start = vec![0.0; self.edges.len()];
        let mut end = vec![0.0; self.edges.len()];
        let mut outs: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        let mut ins: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (index, edge) in self.edges.iter().enumerate() {
            outs[edge.from].push(index);
            ins[edge.to].push(index);
        }
        let center = |node: usize| self.y[node] + self.nodes[node].height() / 2.0;
        for node in 0..self.nodes.len() {
            for (list, at, other) in
                [(&mut outs[node], &mut start, true), (&mut ins[node], &mut end, false)]
            {
                list.sort_by(|&a, &b| {
                    let key = |edge: usize| {
                        let edge = &self.edges[edge];
                        center(if other { edge.to } else { edge.from })
                    };
                    key(a).total_cmp(&key(b)).then(a.cmp(&b))
                });
                let total: f64 = list.iter().map(|&edge| width[edge]).sum();
                let room = (self.nodes[node].height() - 10.0).max(4.0);
                let squeeze = if total > room { room / total } else { 1.0 };
                let mut y = center(node) - total * squeeze / 2.0;
                for &edge in list.iter() {
                    at[edge] = y + width[edge] * squeeze / 2.0;
                    y += width[edge] * squeeze;
                }
            }
        }
        Ports { width, start, end }
    }

    /// The path of an edge: x and y of its two ends and control points.
    fn curve(&self, edge: usize, ports: &Ports) -> [(f64, f64); 4] {
        let PEdge { from, to, .. } = self.edges[edge];
        let x1 = self.x[from] + NODE_W - 6.0;
        let x2 = self.x[to] + 6.0;
        let bend = ((x2 - x1).abs() / 2.0).max(60.0);
        [
            (x1, ports.start[edge]),
            (x1 + bend, ports.start[edge]),
            (x2 - bend, ports.end[edge]),
            (x2, ports.end[edge]),
        ]
    }

    fn draw_edges(&self, out: &mut String, ports: &Ports) {
        // Widest first, so thin edges stay visible on top.
        let mut order: Vec<usize> = (0..self.edges.len()).collect();
        order.sort_by(|&a, &b| ports.width[b].total_cmp(&ports.width[a]).then(a.cmp(&b)));
        out.push_str("<g class=\"ctf-edges\">\n");
        for edge in order {
            let PEdge { from, to, amount, count } = self.edges[edge];
            let [p0, p1, p2, p3] = self.curve(edge, ports);
            let colour = match self.nodes[to].kind {
                Kind::Stop if !self.nodes[to].folded() => self.stop_palette(to).stroke,
                Kind::Stop => "#94a3b8",
                Kind::Unspent => "#16a34a",
                _ => match self.nodes[from].kind {
                    Kind::Stop if !self.nodes[from].folded() => self.stop_palette(from).stroke,
                    _ => "#64748b",
                },
            };
            put!(
                out,
                "<path class=\"ctf-edge\" d=\"M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" \
                 stroke=\"{colour}\" stroke-width=\"{:.1}\"><title>{} → {}: {}{}</title></path>\n",
                p0.0,
                p0.1,
                p1.0,
                p1.1,
                p2.0,
                p2.1,
                p3.0,
                p3.1,
                ports.width[edge],
                Esc(&self.name(from)),
                Esc(&self.name(to)),
                amount_text(&self.doc.unit, amount),
                if count > 1 { format!(" ({count} flows)") } else { String::new() },
            );
        }
        out.push_str("</g>\n");
    }

    /// Writes amounts on edges, heaviest first, where they overlap no node and no other amount.
    fn draw_edge_labels(&self, out: &mut String, ports: &Ports) {
        let mut taken: Vec<Rect> = (0..self.nodes.len())
            .map(|node| Rect {
                x: self.x[node] - 2.0,
                y: self.y[node] - 2.0,
                w: NODE_W + 4.0,
                h: self.nodes[node].height() + 4.0,
            })
            .collect();
        let mut order: Vec<usize> = (0..self.edges.len()).collect();
        order.sort_by_key(|&edge| (Reverse(self.edges[edge].amount), edge));
        let mut written = 0;
        out.push_str("<g class=\"ctf-amounts\">\n");
        for edge in order {
            if written >= MAX_EDGE_LABELS {
                break;
            }
            let text = amount_text(&self.doc.unit, self.edges[edge].amount);
            let w = text.len() as f64 * 5.4 + 4.0;
            let h = 12.0;
            let [p0, p1, p2, p3] = self.curve(edge, ports);
            for t in [0.5, 0.35, 0.65, 0.2, 0.8] {
                let (cx, cy) = bezier(p0, p1, p2, p3, t);
                let rect = Rect { x: cx - w / 2.0, y: cy - h / 2.0 - 1.0, w, h };
                if taken.iter().any(|other| other.overlaps(&rect)) {
                    continue;
                }
                taken.push(rect);
                written += 1;
                put!(
                    out,
                    "<text class=\"ctf-amount\" x=\"{cx:.1}\" y=\"{:.1}\">{text}</text>\n",
                    cy + 3.5
                );
                break;
            }
        }
        out.push_str("</g>\n");
    }

    fn stop_palette(&self, node: usize) -> Palette {
        let label =
            self.nodes[node].members.first().map_or("", |&member| self.graph.nodes[member].label);
        palette(self.graph.category(label).unwrap_or(""))
    }

    /// Short name of a picture node for tooltips.
    fn name(&self, node: usize) -> String {
        let pnode = &self.nodes[node];
        let first = pnode.members.first().map(|&member| &self.graph.nodes[member]);
        match (pnode.folded(), first) {
            (true, _) | (false, None) => {
                format!("+{} more {}", pnode.members.len(), plural(pnode.kind))
            }
            (false, Some(member)) => match member.kind {
                Kind::Tx => short_id(member.label, 8, 6),
                Kind::Unspent => format!("unspent {}", short_id(member.label, 12, 8)),
                _ => member.label.to_owned(),
            },
        }
    }

    fn draw_node(&self, out: &mut String, index: usize, node: &PNode) {
        let (x, y, h) = (self.x[index], self.y[index], node.height());
        let cx = x + NODE_W / 2.0;
        let id = node.members.first().map_or("", |&member| self.graph.nodes[member].id);
        if node.folded() {
            put!(out, "<g class=\"ctf-node ctf-fold\" data-id=\"fold:{}\">", Esc(id));
        } else {
            put!(out, "<g class=\"ctf-node\" data-id=\"{}\">", Esc(id));
        }
        put!(out, "<title>{}</title>", Esc(&self.tooltip(node)));
        let amount = amount_text(&self.doc.unit, node.amount());
        if node.folded() {
            put!(
                out,
                "<rect class=\"ctf-foldbox\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_W}\" height=\"{h:.0}\" rx=\"4\"/>"
            );
            let text = format!("+{} more {}", node.members.len(), plural(node.kind));
            text_line(out, cx, y + 17.0, "ctf-t1", &text);
            text_line(out, cx, y + 32.0, "ctf-t2", &amount);
            out.push_str("</g>\n");
            return;
        }
        let Some(member) = node.members.first().map(|&member| &self.graph.nodes[member]) else {
            out.push_str("</g>\n");
            return;
        };
        match node.kind {
            Kind::Tx => {
                let class = if member.seed { "ctf-tx ctf-seed" } else { "ctf-tx" };
                put!(
                    out,
                    "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_W}\" height=\"{h:.0}\" rx=\"3\"/>"
                );
                text_line(out, cx, y + 17.0, "ctf-t1 ctf-mono", &short_id(member.label, 8, 6));
                let second = match (member.seed, member.height) {
                    (true, Some(height)) => format!("seed · height {height}"),
                    (true, None) => "seed".to_owned(),
                    (false, Some(height)) => format!("height {height}"),
                    (false, None) => "transaction".to_owned(),
                };
                text_line(out, cx, y + 31.0, "ctf-t2", &second);
            }
            Kind::Stop => {
                let category = self.graph.category(member.label).unwrap_or("");
                let colours = palette(category);
                let c = 9.0;
                let (r, b) = (x + NODE_W, y + h);
                put!(
                    out,
                    "<polygon class=\"ctf-stop\" fill=\"{}\" stroke=\"{}\" points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\"/>",
                    colours.fill,
                    colours.stroke,
                    x + c,
                    y,
                    r - c,
                    y,
                    r,
                    y + c,
                    r,
                    b - c,
                    r - c,
                    b,
                    x + c,
                    b,
                    x,
                    b - c,
                    x,
                    y + c
                );
                text_line(out, cx, y + 17.0, "ctf-t1 ctf-bold", &truncate(member.label, 22));
                put!(
                    out,
                    "<text class=\"ctf-t2\" x=\"{cx:.1}\" y=\"{:.1}\" fill=\"{}\">{}</text>",
                    y + 31.0,
                    colours.stroke,
                    Esc(&truncate(if category.is_empty() { "stop label" } else { category }, 26))
                );
                text_line(out, cx, y + 45.0, "ctf-t2", &amount);
            }
            Kind::Unspent => {
                put!(
                    out,
                    "<rect class=\"ctf-unspent\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_W}\" height=\"{h:.0}\" rx=\"{:.0}\"/>",
                    h / 2.0
                );
                text_line(out, cx, y + 17.0, "ctf-t2", "unspent");
                text_line(out, cx, y + 31.0, "ctf-t1 ctf-mono", &short_id(member.label, 8, 6));
                text_line(out, cx, y + 45.0, "ctf-t2", &amount);
            }
            Kind::Fees | Kind::Mined | Kind::Cut | Kind::Other => {
                let title = match node.kind {
                    Kind::Fees => "fees",
                    Kind::Mined => "mined (coinbase)",
                    Kind::Cut => "not followed (cut)",
                    _ => member.label,
                };
                put!(
                    out,
                    "<rect class=\"ctf-plain\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_W}\" height=\"{h:.0}\" rx=\"{:.0}\"/>",
                    h / 2.0
                );
                text_line(out, cx, y + 16.0, "ctf-t1", &truncate(title, 24));
                text_line(out, cx, y + 30.0, "ctf-t2", &amount);
            }
        }
        out.push_str("</g>\n");
    }

    /// Tooltip of a node: full ids and amounts.
    fn tooltip(&self, node: &PNode) -> String {
        let mut text = String::new();
        if node.folded() {
            put!(&mut text, "{} {} folded:", node.members.len(), plural(node.kind));
            for &member in node.members.iter().take(12) {
                put!(&mut text, "\n{}", self.graph.nodes[member].label);
            }
            if node.members.len() > 12 {
                put!(&mut text, "\n…");
            }
        } else if let Some(member) = node.members.first().map(|&member| &self.graph.nodes[member]) {
            text.push_str(member.label);
            if let Some(height) = member.height {
                put!(&mut text, "\nheight {height}");
            }
            if member.kind == Kind::Stop
                && let Some(category) = self.graph.category(member.label)
            {
                put!(&mut text, "\ncategory {category}");
            }
        }
        if node.inflow > 0 {
            put!(&mut text, "\nin {}", amount_text(&self.doc.unit, node.inflow));
        }
        if node.outflow > 0 {
            put!(&mut text, "\nout {}", amount_text(&self.doc.unit, node.outflow));
        }
        text
    }
}

/// Edge widths and end points.
#[derive(Debug)]
struct Ports {
    width: Vec<f64>,
    start: Vec<f64>,
    end: Vec<f64>,
}

/// A rectangle, for label collisions.
#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Rect {
    fn overlaps(&self, other: &Self) -> bool {
        self.x < other.x + other.w
            && other.x < self.x + self.w
            && self.y < other.y + other.h
            && other.y < self.y + self.h
    }
}

fn bezier(p0: (f64, f64), p1: (f64, f64), p2: (f64, f64), p3: (f64, f64), t: f64) -> (f64, f64) {
    let s = 1.0 - t;
    let (a, b, c, d) = (s * s * s, 3.0 * s * s * t, 3.0 * s * t * t, t * t * t);
    (a * p0.0 + b * p1.0 + c * p2.0 + d * p3.0, a * p0.1 + b * p1.1 + c * p2.1 + d * p3.1)
}

fn text_line(out: &mut String, x: f64, y: f64, class: &str, text: &str) {
    put!(out, "<text class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\">{}</text>", Esc(text));
}

/// What a folded node holds, in the plural.
fn plural(kind: Kind) -> &'static str {
    match kind {
        Kind::Tx => "txs",
        Kind::Stop => "labels",
        Kind::Unspent => "unspent",
        Kind::Fees => "fee nodes",
        Kind::Mined => "coinbase nodes",
        Kind::Cut => "cut nodes",
        Kind::Other => "nodes",
    }
}

/// Splits the folding note into lines of about 150 characters.
fn wrap_note(note: &str) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in note.split_whitespace() {
        let line = lines.last_mut().map_or(0, |line| line.len());
        if line > 0 && line + word.len() > 150 {
            lines.push(String::new());
        }
        if let Some(line) = lines.last_mut() {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// Width of the legend.
const LEGEND_W: f64 = 800.0;

fn draw_legend(out: &mut String, top: f64) {
    use crate::text::{EXCHANGE, ILLICIT, MIXER, OTHER, SERVICE};
    out.push_str("<g class=\"ctf-legend\">");
    let y = top + 8.0;
    let mut x = MARGIN;
    let entries: [(&str, Option<Palette>, &str, &str, f64); 9] = [
        ("ctf-tx ctf-seed", None, "2", "seed tx", 84.0),
        ("ctf-tx", None, "2", "tx", 50.0),
        ("ctf-stop", Some(EXCHANGE), "3", "exchange", 92.0),
        ("ctf-stop", Some(SERVICE), "3", "service", 84.0),
        ("ctf-stop", Some(ILLICIT), "3", "sanctions / theft", 136.0),
        ("ctf-stop", Some(MIXER), "3", "mixer", 70.0),
        ("ctf-stop", Some(OTHER), "3", "other label", 100.0),
        ("ctf-unspent", None, "7", "unspent", 80.0),
        ("ctf-plain", None, "7", "fees / mined / cut", 150.0),
    ];
    for (class, colours, rx, text, width) in entries {
        put!(
            out,
            "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"18\" height=\"14\" rx=\"{rx}\""
        );
        if let Some(colours) = colours {
            put!(out, " fill=\"{}\" stroke=\"{}\"", colours.fill, colours.stroke);
        }
        out.push_str("/>");
        put!(
            out,
            "<text class=\"ctf-lt\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 24.0,
            y + 11.0,
            Esc(text)
        );
        x += width;
    }
    out.push_str("</g>\n");
}

/// Inline styles of the picture (class names prefixed `ctf-` so that they cannot clash with the
/// page embedding it).
const STYLE: &str = "<style>\
.ctf{font-family:-apple-system,\"Segoe UI\",Helvetica,Arial,sans-serif}\
.ctf-bg{fill:#fff}\
.ctf-edge{fill:none;stroke-opacity:.55;stroke-linecap:butt}\
.ctf-tx{fill:#fff;stroke:#334155;stroke-width:1.2}\
.ctf-seed{fill:#fef3c7;stroke:#b45309;stroke-width:2.5}\
.ctf-stop{stroke-width:2}\
.ctf-unspent{fill:#f0fdf4;stroke:#15803d;stroke-width:1.5}\
.ctf-plain{fill:#fff;stroke:#94a3b8;stroke-width:1.2;stroke-dasharray:4 3}\
.ctf-foldbox{fill:#f8fafc;stroke:#64748b;stroke-width:1.2;stroke-dasharray:5 3}\
.ctf text{text-anchor:middle;fill:#0f172a}\
.ctf .ctf-t1{font-size:11.5px}\
.ctf .ctf-t2{font-size:10px;fill:#475569}\
.ctf .ctf-mono{font-family:ui-monospace,Menlo,Consolas,\"DejaVu Sans Mono\",monospace;font-size:11px}\
.ctf .ctf-bold{font-weight:600}\
.ctf .ctf-amount{font-size:9.5px;fill:#334155;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}\
.ctf .ctf-lt{text-anchor:start;font-size:11px;fill:#334155}\
.ctf .ctf-note{text-anchor:start;font-size:12px;fill:#92400e}\
.ctf .ctf-empty{text-anchor:start;font-size:13px;fill:#475569}\
</style>\n";

/// Chooses the flow nodes to keep when the graph has more than `max_nodes`: nodes by decreasing
/// widest path through them (the largest amount a single path from a start to an end carries
/// through the node), then by amount through them; as many as fit in `max_nodes` picture nodes,
/// [`MAX_COLUMNS`] columns and [`MAX_ROWS`] rows once the rest is folded.
fn choose(graph: &Graph<'_>, layers: &Layers, max_nodes: usize) -> Vec<bool> {
    let count = graph.nodes.len();
    let widest = widest_paths(graph, layers);
    let (inflow, outflow) = graph.flows();
    let mut ranking: Vec<usize> = (0..count).collect();
    ranking.sort_by_key(|&node| {
        (Reverse(widest[node]), Reverse(inflow[node].max(outflow[node])), node)
    });
    let fits = |keep: &[bool]| {
        let size = size(graph, layers, keep);
        size.nodes <= max_nodes && size.columns <= MAX_COLUMNS && size.tallest <= MAX_ROWS
    };
    // Phase 1: the longest prefix of the ranking that fits.
    let mut keep = vec![false; count];
    let taken = longest_fit(&ranking, &mut keep, &fits);
    // Phase 2: with the columns now fixed, add nodes of existing layers (which cannot add
    // columns) while they fit.
    let mut used = vec![false; layers.count];
    for node in (0..count).filter(|&node| keep[node]) {
        used[layers.of[node]] = true;
    }
    let terminal = |layer: usize| layer == layers.last || (layers.first_terminal && layer == 0);
    let rest: Vec<usize> = ranking[taken..]
        .iter()
        .copied()
        .filter(|&node| used[layers.of[node]] || terminal(layers.of[node]))
        .collect();
    longest_fit(&rest, &mut keep, &fits);
    keep
}

/// Keeps the longest prefix of `candidates` for which `fits` holds (assuming that adding nodes
/// never makes a picture smaller), by bisection; returns its length.
fn longest_fit(candidates: &[usize], keep: &mut [bool], fits: &impl Fn(&[bool]) -> bool) -> usize {
    let mut low = 0;
    let mut high = candidates.len();
    while low < high {
        let middle = low + (high - low).div_ceil(2);
        for &node in &candidates[..middle] {
            keep[node] = true;
        }
        let ok = fits(keep);
        for &node in &candidates[..middle] {
            keep[node] = false;
        }
        if ok {
            low = middle;
        } else {
            high = middle - 1;
        }
    }
    for &node in &candidates[..low] {
        keep[node] = true;
    }
    low
}

/// For each node, the largest bottleneck amount of a path from a start through it to an end
/// (edges against the layering are ignored); 0 for nodes without edges.
fn widest_paths(graph: &Graph<'_>, layers: &Layers) -> Vec<u128> {
    let count = graph.nodes.len();
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by_key(|&node| (layers.of[node], node));
    let mut incoming: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut outgoing: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (index, edge) in graph.edges.iter().enumerate() {
        if layers.of[edge.from] < layers.of[edge.to] {
            incoming[edge.to].push(index);
            outgoing[edge.from].push(index);
        }
    }
    let mut to = vec![u128::MAX; count];
    for &node in &order {
        if let Some(best) = incoming[node]
            .iter()
            .map(|&edge| to[graph.edges[edge].from].min(graph.edges[edge].amount))
            .max()
        {
            to[node] = best;
        }
    }
    let mut from = vec![u128::MAX; count];
    for &node in order.iter().rev() {
        if let Some(best) = outgoing[node]
            .iter()
            .map(|&edge| from[graph.edges[edge].to].min(graph.edges[edge].amount))
            .max()
        {
            from[node] = best;
        }
    }
    (0..count)
        .map(|node| {
            if incoming[node].is_empty() && outgoing[node].is_empty() {
                0
            } else {
                to[node].min(from[node])
            }
        })
        .collect()
}

/// Column of each layer once kept nodes are known: empty layers vanish and runs of transaction
/// layers without kept nodes become one column. Returns the column of each layer and the number
/// of columns.
fn columns_of(graph: &Graph<'_>, layers: &Layers, keep: &[bool]) -> (Vec<usize>, usize) {
    let mut occupied = vec![false; layers.count];
    let mut kept = vec![false; layers.count];
    for node in 0..graph.nodes.len() {
        occupied[layers.of[node]] = true;
        kept[layers.of[node]] |= keep[node];
    }
    let terminal = |layer: usize| layer == layers.last || (layers.first_terminal && layer == 0);
    let mut column = vec![0; layers.count];
    let mut next: usize = 0;
    let mut folding = false;
    for layer in 0..layers.count {
        if !occupied[layer] {
            column[layer] = next.saturating_sub(1);
            continue;
        }
        let foldable = !kept[layer] && !terminal(layer);
        if !(foldable && folding) {
            next += 1;
        }
        column[layer] = next - 1;
        folding = foldable;
    }
    (column, next)
}

/// Counts what a choice of kept nodes would draw.
fn size(graph: &Graph<'_>, layers: &Layers, keep: &[bool]) -> Size {
    let (column, columns) = columns_of(graph, layers, keep);
    let mut per_column = vec![0usize; columns];
    let mut groups: BTreeSet<(usize, Kind)> = BTreeSet::new();
    for node in 0..graph.nodes.len() {
        let at = column[layers.of[node]];
        // A kept node is drawn; a folded one only adds its column and kind's first "+N more".
        if keep[node] || groups.insert((at, graph.nodes[node].kind)) {
            per_column[at] += 1;
        }
    }
    Size {
        nodes: per_column.iter().sum(),
        columns,
        tallest: per_column.iter().copied().max().unwrap_or(0),
    }
}

/// Builds the picture nodes: each kept flow node, and one node per column and kind for the rest
/// (a single left-over node stays itself). Returns them in column order, and the column count.
fn fold(graph: &Graph<'_>, layers: &Layers, keep: &[bool]) -> (Vec<PNode>, usize) {
    let (column, columns) = columns_of(graph, layers, keep);
    let (inflow, outflow) = graph.flows();
    let mut nodes: Vec<PNode> = Vec::new();
    let mut groups: BTreeMap<(usize, Kind), Vec<usize>> = BTreeMap::new();
    for node in 0..graph.nodes.len() {
        let at = column[layers.of[node]];
        if keep[node] {
            nodes.push(PNode {
                members: vec![node],
                column: at,
                kind: graph.nodes[node].kind,
                inflow: 0,
                outflow: 0,
            });
        } else {
            groups.entry((at, graph.nodes[node].kind)).or_default().push(node);
        }
    }
    for ((at, kind), members) in groups {
        nodes.push(PNode { members, column: at, kind, inflow: 0, outflow: 0 });
    }
    for node in &mut nodes {
        node.inflow = sum(node.members.iter().map(|&member| inflow[member]));
        node.outflow = sum(node.members.iter().map(|&member| outflow[member]));
    }
    nodes.sort_by_key(|node| (node.column, node.members.first().copied()));
    (nodes, columns)
}

/// Merges the flow edges between the same two picture nodes; drops those inside a folded node.
fn merge_edges(graph: &Graph<'_>, nodes: &[PNode]) -> Vec<PEdge> {
    let mut of = vec![0; graph.nodes.len()];
    for (index, node) in nodes.iter().enumerate() {
        for &member in &node.members {
            of[member] = index;
        }
    }
    let mut merged: BTreeMap<(usize, usize), (u128, usize)> = BTreeMap::new();
    for edge in &graph.edges {
        let (from, to) = (of[edge.from], of[edge.to]);
        if from == to {
            continue;
        }
        let entry = merged.entry((from, to)).or_insert((0, 0));
        entry.0 = entry.0.saturating_add(edge.amount);
        entry.1 += 1;
    }
    merged
        .into_iter()
        .map(|((from, to), (amount, count))| PEdge { from, to, amount, count })
        .collect()
}
