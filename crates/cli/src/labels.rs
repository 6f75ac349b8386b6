//! `cointrail labels import` and `cointrail labels diff`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use cointrail_labels::{ImportContext, SourceFormat, diff, parse_file};
use cointrail_store::{LabelTable, StoreLock};
use cointrail_types::Label;
use serde::Serialize;

use crate::args::{Format, LabelsCommand};
use crate::output::emit;

pub(crate) fn run(
    command: &LabelsCommand,
    store: Option<&Path>,
    source_format: Option<&str>,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        LabelsCommand::Import { source, date, files } => {
            let store = store.context("no store given: pass --store DIR or set COINTRAIL_STORE")?;
            let source_format = source_format.context(
                "no file format given: pass --format ofac-xml, ofac-list, tagpack, csv or etherscan",
            )?;
            import(store, source_format, source.clone(), date.clone(), files, format, out)
        }
        LabelsCommand::Diff { old, new } => compare(source_format, old, new, format, out),
    }
}

#[derive(Serialize)]
struct FileReport {
    file: String,
    labels: usize,
    skipped: Vec<SkippedJson>,
}

#[derive(Serialize)]
struct SkippedJson {
    line: usize,
    address: String,
    reason: String,
}

#[derive(Serialize)]
struct ImportReport {
    files: Vec<FileReport>,
    added: usize,
    already_present: usize,
    total_labels: usize,
}

fn today() -> String {
    let seconds =
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
    crate::output::utc(u32::try_from(seconds).unwrap_or(u32::MAX))[..10].to_owned()
}

fn import(
    store: &Path,
    source_format: &str,
    source: Option<String>,
    date: Option<String>,
    files: &[PathBuf],
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let source_format: SourceFormat = source_format.parse()?;
    let context = ImportContext { imported: date.unwrap_or_else(today), source };
    let _lock = StoreLock::acquire(store)?;
    // Parse everything first: one bad file and nothing is written.
    let mut reports = Vec::new();
    let mut labels: Vec<Label> = Vec::new();
    for file in files {
        let parsed = parse_file(source_format, file, &context)?;
        reports.push(FileReport {
            file: file.display().to_string(),
            labels: parsed.labels.len(),
            skipped: parsed
                .skipped
                .into_iter()
                .map(|skipped| SkippedJson {
                    line: skipped.line,
                    address: skipped.address,
                    reason: skipped.reason,
                })
                .collect(),
        });
        labels.extend(parsed.labels);
    }
    let mut table = LabelTable::load(store)?;
    let offered = labels.len();
    let added = table.merge(labels);
    table.save(store)?;
    let report = ImportReport {
        files: reports,
        added,
        already_present: offered - added,
        total_labels: table.all().len(),
    };
    emit(out, format, &report, |out, report| {
        for file in &report.files {
            writeln!(out, "{}: {} labels", file.file, file.labels)?;
            for skipped in &file.skipped {
                writeln!(
                    out,
                    "  skipped line {} {}: {}",
                    skipped.line, skipped.address, skipped.reason
                )?;
            }
        }
        writeln!(
            out,
            "added {} labels ({} already present); the store has {}",
            report.added, report.already_present, report.total_labels
        )
    })
}

#[derive(Serialize)]
struct DiffReport {
    added: Vec<Label>,
    removed: Vec<Label>,
}

fn guess_format(path: &Path) -> SourceFormat {
    match path.extension().and_then(|extension| extension.to_str()) {
        Some("xml") => SourceFormat::OfacXml,
        Some("yaml" | "yml") => SourceFormat::Tagpack,
        Some("csv") => SourceFormat::Csv,
        _ => SourceFormat::OfacList,
    }
}

fn compare(
    source_format: Option<&str>,
    old: &Path,
    new: &Path,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let context = ImportContext::new(today());
    let read = |path: &Path| -> anyhow::Result<Vec<Label>> {
        let source_format = match source_format {
            Some(text) => text.parse()?,
            None => guess_format(path),
        };
        Ok(parse_file(source_format, path, &context)?.labels)
    };
    let changes = diff(&read(old)?, &read(new)?);
    let report = DiffReport { added: changes.added, removed: changes.removed };
    emit(out, format, &report, |out, report| {
        for label in &report.removed {
            writeln!(out, "- {} {} {}", label.asset, label.address, label.name)?;
        }
        for label in &report.added {
            writeln!(out, "+ {} {} {}", label.asset, label.address, label.name)?;
        }
        writeln!(out, "{} added, {} removed", report.added.len(), report.removed.len())
    })
}
