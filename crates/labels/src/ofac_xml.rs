//! OFAC's SDN list in the advanced XML format (`sdn_advanced.xml`), read streaming in one pass.
//!
//! The parts of the document used, all matched by local name (the namespace is
//! `https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/ADVANCED_XML`):
//!
//! ```text
//! Sanctions
//! ├─ DateOfIssue / Year, Month, Day                      → the list's date
//! ├─ ReferenceValueSets / FeatureTypeValues / FeatureType[ID]
//! │                        "Digital Currency Address - XBT" → feature type → asset
//! ├─ DistinctParties / DistinctParty / Profile[ID]
//! │   ├─ Identity / Alias[Primary="true"] / DocumentedName (the first) / … / NamePartValue
//! │   │                                                  → the name (parts joined by spaces)
//! │   └─ Feature[FeatureTypeID] / FeatureVersion / VersionDetail  → the address
//! └─ SanctionsEntries / SanctionsEntry[ProfileID] / SanctionsMeasure / Comment
//!                                                        → programmes (DPRK3, CYBER2, ...)
//! ```
//!
//! In Treasury's file the reference values come first, then the parties, then the sanctions
//! entries; the parser does not rely on that order: it collects per profile and joins at the end.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, BufRead, Read};
use std::path::Path;

use cointrail_types::Label;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::address::canonical_asset;
use crate::{ImportContext, LabelError, Parsed, Skipped, normalize_address};

/// The text before the asset code in the name of a digital currency address feature type.
const FEATURE_PREFIX: &str = "Digital Currency Address - ";

/// Parses OFAC's SDN advanced XML (`sdn_advanced.xml`, plain, not compressed) from `reader`, in
/// one streaming pass; `file` is only used in errors.
///
/// Makes one label per published digital currency address: asset = OFAC's code (`XBT` written
/// `BTC`), name and actor = the profile's primary name (the first documented name of its primary
/// alias, e.g. `Lazarus Group`, `Li Jiadong`), category `sanctions`, programmes = the sorted codes
/// of the profile's sanctions entries, source `OFAC SDN <date of issue>` unless
/// [`ImportContext::source`] is set, confidence 100.
///
/// An address that fails [`normalize_address`] does not fail the import: it is left out and
/// listed in [`Parsed::skipped`] with its line.
///
/// # Errors
///
/// Returns [`LabelError::Compressed`] for a bzip2 or gzip file, [`LabelError::Xml`] for malformed
/// XML, [`LabelError::NotSdnXml`] if the root element is not `Sanctions` or the date of issue is
/// missing (and no source was given), [`LabelError::Io`] if reading fails, and
/// [`LabelError::ImportDate`] for a bad import date.
pub fn parse_ofac_xml(
    mut reader: impl BufRead,
    file: &Path,
    context: &ImportContext,
) -> Result<Parsed, LabelError> {
    context.check()?;
    let io_error = |source| LabelError::Io { file: file.to_owned(), source };
    let head = reader.fill_buf().map_err(io_error)?;
    if head.starts_with(b"BZh") {
        return Err(LabelError::Compressed {
            file: file.to_owned(),
            format: "bzip2",
            tool: "bunzip2",
        });
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Err(LabelError::Compressed {
            file: file.to_owned(),
            format: "gzip",
            tool: "gunzip",
        });
    }
    let mut xml = Reader::from_reader(LineCounter { inner: reader, newlines: 0 });
    xml.config_mut().expand_empty_elements = true;
    let mut state = State::default();
    let mut buf = Vec::with_capacity(1024);
    loop {
        let event = xml.read_event_into(&mut buf).map_err(|error| LabelError::Xml {
            file: file.to_owned(),
            line: xml.get_ref().newlines + 1,
            message: error.to_string(),
        })?;
        let line = xml.get_ref().newlines + 1;
        let result = match event {
            Event::Start(start) => state.start(&start, line),
            Event::End(end) => {
                state.end(end.local_name().as_ref());
                Ok(())
            }
            Event::Text(text) => {
                state.text(&text);
                Ok(())
            }
            Event::CData(data) => {
                state.text(&data);
                Ok(())
            }
            Event::GeneralRef(reference) => match reference.resolve_char_ref() {
                Ok(Some(c)) => {
                    state.text(c.encode_utf8(&mut [0; 4]));
                    Ok(())
                }
                Ok(None) => {
                    state.text(predefined_entity(&reference));
                    Ok(())
                }
                Err(error) => Err(error.to_string()),
            },
            Event::Eof => break,
            Event::Empty(_)
            | Event::Comment(_)
            | Event::Decl(_)
            | Event::PI(_)
            | Event::DocType(_) => Ok(()),
        };
        if let Err(message) = result {
            return Err(LabelError::NotSdnXml { file: file.to_owned(), line, message });
        }
        buf.clear();
    }
    if !state.saw_root {
        return Err(LabelError::NotSdnXml {
            file: file.to_owned(),
            line: 1,
            message: "no `Sanctions` element".to_owned(),
        });
    }
    state.finish(file, context)
}

