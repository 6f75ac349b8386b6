//! Errors of label parsing.

use std::path::PathBuf;

/// Why a label file could not be imported. Every variant about file content names the file and,
/// where there is one, the 1-based line and the offending text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabelError {
    /// The file could not be read (or is not UTF-8 text).
    #[error("cannot read {}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The import date of the [`crate::ImportContext`] is not `YYYY-MM-DD`.
    #[error("import date `{text}` is not YYYY-MM-DD")]
    ImportDate {
        /// The date as given.
        text: String,
    },
    /// The file is compressed; the parser wants the plain text.
    #[error(
        "{}: the file is {format}-compressed; decompress it first (e.g. `{tool} -k FILE`) and \
         import the plain XML",
        file.display()
    )]
    Compressed {
        /// The file.
        file: PathBuf,
        /// `bzip2` or `gzip`.
        format: &'static str,
        /// The tool that decompresses it.
        tool: &'static str,
    },
    /// The XML is not well-formed.
    #[error("{}:{line}: malformed xml: {message}", file.display())]
    Xml {
        /// The file.
        file: PathBuf,
        /// 1-based line where the reader stopped.
        line: usize,
        /// What the XML reader reported.
        message: String,
    },
    /// The XML is well-formed but is not an OFAC SDN advanced XML document.
    #[error("{}:{line}: not an ofac sdn advanced xml file: {message}", file.display())]
    NotSdnXml {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An OFAC per-asset list whose name does not tell the asset.
    #[error(
        "{}: cannot tell the asset from the file name `{name}`: name the file \
         `sanctioned_addresses_<ASSET>.txt` (e.g. sanctioned_addresses_XBT.txt)",
        file.display()
    )]
    ListFileName {
        /// The file.
        file: PathBuf,
        /// Its file name.
        name: String,
    },
    /// An address that does not pass [`crate::normalize_address`].
    #[error("{}:{line}: bad {asset} address `{address}`: {problem}", file.display())]
    Address {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// The asset code as written.
        asset: String,
        /// The address as written.
        address: String,
        /// What is wrong with it.
        problem: AddressProblem,
    },
    /// A JSON label file (Etherscan dump) is malformed or of another shape.
    #[error("{}:{line}: malformed json: {message}", file.display())]
    Json {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The YAML is not well-formed.
    #[error("{}:{line}: malformed yaml: {message}", file.display())]
    Yaml {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What the YAML parser reported.
        message: String,
    },
    /// A TagPack that does not have the expected shape (e.g. `tags` is not a list).
    #[error("{}:{line}: bad tagpack: {message}", file.display())]
    Tagpack {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A TagPack tag without a field it needs, neither on the tag nor in the header.
    #[error("{}:{line}: tag #{index} has no `{field}` (neither on the tag nor in the header)", file.display())]
    MissingTagField {
        /// The file.
        file: PathBuf,
        /// 1-based line where the tag starts.
        line: usize,
        /// 1-based position of the tag in `tags`.
        index: usize,
        /// The missing field.
        field: &'static str,
    },
    /// A CSV header without a required column, with an unknown or a repeated column.
    #[error("{}:{line}: bad csv header: {message}", file.display())]
    CsvHeader {
        /// The file.
        file: PathBuf,
        /// 1-based line of the header.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A CSV record with a different number of fields than the header.
    #[error("{}:{line}: expected {expected} fields, found {found}: `{text}`", file.display())]
    CsvFieldCount {
        /// The file.
        file: PathBuf,
        /// 1-based line where the record starts.
        line: usize,
        /// Number of header columns.
        expected: usize,
        /// Number of fields on the line.
        found: usize,
        /// The line as written.
        text: String,
    },
    /// A CSV quoted field that is not closed, or a quote in an unquoted field.
    #[error("{}:{line}: bad quoting: {message}", file.display())]
    CsvQuote {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A required field that is empty.
    #[error("{}:{line}: empty `{field}`", file.display())]
    EmptyField {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// The field.
        field: &'static str,
    },
    /// A confidence that is neither an integer 0-100 nor (in TagPacks) a known level name.
    #[error(
        "{}:{line}: bad confidence `{text}`: expected an integer 0-100{}",
        file.display(),
        if *named { " or a graphsense level (authority_data, forensic, ...)" } else { "" }
    )]
    Confidence {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// The confidence as written.
        text: String,
        /// Whether level names were allowed.
        named: bool,
    },
}

/// Why [`crate::normalize_address`] rejected an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressProblem {
    /// The asset code is not 2-10 ASCII letters and digits.
    #[error("unknown asset code `{asset}`: expected 2-10 ascii letters or digits")]
    UnknownAsset {
        /// The asset code as given.
        asset: String,
    },
    /// The address is empty (or only white space).
    #[error("empty address")]
    Empty,
    /// Not a valid Bitcoin address of any network.
    #[error("not a bitcoin address ({reason})")]
    Bitcoin {
        /// What the Bitcoin address parser reported.
        reason: String,
    },
    /// Not `0x` followed by 40 hex digits.
    #[error("not an evm address (0x and 40 hex digits)")]
    Evm,
    /// Characters other than ASCII letters and digits.
    #[error("unexpected characters: an address is ascii letters and digits")]
    Characters,
}

/// A format name that [`crate::SourceFormat`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown label format `{text}`: expected one of ofac-xml, ofac-list, tagpack, csv, etherscan"
)]
#[non_exhaustive]
pub struct UnknownFormat {
    /// The name as given.
    pub text: String,
}
