//! Named must-merge and must-not-merge cases for every heuristic, on hand-built graphs.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code")]

mod deposit;

use cointrail_cluster::{
    ChangeHeuristic, ClusterState, Clusterer, CoinjoinShape, Config, Heuristic, coinjoin_shape,
};
use cointrail_testkit::MemGraph;
use cointrail_types::{ChainGraph, TxNum};

const BTC: u64 = 100_000_000;

/// Runs clustering over the whole graph with `names` heuristics and returns a "same cluster?"
/// function plus the evidence.
fn cluster(graph: &MemGraph, names: &[&str]) -> (Vec<u32>, cointrail_cluster::ClusterChangeSet) {
    let len = graph.address_count() as usize;
    let (mut parent, mut size, mut next) = (vec![0; len], vec![0; len], vec![0; len]);
    let mut state = ClusterState::new(&mut parent, &mut size, &mut next);
    state.init_singletons(0);
    let clusterer = Clusterer::new(Config::from_names(names).unwrap());
    let changes = clusterer.run(graph, 0..graph.tx_count() as u32, &mut state);
    state.canonicalize();
    (parent, changes)
}

fn joined(graph: &MemGraph, parent: &[u32], a: &str, b: &str) -> bool {
    parent[graph.address(a).get() as usize] == parent[graph.address(b).get() as usize]
}

/// Funds each name with one coinbase output of `value`.
fn funded(graph: &mut MemGraph, names: &[&str], value: u64) -> Vec<TxNum> {
    names.iter().map(|name| graph.coinbase(&[(Some(name), value)])).collect()
}