/// Returns the text of a predefined XML entity, or the reference as written for others.
fn predefined_entity(name: &str) -> &str {
    match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        _ => name,
    }
}

/// A [`BufRead`] that counts the newlines of the bytes consumed from it, so that the XML reader's
/// position can be told as a line.
struct LineCounter<R> {
    /// The reader.
    inner: R,
    /// Newlines consumed so far.
    newlines: usize,
}

impl<R: BufRead> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.newlines += count_newlines(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCounter<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        // `fill_buf` returns the buffered bytes again without reading.
        if let Ok(buffered) = self.inner.fill_buf() {
            self.newlines += count_newlines(buffered.get(..amount).unwrap_or(buffered));
        }
        self.inner.consume(amount);
    }
}

/// Counts `\n` bytes.
fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// What text is being collected, and for what.
#[derive(Debug)]
enum Capture {
    /// `DateOfIssue/Year|Month|Day`: index 0, 1, 2.
    Date(usize),
    /// `FeatureType` with this ID.
    FeatureType(String),
    /// A `NamePartValue` of the primary name.
    NamePart,
    /// A `VersionDetail` of a feature, starting on this line.
    Detail(usize),
    /// `SanctionsMeasure/Comment`.
    Programme,
}

/// One `VersionDetail` text of a profile's feature.
#[derive(Debug)]
struct Detail {
    /// The profile.
    profile: String,
    /// The feature type ID.
    feature_type: String,
    /// The text.
    text: String,
    /// 1-based line.
    line: usize,
}

/// Everything collected in the pass.
#[derive(Debug, Default)]
struct State {
    /// Whether the root `Sanctions` element was seen.
    saw_root: bool,
    /// Whether any element was seen.
    saw_element: bool,
    /// Inside `DateOfIssue`.
    in_date: bool,
    /// Year, month and day of issue as text.
    date: [Option<String>; 3],
    /// Digital currency feature type ID → asset code as OFAC writes it.
    currencies: HashMap<String, String>,
    /// Whether `FeatureTypeValues` has ended (later features of unknown type can be dropped).
    feature_types_done: bool,
    /// The profile being read.
    profile: Option<String>,
    /// Inside the primary alias of the profile, before its first documented name ended.
    in_primary_alias: bool,
    /// Inside the first documented name of the primary alias.
    in_primary_name: bool,
    /// Name parts of the profile's primary name.
    name_parts: Vec<String>,
    /// Primary name per profile.
    names: HashMap<String, String>,
    /// Feature type of the feature being read.
    feature_type: Option<String>,
    /// Feature texts that may be addresses, in file order.
    details: Vec<Detail>,
    /// Profile of the sanctions entry being read.
    entry_profile: Option<String>,
    /// Inside a `SanctionsMeasure`.
    in_measure: bool,
    /// Programmes per profile.
    programmes: HashMap<String, BTreeSet<String>>,
    /// The text being collected.
    capture: Option<(Capture, String)>,
}

/// Returns the value of attribute `name`, if present.
fn attribute(start: &BytesStart<'_>, name: &str) -> Result<Option<String>, String> {
    match start.try_get_attribute(name) {
        Ok(found) => Ok(found.map(|attribute| attribute.value.into_owned())),
        Err(error) => Err(error.to_string()),
    }
}

/// Returns the value of attribute `name`, or an error naming the element.
fn required(start: &BytesStart<'_>, element: &str, name: &str) -> Result<String, String> {
    attribute(start, name)?.ok_or_else(|| format!("`{element}` without `{name}`"))
}

impl State {
    /// Handles a start tag on `line`.
    fn start(&mut self, start: &BytesStart<'_>, line: usize) -> Result<(), String> {
        let local = start.local_name();
        let name: &str = local.as_ref();
        if !self.saw_element {
            self.saw_element = true;
            if name != "Sanctions" {
                return Err(format!("the root element is `{name}`, not `Sanctions`"));
            }
            self.saw_root = true;
            return Ok(());
        }
        match name {
            "DateOfIssue" => self.in_date = true,
            "Year" | "Month" | "Day" if self.in_date => {
                let index = match name {
                    "Year" => 0,
                    "Month" => 1,
                    _ => 2,
                };
                self.capture = Some((Capture::Date(index), String::new()));
            }
            "FeatureType" => {
                let id = required(start, name, "ID")?;
                self.capture = Some((Capture::FeatureType(id), String::new()));
            }
            "Profile" => {
                self.profile = Some(required(start, name, "ID")?);
                self.name_parts.clear();
            }
            "Alias" if self.profile.is_some() => {
                let primary = attribute(start, "Primary")?.is_some_and(|value| value == "true");
                self.in_primary_alias = primary && self.name_parts.is_empty();
            }
            "DocumentedName" if self.in_primary_alias => self.in_primary_name = true,
            "NamePartValue" if self.in_primary_name => {
                self.capture = Some((Capture::NamePart, String::new()));
            }
            "Feature" if self.profile.is_some() => {
                self.feature_type = Some(required(start, name, "FeatureTypeID")?);
            }
            "VersionDetail" if self.feature_type.is_some() => {
                self.capture = Some((Capture::Detail(line), String::new()));
            }
            "SanctionsEntry" => self.entry_profile = Some(required(start, name, "ProfileID")?),
            "SanctionsMeasure" if self.entry_profile.is_some() => self.in_measure = true,
            "Comment" if self.in_measure => {
                self.capture = Some((Capture::Programme, String::new()));
            }
            _ => {}
        }
        Ok(())
    }

