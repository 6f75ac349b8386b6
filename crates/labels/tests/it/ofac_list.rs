//! OFAC per-asset lists, and the diff between two of them.

use std::collections::BTreeSet;
use std::path::Path;

use cointrail_labels::{
    ImportContext, LabelError, SourceFormat, diff, parse_file, parse_ofac_list,
};

use crate::{context, data_path, data_text};

/// The 2024-09-27 ETH list minus the 2025-11-19 one: mostly Tornado Cash, delisted in March 2025.
const ETH_REMOVED: usize = 90;
/// The 2025-11-19 ETH list minus the 2024-09-27 one.
const ETH_ADDED: usize = 15;

/// The set of lower-cased non-blank lines of a list file, computed without the crate.
fn raw_set(name: &str) -> BTreeSet<String> {
    data_text(name)
        .lines()
        .map(|line| line.trim().to_ascii_lowercase())
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
fn xbt_list_2025() {
    let name = "ofac-2025-11-19/sanctioned_addresses_XBT.txt";
    let parsed = parse_file(SourceFormat::OfacList, &data_path(name), &context()).unwrap();
    let raw: BTreeSet<String> = data_text(name)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    // OFAC lists one TRON address as XBT: skipped, with its line.
    assert_eq!(parsed.labels.len(), raw.len() - 1);
    assert_eq!(parsed.labels.len(), 516);
    assert_eq!(parsed.skipped.len(), 1);
    assert_eq!(parsed.skipped[0].line, 379);
    assert_eq!(parsed.skipped[0].address, "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq");
    let label = &parsed.labels[0];
    assert_eq!(label.asset, "BTC");
    assert_eq!(label.name, "OFAC SDN list");
    assert_eq!(label.category, "sanctions");
    assert_eq!(label.source, "sanctioned_addresses_XBT.txt");
    assert_eq!(label.confidence, Some(100));
    assert_eq!(label.imported, "2025-11-20");
    assert!(parsed.labels.windows(2).all(|pair| pair[0] < pair[1]), "sorted and unique");
}

#[test]
fn eth_lists_diff_shows_tornado_cash_delisting() {
    let old_name = "ofac-2024-09-27/sanctioned_addresses_ETH.txt";
    let new_name = "ofac-2025-11-19/sanctioned_addresses_ETH.txt";
    let old = parse_file(SourceFormat::OfacList, &data_path(old_name), &context()).unwrap();
    let new = parse_file(SourceFormat::OfacList, &data_path(new_name), &context()).unwrap();
    let changes = diff(&old.labels, &new.labels);

    let (old_raw, new_raw) = (raw_set(old_name), raw_set(new_name));
    let removed: BTreeSet<String> = old_raw.difference(&new_raw).cloned().collect();
    let added: BTreeSet<String> = new_raw.difference(&old_raw).cloned().collect();
    let got_removed: BTreeSet<String> = changes.removed.iter().map(|l| l.address.clone()).collect();
    let got_added: BTreeSet<String> = changes.added.iter().map(|l| l.address.clone()).collect();
    assert_eq!(got_removed, removed);
    assert_eq!(got_added, added);
    assert_eq!((changes.removed.len(), changes.added.len()), (ETH_REMOVED, ETH_ADDED));
    // Tornado Cash: router and donation address.
    for tornado in
        ["0xd90e2f925da726b50c4ed8d0fb90ad053324f31b", "0x8589427373d6d84e98730d7795d8f6f8731fda16"]
    {
        assert!(got_removed.contains(tornado), "{tornado}");
    }
}

#[test]
fn source_override_and_blank_lines() {
    let context = ImportContext { source: Some("OFAC 2025-11-19".to_owned()), ..context() };
    let text = "\n0x098B716B8Aaf21512996dC57EB0615e2383E2f96\n\n  \n";
    let parsed =
        parse_ofac_list(text, Path::new("x/sanctioned_addresses_ETH.txt"), &context).unwrap();
    assert_eq!(parsed.labels.len(), 1);
    assert_eq!(parsed.labels[0].address, "0x098b716b8aaf21512996dc57eb0615e2383e2f96");
    assert_eq!(parsed.labels[0].source, "OFAC 2025-11-19");
}

#[test]
fn bad_address_names_file_and_line() {
    let text = "1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn\n\nnot-an-address\n";
    let error = parse_ofac_list(text, Path::new("lists/sanctioned_addresses_XBT.txt"), &context())
        .unwrap_err();
    assert!(
        matches!(&error, LabelError::Address { line: 3, address, .. } if address == "not-an-address")
    );
    let message = error.to_string();
    assert!(
        message.starts_with("lists/sanctioned_addresses_XBT.txt:3: bad BTC address"),
        "{message}"
    );
}

#[test]
fn odd_addresses_are_skipped() {
    let text = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96\n0x1234\n";
    let parsed =
        parse_ofac_list(text, Path::new("sanctioned_addresses_ETH.txt"), &context()).unwrap();
    assert_eq!(parsed.labels.len(), 1);
    assert_eq!(parsed.skipped.len(), 1);
    assert_eq!((parsed.skipped[0].line, parsed.skipped[0].address.as_str()), (2, "0x1234"));
}

#[test]
fn file_name_must_give_the_asset() {
    for name in ["addresses.txt", "sanctioned_addresses_.txt", "sanctioned_addresses_XBT.csv"] {
        let error = parse_ofac_list("", Path::new(name), &context()).unwrap_err();
        assert!(matches!(error, LabelError::ListFileName { .. }), "{name}");
        assert!(error.to_string().contains("sanctioned_addresses_<ASSET>.txt"), "{error}");
    }
}

#[test]
fn bad_import_date() {
    let context = ImportContext::new("19 Nov 2025");
    let error =
        parse_ofac_list("", Path::new("sanctioned_addresses_XBT.txt"), &context).unwrap_err();
    assert!(matches!(error, LabelError::ImportDate { .. }));
}

#[test]
fn missing_file() {
    let error = parse_file(
        SourceFormat::OfacList,
        &data_path("nope/sanctioned_addresses_XBT.txt"),
        &context(),
    )
    .unwrap_err();
    assert!(matches!(error, LabelError::Io { .. }));
}
