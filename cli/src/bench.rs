//! `goheap bench`: runs the suites asked for and prints their reports; then
//! writes `--json` and prints the `--compare` table.
//!
//! The alloc suite compiles the workloads, runs each under every installed
//! allocator (interleaving the allocators run by run, so a slow phase of the
//! machine hits all of them alike), then prints the report and writes the
//! chart. The gc and goroutines suites come from the manifest (`suites.rs`).

use crate::allocators::Allocator;
use crate::cli::{BenchArgs, Suite};
use crate::compare::{self, Record};
use crate::measure::{measure, Job};
use crate::progress::Progress;
use crate::results::Results;
use crate::suites::{self, Manifest};
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

/// Runs the benchmarks; exit code 1 when a run failed.
pub fn bench(args: &BenchArgs) -> Result<i32, Failure> {
    let progress = Progress::new();
    let manifest = load_manifest(args)?;
    check_names(args, manifest.as_ref())?;
    if args.list {
        print_list(&args.allocators(), manifest.as_ref());
        return Ok(0);
    }
    let old = args
        .compare
        .as_deref()
        .map(compare::read_json)
        .transpose()?;
    let mut records = Vec::new();
    let mut failed = false;
    for &suite in args.suite.members() {
        match suite {
            Suite::Alloc if alloc_workload_names(args).is_empty() && !args.workloads.is_empty() => {
                progress.note("note: no alloc workload named: the alloc suite is skipped");
            }
            Suite::Alloc => {
                let results = alloc_suite(args, &progress)?;
                failed |= results.any_failed();
                records.extend(compare::alloc_records(&results));
            }
            _ => failed |= manifest_suite(suite, args, manifest.as_ref(), &progress, &mut records),
        }
    }
    if let Some(path) = &args.json {
        compare::write_json(path, args.runs, &records)?;
        progress.note(&format!("results written to {}", path.display()));
    }
    if let Some(old) = old {
        print!("\n{}", compare::report(&old, &records));
    }
    Ok(if failed { 1 } else { 0 })
}

/// The manifest, when a gc or goroutines suite (or `--list`) needs it and
/// one exists (`None`, with a note later, when it does not).
fn load_manifest(args: &BenchArgs) -> Result<Option<(PathBuf, Manifest)>, Failure> {
    let wanted = args.list || args.suite.members().iter().any(|&s| s != Suite::Alloc);
    if !wanted {
        return Ok(None);
    }
    match suites::manifest_path(args.manifest.as_deref()) {
        Ok(path) => Ok(Some((path.clone(), suites::load(&path)?))),
        Err(_) if args.manifest.is_none() => Ok(None),
        Err(path) => Err(Failure::error(format!("{}: no such file", path.display()))),
    }
}

