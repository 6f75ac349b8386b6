//! The `cointrail` binary: parses arguments, runs one command, prints the result, sets the exit code.
#![expect(clippy::print_stderr, reason = "a CLI reports errors on stderr")]

mod args;
mod cluster;
mod evm;
mod follow;
mod incident;
mod ingest;
mod labels;
mod output;
mod risk;
mod serve;
mod show;
mod synth;
mod trace;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use args::{ActorCommand, Cli, Command, FollowCommand, IngestCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(message) = cli.output_format() {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    let format = cli.output_format().map_err(anyhow::Error::msg)?;
    match &cli.command {
        Command::Ingest(IngestCommand::Evm(args)) => {
            evm::ingest(args, cli.chain.as_deref(), &store_dir(cli)?, format, &mut stdout)
        }
        Command::Ingest(IngestCommand::Btc(args)) => {
            ingest::btc(args, &store_dir(cli)?, format, &mut stdout)
        }
        Command::Show(command) => {
            show::run_on_chain(command, cli.chain.as_deref(), &store_dir(cli)?, format, &mut stdout)
        }
        Command::Status => show::status(&store_dir(cli)?, format, &mut stdout),
        Command::Cluster(args) => {
            cluster::run(args, cli.chain.as_deref(), &store_dir(cli)?, format, &mut stdout)
        }
        Command::Explain { address_a, address_b } => cluster::explain(
            &store_dir(cli)?,
            cli.chain.as_deref(),
            address_a,
            address_b,
            format,
            &mut stdout,
        ),
        Command::Trace(args) => {
            trace::run(args, cli.chain.as_deref(), &store_dir(cli)?, format, &mut stdout)
        }
        Command::Incident(command) => incident::run(command, &store_dir(cli)?, format, &mut stdout),
        Command::Actor(ActorCommand::Report { actor, options, prices, output }) => {
            incident::report(
                &store_dir(cli)?,
                actor,
                options,
                prices.as_deref(),
                format,
                output.as_deref(),
                &mut stdout,
            )
        }
        Command::Synth(args) => synth::run(args, format, &mut stdout),
        Command::Serve(args) => serve::run(args, &store_dir(cli)?),
        Command::Risk(args) => {
            risk::run(args, cli.chain.as_deref(), &store_dir(cli)?, format, &mut stdout)
        }
        Command::Follow(FollowCommand::Evm(args)) => {
            follow::evm(args, cli.chain.as_deref(), &store_dir(cli)?, format, &mut stdout)
        }
        Command::Follow(FollowCommand::Btc(args)) => {
            follow::btc(args, &store_dir(cli)?, format, &mut stdout)
        }
        Command::Watch(command) => follow::watch(command, &store_dir(cli)?, format, &mut stdout),
        Command::Labels(command) => {
            labels::run(command, cli.store.as_deref(), cli.source_format(), format, &mut stdout)
        }
    }?;
    stdout.flush()?;
    Ok(())
}

fn store_dir(cli: &Cli) -> anyhow::Result<PathBuf> {
    cli.store.clone().context("no store given: pass --store DIR or set COINTRAIL_STORE")
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
