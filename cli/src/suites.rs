//! The gc and goroutines suites of `goheap bench`: benchmarks listed in a
//! manifest (`workloads/suites.toml`), each with variants (goheap's first,
//! then its peers: Go, libgc, tokio, crossbeam, ...) that run the same
//! program logic. Per variant: a build command run once from the root, a
//! run command with the bench's arguments, extra environment, and `needs`
//! (programs on PATH or files) without which it is skipped with a note.
//! Each run is measured as the alloc suite's (wall time, peak RSS) and its
//! `metric NAME VALUE` lines are collected; runs are interleaved across
//! variants. A run is killed after the variant's `timeout` (else the
//! bench's, else `DEFAULT_TIMEOUT_SECS`; `--timeout` lowers them all) and
//! the variant is reported as timed out, not failed: the slow peers (the gc
//! and gc-arena crates take minutes at binary-trees depth 21) then bound
//! the suite's time instead of dominating it. A variant may also run with
//! `args` of its own (then named with them in the table).
//! `{root}` (the checkout: the manifest's dir's parent),
//! `{target}` (the cargo target dir) and `{libgoheap}` expand in `build`,
//! `run`, `args` and `env`.

use crate::cli::Suite;
use crate::measure::{measure, Measurement};
use crate::progress::Progress;
use crate::stats::{median, ratio};
use crate::{locate, Failure};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A run taking longer than this is killed, unless the manifest says.
const DEFAULT_TIMEOUT_SECS: u32 = 600;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub bench: Vec<BenchDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchDef {
    pub suite: String,
    pub name: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Seconds before a run of any variant is killed.
    pub timeout: Option<u32>,
    #[serde(default)]
    pub variant: Vec<Variant>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    pub build: Option<String>,
    pub run: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub needs: Vec<String>,
    /// Seconds before a run of this variant is killed (over the bench's).
    pub timeout: Option<u32>,
    /// Arguments instead of the bench's.
    pub args: Option<Vec<String>>,
}

impl BenchDef {
    /// Seconds before a run of variant `v` is killed, at most `cap`.
    fn timeout_secs(&self, v: usize, cap: Option<u32>) -> u32 {
        let own = self.variant[v]
            .timeout
            .or(self.timeout)
            .unwrap_or(DEFAULT_TIMEOUT_SECS);
        cap.map_or(own, |cap| own.min(cap))
    }

    /// Variant `v`'s name in reports: with its own arguments if it has any.
    fn variant_label(&self, v: usize) -> String {
        let variant = &self.variant[v];
        match &variant.args {
            Some(args) => format!("{} (args {})", variant.name, args.join(" ")),
            None => variant.name.clone(),
        }
    }
}

/// What became of one variant.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not run, and why (a missing need, a build that failed).
    Skipped(String),
    Measured(Vec<Measurement>),
    /// Killed after this many seconds (a lower bound of its time).
    TimedOut(u32),
    Failed(String),
}

#[derive(Debug)]
pub struct VariantResult {
    pub name: String,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub struct BenchResult {
    pub suite: Suite,
    pub name: String,
    pub variants: Vec<VariantResult>,
}

/// A variant's figures: median time, largest peak RSS, median of each metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub time_secs: f64,
    pub peak_rss_kib: u64,
    pub metrics: BTreeMap<String, f64>,
}

impl Outcome {
    pub fn summary(&self) -> Option<Summary> {
        let Outcome::Measured(runs) = self else {
            return None;
        };
        let times: Vec<f64> = runs.iter().map(|m| m.wall.as_secs_f64()).collect();
        let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (name, v) in runs.iter().flat_map(|m| &m.metrics) {
            values.entry(name.clone()).or_default().push(*v);
        }
        Some(Summary {
            time_secs: median(&times)?,
            peak_rss_kib: runs.iter().map(|m| m.peak_rss_kib).max()?,
            metrics: values
                .into_iter()
                .filter_map(|(k, v)| Some((k, median(&v)?)))
                .collect(),
        })
    }
}

