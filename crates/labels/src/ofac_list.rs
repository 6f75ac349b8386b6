//! OFAC's per-asset address lists (`sanctioned_addresses_<ASSET>.txt`, one address per line), as
//! published by <https://github.com/0xB10C/ofac-sanctioned-digital-currency-addresses>.

use std::path::Path;

use cointrail_types::Label;

use crate::address::canonical_asset;
use crate::{
    AddressProblem, ImportContext, LabelError, Parsed, Skipped, file_name, normalize_address,
};

/// The name every label of an OFAC per-asset list gets.
const LIST_NAME: &str = "OFAC SDN list";

/// Parses one OFAC per-asset list: one address per line, blank lines ignored.
///
/// The asset comes from the file name, which must be `sanctioned_addresses_<ASSET>.txt` (`XBT`
/// becomes `BTC`). Each address becomes a label named `OFAC SDN list`, category `sanctions`,
/// confidence 100, with the file name as source unless [`ImportContext::source`] is set.
///
/// A line that is not address-like at all (anything but ASCII letters and digits) fails the
/// import. An address-like line that fails the asset's check is OFAC's own odd entry and is
/// skipped into [`Parsed::skipped`], as in [`crate::parse_ofac_xml`]: the 2025-11-19
/// `sanctioned_addresses_XBT.txt` lists the TRON address `TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq`,
/// exactly as the SDN XML does under "Digital Currency Address - XBT".
///
/// # Errors
///
/// Returns [`LabelError::ListFileName`] if the file name does not tell the asset,
/// [`LabelError::Address`] (with the line) for a line that is not address-like, and
/// [`LabelError::ImportDate`] for a bad import date.
pub fn parse_ofac_list(
    text: &str,
    file: &Path,
    context: &ImportContext,
) -> Result<Parsed, LabelError> {
    context.check()?;
    let name = file_name(file);
    let asset = name
        .strip_prefix("sanctioned_addresses_")
        .and_then(|rest| rest.strip_suffix(".txt"))
        .and_then(|code| canonical_asset(code).ok())
        .ok_or_else(|| LabelError::ListFileName { file: file.to_owned(), name: name.clone() })?;
    let source = context.source_or(|| name.clone());
    let mut labels = Vec::new();
    let mut skipped = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let written = line.trim();
        if written.is_empty() {
            continue;
        }
        let address = match normalize_address(&asset, written) {
            Ok(address) => address,
            Err(problem @ (AddressProblem::Bitcoin { .. } | AddressProblem::Evm)) => {
                skipped.push(Skipped {
                    line: index + 1,
                    address: written.to_owned(),
                    reason: format!("{asset}: {problem}"),
                });
                continue;
            }
            Err(problem) => {
                return Err(LabelError::Address {
                    file: file.to_owned(),
                    line: index + 1,
                    asset: asset.clone(),
                    address: written.to_owned(),
                    problem,
                });
            }
        };
        labels.push(Label {
            address,
            asset: asset.clone(),
            name: LIST_NAME.to_owned(),
            category: "sanctions".to_owned(),
            actor: None,
            source: source.clone(),
            confidence: Some(100),
            programs: Vec::new(),
            imported: context.imported.clone(),
        });
    }
    Ok(Parsed::new(labels, skipped))
}
