//! `cointrail risk` (being written).

use std::io::Write;
use std::path::Path;

use crate::args::{Format, RiskArgs};

pub(crate) fn run(
    args: &RiskArgs,
    store: &Path,
    _format: Format,
    _out: &mut dyn Write,
) -> anyhow::Result<()> {
    anyhow::bail!("risk is not available yet ({} in {})", args.target, store.display())
}
