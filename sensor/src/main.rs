//! meerkat-sensor binary: parse flags, set up logging, run, map the result
//! to an exit code. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use meerkat_sensor::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    match meerkat_sensor::run::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("meerkat-sensor: error: {err:#}");
            meerkat_sensor::logging::fatal(&format!("{err:#}"));
            ExitCode::from(1)
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(meerkat_sensor::logging::EngineLogLayer)
        .init();
}
