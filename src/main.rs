//! The `otrbot` binary: parse the command line, run it, exit with a code that names the cause.

use clap::Parser;
use otrbot::cli::{execute, Cli};
use otrbot::exit::ExitCode;

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::InvalidArgument.into()
            } else {
                ExitCode::Ok.into()
            };
        }
    };
    match execute(cli) {
        Ok(()) => ExitCode::Ok.into(),
        Err(f) => {
            eprintln!("otrbot: {f}");
            f.code.into()
        }
    }
}
