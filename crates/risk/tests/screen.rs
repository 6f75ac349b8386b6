//! Screening on hand-built graphs: exact exposure amounts, hops, paths and scores.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::HashMap;

use cointrail_risk::{Level, RiskOptions, Rules, TargetLabel, screen};
use cointrail_taint::StopLabel;
use cointrail_testkit::MemGraph;
use cointrail_types::{AddressId, OutputId};

fn label(name: &str, category: &str) -> StopLabel {
    StopLabel { name: name.to_owned(), category: category.to_owned() }
}

/// lazarus (sanctions) -> mid -> [mid + clean] -> deposit (2 hops), and mixer -> deposit (1 hop).
struct Case {
    graph: MemGraph,
    stops: HashMap<AddressId, StopLabel>,
    deposit: Vec<OutputId>,
}

fn case() -> Case {
    let mut graph = MemGraph::default();
    let lazarus = graph.coinbase(&[(Some("lazarus"), 1000)]);
    let clean = graph.coinbase(&[(Some("clean"), 3000)]);
    let mixer = graph.coinbase(&[(Some("mixer"), 600)]);
    let hop = graph.tx(&[(lazarus, 0)], &[(Some("mid"), 990)]);
    let join = graph.tx(&[(hop, 0), (clean, 0)], &[(Some("deposit"), 2000), (Some("other"), 1990)]);
    let mixed = graph.tx(&[(mixer, 0)], &[(Some("deposit"), 500)]);
    let mut stops = HashMap::new();
    stops.insert(graph.address("lazarus"), label("Lazarus Group", "sanctions"));
    stops.insert(graph.address("mixer"), label("Mixer X", "mixer"));
    let deposit = vec![graph.outpoint(join, 0), graph.outpoint(mixed, 0)];
    Case { graph, stops, deposit }
}

#[test]
fn direct_and_two_hop_exposures_are_exact() {
    let Case { graph, stops, deposit } = case();
    let rules = Rules::default_rules().unwrap();
    let assessment = screen(&graph, &stops, &deposit, &[], &rules, &RiskOptions::default());
    assert_eq!(assessment.screened_amount, 2500);
    assert_eq!(assessment.exposures.len(), 2, "{assessment:#?}");
    let sanctions = &assessment.exposures[0];
    assert_eq!(sanctions.label.name, "Lazarus Group");
    // Haircut: the join gives floor(2000 * 990 / 3990) = 496, plus the one-satoshi remainder.
    assert_eq!(sanctions.amount, 497);
    assert_eq!(sanctions.hops, 2);
    assert!(!sanctions.direct);
    assert!((sanctions.share - 497.0 / 2500.0).abs() < 1e-12);
    assert!((sanctions.score - 7.5).abs() < 1e-9, "10 x 0.75 x 1");
    assert_eq!(sanctions.paths.len(), 1);
    assert_eq!(sanctions.paths[0].txs.len(), 2, "join, then the hop that spent the label");
    assert_eq!(sanctions.paths[0].amount, 497);
    let mixer = &assessment.exposures[1];
    assert_eq!(mixer.label.category, "mixer");
    assert_eq!(mixer.amount, 500);
    assert_eq!(mixer.hops, 1);
    assert!(mixer.direct);
    assert!((mixer.score - 7.0).abs() < 1e-9);
    assert!((assessment.score - 7.5).abs() < 1e-9);
    assert_eq!(assessment.level, Level::High);
    assert!(assessment.truncated.is_none());

    // Within one hop only the mixer is seen; the rest is beyond the limit.
    let near = RiskOptions { max_hops: 1, ..RiskOptions::default() };
    let assessment = screen(&graph, &stops, &deposit, &[], &rules, &near);
    assert_eq!(assessment.exposures.len(), 1);
    assert_eq!(assessment.exposures[0].amount, 500);
    assert_eq!(assessment.beyond_limits, 2000);
}

#[test]
fn a_sanctioned_target_is_severe() {
    let Case { graph, stops, .. } = case();
    let rules = Rules::default_rules().unwrap();
    let own = graph.outpoint(cointrail_types::TxNum::new(0), 0);
    let target = [TargetLabel { label: label("Lazarus Group", "sanctions"), amount: 1000 }];
    let assessment = screen(&graph, &stops, &[own], &target, &rules, &RiskOptions::default());
    assert_eq!(assessment.score, 10.0);
    assert_eq!(assessment.level, Level::Severe);
    assert_eq!(assessment.severe_by_label, vec!["sanctions".to_owned()]);
    assert_eq!(assessment.exposures[0].hops, 0);
    assert!(assessment.exposures[0].direct);
    assert_eq!(assessment.exposures[0].share, 1.0);
}

#[test]
fn clean_funds_score_zero() {
    let mut graph = MemGraph::default();
    let mined = graph.coinbase(&[(Some("miner"), 50)]);
    let paid = graph.tx(&[(mined, 0)], &[(Some("shop"), 49)]);
    let stops: HashMap<AddressId, StopLabel> = HashMap::new();
    let rules = Rules::default_rules().unwrap();
    let seeds = [graph.outpoint(paid, 0)];
    let assessment = screen(&graph, &stops, &seeds, &[], &rules, &RiskOptions::default());
    assert_eq!(assessment.score, 0.0);
    assert_eq!(assessment.level, Level::Low);
    assert!(assessment.exposures.is_empty());
}

#[test]
fn rules_are_checked() {
    let rules = Rules::default_rules().unwrap();
    assert!(rules.is_risk_category("sanctions"));
    assert!(!rules.is_risk_category("exchange"));
    assert_eq!(rules.level(9.0), Level::Severe);
    assert_eq!(rules.level(3.9), Level::Low);
    assert!((rules.share_factor(0.05) - 0.7).abs() < 1e-12);
    assert_eq!(rules.share_factor(0.00001), 0.0);
    let unknown =
        cointrail_risk::DEFAULT_RULES.replacen("\"version\"", "\"colour\": 1, \"version\"", 1);
    let error = Rules::from_json(&unknown).unwrap_err().to_string();
    assert!(error.contains("unknown field `colour`"), "{error}");
    let bad = cointrail_risk::DEFAULT_RULES.replace("\"hop_decay\": 0.75", "\"hop_decay\": 1.5");
    let error = Rules::from_json(&bad).unwrap_err().to_string();
    assert!(error.contains("hop_decay"), "{error}");
    let docs = include_str!("../../../docs/risk.md");
    assert!(
        docs.contains(cointrail_risk::DEFAULT_RULES.trim()),
        "docs/risk.md shows the default rules"
    );
}
