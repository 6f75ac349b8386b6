//! Plain CSV labels: `address,label,category` and optional `actor,source,confidence,asset`.

use std::path::Path;

use cointrail_types::Label;

use crate::address::{canonical_asset, default_asset};
use crate::{ImportContext, LabelError, Parsed, file_name, normalize_address};

/// The columns a CSV label file may have; the first three are required.
const COLUMNS: [&str; 7] =
    ["address", "label", "category", "actor", "source", "confidence", "asset"];

/// Number of required columns at the start of [`COLUMNS`].
const REQUIRED: usize = 3;

/// Parses CSV labels (RFC 4180: fields in double quotes may hold commas, quotes written `""` and
/// line breaks).
///
/// The first non-blank line is the header: `address`, `label`, `category` are required, `actor`,
/// `source`, `confidence`, `asset` optional, in any order, names case-insensitive; no other
/// columns. Fields are trimmed; blank lines are skipped. Per row:
///
/// - `address`, `label`, `category` must not be empty; the category is lower-cased;
/// - `asset` defaults by the address's shape: `0x` + 40 hex digits is `ETH`, anything else `BTC`;
///   the address must pass [`normalize_address`] for its asset;
/// - `confidence`, if not empty, is an integer 0-100;
/// - `source` defaults to [`ImportContext::source`], then to the file name; an empty `actor` is
///   none.
///
/// # Errors
///
/// Every error names the file and the 1-based line: [`LabelError::CsvHeader`] (missing required,
/// unknown or repeated column), [`LabelError::CsvFieldCount`], [`LabelError::CsvQuote`],
/// [`LabelError::EmptyField`], [`LabelError::Address`], [`LabelError::Confidence`]; and
/// [`LabelError::ImportDate`] for a bad import date.
pub fn parse_csv(text: &str, file: &Path, context: &ImportContext) -> Result<Parsed, LabelError> {
    context.check()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let records = read_records(text).map_err(|(line, message)| LabelError::CsvQuote {
        file: file.to_owned(),
        line,
        message: message.to_owned(),
    })?;
    let mut records = records.into_iter().filter(|record| !record.is_blank());
    let Some(header) = records.next() else {
        return Ok(Parsed::default());
    };
    let columns = header_columns(&header).map_err(|message| LabelError::CsvHeader {
        file: file.to_owned(),
        line: header.line,
        message,
    })?;
    let default_source = context.source_or(|| file_name(file));
    let mut labels = Vec::new();
    for record in records {
        if record.fields.len() != header.fields.len() {
            return Err(LabelError::CsvFieldCount {
                file: file.to_owned(),
                line: record.line,
                expected: header.fields.len(),
                found: record.fields.len(),
                text: record.text.to_owned(),
            });
        }
        let field = |column: usize| -> &str {
            columns
                .get(column)
                .copied()
                .flatten()
                .and_then(|position| record.fields.get(position))
                .map_or("", |value| value.trim())
        };
        let required = |column: usize| -> Result<&str, LabelError> {
            let value = field(column);
            if value.is_empty() {
                Err(LabelError::EmptyField {
                    file: file.to_owned(),
                    line: record.line,
                    field: COLUMNS.get(column).copied().unwrap_or("?"),
                })
            } else {
                Ok(value)
            }
        };
        let written_address = required(0)?;
        let name = required(1)?;
        let category = required(2)?;
        let written_asset = match field(6) {
            "" => default_asset(written_address),
            asset => asset,
        };
        let bad_address = |problem| LabelError::Address {
            file: file.to_owned(),
            line: record.line,
            asset: written_asset.to_owned(),
            address: written_address.to_owned(),
            problem,
        };
        let asset = canonical_asset(written_asset).map_err(bad_address)?;
        let address = normalize_address(&asset, written_address).map_err(bad_address)?;
        let confidence = match field(5) {
            "" => None,
            text => Some(parse_confidence(text).ok_or_else(|| LabelError::Confidence {
                file: file.to_owned(),
                line: record.line,
                text: text.to_owned(),
                named: false,
            })?),
        };
        labels.push(Label {
            address,
            asset,
            name: name.to_owned(),
            category: category.to_lowercase(),
            actor: Some(field(3)).filter(|actor| !actor.is_empty()).map(str::to_owned),
            source: match field(4) {
                "" => default_source.clone(),
                source => source.to_owned(),
            },
            confidence,
            programs: Vec::new(),
            imported: context.imported.clone(),
        });
    }
    Ok(Parsed::new(labels, Vec::new()))
}

/// Returns an integer 0-100, or `None`.
pub(crate) fn parse_confidence(text: &str) -> Option<u8> {
    text.trim().parse::<u8>().ok().filter(|value| *value <= 100)
}

