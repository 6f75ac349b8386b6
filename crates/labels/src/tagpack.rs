//! GraphSense TagPacks (YAML), see <https://github.com/graphsense/graphsense-tagpack-tool>.

use std::path::Path;

use cointrail_types::Label;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

use crate::address::canonical_asset;
use crate::csv::parse_confidence;
use crate::{ImportContext, LabelError, Parsed, file_name, normalize_address};

/// GraphSense's named confidence levels and their values, from the tagpack-tool's
/// `src/tagpack/db/confidence.csv`.
const CONFIDENCE_LEVELS: &[(&str, u8)] = &[
    ("override", 100),
    ("ownership", 100),
    ("manual_transaction", 90),
    ("service_api", 70),
    ("authority_data", 60),
    ("trusted_provider", 50),
    ("service_data", 50),
    ("forensic", 50),
    ("untrusted_transaction", 40),
    ("web_crawl", 20),
    ("heuristic", 10),
    ("unknown", 5),
];

/// Parses a GraphSense TagPack.
///
/// The header's fields (`label`, `currency`, `category`, `abuse`, `actor`, `source`,
/// `confidence`, ...) are inherited by every tag of `tags` that does not set them itself. Per tag:
///
/// - name = `label`; asset = `currency` (or `network`), upper case; the address must pass
///   [`normalize_address`];
/// - category = `abuse` if set, mapped: `sanction` → `sanctions`, `ransomware` → `ransomware`,
///   `scam`, `phishing`, `investment_fraud`, `ponzi_scheme`, `pyramid_scheme` → `scam`, `hack`,
///   `theft`, `service_hack`, `contract_exploit` → `theft`, `mixing`, `mixer` → `mixer`, anything
///   else lower-cased as is; otherwise GraphSense's `category` (`exchange`, `user`, ...)
///   lower-cased;
/// - actor = `actor`; source = `source`, else [`ImportContext::source`], else the file name;
/// - confidence: a number 0-100 as is, or a GraphSense level: `override` and `ownership` 100,
///   `manual_transaction` 90, `service_api` 70, `authority_data` 60, `trusted_provider`,
///   `service_data` and `forensic` 50, `untrusted_transaction` 40, `web_crawl` 20, `heuristic` 10,
///   `unknown` 5 (the tagpack-tool's `confidence.csv`).
///
/// # Errors
///
/// Every error names the file and a 1-based line: [`LabelError::Yaml`] for malformed YAML,
/// [`LabelError::Tagpack`] if the document is not a mapping with a `tags` list of mappings,
/// [`LabelError::MissingTagField`] for a tag without address, label, currency or category (the
/// line where the tag starts and its position), [`LabelError::Address`],
/// [`LabelError::Confidence`]; and [`LabelError::ImportDate`] for a bad import date.
pub fn parse_tagpack(
    text: &str,
    file: &Path,
    context: &ImportContext,
) -> Result<Parsed, LabelError> {
    context.check()?;
    let document = load(text).map_err(|(line, message)| LabelError::Yaml {
        file: file.to_owned(),
        line,
        message,
    })?;
    let shape = |line: usize, message: &str| LabelError::Tagpack {
        file: file.to_owned(),
        line,
        message: message.to_owned(),
    };
    let Some(document) = document else {
        return Err(shape(1, "the file holds no yaml document"));
    };
    let Value::Map(header) = &document.value else {
        return Err(shape(document.line, "the document is not a mapping"));
    };
    let Some(tags) = lookup(header, "tags") else {
        return Err(shape(document.line, "no `tags`"));
    };
    let Value::Seq(tags) = &tags.value else {
        return Err(shape(tags.line, "`tags` is not a list"));
    };
    let default_source = context.source_or(|| file_name(file));
    let mut labels = Vec::with_capacity(tags.len());
    for (position, tag) in tags.iter().enumerate() {
        let Value::Map(fields) = &tag.value else {
            return Err(shape(tag.line, "a tag is not a mapping"));
        };
        let get = |key: &str| -> Result<Option<(&str, usize)>, LabelError> {
            match lookup(fields, key).or_else(|| lookup(header, key)) {
                None | Some(Node { value: Value::Null, .. }) => Ok(None),
                Some(Node { value: Value::Scalar(text), line }) => Ok(Some((text.trim(), *line))),
                Some(node) => Err(shape(node.line, &format!("`{key}` is not a plain value"))),
            }
        };
        let missing = |field: &'static str| LabelError::MissingTagField {
            file: file.to_owned(),
            line: tag.line,
            index: position + 1,
            field,
        };
        let (written_address, address_line) = get("address")?.ok_or_else(|| missing("address"))?;
        let (name, _) = get("label")?.ok_or_else(|| missing("label"))?;
        let (currency, _) =
            get("currency")?.or(get("network")?).ok_or_else(|| missing("currency"))?;
        let bad_address = |problem| LabelError::Address {
            file: file.to_owned(),
            line: address_line,
            asset: currency.to_owned(),
            address: written_address.to_owned(),
            problem,
        };
        let asset = canonical_asset(currency).map_err(bad_address)?;
        let address = normalize_address(&asset, written_address).map_err(bad_address)?;
        let category = match (get("abuse")?, get("category")?) {
            (Some((abuse, _)), _) => abuse_category(abuse),
            (None, Some((category, _))) => category.to_lowercase(),
            (None, None) => return Err(missing("category")),
        };
        let confidence = match get("confidence")? {
            None => None,
            Some((text, line)) => Some(confidence(text).ok_or_else(|| LabelError::Confidence {
                file: file.to_owned(),
                line,
                text: text.to_owned(),
                named: true,
            })?),
        };
        labels.push(Label {
            address,
            asset,
            name: name.to_owned(),
            category,
            actor: get("actor")?.map(|(actor, _)| actor.to_owned()),
            source: get("source")?.map_or_else(|| default_source.clone(), |(s, _)| s.to_owned()),
            confidence,
            programs: Vec::new(),
            imported: context.imported.clone(),
        });
    }
    Ok(Parsed::new(labels, Vec::new()))
}

