//! OFAC SDN advanced XML, on a byte-for-byte excerpt of the 2025-11-19 list
//! (`data/labels/make_sdn_excerpt.py`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cointrail_labels::{
    ImportContext, LabelError, Parsed, SourceFormat, normalize_address, parse_file, parse_ofac_xml,
};

use crate::{context, data_path, data_text};

const EXCERPT: &str = "sdn_advanced_2025-11-19_excerpt.xml";

fn excerpt() -> Parsed {
    parse_file(SourceFormat::OfacXml, &data_path(EXCERPT), &context()).unwrap()
}

fn parse_text(xml: &str, context: &ImportContext) -> Result<Parsed, LabelError> {
    parse_ofac_xml(xml.as_bytes(), Path::new("test.xml"), context)
}

/// A minimal document in the advanced XML layout with one party holding `addresses` (XBT).
fn document(addresses: &[&str]) -> String {
    let features: String = addresses
        .iter()
        .map(|a| {
            format!(
                "<Feature ID=\"1\" FeatureTypeID=\"344\"><FeatureVersion ID=\"2\">\n\
                 <VersionDetail DetailTypeID=\"1432\">{a}</VersionDetail>\n\
                 </FeatureVersion></Feature>\n"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <Sanctions xmlns=\"https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/ADVANCED_XML\">\n\
         <DateOfIssue><Year>2025</Year><Month>1</Month><Day>2</Day></DateOfIssue>\n\
         <ReferenceValueSets><FeatureTypeValues>\n\
         <FeatureType ID=\"344\">Digital Currency Address - XBT</FeatureType>\n\
         </FeatureTypeValues></ReferenceValueSets>\n\
         <DistinctParties><DistinctParty><Profile ID=\"7\">\n\
         <Identity><Alias Primary=\"false\"><DocumentedName><DocumentedNamePart>\
         <NamePartValue>Other</NamePartValue></DocumentedNamePart></DocumentedName></Alias>\n\
         <Alias Primary=\"true\"><DocumentedName><DocumentedNamePart>\
         <NamePartValue>Smith &amp; Sons</NamePartValue></DocumentedNamePart></DocumentedName>\
         <DocumentedName><DocumentedNamePart><NamePartValue>史密斯</NamePartValue>\
         </DocumentedNamePart></DocumentedName></Alias></Identity>\n\
         {features}</Profile></DistinctParty></DistinctParties>\n\
         <SanctionsEntries><SanctionsEntry ProfileID=\"7\">\
         <SanctionsMeasure><Comment>SDGT</Comment></SanctionsMeasure>\
         <SanctionsMeasure><Comment>CYBER2</Comment></SanctionsMeasure>\
         <SanctionsMeasure><Comment /></SanctionsMeasure></SanctionsEntry></SanctionsEntries>\n\
         </Sanctions>\n"
    )
}

#[test]
fn lazarus_group_eth_address() {
    let parsed = excerpt();
    let label = parsed
        .labels
        .iter()
        .find(|l| l.address == "0x098b716b8aaf21512996dc57eb0615e2383e2f96")
        .unwrap();
    assert_eq!(label.asset, "ETH");
    assert_eq!(label.name, "Lazarus Group");
    assert_eq!(label.actor.as_deref(), Some("Lazarus Group"));
    assert_eq!(label.category, "sanctions");
    assert_eq!(label.programs, ["DPRK3"]);
    assert_eq!(label.source, "OFAC SDN 2025-11-19");
    assert_eq!(label.confidence, Some(100));
    assert_eq!(label.imported, "2025-11-20");
    let lazarus = parsed.labels.iter().filter(|l| l.name == "Lazarus Group").count();
    assert_eq!(lazarus, 8);
}

#[test]
fn dprk_set_matches_the_published_csv() {
    // Rows of sdn_2025-11-19_dprk_lazarus_related.csv (made from the full list by
    // /work/shared/tools/sdn_addresses.py): asset, address, primary_name, programs. Its names join
    // every documented name of the primary alias ("Li Jiadong 李 家东"); ours is the first
    // ("Li Jiadong").
    let text = data_text("sdn_2025-11-19_dprk_lazarus_related.csv");
    let mut expected = BTreeMap::new();
    let mut per_asset: BTreeMap<String, usize> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 9, "{line}");
        let asset = if fields[1] == "XBT" { "BTC" } else { fields[1] };
        let address = normalize_address(asset, fields[2]).unwrap();
        let programs: Vec<String> = fields[6].split(' ').map(str::to_owned).collect();
        *per_asset.entry(fields[1].to_owned()).or_default() += 1;
        expected.insert((asset.to_owned(), address), (fields[4].to_owned(), programs));
    }
    assert_eq!(
        per_asset,
        BTreeMap::from([
            ("ETH".into(), 18),
            ("USDC".into(), 1),
            ("USDT".into(), 54),
            ("XBT".into(), 42)
        ])
    );

    let parsed = excerpt();
    let dprk: Vec<_> = parsed
        .labels
        .iter()
        .filter(|l| l.programs.iter().any(|p| p.starts_with("DPRK")) || l.name == "Lazarus Group")
        .collect();
    assert_eq!(dprk.len(), 115);
    let got: BTreeSet<_> = dprk.iter().map(|l| (l.asset.clone(), l.address.clone())).collect();
    let want: BTreeSet<_> = expected.keys().cloned().collect();
    assert_eq!(got, want);
    for label in dprk {
        let (name, programs) = &expected[&(label.asset.clone(), label.address.clone())];
        assert!(
            *name == label.name || name.starts_with(&format!("{} ", label.name)),
            "{}: {name} vs {}",
            label.address,
            label.name
        );
        assert_eq!(&label.programs, programs, "{}", label.address);
        assert_eq!(label.actor.as_ref(), Some(&label.name));
    }
}