/// Maps each of [`COLUMNS`] to its position in the header, checking the header.
fn header_columns(header: &Record<'_>) -> Result<[Option<usize>; COLUMNS.len()], String> {
    let mut positions = [None; COLUMNS.len()];
    for (position, name) in header.fields.iter().enumerate() {
        let name = name.trim().to_lowercase();
        let Some(column) = COLUMNS.iter().position(|known| *known == name) else {
            return Err(format!(
                "unknown column `{name}` (columns: address, label, category, and optionally \
                 actor, source, confidence, asset)"
            ));
        };
        if let Some(slot) = positions.get_mut(column) {
            if slot.is_some() {
                return Err(format!("column `{name}` appears twice"));
            }
            *slot = Some(position);
        }
    }
    let missing: Vec<&str> = COLUMNS
        .iter()
        .zip(positions)
        .take(REQUIRED)
        .filter(|(_, position)| position.is_none())
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        Ok(positions)
    } else {
        Err(format!("missing required column(s): {}", missing.join(", ")))
    }
}

/// One CSV record.
#[derive(Debug, PartialEq, Eq)]
struct Record<'a> {
    /// 1-based line where it starts.
    line: usize,
    /// The fields, unquoted.
    fields: Vec<String>,
    /// The record as written (without the line break).
    text: &'a str,
}

impl Record<'_> {
    /// Whether the record is an empty or white-space line.
    fn is_blank(&self) -> bool {
        matches!(self.fields.as_slice(), [only] if only.trim().is_empty())
            && !self.text.contains('"')
    }
}

/// Splits `text` into RFC 4180 records; on bad quoting returns the line and a message.
fn read_records(text: &str) -> Result<Vec<Record<'_>>, (usize, &'static str)> {
    let mut records = Vec::new();
    let mut line = 1;
    let mut start_line = 1;
    let mut start = 0;
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false; // inside a quoted field
    let mut was_quoted = false; // the current field was quoted and is closed
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek().is_some_and(|(_, next)| *next == '"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => {
                    quoted = false;
                    was_quoted = true;
                }
                _ => {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c);
                }
            }
            continue;
        }
        match c {
            '"' if !was_quoted && field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            '"' => return Err((line, "a quote inside a field that is not quoted")),
            ',' => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\r' if chars.peek().is_some_and(|(_, next)| *next == '\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                let end = if text[..at].ends_with('\r') { at - 1 } else { at };
                records.push(Record {
                    line: start_line,
                    fields: std::mem::take(&mut fields),
                    text: text.get(start..end).unwrap_or_default(),
                });
                was_quoted = false;
                line += 1;
                start_line = line;
                start = at + 1;
            }
            _ if was_quoted && !c.is_whitespace() => {
                return Err((line, "text after the closing quote of a field"));
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err((start_line, "a quoted field is not closed"));
    }
    if start < text.len() {
        fields.push(field);
        records.push(Record {
            line: start_line,
            fields,
            text: text.get(start..).unwrap_or_default(),
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<(usize, Vec<String>)> {
        read_records(text)
            .unwrap_or_else(|error| panic!("{error:?}"))
            .into_iter()
            .map(|record| (record.line, record.fields))
            .collect()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    #[test]
    fn rfc4180_records() {
        assert_eq!(fields("a,b\n1,2\n"), [(1, strings(&["a", "b"])), (2, strings(&["1", "2"]))]);
        assert_eq!(fields("a,b\r\n1,2"), [(1, strings(&["a", "b"])), (2, strings(&["1", "2"]))]);
        assert_eq!(
            fields("\"x, y\",\"say \"\"hi\"\"\"\n"),
            [(1, strings(&["x, y", "say \"hi\""]))]
        );
        assert_eq!(
            fields("\"two\nlines\",b\nc,d\n"),
            [(1, strings(&["two\nlines", "b"])), (3, strings(&["c", "d"]))]
        );
        assert_eq!(fields("a,\n"), [(1, strings(&["a", ""]))]);
    }

    #[test]
    fn bad_quoting() {
        for (name, text, line) in [
            ("unclosed", "a\n\"b,c\n", 2),
            ("quote inside", "a\nb\"c\n", 2),
            ("text after quote", "a\n\"b\"c\n", 2),
        ] {
            assert_eq!(
                read_records(text).map(|_| ()).map_err(|(line, _)| line),
                Err(line),
                "{name}"
            );
        }
    }

    #[test]
    fn confidence_range() {
        assert_eq!(parse_confidence("0"), Some(0));
        assert_eq!(parse_confidence("100"), Some(100));
        assert_eq!(parse_confidence("101"), None);
        assert_eq!(parse_confidence("-1"), None);
        assert_eq!(parse_confidence("high"), None);
    }
}
