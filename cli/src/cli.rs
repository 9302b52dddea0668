//! The command line of `goheap`, declared with clap's derive API: the
//! subcommands, their options, how values are checked, and the help texts.

use crate::allocators::Allocator;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "goheap",
    version,
    about = "Run programs on goheap (the Go runtime's allocator in Rust), compare allocators",
    arg_required_else_help = true,
    after_help = "\
Examples:
  goheap run --stats -- python3 script.py
  goheap run --profile heap.pb.gz -- ./server     # then: go tool pprof -top heap.pb.gz
  goheap bench --workload churn,large --runs 1 --scale 0.05
  goheap bench --suite all --json today.json --compare yesterday.json
  goheap completions bash > ~/.local/share/bash-completion/completions/goheap

`goheap help run` and `goheap help bench` describe each command."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Run(RunArgs),
    Bench(BenchArgs),
    /// Print a shell completion script (e.g. `goheap completions bash >
    /// ~/.local/share/bash-completion/completions/goheap`)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Run CMD with libgoheap.so preloaded, so that every malloc/free of the
/// program and its children goes to goheap.
///
/// Entries already in LD_PRELOAD stay, after goheap's. Exits with CMD's exit
/// code, or 128+N when signal N killed it (127: CMD not found). Other
/// GOHEAP_* variables already set (GOHEAP_DEBUG, GOHEAP_MADVISE, ...) pass
/// through unchanged.
///
/// libgoheap.so is looked for in $GOHEAP_LIB, then in the release dir of the
/// cargo target dir the goheap executable was built in, next to the
/// executable, in ../lib of its directory, $LD_LIBRARY_PATH, $PREFIX/lib and
/// the system's lib dirs. When the executable runs from a cargo target dir
/// and the library is missing, it is built with cargo (cargo build --release
/// -p goheap-ffi).
#[derive(Debug, Args, PartialEq)]
pub struct RunArgs {
    /// GOHEAP_STATS=1: goheap prints its statistics on stderr at exit
    #[arg(long)]
    pub stats: bool,
    /// GOHEAP_VERBOSE=1: goheap says on stderr when it is loaded
    #[arg(long)]
    pub verbose: bool,
    /// GOHEAP_PROFILE=FILE: write a sampled heap profile (pprof's format,
    /// read it with `go tool pprof`) at exit; %p in FILE is the process id
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The program and its arguments (after --, or from the first word that
    /// is not an option)
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// Which benchmarks `goheap bench` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Suite {
    /// The C workloads of workloads/ under goheap, glibc, mimalloc, jemalloc, tcmalloc
    Alloc,
    /// The garbage-collector benchmarks of the suites manifest
    Gc,
    /// The goroutine and channel benchmarks of the suites manifest
    Goroutines,
    /// All of them
    All,
}

impl Suite {
    /// The suites this choice covers.
    pub fn members(self) -> &'static [Suite] {
        match self {
            Suite::All => &[Suite::Alloc, Suite::Gc, Suite::Goroutines],
            Suite::Alloc => &[Suite::Alloc],
            Suite::Gc => &[Suite::Gc],
            Suite::Goroutines => &[Suite::Goroutines],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Suite::Alloc => "alloc",
            Suite::Gc => "gc",
            Suite::Goroutines => "goroutines",
            Suite::All => "all",
        }
    }
}

