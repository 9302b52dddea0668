//! The command line of `goheap`, parsed by hand: the subcommands, their
//! options and the help texts.

use crate::allocators::Allocator;
use crate::workloads;
use std::ffi::OsString;
use std::path::PathBuf;

pub const USAGE: &str = "\
goheap — run programs on goheap (the Go runtime's allocator in Rust), compare allocators

Usage:
  goheap run [--stats] [--verbose] -- CMD [ARGS...]
  goheap bench [--alloc LIST] [--workload NAME...] [--runs N] [--scale F] [--svg FILE]
  goheap bench --list
  goheap help [run|bench]
  goheap --version

`goheap help run` and `goheap help bench` describe each command.
";

pub const RUN_HELP: &str = "\
goheap run [--stats] [--verbose] -- CMD [ARGS...]

Runs CMD with libgoheap.so preloaded (LD_PRELOAD; entries already in
LD_PRELOAD stay, after goheap's), so every malloc/free of the program and of
its children goes to goheap. Exits with CMD's exit code, or 128+N when a
signal N killed it.

Options (passed to libgoheap through the environment):
  --stats     GOHEAP_STATS=1: goheap prints its statistics on stderr at exit
  --verbose   GOHEAP_VERBOSE=1: goheap says on stderr when it is loaded
Other GOHEAP_* variables already set (GOHEAP_DEBUG, GOHEAP_MADVISE, ...) pass
through unchanged.

libgoheap.so is looked for in $GOHEAP_LIB, then in the release dir of the
cargo target dir the goheap executable was built in, next to the executable,
in ../lib of its directory, $LD_LIBRARY_PATH, $PREFIX/lib and the system's
lib dirs (/usr/local/lib, /usr/lib, ...). When the executable runs from a
cargo target dir and the library is missing, it is built with cargo
(cargo build --release -p goheap-ffi).
";

pub const BENCH_HELP: &str = "\
goheap bench [--alloc LIST] [--workload NAME...] [--runs N] [--scale F] [--svg FILE]

Runs the workloads (C programs in workloads/, compiled with `cc -O2 -pthread`
on first use) under each allocator through LD_PRELOAD, interleaving the
allocators run by run, and prints per workload the median wall time, the
peak RSS (largest over the runs) and both relative to goheap (1.25 = 25 %
more than goheap), then the geometric means. Each workload verifies the data
it wrote; a run that fails is reported as FAILED. Exits with 1 when a run
failed.

Options:
  --alloc LIST        comma-separated allocators (default: all of
                      goheap,glibc,mimalloc,jemalloc,tcmalloc); one that is
                      not installed is skipped with a note
  --workload NAME...  workloads to run (default: all; see --list); names may
                      be separated by commas or spaces, the option repeated
  --runs N            runs per workload and allocator (default: 3)
  --scale F           multiply every workload's amount of work by F (default: 1)
  --svg FILE          write a bar chart of the time ratios to FILE
  --list              list the workloads and the allocators found, then exit

Libraries: glibc preloads nothing; goheap as for `goheap run`; mimalloc,
jemalloc and tcmalloc are searched in the lib dirs (Debian's libmimalloc.so.2,
libjemalloc.so.2, libtcmalloc_minimal.so.4; scripts/install-allocators.sh
installs them) unless GOHEAP_BENCH_MIMALLOC, GOHEAP_BENCH_JEMALLOC or
GOHEAP_BENCH_TCMALLOC names the file. CC overrides the C compiler.
";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Command {
    Run(RunArgs),
    Bench(BenchArgs),
    Help(&'static str),
    Version,
}

#[derive(Debug, PartialEq)]
pub struct RunArgs {
    pub stats: bool,
    pub verbose: bool,
    /// The program and its arguments (never empty).
    pub command: Vec<OsString>,
}

#[derive(Debug, PartialEq)]
pub struct BenchArgs {
    pub allocators: Vec<Allocator>,
    /// Workload names, validated; empty means all.
    pub workloads: Vec<String>,
    pub runs: u32,
    pub scale: f64,
    pub svg: Option<PathBuf>,
    pub list: bool,
}

impl Default for BenchArgs {
    fn default() -> Self {
        BenchArgs {
            allocators: Allocator::ALL.to_vec(),
            workloads: Vec::new(),
            runs: 3,
            scale: 1.0,
            svg: None,
            list: false,
        }
    }
}

/// A malformed command line, with the message to show.
#[derive(Debug, PartialEq)]
pub struct UsageError(pub String);

fn usage_error<T>(message: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(message.into()))
}

/// Parses the arguments after the program name.
pub fn parse(args: Vec<OsString>) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let Some(first) = args.next() else {
        return Ok(Command::Help(USAGE));
    };
    match first.to_str() {
        Some("run") => parse_run(args.collect()),
        Some("bench") => parse_bench(args.collect()),
        Some("help" | "-h" | "--help") => Ok(Command::Help(help_topic(args.next())?)),
        Some("--version" | "-V") => Ok(Command::Version),
        _ => usage_error(format!(
            "unknown command '{}' (expected run, bench or help)",
            first.to_string_lossy()
        )),
    }
}