struct Case {
    name: &'static str,
    heuristics: &'static [&'static str],
    build: fn(&mut MemGraph),
    joined: &'static [(&'static str, &'static str)],
    apart: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        name: "multi-input merges co-spent inputs",
        heuristics: &["multi-input"],
        build: |g| {
            let f = funded(g, &["a1", "a2", "a3"], BTC);
            g.tx(
                &[(f[0], 0), (f[1], 0), (f[2], 0)],
                &[(Some("shop"), 2 * BTC), (Some("a4"), BTC - 500)],
            );
        },
        joined: &[("a1", "a2"), ("a2", "a3")],
        apart: &[("a1", "shop"), ("a1", "a4")],
    },
    Case {
        name: "multi-input ignores a single-input payment",
        heuristics: &["multi-input"],
        build: |g| {
            let f = funded(g, &["a1"], BTC);
            g.tx(&[(f[0], 0)], &[(Some("b"), BTC / 2), (Some("a2"), BTC / 2 - 300)]);
        },
        joined: &[],
        apart: &[("a1", "b"), ("a1", "a2")],
    },
    Case {
        name: "multi-input must not merge a whirlpool coinjoin",
        heuristics: &["multi-input"],
        build: |g| {
            let f = funded(g, &["p1", "p2", "p3", "p4", "p5"], 1_000_000 + 5_000);
            let spends: Vec<(TxNum, u32)> = f.iter().map(|t| (*t, 0)).collect();
            g.tx(
                &spends,
                &[
                    (Some("m1"), 1_000_000),
                    (Some("m2"), 1_000_000),
                    (Some("m3"), 1_000_000),
                    (Some("m4"), 1_000_000),
                    (Some("m5"), 1_000_000),
                ],
            );
        },
        joined: &[],
        apart: &[("p1", "p2"), ("p3", "p5")],
    },
    Case {
        name: "multi-input must not merge a joinmarket coinjoin",
        heuristics: &["multi-input", "change:fresh", "change:type"],
        build: |g| {
            let f = funded(g, &["j1", "j2", "j3"], 3 * BTC);
            g.tx(
                &[(f[0], 0), (f[1], 0), (f[2], 0)],
                &[
                    (Some("e1"), BTC),
                    (Some("e2"), BTC),
                    (Some("e3"), BTC),
                    (Some("c1"), 2 * BTC - 100),
                    (Some("c2"), 2 * BTC - 200),
                    (Some("c3"), 2 * BTC - 300),
                ],
            );
        },
        joined: &[],
        apart: &[("j1", "j2"), ("j1", "c1")],
    },
    Case {
        name: "multi-input must not merge a wasabi 1 coinjoin",
        heuristics: &["multi-input"],
        build: |g| {
            let names: Vec<String> = (0..12).map(|i| format!("w{i}")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let f = funded(g, &refs, 15_000_000);
            let spends: Vec<(TxNum, u32)> = f.iter().map(|t| (*t, 0)).collect();
            let outs: Vec<String> = (0..12).map(|i| format!("mixed{i}")).collect();
            let mut outputs: Vec<(Option<&str>, u64)> =
                outs.iter().map(|name| (Some(name.as_str()), 10_030_000)).collect();
            outputs.push((Some("coordinator"), 300_000));
            g.tx(&spends, &outputs);
        },
        joined: &[],
        apart: &[("w0", "w1"), ("w5", "w11")],
    },
    Case {
        name: "change:fresh joins the only new output address",
        heuristics: &["change:fresh"],
        build: |g| {
            let f = funded(g, &["alice", "merchant"], BTC);
            g.tx(&[(f[0], 0)], &[(Some("merchant"), 30_000_000), (Some("alice-2"), 69_990_000)]);
        },
        joined: &[("alice", "alice-2")],
        apart: &[("alice", "merchant")],
    },
    Case {
        name: "change:fresh must not guess between two new outputs",
        heuristics: &["change:fresh"],
        build: |g| {
            let f = funded(g, &["alice"], BTC);
            g.tx(&[(f[0], 0)], &[(Some("new-1"), 30_000_000), (Some("new-2"), 69_990_000)]);
        },
        joined: &[],
        apart: &[("alice", "new-1"), ("alice", "new-2")],
    },
    Case {
        name: "change:fresh must not fire when change goes back to an input address",
        heuristics: &["change:fresh"],
        build: |g| {
            let f = funded(g, &["alice"], BTC);
            g.tx(&[(f[0], 0)], &[(Some("new-1"), 30_000_000), (Some("alice"), 69_990_000)]);
        },
        joined: &[],
        apart: &[("alice", "new-1")],
    },
    Case {
        name: "change:type joins the only output of the inputs' type",
        heuristics: &["change:type"],
        build: |g| {
            let f = funded(g, &["tr:alice"], BTC);
            g.tx(
                &[(f[0], 0)],
                &[(Some("pkh:exchange"), 30_000_000), (Some("tr:alice-2"), 69_990_000)],
            );
        },
        joined: &[("tr:alice", "tr:alice-2")],
        apart: &[("tr:alice", "pkh:exchange")],
    },
    Case {
        name: "change:type must not fire when both outputs share the inputs' type",
        heuristics: &["change:type"],
        build: |g| {
            let f = funded(g, &["tr:alice"], BTC);
            g.tx(&[(f[0], 0)], &[(Some("tr:bob"), 30_000_000), (Some("tr:alice-2"), 69_990_000)]);
        },
        joined: &[],
        apart: &[("tr:alice", "tr:bob"), ("tr:alice", "tr:alice-2")],
    },
    Case {
        name: "change:round joins the non-round output of a round payment",
        heuristics: &["change:round"],
        build: |g| {
            let f = funded(g, &["alice"], BTC);
            g.tx(&[(f[0], 0)], &[(Some("shop"), 25_000_000), (Some("alice-2"), 74_987_654)]);
        },
        joined: &[("alice", "alice-2")],
        apart: &[("alice", "shop")],
    },
    Case {
        name: "change:round must not fire when both outputs are round",
        heuristics: &["change:round"],
        build: |g| {
            let f = funded(g, &["alice"], BTC);
            g.tx(&[(f[0], 0)], &[(Some("shop"), 25_000_000), (Some("alice-2"), 74_990_000)]);
        },
        joined: &[],
        apart: &[("alice", "shop"), ("alice", "alice-2")],
    },
    Case {
        name: "change:optimal joins the only output smaller than every input",
        heuristics: &["change:optimal"],
        build: |g| {
            let f = funded(g, &["alice", "alice-b"], BTC);
            g.tx(
                &[(f[0], 0), (f[1], 0)],
                &[(Some("car-dealer"), 190_000_000), (Some("alice-2"), 9_990_000)],
            );
        },
        joined: &[("alice", "alice-2")],
        apart: &[("alice", "car-dealer")],
    },
    Case {
        name: "change:optimal must not fire when every output is smaller than the inputs",
        heuristics: &["change:optimal"],
        build: |g| {
            let f = funded(g, &["alice"], BTC);
            g.tx(&[(f[0], 0)], &[(Some("x"), 40_000_000), (Some("y"), 59_990_000)]);
        },
        joined: &[],
        apart: &[("alice", "x"), ("alice", "y")],
    },
];

