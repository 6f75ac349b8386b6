//! Printing results as JSON or as aligned text.

use std::io::Write;

use serde::Serialize;

use crate::args::Format;

/// Prints `value` as pretty JSON, or calls `table` to print it for people.
pub(crate) fn emit<T: Serialize>(
    out: &mut dyn Write,
    format: Format,
    value: &T,
    table: impl FnOnce(&mut dyn Write, &T) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, value)?;
            writeln!(out)?;
        }
        Format::Table => table(out, value)?,
        other => anyhow::bail!("--format {other:?} is only for trace and actor report"),
    }
    Ok(())
}

/// Formats satoshis as coins with eight decimals.
pub(crate) fn coins(sats: u64) -> String {
    cointrail_types::Sats::from_sat(sats).to_string()
}

/// Formats seconds since the epoch as an ISO 8601 UTC timestamp.
pub(crate) fn utc(seconds: u32) -> String {
    let days = i64::from(seconds / 86_400);
    let rest = seconds % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Writes a trace document in the chosen format, to `file` if given, else to `out`.
pub(crate) fn write_trace(
    document: &cointrail_report::TraceDocument,
    format: Format,
    file: Option<&std::path::Path>,
    out: &mut dyn Write,
    title: &str,
) -> anyhow::Result<()> {
    let text = match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(document)?;
            text.push('\n');
            text
        }
        Format::Table => {
            let mut buffer = Vec::new();
            crate::trace::print(&mut buffer, document)?;
            String::from_utf8(buffer)?
        }
        Format::Csv => cointrail_report::to_csv(document),
        Format::Dot => cointrail_report::to_dot(document),
        Format::Graphml => cointrail_report::to_graphml(document),
        Format::Html => cointrail_report::to_html(document, title),
    };
    match file {
        Some(path) => {
            fs_err::write(path, text)?;
            writeln!(out, "wrote {}", path.display())?;
        }
        None => out.write_all(text.as_bytes())?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_block_times() {
        // Genesis block time and block 170's time.
        assert_eq!(utc(1_231_006_505), "2009-01-03T18:15:05Z");
        assert_eq!(utc(1_231_731_025), "2009-01-12T03:30:25Z");
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
    }
}