fn help_topic(topic: Option<OsString>) -> Result<&'static str, UsageError> {
    match topic.as_ref().map(|t| t.to_str()) {
        None => Ok(USAGE),
        Some(Some("run")) => Ok(RUN_HELP),
        Some(Some("bench")) => Ok(BENCH_HELP),
        Some(_) => usage_error("help topics are: run, bench"),
    }
}

/// Splits `--name=value` into `("--name", Some("value"))`.
fn split_option(arg: &str) -> (&str, Option<&str>) {
    match arg.split_once('=') {
        Some((name, value)) if name.starts_with("--") => (name, Some(value)),
        _ => (arg, None),
    }
}

/// The arguments of a subcommand, consumed front to back.
struct Cursor {
    args: std::iter::Peekable<std::vec::IntoIter<OsString>>,
}

impl Cursor {
    fn new(args: Vec<OsString>) -> Cursor {
        Cursor {
            args: args.into_iter().peekable(),
        }
    }

    /// The next argument as UTF-8 text (options and their values are).
    fn next_str(&mut self) -> Option<Result<String, UsageError>> {
        let arg = self.args.next()?;
        Some(
            arg.into_string().or_else(|a| {
                usage_error(format!("argument is not UTF-8: {}", a.to_string_lossy()))
            }),
        )
    }

    /// The value of option `name`: the inline `--name=value` or the next
    /// argument.
    fn value(&mut self, name: &str, inline: Option<&str>) -> Result<String, UsageError> {
        if let Some(v) = inline {
            return Ok(v.to_owned());
        }
        let v = self
            .next_str()
            .unwrap_or_else(|| usage_error(format!("{name} needs a value")))?;
        if v.starts_with("--") {
            return usage_error(format!("{name} needs a value, got option {v}"));
        }
        Ok(v)
    }

    /// The arguments up to the next option (which stays).
    fn take_words(&mut self) -> Vec<OsString> {
        std::iter::from_fn(|| self.args.next_if(|a| !a.to_string_lossy().starts_with('-')))
            .collect()
    }
}

fn parse_run(args: Vec<OsString>) -> Result<Command, UsageError> {
    let mut run = RunArgs {
        stats: false,
        verbose: false,
        command: Vec::new(),
    };
    let mut args = args.into_iter();
    for arg in args.by_ref() {
        match arg.to_str() {
            Some("--") => break,
            Some("--stats") => run.stats = true,
            Some("--verbose") => run.verbose = true,
            Some("-h" | "--help") => return Ok(Command::Help(RUN_HELP)),
            Some(opt) if opt.starts_with('-') => {
                return usage_error(format!(
                    "run: unknown option {opt} (the command goes after --)"
                ))
            }
            _ => {
                run.command.push(arg);
                break;
            }
        }
    }
    run.command.extend(args);
    if run.command.is_empty() {
        return usage_error("run: missing command (goheap run [--stats] -- CMD [ARGS...])");
    }
    Ok(Command::Run(run))
}

fn parse_bench(args: Vec<OsString>) -> Result<Command, UsageError> {
    let mut bench = BenchArgs::default();
    let mut allocators: Vec<Allocator> = Vec::new();
    let mut cursor = Cursor::new(args);
    while let Some(arg) = cursor.next_str() {
        let arg = arg?;
        let (name, inline) = split_option(&arg);
        match name {
            "--alloc" => add_allocators(&mut allocators, &cursor.value(name, inline)?)?,
            "--workload" => {
                let first = cursor.value(name, inline)?;
                add_workloads(&mut bench.workloads, &first)?;
                for word in cursor.take_words() {
                    add_workloads(&mut bench.workloads, &word.to_string_lossy())?;
                }
            }
            "--runs" => bench.runs = parse_runs(&cursor.value(name, inline)?)?,
            "--scale" => bench.scale = parse_scale(&cursor.value(name, inline)?)?,
            "--svg" => bench.svg = Some(PathBuf::from(cursor.value(name, inline)?)),
            "--list" if inline.is_none() => bench.list = true,
            "-h" | "--help" if inline.is_none() => return Ok(Command::Help(BENCH_HELP)),
            _ => return usage_error(format!("bench: unexpected argument {arg}")),
        }
    }
    if !allocators.is_empty() {
        bench.allocators = allocators;
    }
    Ok(Command::Bench(bench))
}

/// Adds the allocators of a comma-separated list (each once).
fn add_allocators(into: &mut Vec<Allocator>, list: &str) -> Result<(), UsageError> {
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let Some(a) = Allocator::from_name(name) else {
            let known: Vec<&str> = Allocator::ALL.iter().map(|a| a.name()).collect();
            return usage_error(format!(
                "unknown allocator '{name}' (known: {})",
                known.join(", ")
            ));
        };
        if !into.contains(&a) {
            into.push(a);
        }
    }
    Ok(())
}

