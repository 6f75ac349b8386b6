//! The Etherscan label dump (brianleect/etherscan-labels, scraped 2023-06): an excerpt of
//! `combinedAccountLabels.json` imports with categories, and its sanctioned addresses agree with
//! OFAC's own ETH list of the time.

use std::collections::BTreeSet;
use std::path::Path;

use cointrail_labels::{ImportContext, SourceFormat, parse_etherscan, parse_file};

use super::data_path;

const EXCERPT: &str = "etherscan/combinedAccountLabels_excerpt.json";

#[test]
fn the_etherscan_dump_imports_with_categories() {
    let context = ImportContext::new("2026-11-23");
    let parsed = parse_file(SourceFormat::Etherscan, &data_path(EXCERPT), &context).unwrap();
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data_path(EXCERPT)).unwrap()).unwrap();
    assert_eq!(parsed.labels.len(), raw.as_object().unwrap().len(), "one label per address");
    assert!(parsed.skipped.is_empty());
    assert!(
        parsed.labels.iter().all(|label| label.asset == "ETH" && label.address.starts_with("0x"))
    );

    let find = |address: &str| {
        parsed
            .labels
            .iter()
            .find(|label| label.address == address)
            .unwrap_or_else(|| panic!("{address}"))
    };
    // Tornado Cash's router carries both tags: sanctions wins.
    let router = find("0xd90e2f925da726b50c4ed8d0fb90ad053324f31b");
    assert_eq!(router.name, "Tornado.Cash: Router");
    assert_eq!(router.category, "sanctions");
    assert!(router.source.contains("tornado-cash"), "{}", router.source);
    // Binance's first hot wallet.
    let binance = find("0x3f5ce5fbfe3e9af3971dd833d26ba9b5c936f0be");
    assert_eq!(binance.category, "exchange");
    // Every category is one of the documented ones.
    let categories: BTreeSet<&str> =
        parsed.labels.iter().map(|label| label.category.as_str()).collect();
    for category in &categories {
        assert!(
            [
                "sanctions",
                "theft",
                "scam",
                "mixer",
                "gambling",
                "exchange",
                "service",
                "blocked",
                "other"
            ]
            .contains(category),
            "{category}"
        );
    }
    assert!(categories.contains("theft") && categories.contains("mixer"), "{categories:?}");
}

#[test]
fn its_sanctioned_addresses_are_on_ofacs_list_of_the_time() {
    let context = ImportContext::new("2026-11-23");
    let etherscan = parse_file(SourceFormat::Etherscan, &data_path(EXCERPT), &context).unwrap();
    let sanctioned: BTreeSet<&str> = etherscan
        .labels
        .iter()
        .filter(|label| label.category == "sanctions")
        .map(|label| label.address.as_str())
        .collect();
    let ofac = parse_file(
        SourceFormat::OfacList,
        &data_path("ofac-2024-09-27/sanctioned_addresses_ETH.txt"),
        &context,
    )
    .unwrap();
    let listed: BTreeSet<&str> = ofac.labels.iter().map(|label| label.address.as_str()).collect();
    let both = sanctioned.intersection(&listed).count();
    // Etherscan tagged these from OFAC's list; a few were delisted or mistyped since.
    assert!(sanctioned.len() >= 50, "{}", sanctioned.len());
    assert!(both * 100 >= sanctioned.len() * 90, "{both} of {} on OFAC's list", sanctioned.len());
}

#[test]
fn a_tag_file_takes_its_tag_from_the_file_name() {
    let context = ImportContext::new("2026-11-23");
    let text = r#"{"0x28c6c06298d514db089934071355e5743bf21d60": "Binance 14"}"#;
    let parsed = parse_etherscan(text, Path::new("accounts/binance.json"), &context).unwrap();
    assert_eq!(parsed.labels[0].category, "exchange");
    assert_eq!(parsed.labels[0].source, "etherscan binance (binance.json)");
}