/// Run benchmarks and compare goheap with its peers.
///
/// The alloc suite runs the C workloads (workloads/*.c, compiled with
/// `cc -O2 -pthread` on first use) under each allocator through LD_PRELOAD,
/// interleaving the allocators run by run, and prints per workload the median
/// wall time and the peak RSS, both also relative to goheap (1.25 = 25 % more
/// than goheap), then the geometric means. The gc and goroutines suites run
/// the programs the suites manifest (workloads/suites.toml) lists, each
/// against its first variant, with the `metric NAME VALUE` lines they print.
/// A run that fails is reported as FAILED and the command exits with 1.
///
/// Libraries: glibc preloads nothing; goheap as for `goheap run`; mimalloc,
/// jemalloc and tcmalloc are searched in the lib dirs (Debian's
/// libmimalloc.so.2, libjemalloc.so.2, libtcmalloc_minimal.so.4;
/// scripts/install-allocators.sh installs them) unless GOHEAP_BENCH_MIMALLOC,
/// GOHEAP_BENCH_JEMALLOC or GOHEAP_BENCH_TCMALLOC names the file. CC
/// overrides the C compiler.
#[derive(Debug, Args, PartialEq)]
pub struct BenchArgs {
    /// Which benchmarks to run
    #[arg(long, value_enum, default_value_t = Suite::Alloc)]
    pub suite: Suite,
    /// Allocators to compare in the alloc suite, comma-separated (default:
    /// all five); one that is not installed is skipped with a note
    #[arg(long = "alloc", value_name = "LIST", value_enum, value_delimiter = ',')]
    pub allocators: Vec<Allocator>,
    /// Workloads (alloc suite) or benchmarks (gc, goroutines) to run
    /// (default: all; see --list); separated by commas or spaces, or the
    /// option repeated
    #[arg(long = "workload", value_name = "NAME", num_args = 1.., value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// Runs per workload and allocator; the report shows the median time
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Multiply every alloc workload's amount of work by F (0.05 for a quick try)
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = positive_number, allow_negative_numbers = true)]
    pub scale: f64,
    /// gc and goroutines suites: kill a run after at most SECS seconds
    /// (the manifest's own timeouts still apply when shorter); a variant
    /// killed so is reported as timed out
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u32).range(1..))]
    pub timeout: Option<u32>,
    /// Also write a bar chart of the alloc suite's time ratios (SVG)
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Also write the results as JSON (for --compare in a later run)
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Print the change of each figure against a previous run's --json file
    #[arg(long, value_name = "OLD.json")]
    pub compare: Option<PathBuf>,
    /// The suites manifest (default: workloads/suites.toml of the goheap
    /// checkout the command was built from, else of the current directory)
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// List the workloads, benchmarks and where each allocator was found
    #[arg(long)]
    pub list: bool,
}

impl BenchArgs {
    /// The allocators asked for, each once, in the order given (all five by
    /// default).
    pub fn allocators(&self) -> Vec<Allocator> {
        if self.allocators.is_empty() {
            return Allocator::ALL.to_vec();
        }
        let mut unique = Vec::new();
        for &a in &self.allocators {
            if !unique.contains(&a) {
                unique.push(a);
            }
        }
        unique
    }

    /// The workload names asked for, each once, blanks dropped.
    pub fn workload_names(&self) -> Vec<String> {
        let mut unique: Vec<String> = Vec::new();
        for name in self
            .workloads
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
        {
            if !unique.iter().any(|u| u == name) {
                unique.push(name.to_owned());
            }
        }
        unique
    }
}

