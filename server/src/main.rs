//! `chinwagd`: parses flags, sets up logging, binds, and runs the server
//! until SIGINT or SIGTERM (see `cli.rs`).

use std::process::ExitCode;

fn main() -> ExitCode {
    match server::cli::run_from(std::env::args_os()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chinwagd: {error:#}");
            ExitCode::FAILURE
        }
    }
}