#[test]
fn named_heuristic_cases() {
    for case in CASES {
        let mut graph = MemGraph::default();
        (case.build)(&mut graph);
        let (parent, changes) = cluster(&graph, case.heuristics);
        for (a, b) in case.joined {
            assert!(joined(&graph, &parent, a, b), "{}: {a} and {b} should be joined", case.name);
        }
        for (a, b) in case.apart {
            assert!(!joined(&graph, &parent, a, b), "{}: {a} and {b} must stay apart", case.name);
        }
        // Every applied link names a heuristic that was enabled.
        for link in &changes.links {
            assert!(
                case.heuristics.contains(&link.heuristic.to_string().as_str()),
                "{}",
                case.name
            );
        }
    }
}

#[test]
fn coinjoin_shapes_are_named() {
    let mut graph = MemGraph::default();
    let f = funded(&mut graph, &["p1", "p2", "p3", "p4", "p5"], 5_000_000 + 1_000);
    let spends: Vec<(TxNum, u32)> = f.iter().map(|t| (*t, 0)).collect();
    let names = ["m1", "m2", "m3", "m4", "m5"];
    let outputs: Vec<(Option<&str>, u64)> = names.iter().map(|n| (Some(*n), 5_000_000)).collect();
    let whirlpool = graph.tx(&spends, &outputs);
    assert_eq!(coinjoin_shape(&graph, whirlpool), Some(CoinjoinShape::Whirlpool));

    // A batch payout with a single input is not a coinjoin.
    let g = funded(&mut graph, &["exchange"], 10 * BTC);
    let batch = graph.tx(
        &[(g[0], 0)],
        &[(Some("u1"), BTC), (Some("u2"), BTC), (Some("u3"), BTC), (Some("hot"), 7 * BTC - 900)],
    );
    assert_eq!(coinjoin_shape(&graph, batch), None);
}

#[test]
fn evidence_names_tx_and_heuristic_and_clustering_is_incremental() {
    let mut graph = MemGraph::default();
    let f = funded(&mut graph, &["a1", "a2", "a3", "shop"], BTC);
    let spend = graph.tx(&[(f[0], 0), (f[1], 0)], &[(Some("shop"), BTC), (Some("a4"), BTC - 500)]);

    // First run up to `spend`, then over the rest after a new tx appears.
    let later = graph.tx(&[(spend, 1), (f[2], 0)], &[(Some("shop"), 2 * BTC - 1000)]);
    let len = graph.address_count() as usize;
    let (mut parent, mut size, mut next) = (vec![0; len], vec![0; len], vec![0; len]);
    let mut state = ClusterState::new(&mut parent, &mut size, &mut next);
    state.init_singletons(0);
    let clusterer = Clusterer::new(Config::from_names(&["multi-input", "change:fresh"]).unwrap());
    let first = clusterer.run(&graph, 0..spend.get() + 1, &mut state);
    let second = clusterer.run(&graph, spend.get() + 1..graph.tx_count() as u32, &mut state);
    state.canonicalize();
    let incremental = parent.clone();

    let (whole, changes) = cluster(&graph, &["multi-input", "change:fresh"]);
    assert_eq!(incremental, whole);
    assert_eq!(first.links.len() + second.links.len(), changes.links.len());
    let link = first.links.iter().find(|l| l.heuristic == Heuristic::MultiInput).unwrap();
    assert_eq!(link.tx, spend);
    let change = first
        .links
        .iter()
        .find(|l| l.heuristic == Heuristic::Change(ChangeHeuristic::Fresh))
        .unwrap();
    assert_eq!(graph.name(change.b), "a4");
    assert!(second.links.iter().all(|l| l.tx == later));
    assert!(joined(&graph, &whole, "a1", "a3"));
}
