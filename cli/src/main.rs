//! `goheap`: the command-line tool of the goheap project.
//!
//! * `goheap run [--stats] -- CMD ARGS...` runs a program on goheap
//!   (libgoheap.so preloaded) and exits with its exit code.
//! * `goheap bench [...]` runs the project's C workloads (workloads/) under
//!   goheap, glibc, mimalloc, jemalloc and tcmalloc and compares time and
//!   peak memory.
//!
//! Only std and libc; arguments are parsed by hand (module `args`).

mod allocators;
mod args;
mod bench;
mod locate;
mod measure;
mod progress;
mod report;
mod results;
mod run;
mod stats;
mod svg;
mod workloads;

use args::{Command, UsageError};
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
}

fn main() {
    let code = match args::parse(std::env::args_os().skip(1).collect()) {
        Ok(command) => execute(command).unwrap_or_else(|failure| {
            eprintln!("goheap: {}", failure.message);
            failure.code
        }),
        Err(UsageError(message)) => {
            eprintln!("goheap: {message}\nTry `goheap --help`.");
            2
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

fn execute(command: Command) -> Result<i32, Failure> {
    match command {
        Command::Run(args) => run::run(&args),
        Command::Bench(args) => bench::bench(&args),
        Command::Help(text) => {
            print!("{text}");
            Ok(0)
        }
        Command::Version => {
            println!("goheap {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
    }
}
