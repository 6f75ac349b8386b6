//! Hand-built chains with exact satoshis per policy, conservation on random graphs, determinism.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code")]

mod planted;

use std::collections::HashMap;

use cointrail_taint::{
    Destination, Direction, Policy, StopLabel, TraceOptions, TraceReport, trace,
};
use cointrail_testkit::MemGraph;
use cointrail_types::{AddressId, ChainGraph, OutputId, TxNum};

struct Theft {
    graph: MemGraph,
    seed: OutputId,
    stops: HashMap<AddressId, StopLabel>,
    txs: Vec<TxNum>,
}

fn label(name: &str) -> StopLabel {
    StopLabel { name: name.into(), category: "exchange".into() }
}

/// A theft laundered through a peel chain into two exchanges, mixed with the thief's own clean
/// coins, then through a CoinJoin. Values in satoshis, fee 10 per tx unless noted.
fn theft() -> Theft {
    let mut g = MemGraph::default();
    let cb_victim = g.coinbase(&[(Some("victim"), 1000)]);
    let cb_own = g.coinbase(&[(Some("thief-own"), 500)]);
    let cb_p2 = g.coinbase(&[(Some("p2"), 390)]);
    let cb_p3 = g.coinbase(&[(Some("p3"), 390)]);
    let t1 = g.tx(&[(cb_victim, 0)], &[(Some("thief-a"), 600), (Some("victim-b"), 390)]);
    let t2 = g.tx(&[(t1, 0)], &[(Some("exA-dep"), 100), (Some("thief-b"), 490)]);
    let t3 = g.tx(&[(t2, 1)], &[(Some("shop"), 90), (Some("thief-c"), 390)]);
    let t4 = g.tx(&[(t3, 1)], &[(Some("exB-dep"), 80), (Some("thief-d"), 300)]);
    let t5 = g.tx(&[(t4, 1), (cb_own, 0)], &[(Some("exA-dep2"), 400), (Some("thief-e"), 390)]);
    let t6 = g.tx(
        &[(t5, 1), (cb_p2, 0), (cb_p3, 0)],
        &[(Some("m1"), 380), (Some("m2"), 380), (Some("m3"), 380)],
    );
    // The exchange sweeps its deposits (not followed: tracing stops at the deposits).
    let t7 = g.tx(&[(t2, 0), (t5, 0)], &[(Some("exA-hot"), 495)]);
    let mut stops = HashMap::new();
    for (address, name) in [
        ("exA-dep", "Exchange A"),
        ("exA-dep2", "Exchange A"),
        ("exA-hot", "Exchange A"),
        ("exB-dep", "Exchange B"),
    ] {
        stops.insert(g.address(address), label(name));
    }
    let seed = g.outpoint(t1, 0);
    Theft { graph: g, seed, stops, txs: vec![t1, t2, t3, t4, t5, t6, t7] }
}

fn reached(report: &TraceReport, name: &str) -> u64 {
    report.reached.iter().find(|r| r.label.name == name).map_or(0, |r| r.amount)
}

#[test]
fn forward_amounts_per_policy_are_exact() {
    let theft = theft();
    // (policy, exchange A, exchange B, unspent, fees)
    let expected = [
        (Policy::Poison, 500, 80, 1230, 70),
        (Policy::Haircut, 251, 80, 233, 36),
        (Policy::Fifo, 400, 80, 90, 30),
        (Policy::Lifo, 100, 80, 380, 40),
    ];
    for (policy, a, b, unspent, fees) in expected {
        let report = trace(
            &theft.graph,
            &theft.stops,
            &[theft.seed],
            &TraceOptions::new(policy, Direction::Forward),
        );
        assert_eq!(report.seed_amount, 600);
        assert_eq!(reached(&report, "Exchange A"), a, "{policy} exchange A");
        assert_eq!(reached(&report, "Exchange B"), b, "{policy} exchange B");
        assert_eq!(report.unspent, unspent, "{policy} unspent");
        assert_eq!(report.fees, fees, "{policy} fees");
        if policy.conserves() {
            assert_eq!(report.accounted(), report.seed_amount, "{policy} conserves");
        }
        let a_entry = report.reached.iter().find(|r| r.label.name == "Exchange A").unwrap();
        assert_eq!(a_entry.hops, 1, "{policy}: first deposit one tx after the theft");
        assert!(a_entry.txs.contains(&theft.txs[1]));
    }
}

