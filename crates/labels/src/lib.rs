//! Attribution labels from published sources: parsers that turn OFAC's SDN list (advanced XML and
//! the per-asset address lists), GraphSense TagPacks and plain CSV into [`Label`] records, and
//! [`diff`] between two imports.
//!
//! Everything here is a pure function over text or a reader: no store, no network. An import is
//! all-or-nothing: any bad line or entry makes the parse return an error that names the file, the
//! 1-based line and the offending text, and no labels. The one exception is OFAC's XML, whose
//! addresses that fail [`normalize_address`] are skipped and reported in [`Parsed::skipped`]
//! (the published list contains a few odd entries; refusing the whole list for them would be
//! worse).
//!
//! Every parser returns its labels sorted and without duplicates.

use std::collections::BTreeSet;
use std::fmt;
use std::io::BufReader;
use std::path::Path;
use std::str::FromStr;

pub use cointrail_types::Label;

mod address;
mod csv;
mod error;
mod etherscan;
mod ofac_list;
mod ofac_xml;
mod tagpack;

pub use address::normalize_address;
pub use csv::parse_csv;
pub use error::{AddressProblem, LabelError, UnknownFormat};
pub use etherscan::{etherscan_category, parse_etherscan};
pub use ofac_list::parse_ofac_list;
pub use ofac_xml::parse_ofac_xml;
pub use tagpack::parse_tagpack;

/// A kind of label file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceFormat {
    /// OFAC's SDN list in the advanced XML format (`sdn_advanced.xml`), see [`parse_ofac_xml`].
    OfacXml,
    /// One OFAC per-asset address list (`sanctioned_addresses_XBT.txt`), see [`parse_ofac_list`].
    OfacList,
    /// A GraphSense TagPack (YAML), see [`parse_tagpack`].
    Tagpack,
    /// CSV with the columns `address,label,category` and optional ones, see [`parse_csv`].
    Csv,
    /// An Etherscan label dump (JSON), see [`parse_etherscan`].
    Etherscan,
}

impl SourceFormat {
    /// Every format.
    pub const ALL: [Self; 5] =
        [Self::OfacXml, Self::OfacList, Self::Tagpack, Self::Csv, Self::Etherscan];

    /// Returns the name used on the command line: `ofac-xml`, `ofac-list`, `tagpack`, `csv`,
    /// `etherscan`.
    pub fn name(self) -> &'static str {
        match self {
            Self::OfacXml => "ofac-xml",
            Self::OfacList => "ofac-list",
            Self::Tagpack => "tagpack",
            Self::Csv => "csv",
            Self::Etherscan => "etherscan",
        }
    }
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SourceFormat {
    type Err = UnknownFormat;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|format| format.name() == text)
            .ok_or_else(|| UnknownFormat { text: text.to_owned() })
    }
}

/// What an import adds to every label it makes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImportContext {
    /// The date of the import, `YYYY-MM-DD`; becomes [`Label::imported`].
    pub imported: String,
    /// Replaces the source text a parser would otherwise derive (the OFAC list's date of issue,
    /// the file name). A source written in the data itself (a TagPack's or a CSV row's `source`)
    /// still wins.
    pub source: Option<String>,
}

impl ImportContext {
    /// Creates a context for an import on `imported` (`YYYY-MM-DD`) with the default sources.
    pub fn new(imported: impl Into<String>) -> Self {
        Self { imported: imported.into(), source: None }
    }

    /// Checks that [`ImportContext::imported`] is `YYYY-MM-DD`.
    fn check(&self) -> Result<(), LabelError> {
        let bytes = self.imported.as_bytes();
        let shape_ok = bytes.len() == 10
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() });
        let month = self.imported.get(5..7).and_then(|m| m.parse::<u8>().ok()).unwrap_or(0);
        let day = self.imported.get(8..10).and_then(|d| d.parse::<u8>().ok()).unwrap_or(0);
        if shape_ok && (1..=12).contains(&month) && (1..=31).contains(&day) {
            Ok(())
        } else {
            Err(LabelError::ImportDate { text: self.imported.clone() })
        }
    }

    /// Returns the context's source, or `default` when there is none.
    fn source_or(&self, default: impl FnOnce() -> String) -> String {
        self.source.clone().unwrap_or_else(default)
    }
}