/// Every `--workload` name must name a workload or bench of a suite asked for.
fn check_names(args: &BenchArgs, manifest: Option<&(PathBuf, Manifest)>) -> Result<(), Failure> {
    let mut known: Vec<&str> = Vec::new();
    for &suite in args.suite.members() {
        match (suite, manifest) {
            (Suite::Alloc, _) => known.extend(workloads::names()),
            (_, Some((_, m))) => known.extend(m.select(suite, &[]).iter().map(|b| b.name.as_str())),
            (_, None) => {}
        }
    }
    match args
        .workload_names()
        .into_iter()
        .find(|n| !known.contains(&n.as_str()))
    {
        Some(name) => Err(Failure::usage(format!(
            "unknown workload '{name}' for --suite {} (known: {})",
            args.suite.name(),
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

/// The alloc suite: C workloads × allocators; prints its report and chart.
fn alloc_suite(args: &BenchArgs, progress: &Progress) -> Result<Results, Failure> {
    let contenders = installed(&args.allocators(), progress);
    if contenders.is_empty() {
        return Err(Failure::error(
            "none of the allocators asked for is installed",
        ));
    }
    let cache = locate::cache_dir();
    let names = alloc_workload_names(args);
    let programs = compile(&workloads::select(&names), &cache, progress)?;
    progress.note(&format!(
        "goheap bench: {} workload(s) × {} allocator(s) × {} run(s), scale {}",
        programs.len(),
        contenders.len(),
        args.runs,
        args.scale
    ));
    let results = run_all(&programs, &contenders, args, &cache, progress);
    print!("{}", report::report(&results));
    if let Some(path) = &args.svg {
        write_chart(&results, path, progress);
    }
    Ok(results)
}

/// The `--workload` names that are alloc workloads.
fn alloc_workload_names(args: &BenchArgs) -> Vec<String> {
    let mut names = args.workload_names();
    names.retain(|n| workloads::find(n).is_some());
    names
}

/// A gc or goroutines suite from the manifest; true when a run failed.
fn manifest_suite(
    suite: Suite,
    args: &BenchArgs,
    manifest: Option<&(PathBuf, Manifest)>,
    progress: &Progress,
    records: &mut Vec<Record>,
) -> bool {
    let Some((path, manifest)) = manifest else {
        let looked_at = suites::manifest_path(None).unwrap_or_else(|p| p);
        progress.note(&format!(
            "note: no {} suite: there is no suites manifest ({} does not exist yet)",
            suite.name(),
            looked_at.display()
        ));
        return false;
    };
    let benches = manifest.select(suite, &args.workload_names());
    if benches.is_empty() {
        progress.note(&format!(
            "note: the manifest {} lists no {} benchmark{}",
            path.display(),
            suite.name(),
            if args.workload_names().is_empty() {
                ""
            } else {
                " of those named"
            }
        ));
        return false;
    }
    progress.start(suites::planned_runs(&benches, args.runs));
    let limits = suites::Limits {
        runs: args.runs,
        timeout_cap: args.timeout,
    };
    let results = suites::run(suite, &benches, path, limits, progress);
    progress.clear();
    let mut failed = false;
    for bench in &results {
        print!("\n{}", suites::report(bench));
        failed |= bench.any_failed();
        records.extend(compare::bench_records(bench));
    }
    failed
}

/// The allocators whose library is found; a note for each one skipped.
fn installed(allocators: &[Allocator], progress: &Progress) -> Vec<Contender> {
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
    progress: &Progress,
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
    progress: &Progress,
) -> Results {
    let names = programs.iter().map(|p| p.workload.name).collect();
    let allocators = contenders.iter().map(|c| c.allocator).collect();
    let mut results = Results::new(names, allocators, args.runs);
    progress.start(programs.len() * contenders.len() * args.runs as usize);
    for (w, program) in programs.iter().enumerate() {
        for run in 1..=args.runs {
            for (a, contender) in contenders.iter().enumerate() {
                progress.step();
                if results.failed(w, a) {
                    continue;
                }
                let name = contender.allocator.name();
                progress.show(&format!(
                    "{} under {name}, run {run}/{}",
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
        env: &[],
        log: &log,
        timeout_secs: (TIMEOUT_SECS * scale.max(1.0)).ceil() as u32,
    })
}

fn write_chart(results: &Results, path: &Path, progress: &Progress) {
    let written = svg::chart(results)
        .and_then(|svg| std::fs::write(path, svg).map_err(|e| format!("{}: {e}", path.display())));
    match written {
        Ok(()) => progress.note(&format!("chart written to {}", path.display())),
        Err(why) => progress.note(&format!("note: no chart: {why}")),
    }
}

/// `--list`: the workloads, where each allocator was found, and the
/// manifest's benches.
fn print_list(allocators: &[Allocator], manifest: Option<&(PathBuf, Manifest)>) {
    println!("alloc suite workloads:");
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
    match manifest {
        None => println!("gc and goroutines suites: no manifest (workloads/suites.toml)"),
        Some((path, m)) => {
            println!("gc and goroutines suites ({}):", path.display());
            for b in &m.bench {
                let variants: Vec<&str> = b.variant.iter().map(|v| v.name.as_str()).collect();
                println!("  {:<10} {:<20} {}", b.suite, b.name, variants.join(", "));
            }
        }
    }
}