/// The manifest: `--manifest FILE`, else `workloads/suites.toml` of the
/// checkout the executable was built from, else of the current directory.
/// `None` (with the path looked at) when there is none.
pub fn manifest_path(explicit: Option<&Path>) -> Result<PathBuf, PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let checkout = Path::new(locate::WORKSPACE);
    let checkout = checkout
        .canonicalize()
        .unwrap_or_else(|_| checkout.to_path_buf());
    let built_from = checkout.join("workloads/suites.toml");
    let here = Path::new("workloads/suites.toml").to_path_buf();
    [built_from.clone(), here]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or(built_from)
}

pub fn load(path: &Path) -> Result<Manifest, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::error(format!("{}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| Failure::error(format!("{}: {e}", path.display())))
}

impl Manifest {
    /// The benches of `suite` named in `names` (all when empty).
    pub fn select(&self, suite: Suite, names: &[String]) -> Vec<&BenchDef> {
        self.bench
            .iter()
            .filter(|b| b.suite == suite.name())
            .filter(|b| names.is_empty() || names.contains(&b.name))
            .collect()
    }
}

/// Expands `{root}`, `{target}` and `{libgoheap}` in a manifest string.
struct Expander {
    root: PathBuf,
    target: PathBuf,
}

impl Expander {
    fn expand(&self, text: &str) -> Result<String, String> {
        let mut out = text
            .replace("{root}", &self.root.to_string_lossy())
            .replace("{target}", &self.target.to_string_lossy());
        if out.contains("{libgoheap}") {
            let lib = locate::goheap_library()?;
            out = out.replace("{libgoheap}", &lib.to_string_lossy());
        }
        Ok(out)
    }
}

/// How many runs per variant, and the `--timeout` cap if any.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub runs: u32,
    pub timeout_cap: Option<u32>,
}

/// A variant ready to run, or why not.
struct Prepared {
    command: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

/// Runs the benches of the manifest at `path` selected for `suite`.
pub fn run(
    suite: Suite,
    benches: &[&BenchDef],
    manifest: &Path,
    limits: Limits,
    progress: &Progress,
) -> Vec<BenchResult> {
    let root = manifest
        .canonicalize()
        .ok()
        .and_then(|m| m.parent()?.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let expander = Expander {
        target: locate::cargo_target_dir().unwrap_or_else(|| root.join("target")),
        root,
    };
    let logs = locate::cache_dir().join("suites");
    let _ = std::fs::create_dir_all(&logs);
    let mut built: BTreeMap<String, Result<(), String>> = BTreeMap::new();
    benches
        .iter()
        .map(|bench| {
            let prepared: Vec<Result<Prepared, String>> = bench
                .variant
                .iter()
                .map(|v| prepare(bench, v, &expander, &mut built, &logs, progress))
                .collect();
            run_bench(suite, bench, prepared, limits, &logs, progress)
        })
        .collect()
}

fn prepare(
    bench: &BenchDef,
    variant: &Variant,
    expander: &Expander,
    built: &mut BTreeMap<String, Result<(), String>>,
    logs: &Path,
    progress: &Progress,
) -> Result<Prepared, String> {
    if let Some(missing) = variant.needs.iter().find(|n| !is_available(n)) {
        return Err(format!("needs {missing}, which is not installed"));
    }
    if let Some(build) = &variant.build {
        let build = expander.expand(build)?;
        let done = built.entry(build.clone()).or_insert_with(|| {
            progress.show(&format!("building {} ({})", bench.name, variant.name));
            run_build(&build, &expander.root, &logs.join("build.log"))
        });
        done.clone()?;
    }
    Ok(Prepared {
        command: expander.expand(&variant.run)?,
        args: variant
            .args
            .as_ref()
            .unwrap_or(&bench.args)
            .iter()
            .map(|a| expander.expand(a))
            .collect::<Result<_, _>>()?,
        env: variant
            .env
            .iter()
            .map(|(k, v)| Ok((k.clone(), expander.expand(v)?)))
            .collect::<Result<_, String>>()?,
    })
}

/// A need is met by a file (a path with a slash) or a program on PATH.
fn is_available(need: &str) -> bool {
    if need.contains('/') {
        return Path::new(need).exists();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(need).is_file()))
}

fn run_build(build: &str, root: &Path, log: &Path) -> Result<(), String> {
    let output = Command::new("/bin/sh")
        .args(["-c", build])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run the build `{build}`: {e}"))?;
    let _ = std::fs::write(log, [&output.stdout[..], &output.stderr[..]].concat());
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!(
        "build `{build}` failed ({}): {}",
        output.status,
        telling_line(&stderr)
    ))
}

