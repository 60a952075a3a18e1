//! The `sticky-guard` binary: parses the command line and hands off to [`sticky_guard::cli`].

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = sticky_guard::cli::Cli::parse();
    sticky_guard::cli::run(cli)
}
