//! Hand-built trace documents.

use cointrail_report::{
    Coinjoin, Consolidation, Edge, Node, Patterns, Peel, PeelChain, Reached, Reproduce, Source,
    TraceDocument,
};

/// A label that tries to inject a script.
pub(crate) const SCRIPT_LABEL: &str = "<script>alert(\"pwned\")</script>";

/// A txid-like hex string, different for each `n`.
pub(crate) fn txid(n: u64) -> String {
    let mut state = n.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(0x2545_f491_4f6c_dd1d);
    let mut text = String::new();
    for _ in 0..4 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        text.push_str(&format!("{state:016x}"));
    }
    text
}

fn tx(n: u64, height: u32, seed: bool) -> Node {
    Node {
        id: format!("tx:{}", txid(n)),
        kind: "tx".into(),
        label: txid(n),
        height: Some(height),
        seed,
    }
}

fn stop(label: &str) -> Node {
    Node {
        id: format!("stop:{label}"),
        kind: "stop".into(),
        label: label.into(),
        height: None,
        seed: false,
    }
}

fn plain(kind: &str) -> Node {
    Node { id: kind.into(), kind: kind.into(), label: kind.into(), height: None, seed: false }
}

fn unspent(address: &str) -> Node {
    Node {
        id: format!("unspent:{address}"),
        kind: "unspent".into(),
        label: address.into(),
        height: None,
        seed: false,
    }
}

fn edge(from: &str, to: &str, amount: u64, output: Option<String>) -> Edge {
    let amount = u128::from(amount);
    Edge { from: from.into(), to: to.into(), amount, output }
}

fn out(n: u64, vout: u32) -> String {
    format!("{}:{vout}", txid(n))
}

fn id(n: u64) -> String {
    format!("tx:{}", txid(n))
}

fn empty(policy: &str, direction: &str) -> TraceDocument {
    TraceDocument {
        policy: policy.into(),
        direction: direction.into(),
        chain: "bitcoin regtest".into(),
        unit: cointrail_report::Unit::default(),
        seeds: Vec::new(),
        seed_amount: 0,
        reached: Vec::new(),
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
        nodes: Vec::new(),
        edges: Vec::new(),
        patterns: Patterns::default(),
        sources: Vec::new(),
        reproduce: Reproduce {
            command: "cointrail trace SEED --store ./store".into(),
            tip_height: Some(1000),
            tip_hash: Some(txid(999)),
            clustered_txs: 0,
            version: "0.1.0".into(),
        },
    }
}

const KRAKEN: &str = "Kraken \"Pro\", EU";
const ADDRESS: &str = "bcrt1qq6hag67dl53wl99vzg42z8eyzfz2xlkvwk6f7m";

/// A 10 BTC theft (seed tx 0 at height 100) peeled by txs 1 and 2 into two exchanges, then
/// through a CoinJoin (tx 3) into an unspent address; fees on the way. FIFO, conserved.
pub(crate) fn peel_chain() -> TraceDocument {
    let mut doc = empty("fifo", "forward");
    doc.seeds = vec![out(0, 0)];
    doc.seed_amount = 1_000_000_000;
    doc.reached = vec![
        Reached {
            label: KRAKEN.into(),
            category: "exchange".into(),
            amount: 300_000_000,
            hops: 2,
            txs: vec![txid(2)],
            outputs: vec![out(2, 0)],
        },
        Reached {
            label: "Binance".into(),
            category: "exchange".into(),
            amount: 200_000_000,
            hops: 1,
            txs: vec![txid(1)],
            outputs: vec![out(1, 0)],
        },
    ];
    doc.unspent = 499_970_000;
    doc.unspent_outputs = 1;
    doc.fees = 30_000;
    doc.txs_visited = 3;
    doc.nodes = vec![
        tx(0, 100, true),
        tx(1, 101, false),
        tx(2, 105, false),
        tx(3, 110, false),
        stop("Binance"),
        stop(KRAKEN),
        unspent(ADDRESS),
        plain("fees"),
    ];
    doc.edges = vec![
        edge(&id(0), &id(1), 1_000_000_000, Some(out(0, 0))),
        edge(&id(1), "stop:Binance", 200_000_000, Some(out(1, 0))),
        edge(&id(1), &id(2), 799_990_000, Some(out(1, 1))),
        edge(&id(1), "fees", 10_000, None),
        edge(&id(2), &format!("stop:{KRAKEN}"), 300_000_000, Some(out(2, 0))),
        edge(&id(2), &id(3), 499_980_000, Some(out(2, 1))),
        edge(&id(2), "fees", 10_000, None),
        edge(&id(3), &format!("unspent:{ADDRESS}"), 499_970_000, Some(out(3, 4))),
        edge(&id(3), "fees", 10_000, None),
    ];
    doc.patterns = Patterns {
        peel_chains: vec![PeelChain {
            length: 2,
            txs: vec![txid(1), txid(2)],
            peeled: 500_000_000,
            peels: vec![
                Peel {
                    tx: txid(1),
                    output: out(1, 0),
                    amount: 200_000_000,
                    destination: "Binance".into(),
                },
                Peel {
                    tx: txid(2),
                    output: out(2, 0),
                    amount: 300_000_000,
                    destination: KRAKEN.into(),
                },
            ],
        }],
        coinjoins: vec![Coinjoin {
            tx: txid(3),
            shape: "whirlpool".into(),
            tainted_in: 499_980_000,
            tainted_out: 499_970_000,
        }],
        consolidations: vec![Consolidation { tx: txid(3), inputs: 5, tainted_inputs: 1 }],
    };
    doc.sources = vec![
        Source {
            label: "Binance".into(),
            category: "exchange".into(),
            address: "bcrt1qbinance000000000000000000000000000000".into(),
            source: "https://example.org/tagpacks/binance.yaml?a=1&b=2".into(),
            via_cluster: false,
            reached_address: None,
            joined_by: Vec::new(),
        },
        Source {
            label: KRAKEN.into(),
            category: "exchange".into(),
            address: "bcrt1qkraken0000000000000000000000000000000".into(),
            source: "labels.csv".into(),
            via_cluster: true,
            reached_address: Some("bc1qdeposit".to_owned()),
            joined_by: vec!["multi-input in 00ff".to_owned()],
        },
        Source {
            label: SCRIPT_LABEL.into(),
            category: "<b>theft</b>".into(),
            address: "<img src=x onerror=alert(1)>".into(),
            source: "http://evil.example/\"><script>alert(2)</script>".into(),
            via_cluster: false,
            reached_address: None,
            joined_by: Vec::new(),
        },
    ];
    doc.reproduce.command = format!(
        "cointrail trace {} --store '/cases/acme & co' --policy fifo --format json",
        out(0, 0)
    );
    // A hostile label among the destinations (with nothing at it), to check escaping everywhere
    // a label appears.
    doc.reached.push(Reached {
        label: SCRIPT_LABEL.into(),
        category: "theft".into(),
        amount: 0,
        hops: 3,
        txs: vec![txid(3)],
        outputs: vec![out(3, 9)],
    });
    doc
}