#[test]
fn dprk_linked_bitcoin_addresses() {
    let parsed = excerpt();
    let btc: Vec<_> = parsed
        .labels
        .iter()
        .filter(|l| l.asset == "BTC" && l.programs.iter().any(|p| p.starts_with("DPRK")))
        .collect();
    assert_eq!(btc.len(), 42);
    let li = btc.iter().filter(|l| l.name == "Li Jiadong").collect::<Vec<_>>();
    assert!(!li.is_empty());
    assert!(li.iter().all(|l| l.programs == ["CYBER2", "DPRK3"]));
}

#[test]
fn non_dprk_profiles_in_the_excerpt() {
    let parsed = excerpt();
    let names: BTreeSet<&str> = parsed.labels.iter().map(|l| l.name.as_str()).collect();
    for name in ["GARANTEX EUROPE OU", "Khoroshev Dmitry Yuryevich", "Cryptex", "Grinex"] {
        assert!(names.contains(name), "{name} in {names:?}");
    }
    let garantex = parsed.labels.iter().find(|l| l.name == "GARANTEX EUROPE OU").unwrap();
    assert_eq!(garantex.programs, ["CYBER4", "RUSSIA-EO14024"]);
    assert!(parsed.skipped.is_empty());
    assert_eq!(parsed.labels.len(), 139);
}

#[test]
fn parsing_twice_is_identical() {
    assert_eq!(excerpt(), excerpt());
    let text = data_text(EXCERPT);
    assert_eq!(parse_text(&text, &context()).unwrap(), excerpt());
}

#[test]
fn synthetic_document() {
    let parsed = parse_text(
        &document(&["1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn", "1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn"]),
        &context(),
    )
    .unwrap();
    assert_eq!(parsed.labels.len(), 1, "duplicates removed");
    let label = &parsed.labels[0];
    assert_eq!(label.name, "Smith & Sons");
    assert_eq!(label.programs, ["CYBER2", "SDGT"]);
    assert_eq!(label.source, "OFAC SDN 2025-01-02");
}

#[test]
fn bad_addresses_are_skipped_with_their_line() {
    let parsed = parse_text(
        &document(&["1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn", "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq"]),
        &context(),
    )
    .unwrap();
    assert_eq!(parsed.labels.len(), 1);
    assert_eq!(parsed.skipped.len(), 1);
    let skipped = &parsed.skipped[0];
    assert_eq!(skipped.address, "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq");
    assert_eq!(skipped.line, 14);
    assert!(skipped.reason.starts_with("XBT: not a bitcoin"), "{}", skipped.reason);
}

#[test]
fn source_override() {
    let context = ImportContext { source: Some("OFAC SDN (mirror)".into()), ..context() };
    let parsed = parse_text(&document(&["1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn"]), &context).unwrap();
    assert_eq!(parsed.labels[0].source, "OFAC SDN (mirror)");
}

#[test]
fn gzip_is_refused() {
    let error =
        parse_ofac_xml(&[0x1f, 0x8b, 8, 0][..], Path::new("test.xml"), &context()).unwrap_err();
    assert!(matches!(error, LabelError::Compressed { format: "gzip", .. }), "{error}");
}

#[test]
fn errors() {
    let no_date = document(&[]).replace("<Year>2025</Year>", "");
    for (name, xml, line, kind) in [
        ("bzip2", "BZh91AY&SY...".to_owned(), None, "bzip2-compressed"),
        (
            "other root",
            "<?xml version=\"1.0\"?>\n<Other/>\n".to_owned(),
            Some(2),
            "not an ofac sdn",
        ),
        (
            "mismatched tags",
            "<Sanctions>\n<DateOfIssue>\n</Sanction>\n".to_owned(),
            Some(3),
            "malformed xml",
        ),
        ("no date", no_date, Some(1), "dateofissue"),
        ("empty", String::new(), Some(1), "no `sanctions` element"),
    ] {
        let error = parse_text(&xml, &context()).unwrap_err();
        let message = error.to_string().to_lowercase();
        assert!(message.contains(kind), "{name}: {message}");
        match line {
            Some(line) => {
                assert!(message.starts_with(&format!("test.xml:{line}:")), "{name}: {message}");
            }
            None => assert!(message.starts_with("test.xml:"), "{name}: {message}"),
        }
    }
}

/// The whole 2025-11-19 list (121 MB, not in the repository): run with
/// `COINTRAIL_SDN_XML=/path/to/sdn_advanced.xml cargo test -p cointrail-labels -- --ignored`.
#[test]
#[ignore = "needs the full sdn_advanced.xml in COINTRAIL_SDN_XML"]
fn full_list_2025_11_19() {
    let Some(path) = std::env::var_os("COINTRAIL_SDN_XML") else { return };
    let parsed = parse_file(SourceFormat::OfacXml, Path::new(&path), &context()).unwrap();
    assert_eq!(parsed.labels.len(), 759);
    assert_eq!(parsed.skipped.len(), 1);
    assert_eq!(parsed.skipped[0].address, "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq");
    assert_eq!(parsed.skipped[0].line, 1_784_431);
}