#[test]
fn patterns_of_the_laundering_are_reported() {
    let theft = theft();
    let report = trace(
        &theft.graph,
        &theft.stops,
        &[theft.seed],
        &TraceOptions::new(Policy::Haircut, Direction::Forward),
    );
    assert_eq!(report.patterns.peel_chains.len(), 1);
    let chain = &report.patterns.peel_chains[0];
    assert_eq!(chain.txs, theft.txs[1..5].to_vec());
    assert_eq!(chain.peeled, 100 + 90 + 80);
    assert_eq!(chain.peels[0].destination, Destination::Stop(label("Exchange A")));
    assert_eq!(chain.peels[1].destination, Destination::Unspent);
    assert_eq!(report.patterns.coinjoins.len(), 1);
    assert_eq!(report.patterns.coinjoins[0].tx, theft.txs[5]);
    assert_eq!(report.patterns.coinjoins[0].tainted_in, 146);
    // Under FIFO none of the taint reaches the CoinJoin.
    let fifo = trace(
        &theft.graph,
        &theft.stops,
        &[theft.seed],
        &TraceOptions::new(Policy::Fifo, Direction::Forward),
    );
    assert!(fifo.patterns.coinjoins.is_empty());
}

#[test]
fn backward_source_of_funds_per_policy() {
    let mut theft = theft();
    theft.stops.insert(theft.graph.address("victim"), label("Victim Exchange"));
    let deposit = theft.graph.outpoint(theft.txs[4], 0); // 400 at exA-dep2
    // (policy, from the victim, newly mined)
    for (policy, victim, mined) in
        [(Policy::Haircut, 150, 250), (Policy::Fifo, 300, 100), (Policy::Lifo, 0, 400)]
    {
        let report = trace(
            &theft.graph,
            &theft.stops,
            &[deposit],
            &TraceOptions::new(policy, Direction::Backward),
        );
        assert_eq!(reached(&report, "Victim Exchange"), victim, "{policy}");
        assert_eq!(report.mined, mined, "{policy}");
        assert_eq!(report.accounted(), 400, "{policy} conserves");
    }
}

#[test]
fn limits_cut_the_trace_and_say_so() {
    let theft = theft();
    let mut options = TraceOptions::new(Policy::Haircut, Direction::Forward);
    options.max_hops = 2;
    let report = trace(&theft.graph, &theft.stops, &[theft.seed], &options);
    assert_eq!(reached(&report, "Exchange B"), 0, "exchange B is three hops away");
    assert!(report.beyond_limits > 0);
    assert_eq!(report.accounted(), 600);
    options.max_hops = 100;
    options.max_txs = 2;
    let report = trace(&theft.graph, &theft.stops, &[theft.seed], &options);
    assert_eq!(report.truncated, Some(cointrail_taint::Truncation::Transactions));
    assert_eq!(report.accounted(), 600);
    options.max_txs = 1000;
    options.min_amount = 95;
    let report = trace(&theft.graph, &theft.stops, &[theft.seed], &options);
    assert_eq!(report.below_min_amount, 90 + 80 + 48 + 48 + 47);
    assert_eq!(report.accounted(), 600);
}