/// A backward trace: the seed tx 50 funded by tx 51 (from an exchange) and tx 52 (a coinbase).
pub(crate) fn backward() -> TraceDocument {
    let mut doc = empty("haircut", "backward");
    doc.seeds = vec![out(50, 1)];
    doc.seed_amount = 300_000_000;
    doc.reached = vec![Reached {
        label: "Old Exchange".into(),
        category: "exchange".into(),
        amount: 100_000_000,
        hops: 2,
        txs: vec![txid(51)],
        outputs: vec![out(60, 0)],
    }];
    doc.mined = 200_000_000;
    doc.nodes = vec![
        tx(50, 300, true),
        tx(51, 250, false),
        tx(52, 200, false),
        stop("Old Exchange"),
        plain("mined"),
    ];
    doc.edges = vec![
        edge("stop:Old Exchange", &id(51), 100_000_000, Some(out(60, 0))),
        edge("mined", &id(52), 200_000_000, None),
        edge(&id(51), &id(50), 100_000_000, Some(out(51, 0))),
        edge(&id(52), &id(50), 200_000_000, Some(out(52, 0))),
    ];
    doc
}

/// A peel chain of `length` transactions, each peeling a little to its own unspent address.
pub(crate) fn chain_of(length: u64) -> TraceDocument {
    let mut doc = empty("fifo", "forward");
    doc.seeds = vec![out(1000, 0)];
    let mut amount = 100_000_000_000u64;
    doc.seed_amount = amount.into();
    for n in 0..length {
        let number = 1000 + n;
        doc.nodes.push(tx(number, 1000 + u32::try_from(n).unwrap(), n == 0));
        let peel = 10_000_000 + (n * 7_919 % 1_000) * 100_000;
        let address = format!("bcrt1qpeel{n:032}");
        doc.nodes.push(unspent(&address));
        doc.edges.push(edge(
            &id(number),
            &format!("unspent:{address}"),
            peel,
            Some(out(number, 0)),
        ));
        amount -= peel;
        doc.unspent += u128::from(peel);
        doc.unspent_outputs += 1;
        if n + 1 < length {
            doc.edges.push(edge(&id(number), &id(number + 1), amount, Some(out(number, 1))));
        } else {
            doc.nodes.push(unspent("bcrt1qlast"));
            doc.edges.push(edge(&id(number), "unspent:bcrt1qlast", amount, Some(out(number, 1))));
            doc.unspent += u128::from(amount);
            doc.unspent_outputs += 1;
        }
    }
    doc
}

/// `depth` layers of `width` transactions, each sending to two of the next layer; the last layer
/// pays 20 exchanges.
pub(crate) fn layered(depth: u64, width: u64) -> TraceDocument {
    let mut doc = empty("haircut", "forward");
    let number = |layer: u64, row: u64| 5000 + layer * width + row;
    for layer in 0..depth {
        for row in 0..width {
            let n = number(layer, row);
            doc.nodes.push(tx(n, 2000 + u32::try_from(layer).unwrap(), layer == 0));
            let amount = 1_000_000 + (n * 104_729 % 10_000) * 1_000;
            if layer == 0 {
                doc.seeds.push(out(n, 0));
            }
            if layer + 1 < depth {
                for (vout, next) in [(0, row), (1, (row * 7 + 3) % width)] {
                    doc.edges.push(edge(
                        &id(n),
                        &id(number(layer + 1, next)),
                        amount / 2,
                        Some(out(n, vout)),
                    ));
                }
            } else {
                let label = format!("Exchange {}", row % 20);
                doc.edges.push(edge(&id(n), &format!("stop:{label}"), amount, Some(out(n, 0))));
            }
        }
    }
    for index in 0..20 {
        let label = format!("Exchange {index}");
        doc.nodes.push(stop(&label));
        doc.reached.push(Reached {
            label,
            category: if index % 3 == 0 { "exchange" } else { "mixer" }.into(),
            amount: 1,
            hops: u32::try_from(depth).unwrap(),
            txs: Vec::new(),
            outputs: Vec::new(),
        });
    }
    doc
}
