//! `cointrail synth`.

use std::io::{IsTerminal, Write};

use cointrail_synth::{SynthConfig, generate};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{Format, SynthArgs};
use crate::output::emit;

pub(crate) fn run(args: &SynthArgs, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    let config = SynthConfig {
        blocks: args.blocks,
        txs_per_block: args.txs_per_block,
        seed: args.seed,
        network: args.network,
        xor: args.xor,
        activity: args.activity,
        ..SynthConfig::default()
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(u64::from(args.blocks));
        bar.set_style(
            ProgressStyle::with_template("synth {bar:30} {pos}/{len} blocks {per_sec} ETA {eta}")
                .expect("the template is valid"),
        );
        bar
    });
    let mut progress = |height: u32| {
        if let Some(bar) = &bar {
            bar.set_position(u64::from(height));
        }
    };
    let summary = generate(&config, &args.out, &mut progress)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    emit(out, format, &summary, |out, summary| {
        writeln!(
            out,
            "wrote {} blocks, {} txs, {} outputs, {:.1} MB in {} files to {}",
            summary.blocks,
            summary.txs,
            summary.outputs,
            summary.bytes as f64 / 1e6,
            summary.files,
            args.out.display()
        )?;
        writeln!(
            out,
            "tip {}; ground truth in truth.json, truth_addresses.tsv, truth_change.tsv",
            summary.tip_hash
        )
    })
}