    /// Appends text to the capture, if any.
    fn text(&mut self, text: &str) {
        if let Some((_, collected)) = &mut self.capture {
            collected.push_str(text);
        }
    }

    /// Handles an end tag.
    fn end(&mut self, name: &str) {
        if let Some((capture, text)) = self.capture.take() {
            self.captured(capture, &text);
        }
        match name {
            "DateOfIssue" => self.in_date = false,
            "FeatureTypeValues" => self.feature_types_done = true,
            "Profile" => {
                self.profile = None;
                self.in_primary_alias = false;
                self.in_primary_name = false;
            }
            "Alias" => self.in_primary_alias = false,
            "DocumentedName" if self.in_primary_name => {
                self.in_primary_name = false;
                // Only the first documented name (the primary Latin one) counts.
                self.in_primary_alias = false;
                if let Some(profile) = &self.profile
                    && !self.name_parts.is_empty()
                {
                    self.names.insert(profile.clone(), self.name_parts.join(" "));
                }
            }
            "Feature" => self.feature_type = None,
            "SanctionsEntry" => self.entry_profile = None,
            "SanctionsMeasure" => self.in_measure = false,
            _ => {}
        }
    }

    /// Stores a collected text.
    fn captured(&mut self, capture: Capture, text: &str) {
        let trimmed = text.trim();
        match capture {
            Capture::Date(index) => {
                if let Some(slot) = self.date.get_mut(index) {
                    *slot = Some(trimmed.to_owned());
                }
            }
            Capture::FeatureType(id) => {
                if let Some(code) = trimmed.strip_prefix(FEATURE_PREFIX) {
                    self.currencies.insert(id, code.trim().to_owned());
                }
            }
            Capture::NamePart => {
                if !trimmed.is_empty() {
                    self.name_parts.push(trimmed.to_owned());
                }
            }
            Capture::Detail(line) => {
                let (Some(profile), Some(feature_type)) = (&self.profile, &self.feature_type)
                else {
                    return;
                };
                if !self.feature_types_done || self.currencies.contains_key(feature_type) {
                    self.details.push(Detail {
                        profile: profile.clone(),
                        feature_type: feature_type.clone(),
                        text: trimmed.to_owned(),
                        line,
                    });
                }
            }
            Capture::Programme => {
                if let Some(profile) = &self.entry_profile
                    && !trimmed.is_empty()
                {
                    self.programmes.entry(profile.clone()).or_default().insert(trimmed.to_owned());
                }
            }
        }
    }

    /// Returns the date of issue as `YYYY-MM-DD`, if complete.
    fn date_of_issue(&self) -> Option<String> {
        let [year, month, day] = &self.date;
        let number = |text: &Option<String>| text.as_deref().and_then(|t| t.parse::<u16>().ok());
        Some(format!("{:04}-{:02}-{:02}", number(year)?, number(month)?, number(day)?))
    }

    /// Joins the collected parts into labels.
    fn finish(self, file: &Path, context: &ImportContext) -> Result<Parsed, LabelError> {
        let source = match (&context.source, self.date_of_issue()) {
            (Some(source), _) => source.clone(),
            (None, Some(date)) => format!("OFAC SDN {date}"),
            (None, None) => {
                return Err(LabelError::NotSdnXml {
                    file: file.to_owned(),
                    line: 1,
                    message: "no complete `DateOfIssue` (give a source to import it anyway)"
                        .to_owned(),
                });
            }
        };
        let mut labels = Vec::with_capacity(self.details.len());
        let mut skipped = Vec::new();
        for detail in self.details {
            let Some(code) = self.currencies.get(&detail.feature_type) else {
                continue;
            };
            let normalized = canonical_asset(code).and_then(|asset| {
                normalize_address(&asset, &detail.text).map(|address| (asset, address))
            });
            let (asset, address) = match normalized {
                Ok(pair) => pair,
                Err(problem) => {
                    skipped.push(Skipped {
                        line: detail.line,
                        address: detail.text,
                        reason: format!("{code}: {problem}"),
                    });
                    continue;
                }
            };
            let name = self
                .names
                .get(&detail.profile)
                .cloned()
                .unwrap_or_else(|| format!("OFAC SDN profile {}", detail.profile));
            let programs = self
                .programmes
                .get(&detail.profile)
                .map(|codes| codes.iter().cloned().collect())
                .unwrap_or_default();
            labels.push(Label {
                address,
                asset,
                actor: Some(name.clone()),
                name,
                category: "sanctions".to_owned(),
                source: source.clone(),
                confidence: Some(100),
                programs,
                imported: context.imported.clone(),
            });
        }
        Ok(Parsed::new(labels, skipped))
    }
}
