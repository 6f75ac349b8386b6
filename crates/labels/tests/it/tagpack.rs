//! GraphSense TagPacks, on three real packs of graphsense-tagpacks.

use std::path::Path;

use cointrail_labels::{
    ImportContext, LabelError, Parsed, SourceFormat, parse_file, parse_tagpack,
};

use crate::{context, data_path};

fn pack(name: &str) -> Parsed {
    parse_file(SourceFormat::Tagpack, &data_path(&format!("tagpacks/{name}")), &context()).unwrap()
}

fn parse(text: &str) -> Result<Parsed, LabelError> {
    parse_tagpack(text, Path::new("pack.yaml"), &context())
}

#[test]
fn lazarus_header_fields_are_inherited() {
    let parsed = pack("lazarus.yaml");
    assert_eq!(parsed.labels.len(), 21);
    assert_eq!(parsed.labels.iter().filter(|l| l.asset == "BTC").count(), 20);
    for label in &parsed.labels {
        assert_eq!(label.name, "Lazarus group");
        assert_eq!(label.category, "sanctions", "abuse: sanction wins over category: user");
        assert_eq!(label.confidence, Some(60), "authority_data");
        assert_eq!(label.actor, None);
        assert_eq!(
            label.source,
            "https://www.treasury.gov/resource-center/sanctions/OFAC-Enforcement/Pages/20200302.aspx"
        );
        assert_eq!(label.imported, "2025-11-20");
    }
    let eth = parsed.labels.iter().find(|l| l.asset == "ETH").unwrap();
    assert_eq!(eth.address, "0x098b716b8aaf21512996dc57eb0615e2383e2f96");
}

#[test]
fn lazarus2_header_actor() {
    let parsed = pack("lazarus2.yaml");
    assert_eq!(parsed.labels.len(), 6);
    assert!(parsed.labels.iter().all(|l| l.actor.as_deref() == Some("lazarusgroup")));
    assert!(
        parsed
            .labels
            .iter()
            .all(|l| l.source
                == "https://www.fbi.gov/news/press-releases/fbi-identifies-cryptocurrency-funds-stolen-by-dprk")
    );
}

#[test]
fn ronin_bridge_per_tag_labels_and_header_currency() {
    let parsed = pack("ronin_bridge.yaml");
    assert_eq!(parsed.labels.len(), 6);
    assert!(parsed.labels.iter().all(|l| l.asset == "ETH"
        && l.category == "theft"
        && l.confidence == Some(50)
        && l.address.starts_with("0x")
        && l.address == l.address.to_lowercase()));
    let first = parsed
        .labels
        .iter()
        .find(|l| l.address == "0x098b716b8aaf21512996dc57eb0615e2383e2f96")
        .unwrap();
    assert_eq!(first.name, "Ronin bridge exploiter");
    assert!(parsed.labels.iter().any(|l| l.name == "Ronin bridge exploiter 8"));
}

#[test]
fn parsing_twice_is_identical() {
    for name in ["lazarus.yaml", "lazarus2.yaml", "ronin_bridge.yaml"] {
        assert_eq!(pack(name), pack(name), "{name}");
    }
}

#[test]
fn tag_overrides_and_defaults() {
    let text = "\
title: t
label: Header label
currency: btc
category: Exchange
confidence: 80
tags:
- address: 1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn
- address: '0x098B716B8Aaf21512996dC57EB0615e2383E2f96'
  currency: ETH
  label: Own label
  abuse: phishing
  confidence: forensic
  actor: someone
  source: https://example.org/report
";
    let context = ImportContext { source: Some("my import".into()), ..context() };
    let parsed = parse_tagpack(text, Path::new("pack.yaml"), &context).unwrap();
    let [eth, btc] = parsed.labels.as_slice() else { panic!("{parsed:?}") };
    assert_eq!(
        (btc.asset.as_str(), btc.name.as_str(), btc.category.as_str(), btc.confidence),
        ("BTC", "Header label", "exchange", Some(80))
    );
    assert_eq!(btc.source, "my import");
    assert_eq!(
        (eth.name.as_str(), eth.category.as_str(), eth.confidence, eth.actor.as_deref()),
        ("Own label", "scam", Some(50), Some("someone"))
    );
    assert_eq!(eth.source, "https://example.org/report");
}

#[test]
fn errors_name_file_and_line() {
    let header = "label: L\ncurrency: BTC\ncategory: user\ntags:\n";
    for (name, tags, line, contains) in [
        (
            "missing address",
            "- address: 1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn\n- label: x\n",
            6,
            "tag #2 has no `address`",
        ),
        (
            "missing label",
            "- address: 1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn\n  label: ~\n",
            5,
            "tag #1 has no `label`",
        ),
        (
            "bad address",
            "- address: 1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn\n- address: 1nope\n",
            6,
            "bad BTC address `1nope`",
        ),
        (
            "bad confidence",
            "- address: 1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn\n  confidence: very_high\n",
            6,
            "bad confidence `very_high`",
        ),
        ("tag not a mapping", "- just text\n", 5, "a tag is not a mapping"),
        ("malformed yaml", "- address: [1, 2\n", 6, "malformed yaml"),
        ("nested value", "- address: [1, 2]\n", 5, "`address` is not a plain value"),
    ] {
        let error = parse(&format!("{header}{tags}")).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with(&format!("pack.yaml:{line}:")), "{name}: {message}");
        assert!(message.contains(contains), "{name}: {message}");
    }
    for (name, text, contains) in [
        ("missing currency", "label: L\ncategory: c\ntags:\n- address: x1\n", "no `currency`"),
        (
            "missing category",
            "label: L\ncurrency: BTC\ntags:\n- address: 1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn\n",
            "no `category`",
        ),
        ("no tags", "label: L\n", "no `tags`"),
        ("tags not a list", "tags: 3\n", "`tags` is not a list"),
        ("not a mapping", "- 1\n", "not a mapping"),
        ("empty", "", "no yaml document"),
    ] {
        let message = parse(text).unwrap_err().to_string();
        assert!(message.starts_with("pack.yaml:"), "{name}: {message}");
        assert!(message.contains(contains), "{name}: {message}");
    }
}
