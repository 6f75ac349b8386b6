//! Text helpers shared by the renderers: amounts, escaping, short ids, category colours.

use std::fmt;

/// Appends formatted text to a `String` (writing to a `String` cannot fail).
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = ::std::fmt::Write::write_fmt($out, format_args!($($arg)*));
    }};
}
pub(crate) use put;

/// Formats `amount` base units in `unit`, exactly, with its symbol.
pub(crate) fn amount_text(unit: &crate::Unit, amount: impl Into<u128>) -> String {
    unit.format(amount.into())
}

/// `part` as a percentage of `whole` with two decimals (`"12.50 %"`), `"<0.01 %"` for a non-zero
/// sliver and `"–"` when `whole` is zero.
pub(crate) fn percent(part: u128, whole: u128) -> String {
    if whole == 0 {
        return "–".to_owned();
    }
    let value = part as f64 * 100.0 / whole as f64;
    if part > 0 && value < 0.005 {
        return "<0.01 %".to_owned();
    }
    format!("{value:.2} %")
}

/// Sum that saturates instead of overflowing (documents may be hand-built).
pub(crate) fn sum(values: impl IntoIterator<Item = u128>) -> u128 {
    values.into_iter().fold(0u128, u128::saturating_add)
}

/// Maps amounts to widths on a logarithmic scale: the smallest amount of a set gets `thin`, the
/// largest `thick`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogScale {
    low: f64,
    span: f64,
    thin: f64,
    thick: f64,
}

impl LogScale {
    /// A scale over `amounts`.
    pub(crate) fn new(amounts: impl Iterator<Item = u128>, thin: f64, thick: f64) -> Self {
        let (min, max) = amounts
            .fold(None, |range: Option<(u128, u128)>, amount| {
                Some(
                    range.map_or((amount, amount), |(min, max)| (min.min(amount), max.max(amount))),
                )
            })
            .unwrap_or((0, 0));
        let low = ln(min);
        Self { low, span: ln(max) - low, thin, thick }
    }

    /// Width of `amount`; the middle width when every amount is the same.
    pub(crate) fn of(&self, amount: u128) -> f64 {
        let share = if self.span > 0.0 {
            ((ln(amount) - self.low) / self.span).clamp(0.0, 1.0)
        } else {
            0.5
        };
        self.thin + (self.thick - self.thin) * share
    }
}

/// Natural logarithm of `amount + 1`.
fn ln(amount: u128) -> f64 {
    (amount as f64).ln_1p()
}

/// Whether a character may appear in XML 1.0 (and, by extension, sensible HTML) text.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || !c.is_control()
}

/// Text escaped for HTML and XML, in element content and in quoted attribute values. Control
/// characters that XML forbids are dropped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Esc<'a>(pub(crate) &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) =
            rest.find(|c: char| matches!(c, '&' | '<' | '>' | '"' | '\'') || !xml_char(c))
        {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or('\0');
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                _ => {}
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// Text as a Graphviz quoted string, quotes included: `"` and `\` escaped, line breaks as `\n`,
/// other control characters dropped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DotStr<'a>(pub(crate) &'a str);

impl fmt::Display for DotStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                c if c.is_control() => {}
                c => fmt::Write::write_char(f, c)?,
            }
        }
        f.write_str("\"")
    }
}

/// Shortens a long identifier (a txid, an address) to its head and tail: `f4184fc5…0e9e16`.
pub(crate) fn short_id(id: &str, head: usize, tail: usize) -> String {
    let count = id.chars().count();
    if count <= head + tail + 1 {
        return id.to_owned();
    }
    let start: String = id.chars().take(head).collect();
    let end: String = id.chars().skip(count - tail).collect();
    format!("{start}…{end}")
}

/// Cuts text to at most `max` characters, ending with `…` when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Colours of a stop label's category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Palette {
    /// Light fill.
    pub(crate) fill: &'static str,
    /// Strong stroke and text accents.
    pub(crate) stroke: &'static str,
    /// Name of the colour group, for legends and CSS classes.
    pub(crate) group: &'static str,
}

/// Exchange: blue.
pub(crate) const EXCHANGE: Palette =
    Palette { fill: "#dbeafe", stroke: "#1d4ed8", group: "exchange" };
/// Service: teal.
pub(crate) const SERVICE: Palette =
    Palette { fill: "#ccfbf1", stroke: "#0f766e", group: "service" };
/// Sanctions, theft and other illicit categories: red.
pub(crate) const ILLICIT: Palette =
    Palette { fill: "#fee2e2", stroke: "#b91c1c", group: "illicit" };
/// Mixer: purple.
pub(crate) const MIXER: Palette = Palette { fill: "#ede9fe", stroke: "#6d28d9", group: "mixer" };
/// Anything else: grey.
pub(crate) const OTHER: Palette = Palette { fill: "#e5e7eb", stroke: "#4b5563", group: "other" };

/// Maps a category (`exchange`, `service`, `sanctions`, `theft`, `mixer`, ...) to its colours.
pub(crate) fn palette(category: &str) -> Palette {
    let category = category.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|word| category.contains(word));
    if has(&["exchange"]) {
        EXCHANGE
    } else if has(&["mixer", "mixing", "tumbler"]) {
        MIXER
    } else if has(&["sanction", "theft", "stolen", "hack", "ransom", "scam", "fraud", "darknet"]) {
        ILLICIT
    } else if has(&["service"]) {
        SERVICE
    } else {
        OTHER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btc_amounts_are_exact() {
        for (sats, text) in [
            (0, "0.00000000 BTC"),
            (1, "0.00000001 BTC"),
            (123_456_789, "1.23456789 BTC"),
            (100_000_000, "1.00000000 BTC"),
            (2_099_999_997_690_000, "20999999.97690000 BTC"),
            (u64::MAX, "184467440737.09551615 BTC"),
        ] {
            assert_eq!(crate::Unit::default().format(u128::from(sats)), text);
        }
    }

    #[test]
    fn percentages() {
        assert_eq!(percent(1, 8), "12.50 %");
        assert_eq!(percent(1, 1_000_000), "<0.01 %");
        assert_eq!(percent(0, 10), "0.00 %");
        assert_eq!(percent(5, 0), "–");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            Esc("<a href=\"x\">Tom & 'Jerry'</a>\u{0}\u{7}é").to_string(),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;é"
        );
        assert_eq!(DotStr("a \"b\" \\ c\nd\u{1}").to_string(), "\"a \\\"b\\\" \\\\ c\\nd\"");
    }

    #[test]
    fn short_ids() {
        let txid = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16";
        assert_eq!(short_id(txid, 8, 6), "f4184fc5…1e9e16");
        assert_eq!(short_id("abc", 8, 6), "abc");
        assert_eq!(truncate("exchange", 5), "exch…");
    }

    #[test]
    fn palettes() {
        assert_eq!(palette("exchange"), EXCHANGE);
        assert_eq!(palette("service"), SERVICE);
        assert_eq!(palette("sanctions"), ILLICIT);
        assert_eq!(palette("theft"), ILLICIT);
        assert_eq!(palette("mixer"), MIXER);
        assert_eq!(palette("user"), OTHER);
    }
}
