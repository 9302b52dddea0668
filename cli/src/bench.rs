//! `goheap bench`: compiles the workloads, runs each under every installed
//! allocator (interleaving the allocators run by run, so a slow phase of the
//! machine hits all of them alike), then prints the report and writes the
//! chart.

use crate::allocators::Allocator;
use crate::args::BenchArgs;
use crate::measure::{measure, Job};
use crate::progress::Progress;
use crate::results::Results;
use crate::workloads::{self, Workload};
use crate::{locate, report, svg, Failure};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// A run taking this long (times the scale, when above 1) is killed.
const TIMEOUT_SECS: f64 = 300.0;

/// An allocator that is installed, with the library to preload.
struct Contender {
    allocator: Allocator,
    preload: Option<PathBuf>,
}

/// A compiled workload.
struct Program {
    workload: &'static Workload,
    exe: PathBuf,
}

/// Runs the benchmark; exit code 1 when a run failed.
pub fn bench(args: &BenchArgs) -> Result<i32, Failure> {
    let mut progress = Progress::new();
    if args.list {
        print_list(&args.allocators);
        return Ok(0);
    }
    let contenders = installed(&args.allocators, &mut progress);
    if contenders.is_empty() {
        return Err(Failure::error(
            "none of the allocators asked for is installed",
        ));
    }
    let cache = locate::cache_dir();
    let programs = compile(&workloads::select(&args.workloads), &cache, &mut progress)?;
    progress.note(&format!(
        "goheap bench: {} workload(s) × {} allocator(s) × {} run(s), scale {}",
        programs.len(),
        contenders.len(),
        args.runs,
        args.scale
    ));
    let results = run_all(&programs, &contenders, args, &cache, &mut progress);
    print!("{}", report::report(&results));
    if let Some(path) = &args.svg {
        write_chart(&results, path, &mut progress);
    }
    Ok(if results.any_failed() { 1 } else { 0 })
}

/// The allocators whose library is found; a note for each one skipped.
fn installed(allocators: &[Allocator], progress: &mut Progress) -> Vec<Contender> {
    allocators
        .iter()
        .filter_map(|&allocator| match allocator.preload() {
            Ok(preload) => Some(Contender { allocator, preload }),
            Err(why) => {
                progress.note(&format!("note: skipping {}: {why}", allocator.name()));
                None
            }
        })
        .collect()
}

fn compile(
    selected: &[&'static Workload],
    cache: &Path,
    progress: &mut Progress,
) -> Result<Vec<Program>, Failure> {
    selected
        .iter()
        .map(|&workload| {
            progress.show(&format!("compiling workload {}", workload.name));
            let exe = workload.executable(cache).map_err(Failure::error)?;
            Ok(Program { workload, exe })
        })
        .collect()
}

/// Every run: per workload, run 1 of each allocator, then run 2, and so on.
/// A failed (workload, allocator) pair is not run again.
fn run_all(
    programs: &[Program],
    contenders: &[Contender],
    args: &BenchArgs,
    cache: &Path,
    progress: &mut Progress,
) -> Results {
    let names = programs.iter().map(|p| p.workload.name).collect();
    let allocators = contenders.iter().map(|c| c.allocator).collect();
    let mut results = Results::new(names, allocators, args.runs);
    let total = programs.len() * contenders.len() * args.runs as usize;
    let mut done = 0;
    for (w, program) in programs.iter().enumerate() {
        for run in 1..=args.runs {
            for (a, contender) in contenders.iter().enumerate() {
                done += 1;
                if results.failed(w, a) {
                    continue;
                }
                let name = contender.allocator.name();
                progress.show(&format!(
                    "[{done}/{total}] {} under {name}, run {run}/{}",
                    program.workload.name, args.runs
                ));
                let outcome = run_one(program, contender, args.scale, cache);
                if let Err(why) = &outcome {
                    progress.note(&format!(
                        "FAILED: {} under {name}: {why}",
                        program.workload.name
                    ));
                }
                results.record(w, a, outcome);
            }
        }
    }
    progress.clear();
    results
}

fn run_one(
    program: &Program,
    contender: &Contender,
    scale: f64,
    cache: &Path,
) -> Result<crate::measure::Measurement, String> {
    let scale_arg = scale.to_string();
    let log = cache.join(format!(
        "{}-{}.log",
        program.workload.name,
        contender.allocator.name()
    ));
    measure(&Job {
        program: &program.exe,
        args: &[OsStr::new(&scale_arg)],
        preload: contender.preload.as_deref(),
        log: &log,
        timeout_secs: (TIMEOUT_SECS * scale.max(1.0)).ceil() as u32,
    })
}

fn write_chart(results: &Results, path: &Path, progress: &mut Progress) {
    let written = svg::chart(results)
        .and_then(|svg| std::fs::write(path, svg).map_err(|e| format!("{}: {e}", path.display())));
    match written {
        Ok(()) => progress.note(&format!("chart written to {}", path.display())),
        Err(why) => progress.note(&format!("note: no chart: {why}")),
    }
}

/// `--list`: the workloads, and where each allocator was found.
fn print_list(allocators: &[Allocator]) {
    println!("workloads:");
    for w in workloads::WORKLOADS {
        println!("  {:<14} {}", w.name, w.summary());
    }
    println!("allocators:");
    for a in allocators {
        let place = match a.preload() {
            Ok(Some(lib)) => lib.display().to_string(),
            Ok(None) => "the C library's malloc (nothing preloaded)".to_owned(),
            Err(why) => format!("not installed: {why}"),
        };
        println!("  {:<14} {place}", a.name());
    }
}
