//! `cointrail serve` (being written).

use std::path::Path;

use crate::args::ServeArgs;

pub(crate) fn run(args: &ServeArgs, store: &Path) -> anyhow::Result<()> {
    anyhow::bail!("serve is not available yet ({} on {})", store.display(), args.listen)
}