/// The line of a failed build's stderr that says why: its first error line
/// (cargo and cc list more after it), else its last line.
fn telling_line(stderr: &str) -> &str {
    let mut lines = stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    lines
        .clone()
        .find(|l| l.contains("error"))
        .or_else(|| lines.next_back())
        .unwrap_or("")
}

fn run_bench(
    suite: Suite,
    bench: &BenchDef,
    prepared: Vec<Result<Prepared, String>>,
    limits: Limits,
    logs: &Path,
    progress: &Progress,
) -> BenchResult {
    let runs = limits.runs;
    let mut outcomes: Vec<Outcome> = prepared
        .iter()
        .map(|p| match p {
            Ok(_) => Outcome::Measured(Vec::new()),
            Err(why) => Outcome::Skipped(why.clone()),
        })
        .collect();
    for (v, p) in prepared.iter().enumerate() {
        if let Err(why) = p {
            progress.note(&format!(
                "note: skipping {} / {}: {why}",
                bench.name, bench.variant[v].name
            ));
        }
    }
    for run in 1..=runs {
        for (v, p) in prepared.iter().enumerate() {
            let Ok(p) = p else { continue };
            if !matches!(outcomes[v], Outcome::Measured(_)) {
                continue;
            }
            let name = &bench.variant_label(v);
            let timeout_secs = bench.timeout_secs(v, limits.timeout_cap);
            progress.show(&format!("{} / {name}, run {run}/{runs}", bench.name));
            let log = logs.join(format!("{}-{v}.log", bench.name));
            let script = format!("exec {} \"$@\"", p.command);
            let mut args: Vec<&OsStr> =
                vec![OsStr::new("-c"), OsStr::new(&script), OsStr::new("sh")];
            args.extend(p.args.iter().map(OsStr::new));
            let started = std::time::Instant::now();
            let outcome = measure(&crate::measure::Job {
                program: Path::new("/bin/sh"),
                args: &args,
                preload: None,
                env: &p.env,
                log: &log,
                timeout_secs,
            });
            let out_of_time = started.elapsed().as_secs() >= u64::from(timeout_secs);
            match (outcome, &mut outcomes[v]) {
                (Ok(m), Outcome::Measured(ms)) => ms.push(m),
                (Err(_), slot) if out_of_time => {
                    progress.note(&format!(
                        "{} / {name}: timed out after {timeout_secs} s",
                        bench.name
                    ));
                    *slot = Outcome::TimedOut(timeout_secs);
                }
                (Err(why), slot) => {
                    progress.note(&format!("FAILED: {} / {name}: {why}", bench.name));
                    *slot = Outcome::Failed(why);
                }
                _ => {}
            }
            progress.step();
        }
    }
    BenchResult {
        suite,
        name: bench.name.clone(),
        variants: outcomes
            .into_iter()
            .enumerate()
            .map(|(v, outcome)| VariantResult {
                name: bench.variant_label(v),
                outcome,
            })
            .collect(),
    }
}

/// How many runs `run` will make at most (for the progress bar).
pub fn planned_runs(benches: &[&BenchDef], runs: u32) -> usize {
    benches.iter().map(|b| b.variant.len()).sum::<usize>() * runs as usize
}

impl BenchResult {
    /// Variant `v`'s figure divided by the first variant's.
    pub fn ratio(&self, v: usize, figure: impl Fn(&Summary) -> f64) -> Option<f64> {
        let base = self.variants.first()?.outcome.summary()?;
        let value = self.variants[v].outcome.summary()?;
        ratio(figure(&value), figure(&base))
    }

