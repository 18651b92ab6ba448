//! The `dq` binary: wiring only. Each command lives in `commands/`.

mod bench;
mod cli;
mod commands;
mod config;
mod demo_data;
#[cfg(test)]
mod doc_commands;
mod export_format;
mod record;
mod report;
mod runner;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Exit codes a pipeline can gate on.
pub mod exit {
    pub const OK: u8 = 0;
    /// A rule at or above `--fail-on` failed, or a manifest is invalid.
    pub const FAILED: u8 = 1;
    /// Bad usage or configuration (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// A check could not run (ERROR or TIMEOUT).
    pub const CHECK_ERROR: u8 = 3;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A process-pool child limits its own memory and builds its own
    // runtime, so it starts before anything else does.
    if matches!(cli.command, Command::WorkerChild) {
        return dq_worker::child_main();
    }
    // Services log what they do; one-shot commands only warnings.
    let is_service = matches!(
        cli.command,
        Command::Beat(_)
            | Command::Worker(_)
            | Command::Serve(_)
            | Command::Api(_)
            | Command::Alerts(cli::AlertsCommand::Dispatch(_))
    );
    init_logging(cli.verbose, is_service, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo(args) => commands::demo::run(args).await,
            Command::Load(args) => commands::load::run(cli.config.as_deref(), args).await,
            Command::Run(args) => commands::run::run(cli.config.as_deref(), args).await,
            Command::Export(args) => commands::export::run(cli.config.as_deref(), args).await,
            Command::Beat(args) => commands::beat::run(cli.config.as_deref(), args).await,
            Command::Worker(args) => commands::worker::run(cli.config.as_deref(), args).await,
            Command::Serve(args) => commands::serve::run(cli.config.as_deref(), args).await,
            Command::Api(args) => commands::api::run(cli.config.as_deref(), args).await,
            Command::Inspect(args) => commands::inspect::run(cli.config.as_deref(), args).await,
            Command::Requeue(args) => commands::requeue::run(cli.config.as_deref(), args).await,
            Command::Ack(args) => commands::ack::run(cli.config.as_deref(), args).await,
            Command::Violations(args) => {
                commands::violations::run(cli.config.as_deref(), args).await
            }
            Command::Rules(command) => commands::rules::run(cli.config.as_deref(), command).await,
            Command::Report(command) => {
                commands::reports::run(cli.config.as_deref(), command).await
            }
            Command::Cleanup(args) => commands::cleanup::run(cli.config.as_deref(), args).await,
            Command::Alerts(command) => commands::alerts::run(cli.config.as_deref(), command).await,
            Command::Migrate => commands::migrate::run(cli.config.as_deref()).await,
            Command::Doctor(args) => commands::doctor::run(cli.config.as_deref(), args).await,
            Command::Init(args) => commands::init::run(args).await,
            Command::Bench(cli::BenchCommand::Postgres(args)) => bench::postgres(args).await,
            Command::Bench(cli::BenchCommand::Fleet(args)) => bench::fleet(args).await,
            // Started above, before the runtime.
            Command::WorkerChild => Ok(exit::OK),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn init_logging(verbose: u8, is_service: bool, format: cli::LogFormat) {
    // sqlx reports every statement over 1 s as a warning; a scan of a large
    // table is supposed to take that long, so its logs start at debug.
    let default = match verbose {
        0 if is_service => "info,sqlx=warn",
        0 => "warn,sqlx=error",
        1 => "info,dq=debug,sqlx=warn",
        _ => "debug,dq=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DQ_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Colours only on a terminal: logs that go to files or journald stay plain.
        cli::LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // Fields at the top level next to `message`, so `jq 'select(.message
        // == "check error") | .rule'` reads them directly.
        cli::LogFormat::Json => logs.json().flatten_event(true).init(),
    }
}