fn positive_number(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f > 0.0 && f.is_finite() => Ok(f),
        _ => Err(format!("wants a positive number, got '{text}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(words: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("goheap").chain(words.split_whitespace()))
    }

    fn bench(words: &str) -> BenchArgs {
        match parse(words).map(|c| c.command) {
            Ok(Command::Bench(b)) => b,
            other => panic!("{words}: {other:?}"),
        }
    }

    fn run(words: &str) -> RunArgs {
        match parse(words).map(|c| c.command) {
            Ok(Command::Run(r)) => r,
            other => panic!("{words}: {other:?}"),
        }
    }

    fn error(words: &str) -> clap::Error {
        parse(words).expect_err(words)
    }

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn help_and_version() {
        assert_eq!(error("--help").kind(), ErrorKind::DisplayHelp);
        assert_eq!(error("bench --help").kind(), ErrorKind::DisplayHelp);
        assert!(error("bench --help").to_string().contains("--suite"));
        assert!(error("run --help").to_string().contains("--profile"));
        assert_eq!(error("--version").kind(), ErrorKind::DisplayVersion);
        assert_eq!(
            error("").kind(),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
    }

    #[test]
    fn run_takes_everything_after_double_dash() {
        let r = run("run -- sh -c --stats");
        assert!(!r.stats);
        assert_eq!(r.command, os(&["sh", "-c", "--stats"]));
    }

    #[test]
    fn run_options_before_the_command() {
        let r = run("run --stats --verbose --profile heap.pb.gz -- ls -l");
        assert!(r.stats && r.verbose);
        assert_eq!(r.profile, Some(PathBuf::from("heap.pb.gz")));
        assert_eq!(r.command, os(&["ls", "-l"]));
    }

    #[test]
    fn run_command_may_start_without_double_dash() {
        let r = run("run --stats ls -l --all");
        assert!(r.stats);
        assert_eq!(r.command, os(&["ls", "-l", "--all"]));
    }

    #[test]
    fn run_errors() {
        assert_eq!(error("run").kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(
            error("run --stats --").kind(),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(error("run --frob -- ls").kind(), ErrorKind::UnknownArgument);
    }

    #[test]
    fn errors_suggest_the_right_flag_or_value() {
        let e = error("bench --worklaod churn").to_string();
        assert!(e.contains("--workload"), "{e}");
        let e = error("run --stat -- ls").to_string();
        assert!(e.contains("--stats"), "{e}");
        let e = error("bench --suite goroutine").to_string();
        assert!(e.contains("goroutines"), "{e}");
        let e = error("bnech").to_string();
        assert!(e.contains("bench"), "{e}");
    }

    #[test]
    fn bench_defaults() {
        let b = bench("bench");
        assert_eq!(b.allocators(), Allocator::ALL.to_vec());
        assert_eq!((b.runs, b.scale, b.suite), (3, 1.0, Suite::Alloc));
        assert!(b.workload_names().is_empty() && b.svg.is_none() && !b.list);
        assert!(b.json.is_none() && b.compare.is_none());
    }

    #[test]
    fn bench_allocator_list_keeps_order_and_drops_duplicates() {
        let b = bench("bench --alloc jemalloc,goheap,jemalloc --alloc=glibc");
        assert_eq!(
            b.allocators(),
            vec![Allocator::Jemalloc, Allocator::Goheap, Allocator::Glibc]
        );
    }

    #[test]
    fn bench_workloads_by_commas_spaces_and_repetition() {
        let b = bench(
            "bench --workload churn,large realloc --runs 2 --workload=server --workload churn",
        );
        assert_eq!(b.workload_names(), ["churn", "large", "realloc", "server"]);
        assert_eq!(b.runs, 2);
    }

    #[test]
    fn bench_numbers_files_and_flags() {
        let b = bench(
            "bench --runs=7 --scale 0.5 --svg out/chart.svg --list --suite all \
             --json new.json --compare old.json --manifest m.toml",
        );
        assert_eq!(b.runs, 7);
        assert_eq!(b.scale, 0.5);
        assert_eq!(b.svg, Some(PathBuf::from("out/chart.svg")));
        assert_eq!(b.suite, Suite::All);
        assert_eq!(b.json, Some(PathBuf::from("new.json")));
        assert_eq!(b.compare, Some(PathBuf::from("old.json")));
        assert_eq!(b.manifest, Some(PathBuf::from("m.toml")));
        assert!(b.list);
    }

    #[test]
    fn bench_errors() {
        let unknown = error("bench --alloc ptmalloc");
        assert_eq!(unknown.kind(), ErrorKind::InvalidValue);
        assert!(unknown.to_string().contains("tcmalloc"), "{unknown}");
        assert_eq!(error("bench --runs 0").kind(), ErrorKind::ValueValidation);
        assert_eq!(error("bench --runs x").kind(), ErrorKind::ValueValidation);
        assert_eq!(error("bench --scale -1").kind(), ErrorKind::ValueValidation);
        assert_eq!(error("bench --svg").kind(), ErrorKind::InvalidValue);
        assert_eq!(error("bench --frob").kind(), ErrorKind::UnknownArgument);
        assert_eq!(error("bench churn").kind(), ErrorKind::UnknownArgument);
        assert_eq!(error("frob").kind(), ErrorKind::InvalidSubcommand);
    }

    #[test]
    fn completions_for_the_three_shells() {
        for shell in ["bash", "zsh", "fish"] {
            match parse(&format!("completions {shell}")).unwrap().command {
                Command::Completions { .. } => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(error("completions tcsh").kind(), ErrorKind::InvalidValue);
    }

    #[test]
    fn suites_expand() {
        assert_eq!(Suite::All.members().len(), 3);
        assert_eq!(Suite::Gc.members(), [Suite::Gc]);
    }
}