/// The result of a parse: the labels, and the entries that were skipped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    /// The labels, sorted, without duplicates.
    pub labels: Vec<Label>,
    /// Entries left out (only [`parse_ofac_xml`] skips; other formats fail instead), in file
    /// order.
    pub skipped: Vec<Skipped>,
}

impl Parsed {
    /// Sorts and deduplicates `labels`.
    fn new(mut labels: Vec<Label>, skipped: Vec<Skipped>) -> Self {
        labels.sort_unstable();
        labels.dedup();
        Self { labels, skipped }
    }
}

/// An entry of a source that was left out of an import.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Skipped {
    /// 1-based line of the entry.
    pub line: usize,
    /// The address as published.
    pub address: String,
    /// Why it was left out.
    pub reason: String,
}

/// Reads and parses one label file.
///
/// `ofac-xml` files are read streaming and must be the plain XML (a bzip2 or gzip file is refused
/// with a message saying so); the other formats are read whole as UTF-8 text.
///
/// # Errors
///
/// Returns [`LabelError::Io`] if the file cannot be read, and the parser's errors otherwise.
pub fn parse_file(
    format: SourceFormat,
    path: &Path,
    context: &ImportContext,
) -> Result<Parsed, LabelError> {
    let io = |source| LabelError::Io { file: path.to_owned(), source };
    let read = || fs_err::read_to_string(path).map_err(io);
    match format {
        SourceFormat::OfacXml => {
            let file = fs_err::File::open(path).map_err(io)?;
            parse_ofac_xml(BufReader::with_capacity(1 << 16, file), path, context)
        }
        SourceFormat::OfacList => parse_ofac_list(&read()?, path, context),
        SourceFormat::Tagpack => parse_tagpack(&read()?, path, context),
        SourceFormat::Csv => parse_csv(&read()?, path, context),
        SourceFormat::Etherscan => parse_etherscan(&read()?, path, context),
    }
}

/// What changed between two imports of a source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelDiff {
    /// Labels of the new import that the old one does not have, sorted.
    pub added: Vec<Label>,
    /// Labels of the old import that the new one does not have, sorted.
    pub removed: Vec<Label>,
}

/// Compares two imports of a source: a label counts as the same when its asset, address, name and
/// category are; the import date, source, actor, confidence and programmes are ignored (so
/// re-importing the same list on another day, or a list whose date of issue changed, shows no
/// change).
pub fn diff(old: &[Label], new: &[Label]) -> LabelDiff {
    fn identity(label: &Label) -> (&str, &str, &str, &str) {
        (&label.asset, &label.address, &label.name, &label.category)
    }
    fn only_in(these: &[Label], others: &[Label]) -> Vec<Label> {
        let known: BTreeSet<_> = others.iter().map(identity).collect();
        let mut out: Vec<Label> =
            these.iter().filter(|label| !known.contains(&identity(label))).cloned().collect();
        out.sort_unstable();
        out.dedup();
        out
    }
    LabelDiff { added: only_in(new, old), removed: only_in(old, new) }
}

/// Returns the file name of `file` as text (lossy), or the whole path if it has none.
fn file_name(file: &Path) -> String {
    file.file_name().unwrap_or(file.as_os_str()).to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        for format in SourceFormat::ALL {
            assert_eq!(format.to_string().parse::<SourceFormat>(), Ok(format));
        }
        assert!("xml".parse::<SourceFormat>().is_err());
    }

    #[test]
    fn import_dates() {
        for (name, date, ok) in [
            ("plain", "2025-11-19", true),
            ("no dashes", "20251119", false),
            ("month 13", "2025-13-01", false),
            ("day 0", "2025-01-00", false),
            ("letters", "2025-1a-01", false),
            ("empty", "", false),
        ] {
            assert_eq!(ImportContext::new(date).check().is_ok(), ok, "{name}");
        }
    }
}
