//! `goheap`: the command-line tool of the goheap project.
//!
//! * `goheap run [--stats] [--profile FILE] -- CMD ARGS...` runs a program
//!   on goheap (libgoheap.so preloaded) and exits with its exit code.
//! * `goheap bench [--suite alloc|gc|goroutines|all] [...]` runs the
//!   project's C workloads (workloads/) under goheap, glibc, mimalloc,
//!   jemalloc and tcmalloc, and the GC and goroutine benchmarks of the
//!   suites manifest, and compares time, peak memory and the programs' own
//!   metrics; `--json`/`--compare` keep and compare results across runs.
//! * `goheap completions bash|zsh|fish` prints a completion script.
//!
//! The command line is clap's (module `cli`), progress lines indicatif's,
//! tables comfy-table's.

mod allocators;
mod bench;
mod cli;
mod compare;
mod locate;
mod measure;
mod progress;
mod report;
mod results;
mod run;
mod stats;
mod suites;
mod svg;
mod workloads;

use clap::{CommandFactory, Parser};
use cli::{Cli, Command};
use std::io::Write;

/// Why a command could not do its job, and the exit code that says so.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    /// A failure with exit code 1.
    pub fn error(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
        }
    }

    /// A usage error found after parsing (exit code 2, as clap's).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
}

fn main() {
    die_quietly_on_closed_pipe();
    let cli = Cli::parse();
    let code = execute(cli.command).unwrap_or_else(|failure| {
        eprintln!("goheap: {}", failure.message);
        failure.code
    });
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// `goheap completions bash | head` and the like end quietly, as Unix
/// tools do, instead of panicking in `println!` (Rust ignores SIGPIPE).
fn die_quietly_on_closed_pipe() {
    // SAFETY: restoring a signal's default disposition before any thread
    // starts has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

fn execute(command: Command) -> Result<i32, Failure> {
    match command {
        Command::Run(args) => run::run(&args),
        Command::Bench(args) => bench::bench(&args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "goheap", &mut std::io::stdout());
            Ok(0)
        }
    }
}
