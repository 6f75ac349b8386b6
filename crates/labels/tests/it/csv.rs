//! CSV labels.

use std::path::Path;

use cointrail_labels::{ImportContext, LabelError, Parsed, SourceFormat, parse_csv, parse_file};

use crate::{context, data_path};

fn parse(text: &str) -> Result<Parsed, LabelError> {
    parse_csv(text, Path::new("labels.csv"), &context())
}

#[test]
fn example_file() {
    let path = data_path("csv/example_labels.csv");
    let parsed = parse_file(SourceFormat::Csv, &path, &context()).unwrap();
    assert_eq!(parsed, parse_file(SourceFormat::Csv, &path, &context()).unwrap(), "idempotent");
    let find = |name: &str| parsed.labels.iter().find(|l| l.name == name).unwrap();
    assert_eq!(parsed.labels.len(), 4);

    let bitfinex = find("Bitfinex hack, 2016");
    assert_eq!(bitfinex.asset, "BTC", "default asset");
    assert_eq!(bitfinex.address, "bc1qazcm763858nkj2dj986etajv6wquslv8uxwczt");
    assert_eq!(bitfinex.confidence, Some(90));
    assert_eq!(bitfinex.actor, None);

    let lazarus = find("Lazarus Group");
    assert_eq!(lazarus.asset, "ETH", "0x + 40 hex");
    assert_eq!(lazarus.address, "0x098b716b8aaf21512996dc57eb0615e2383e2f96");
    assert_eq!(lazarus.category, "sanctions", "lower-cased");
    assert_eq!(lazarus.actor.as_deref(), Some("lazarusgroup"));
    assert_eq!(lazarus.source, "example_labels.csv", "file name by default");

    let archive = find("Internet Archive");
    assert_eq!(archive.source, "https://archive.org/donate/cryptocurrency/");
    assert_eq!(archive.confidence, None);

    let garantex = find("Garantex");
    assert_eq!(garantex.asset, "USDT");
    assert_eq!(garantex.address, "0x7ff9cfad3877f21d41da833e2f775db0569ee3d9");
}

#[test]
fn source_override_and_required_columns_only() {
    let context = ImportContext { source: Some("analyst notes".into()), ..context() };
    let text = "address,label,category\n1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn,X,exchange\n";
    let parsed = parse_csv(text, Path::new("a.csv"), &context).unwrap();
    assert_eq!(parsed.labels[0].source, "analyst notes");
    assert!(parse("address,label,category\n").unwrap().labels.is_empty());
    assert!(parse("").unwrap().labels.is_empty());
}

#[test]
fn errors_name_file_and_line() {
    let header = "address,label,category,confidence,asset\n";
    let good = "1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn,A,exchange,,\n";
    for (name, text, line, contains) in [
        ("missing column", "address,label\n".to_owned(), 1, "missing required column(s): category"),
        (
            "unknown column",
            "address,label,category,color\n".to_owned(),
            1,
            "unknown column `color`",
        ),
        (
            "repeated column",
            "address,label,category,Label\n".to_owned(),
            1,
            "column `label` appears twice",
        ),
        ("too few fields", format!("{header}{good}x,y\n"), 3, "expected 5 fields, found 2: `x,y`"),
        (
            "too many fields",
            format!("{header}\n{good}a,b,c,d,e,f\n"),
            4,
            "expected 5 fields, found 6",
        ),
        ("empty address", format!("{header}{good} ,A,exchange,,\n"), 3, "empty `address`"),
        (
            "empty label",
            format!("{header}1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn,,exchange,,\n"),
            2,
            "empty `label`",
        ),
        (
            "empty category",
            format!("{header}1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn,A,,,\n"),
            2,
            "empty `category`",
        ),
        (
            "bad address",
            format!("{header}{good}1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMro,A,exchange,,\n"),
            3,
            "bad BTC address `1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMro`",
        ),
        (
            "bad evm address",
            format!("{header}0x1234,A,exchange,,ETH\n"),
            2,
            "bad ETH address `0x1234`",
        ),
        ("bad asset", format!("{header}abc,A,exchange,,E\n"), 2, "unknown asset code `E`"),
        (
            "confidence too high",
            format!("{header}{good}{}", good.replace(",,", ",101,")),
            3,
            "bad confidence `101`",
        ),
        (
            "confidence not a number",
            format!("{header}{}", good.replace(",,", ",high,")),
            2,
            "bad confidence `high`",
        ),
        (
            "unclosed quote",
            format!("{header}{good}\"A,b,c,d,e\n"),
            3,
            "a quoted field is not closed",
        ),
    ] {
        let error = parse(&text).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with(&format!("labels.csv:{line}:")), "{name}: {message}");
        assert!(message.contains(contains), "{name}: {message}");
    }
}