/// A random chain: coinbases and transactions spending random unspent outputs.
fn random_graph(seed: u64) -> (MemGraph, Vec<OutputId>, HashMap<AddressId, StopLabel>) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut random = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound.max(1)
    };
    let mut g = MemGraph::default();
    let mut unspent: Vec<(TxNum, u32, u64)> = Vec::new();
    let names: Vec<String> = (0..40).map(|i| format!("a{i}")).collect();
    for _ in 0..60 {
        if unspent.len() < 3 || random(5) == 0 {
            let value = 1000 + random(1_000_000);
            let tx = g.coinbase(&[(Some(&names[random(40) as usize]), value)]);
            unspent.push((tx, 0, value));
            continue;
        }
        let mut spends = Vec::new();
        let mut total = 0;
        for _ in 0..1 + random(4) {
            if unspent.is_empty() {
                break;
            }
            let (tx, vout, value) = unspent.swap_remove(random(unspent.len() as u64) as usize);
            spends.push((tx, vout));
            total += value;
        }
        let fee = random(total / 20 + 1);
        let mut left = total - fee;
        let count = 1 + random(4);
        let mut outputs: Vec<(Option<&str>, u64)> = Vec::new();
        for index in 0..count {
            let value = if index + 1 == count { left } else { random(left + 1) };
            left -= value;
            outputs.push((Some(names[random(40) as usize].as_str()), value));
        }
        let tx = g.tx(&spends, &outputs);
        for (vout, (_, value)) in outputs.iter().enumerate() {
            unspent.push((tx, vout as u32, *value));
        }
    }
    let mut stops = HashMap::new();
    for index in 0..4 {
        if let Some(address) = (0..g.address_count())
            .map(|id| AddressId::new(id as u32))
            .nth(random(g.address_count()) as usize)
        {
            stops.insert(address, label(&format!("exchange {index}")));
        }
    }
    let seeds: Vec<OutputId> = (0..1 + random(3))
        .map(|_| OutputId::new(random(g.tx_outputs(TxNum::new((g.tx_count() - 1) as u32)).end)))
        .collect();
    (g, seeds, stops)
}

#[test]
fn conserving_policies_account_for_every_satoshi_on_random_graphs() {
    for case in 0..300 {
        let (graph, seeds, stops) = random_graph(case);
        for policy in [Policy::Haircut, Policy::Fifo, Policy::Lifo] {
            for direction in [Direction::Forward, Direction::Backward] {
                let mut options = TraceOptions::new(policy, direction);
                options.max_hops = 1 + (case % 7) as u32;
                options.min_amount = [0, 1, 1000, 50_000][case as usize % 4];
                let report = trace(&graph, &stops, &seeds, &options);
                assert_eq!(
                    report.accounted(),
                    report.seed_amount,
                    "case {case} {policy} {direction:?}"
                );
                // Nothing is created: no destination exceeds the seed amount.
                assert!(report.reached.iter().all(|r| r.amount <= report.seed_amount));
                let again = trace(&graph, &stops, &seeds, &options);
                assert_eq!(report, again, "deterministic");
            }
        }
    }
}

#[test]
fn deposit_forwarding_counts_value_at_the_swept_deposit() {
    let mut theft = theft();
    // Only the exchange's hot wallet is known; its deposit addresses are not.
    theft.stops.retain(|_, label| label.name != "Exchange A");
    theft.stops.insert(theft.graph.address("exA-hot"), label("Exchange A"));
    let mut options = TraceOptions::new(Policy::Haircut, Direction::Forward);
    let without = trace(&theft.graph, &theft.stops, &[theft.seed], &options);
    options.deposit_forwarding = true;
    let with = trace(&theft.graph, &theft.stops, &[theft.seed], &options);
    // Haircut: 100 at exA-dep and 151 at exA-dep2, both swept into exA-hot.
    assert_eq!(reached(&with, "Exchange A"), 251);
    assert_eq!(with.reached[0].hops, 1);
    // Without the rule the value is followed into the sweep and pays its share of the sweep fee:
    // 251 of its 500 inputs is tainted, so the fee of 5 takes 2 and the hot wallet gets 249.
    assert_eq!(reached(&without, "Exchange A"), 249);
    assert_eq!(with.accounted(), 600);
    assert_eq!(without.accounted(), 600);
}
