//! `cointrail ingest evm` (being written).

use std::io::Write;
use std::path::Path;

use crate::args::{Format, IngestEvmArgs};

pub(crate) fn ingest(
    args: &IngestEvmArgs,
    store: &Path,
    _format: Format,
    _out: &mut dyn Write,
) -> anyhow::Result<()> {
    anyhow::bail!("ingest evm is not available yet ({} into {})", args.rpc, store.display())
}