/// Maps a GraphSense abuse to a cointrail category.
fn abuse_category(abuse: &str) -> String {
    let abuse = abuse.to_lowercase();
    match abuse.as_str() {
        "sanction" | "sanctions" => "sanctions",
        "ransomware" => "ransomware",
        "scam" | "phishing" | "investment_fraud" | "ponzi_scheme" | "pyramid_scheme" => "scam",
        "hack" | "theft" | "service_hack" | "contract_exploit" => "theft",
        "mixing" | "mixer" => "mixer",
        _ => return abuse,
    }
    .to_owned()
}

/// Reads a confidence: an integer 0-100 or a GraphSense level name.
fn confidence(text: &str) -> Option<u8> {
    parse_confidence(text).or_else(|| {
        let name = text.to_lowercase();
        CONFIDENCE_LEVELS.iter().find(|(level, _)| *level == name).map(|(_, value)| *value)
    })
}

/// A YAML value with the line it starts on.
#[derive(Debug)]
struct Node {
    /// The value.
    value: Value,
    /// 1-based line.
    line: usize,
}

/// A YAML value; every scalar is kept as text.
#[derive(Debug)]
enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// A scalar, as text.
    Scalar(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping with scalar keys, in document order.
    Map(Vec<(String, Node)>),
}

/// Returns the value of `key` in a mapping (the last one if repeated).
fn lookup<'a>(map: &'a [(String, Node)], key: &str) -> Option<&'a Node> {
    map.iter().rev().find(|(k, _)| k == key).map(|(_, node)| node)
}

/// A collection being built, with the pending key of a mapping.
struct Open {
    /// The collection.
    node: Node,
    /// For a mapping: the key read, waiting for its value.
    key: Option<String>,
}

/// Parses the first YAML document of `text` into a tree with lines; errors give a line and a
/// message.
fn load(text: &str) -> Result<Option<Node>, (usize, String)> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut document = None;
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|error| (error.marker().line().max(1), error.info().to_owned()))?;
        let line = mark.line().max(1);
        let node = match event {
            Event::StreamEnd => return Ok(document),
            Event::Nothing | Event::StreamStart | Event::DocumentStart | Event::DocumentEnd => {
                continue;
            }
            Event::Alias(_) => return Err((line, "yaml aliases are not supported".to_owned())),
            Event::Scalar(text, style, _, _) => {
                let null = style == TScalarStyle::Plain
                    && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL");
                Node { value: if null { Value::Null } else { Value::Scalar(text) }, line }
            }
            Event::SequenceStart(_, _) => {
                stack.push(Open { node: Node { value: Value::Seq(Vec::new()), line }, key: None });
                continue;
            }
            Event::MappingStart(_, _) => {
                stack.push(Open { node: Node { value: Value::Map(Vec::new()), line }, key: None });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(open) => open.node,
                None => return Err((line, "unbalanced collection".to_owned())),
            },
        };
        let Some(parent) = stack.last_mut() else {
            if document.is_some() {
                return Err((line, "more than one yaml document".to_owned()));
            }
            document = Some(node);
            continue;
        };
        match &mut parent.node.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match parent.key.take() {
                Some(key) => entries.push((key, node)),
                None => match node.value {
                    Value::Scalar(key) => parent.key = Some(key),
                    Value::Null => parent.key = Some(String::new()),
                    Value::Seq(_) | Value::Map(_) => {
                        return Err((node.line, "a mapping key is not a scalar".to_owned()));
                    }
                },
            },
            Value::Null | Value::Scalar(_) => {
                return Err((line, "a scalar cannot hold values".to_owned()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abuses() {
        for (abuse, category) in [
            ("sanction", "sanctions"),
            ("ransomware", "ransomware"),
            ("phishing", "scam"),
            ("scam", "scam"),
            ("service_hack", "theft"),
            ("mixing", "mixer"),
            ("Sextortion", "sextortion"),
        ] {
            assert_eq!(abuse_category(abuse), category, "{abuse}");
        }
    }

    #[test]
    fn confidences() {
        for (text, value) in [
            ("authority_data", Some(60)),
            ("Forensic", Some(50)),
            ("ownership", Some(100)),
            ("80", Some(80)),
            ("101", None),
            ("sure", None),
        ] {
            assert_eq!(confidence(text), value, "{text}");
        }
    }

    #[test]
    fn lines_are_one_based() {
        let node = load("a: 1\nb:\n  - x\n  - y\n").ok().flatten();
        let Some(Node { value: Value::Map(entries), line: 1 }) = node else {
            panic!("unexpected tree {node:?}");
        };
        let lines: Vec<usize> = match entries.get(1) {
            Some((_, Node { value: Value::Seq(items), .. })) => {
                items.iter().map(|n| n.line).collect()
            }
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(lines, [3, 4]);
    }
}