    /// "> r" for a variant that timed out after `secs`: its time is at
    /// least that many times the first variant's.
    fn ratio_at_least(&self, v: usize, secs: u32) -> String {
        let base = self.variants.first().and_then(|b| b.outcome.summary());
        match base.and_then(|b| ratio(f64::from(secs), b.time_secs)) {
            Some(r) if v > 0 => format!("> {r:.2}"),
            _ => crate::report::none(),
        }
    }

    pub fn any_failed(&self) -> bool {
        self.variants
            .iter()
            .any(|v| matches!(v.outcome, Outcome::Failed(_)))
    }
}

/// The report of one bench: a table of its variants (time, peak RSS, both
/// against the first variant, and the programs' metrics), then failures.
pub fn report(bench: &BenchResult) -> String {
    use crate::report::{markdown, mebibytes, none, ratio as fmt_ratio, seconds};
    let metric_names: Vec<String> = bench
        .variants
        .iter()
        .filter_map(|v| v.outcome.summary())
        .flat_map(|s| s.metrics.into_keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut header = vec!["variant", "time", "vs first", "peak RSS", "vs first"];
    header.extend(metric_names.iter().map(String::as_str));
    let rows: Vec<Vec<String>> = bench
        .variants
        .iter()
        .enumerate()
        .map(|(v, variant)| {
            let mut row = vec![variant.name.clone()];
            match (&variant.outcome, variant.outcome.summary()) {
                (_, Some(s)) => {
                    row.push(seconds(s.time_secs));
                    row.push(fmt_ratio(bench.ratio(v, |s| s.time_secs)));
                    row.push(mebibytes(s.peak_rss_kib as f64));
                    row.push(fmt_ratio(bench.ratio(v, |s| s.peak_rss_kib as f64)));
                    row.extend(
                        metric_names
                            .iter()
                            .map(|m| s.metrics.get(m).map_or_else(none, |x| format!("{x}"))),
                    );
                }
                (Outcome::Skipped(_), None) => row.push("skipped".into()),
                (&Outcome::TimedOut(secs), None) => {
                    row.push(format!("> {secs} s"));
                    row.push(bench.ratio_at_least(v, secs));
                    row.push("timed out".into());
                }
                (_, None) => row.push("FAILED".into()),
            }
            row.resize(header.len(), String::new());
            row
        })
        .collect();
    let mut right = vec![false];
    right.resize(header.len(), true);
    let mut out = format!("{} ({} suite)\n\n", bench.name, bench.suite.name());
    out += &markdown(&header, &rows, &right);
    for v in &bench.variants {
        match &v.outcome {
            Outcome::Failed(why) => out += &format!("FAILED: {} / {}: {why}\n", bench.name, v.name),
            Outcome::Skipped(why) => {
                out += &format!("skipped: {} / {}: {why}\n", bench.name, v.name)
            }
            Outcome::TimedOut(secs) => {
                out += &format!("timed out: {} / {} after {secs} s\n", bench.name, v.name)
            }
            Outcome::Measured(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
[[bench]]
suite = "gc"
name = "trees"
args = ["3"]
[[bench.variant]]
name = "first"
run = "echo metric depth"
needs = ["sh"]
[[bench.variant]]
name = "other"
build = "true"
run = "{root}/bin/x"
env = { A = "{target}" }
needs = ["/nonexistent/gc.h"]

[[bench]]
suite = "goroutines"
name = "skynet"
[[bench.variant]]
name = "only"
run = "true"
"#;

    #[test]
    fn the_manifest_format_of_the_brief_parses() {
        let m: Manifest = toml::from_str(MANIFEST).unwrap();
        assert_eq!(m.bench.len(), 2);
        assert_eq!(m.bench[0].args, ["3"]);
        assert_eq!(m.bench[0].variant[1].env["A"], "{target}");
        assert_eq!(m.select(Suite::Gc, &[]).len(), 1);
        assert_eq!(m.select(Suite::Goroutines, &["skynet".into()]).len(), 1);
        assert!(m.select(Suite::Goroutines, &["trees".into()]).is_empty());
        assert_eq!(planned_runs(&m.select(Suite::Gc, &[]), 3), 6);
    }

    const SLOW: &str = r#"
[[bench]]
suite = "gc"
name = "slow"
args = ["21"]
timeout = 30
[[bench.variant]]
name = "quick"
run = "echo"
[[bench.variant]]
name = "peer"
run = "sleep 5; echo"
timeout = 1
[[bench.variant]]
name = "smaller"
run = "echo"
args = ["18"]
"#;

    #[test]
    fn timeouts_come_from_the_variant_the_bench_or_the_default_under_the_cap() {
        let m: Manifest = toml::from_str(SLOW).unwrap();
        let b = &m.bench[0];
        assert_eq!((b.timeout_secs(0, None), b.timeout_secs(1, None)), (30, 1));
        assert_eq!(
            (b.timeout_secs(0, Some(10)), b.timeout_secs(1, Some(10))),
            (10, 1)
        );
        let plain: Manifest = toml::from_str(MANIFEST).unwrap();
        assert_eq!(plain.bench[0].timeout_secs(0, None), DEFAULT_TIMEOUT_SECS);
        assert_eq!(b.variant_label(2), "smaller (args 18)");
    }

    /// A variant that runs out of time is reported as timed out (its time
    /// at least the timeout), not failed; one with its own args gets them.
    #[test]
    fn a_slow_variant_times_out_and_own_args_are_passed() {
        let dir = std::env::temp_dir().join(format!("goheap-suites-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("workloads")).unwrap();
        let manifest = dir.join("workloads/suites.toml");
        std::fs::write(&manifest, SLOW).unwrap();
        let m = load(&manifest).unwrap();
        let limits = Limits {
            runs: 1,
            timeout_cap: None,
        };
        let r = &run(
            Suite::Gc,
            &m.select(Suite::Gc, &[]),
            &manifest,
            limits,
            &Progress::new(),
        )[0];
        assert!(matches!(r.variants[0].outcome, Outcome::Measured(_)));
        assert_eq!(r.variants[1].outcome, Outcome::TimedOut(1));
        assert!(!r.any_failed());
        let text = report(r);
        assert!(
            text.contains("> 1 s") && text.contains("timed out"),
            "{text}"
        );
        let logs = locate::cache_dir().join("suites");
        let out = |v: usize| std::fs::read_to_string(logs.join(format!("slow-{v}.log.out")));
        assert_eq!(
            (out(0).unwrap(), out(2).unwrap()),
            ("21\n".into(), "18\n".into())
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_failed_build_is_told_by_its_error_line() {
        let cargo = "error: no example target named `gc_latency` in default-run packages\n\
                     help: available example targets:\n    short_strings\n";
        assert_eq!(
            telling_line(cargo),
            "error: no example target named `gc_latency` in default-run packages"
        );
        assert_eq!(telling_line("warning: x\nlast words\n\n"), "last words");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let bad = "[[bench]]\nsuite = \"gc\"\nname = \"x\"\nargz = []\n";
        assert!(toml::from_str::<Manifest>(bad).is_err());
    }

    #[test]
    fn placeholders_expand() {
        let e = Expander {
            root: "/r".into(),
            target: "/r/target".into(),
        };
        assert_eq!(e.expand("{root}/a {target}/b").unwrap(), "/r/a /r/target/b");
    }

    #[test]
    fn needs_are_programs_on_path_or_files() {
        assert!(is_available("sh"));
        assert!(is_available("/bin/sh"));
        assert!(!is_available("goheap-no-such-program"));
        assert!(!is_available("/nonexistent/gc.h"));
    }

    #[test]
    fn summaries_take_medians_of_time_and_metrics() {
        let m = |secs: f64, rss: u64, x: f64| Measurement {
            wall: std::time::Duration::from_secs_f64(secs),
            peak_rss_kib: rss,
            metrics: vec![("x".into(), x)],
        };
        let o = Outcome::Measured(vec![m(1.0, 10, 5.0), m(3.0, 30, 1.0), m(2.0, 20, 3.0)]);
        let s = o.summary().unwrap();
        assert_eq!(
            (s.time_secs, s.peak_rss_kib, s.metrics["x"]),
            (2.0, 30, 3.0)
        );
        assert_eq!(Outcome::Skipped("x".into()).summary(), None);
    }
}