/// Adds the workloads of a comma-separated list (each once).
fn add_workloads(into: &mut Vec<String>, list: &str) -> Result<(), UsageError> {
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if workloads::find(name).is_none() {
            return usage_error(format!(
                "unknown workload '{name}' (known: {})",
                workloads::names().join(", ")
            ));
        }
        if !into.iter().any(|w| w == name) {
            into.push(name.to_owned());
        }
    }
    Ok(())
}

fn parse_runs(text: &str) -> Result<u32, UsageError> {
    match text.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => usage_error(format!(
            "--runs wants a whole number of at least 1, got '{text}'"
        )),
    }
}

fn parse_scale(text: &str) -> Result<f64, UsageError> {
    match text.parse::<f64>() {
        Ok(f) if f > 0.0 && f.is_finite() => Ok(f),
        _ => usage_error(format!("--scale wants a positive number, got '{text}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &str) -> Result<Command, UsageError> {
        parse(words.split_whitespace().map(OsString::from).collect())
    }

    fn bench(words: &str) -> BenchArgs {
        match parse_words(words) {
            Ok(Command::Bench(b)) => b,
            other => panic!("{words}: {other:?}"),
        }
    }

    fn run(words: &str) -> RunArgs {
        match parse_words(words) {
            Ok(Command::Run(r)) => r,
            other => panic!("{words}: {other:?}"),
        }
    }

    fn error(words: &str) -> String {
        match parse_words(words) {
            Err(UsageError(message)) => message,
            other => panic!("{words}: expected an error, got {other:?}"),
        }
    }

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn no_arguments_or_help_shows_usage() {
        assert_eq!(parse_words(""), Ok(Command::Help(USAGE)));
        assert_eq!(parse_words("--help"), Ok(Command::Help(USAGE)));
        assert_eq!(parse_words("help bench"), Ok(Command::Help(BENCH_HELP)));
        assert_eq!(parse_words("help run"), Ok(Command::Help(RUN_HELP)));
        assert_eq!(parse_words("bench --help"), Ok(Command::Help(BENCH_HELP)));
        assert_eq!(parse_words("run -h"), Ok(Command::Help(RUN_HELP)));
        assert_eq!(parse_words("--version"), Ok(Command::Version));
    }

    #[test]
    fn unknown_command_is_an_error() {
        assert!(error("frobnicate").contains("unknown command"));
        assert!(error("help frob").contains("help topics"));
    }

    #[test]
    fn run_takes_everything_after_double_dash() {
        let r = run("run -- sh -c --stats");
        assert!(!r.stats);
        assert_eq!(r.command, os(&["sh", "-c", "--stats"]));
    }

    #[test]
    fn run_options_before_the_command() {
        let r = run("run --stats --verbose -- ls -l");
        assert!(r.stats && r.verbose);
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
        assert!(error("run").contains("missing command"));
        assert!(error("run --stats --").contains("missing command"));
        assert!(error("run --frob -- ls").contains("unknown option --frob"));
    }

    #[test]
    fn bench_defaults() {
        let b = bench("bench");
        assert_eq!(b, BenchArgs::default());
        assert_eq!(b.allocators, Allocator::ALL.to_vec());
        assert_eq!(b.runs, 3);
        assert!(b.workloads.is_empty() && b.svg.is_none() && !b.list);
    }

    #[test]
    fn bench_allocator_list_keeps_order_and_drops_duplicates() {
        let b = bench("bench --alloc jemalloc,goheap,jemalloc --alloc=glibc");
        assert_eq!(
            b.allocators,
            vec![Allocator::Jemalloc, Allocator::Goheap, Allocator::Glibc]
        );
    }

    #[test]
    fn bench_workloads_by_commas_spaces_and_repetition() {
        let b = bench(
            "bench --workload churn,large realloc --runs 2 --workload=server --workload churn",
        );
        assert_eq!(b.workloads, ["churn", "large", "realloc", "server"]);
        assert_eq!(b.runs, 2);
    }

    #[test]
    fn bench_numbers_files_and_flags() {
        let b = bench("bench --runs=7 --scale 0.5 --svg out/chart.svg --list");
        assert_eq!(b.runs, 7);
        assert_eq!(b.scale, 0.5);
        assert_eq!(b.svg, Some(PathBuf::from("out/chart.svg")));
        assert!(b.list);
    }

    #[test]
    fn bench_errors() {
        assert!(error("bench --alloc ptmalloc").contains("unknown allocator 'ptmalloc'"));
        assert!(error("bench --workload nope").contains("unknown workload 'nope'"));
        assert!(error("bench --runs 0").contains("--runs"));
        assert!(error("bench --runs x").contains("--runs"));
        assert!(error("bench --scale -1").contains("--scale"));
        assert!(error("bench --svg").contains("--svg needs a value"));
        assert!(error("bench --runs --svg x").contains("--runs needs a value"));
        assert!(error("bench --frob").contains("unexpected argument --frob"));
        assert!(error("bench churn").contains("unexpected argument churn"));
        assert!(error("bench --list=yes").contains("unexpected argument --list=yes"));
    }
}
