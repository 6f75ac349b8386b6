//! `cointrail follow` and `cointrail watch` (being written).

use std::io::Write;
use std::path::Path;

use crate::args::{FollowBtcArgs, Format, WatchCommand};

pub(crate) fn btc(
    args: &FollowBtcArgs,
    store: &Path,
    _format: Format,
    _out: &mut dyn Write,
) -> anyhow::Result<()> {
    anyhow::bail!("follow is not available yet ({} into {})", args.rpc, store.display())
}

pub(crate) fn watch(
    command: &WatchCommand,
    store: &Path,
    _format: Format,
    _out: &mut dyn Write,
) -> anyhow::Result<()> {
    anyhow::bail!("watch is not available yet ({command:?} in {})", store.display())
}
