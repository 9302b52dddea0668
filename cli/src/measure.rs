//! Runs one workload process and measures it: wall time from spawn to exit,
//! peak RSS from the `rusage` that `wait4(2)` returns for the child, and the
//! `metric NAME VALUE` lines it prints. A run that fails (non-zero exit,
//! signal, timeout) is described in words.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What one successful run cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    pub wall: Duration,
    /// Peak resident set size in KiB (`ru_maxrss`).
    pub peak_rss_kib: u64,
    /// The `metric NAME VALUE` lines of its output, in order.
    pub metrics: Vec<(String, f64)>,
}

/// One process to measure.
pub struct Job<'a> {
    pub program: &'a Path,
    pub args: &'a [&'a OsStr],
    /// Library for LD_PRELOAD; `None` runs with no preload at all.
    pub preload: Option<&'a Path>,
    /// More environment variables (after LD_PRELOAD is set).
    pub env: &'a [(String, String)],
    /// File that receives the program's stderr (quoted when it fails); its
    /// stdout goes to the same path with `.out` appended.
    pub log: &'a Path,
    /// The process is killed (SIGALRM) after this many seconds.
    pub timeout_secs: u32,
}

/// Runs the job to completion; `Err` describes a failed run.
pub fn measure(job: &Job) -> Result<Measurement, String> {
    let mut cmd = command(job)?;
    let start = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", job.program.display()))?;
    let (status, usage) =
        wait_with_usage(child.id() as libc::pid_t).map_err(|e| format!("wait4: {e}"))?;
    let wall = start.elapsed();
    if status.success() {
        Ok(Measurement {
            wall,
            peak_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
            metrics: [stdout_path(job.log).as_path(), job.log]
                .iter()
                .flat_map(|path| metrics(&std::fs::read_to_string(path).unwrap_or_default()))
                .collect(),
        })
    } else {
        Err(describe_failure(status, job))
    }
}

/// Where a job's stdout goes.
fn stdout_path(log: &Path) -> std::path::PathBuf {
    let mut path = log.as_os_str().to_owned();
    path.push(".out");
    path.into()
}

/// The `metric NAME VALUE` lines of a program's output.
pub fn metrics(output: &str) -> Vec<(String, f64)> {
    output
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (Some("metric"), Some(name), Some(value), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                return None;
            };
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The command for a job: stdin closed, stdout and stderr to files,
/// LD_PRELOAD exactly the job's library, its environment, and an alarm as
/// timeout.
fn command(job: &Job) -> Result<Command, String> {
    let create = |path: &Path| File::create(path).map_err(|e| format!("{}: {e}", path.display()));
    let log = create(job.log)?;
    let out = create(&stdout_path(job.log))?;
    let mut cmd = Command::new(job.program);
    cmd.args(job.args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(log)
        .env_remove("LD_PRELOAD");
    if let Some(lib) = job.preload {
        cmd.env("LD_PRELOAD", lib);
    }
    cmd.envs(job.env.iter().map(|(k, v)| (k, v)));
    let secs = job.timeout_secs;
    // SAFETY: the closure runs in the forked child before exec and only
    // calls alarm(2), which is async-signal-safe and touches no memory of
    // the parent. The alarm survives exec, so a hung workload dies of
    // SIGALRM (its default action is to terminate).
    unsafe {
        cmd.pre_exec(move || {
            libc::alarm(secs);
            Ok(())
        });
    }
    Ok(cmd)
}

/// Waits for child `pid` to end; its exit status and resource usage.
fn wait_with_usage(pid: libc::pid_t) -> io::Result<(ExitStatus, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types; pid
        // is our own child, spawned above and not yet waited for (std's
        // Child is dropped without wait, which neither waits nor kills).
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return Ok((ExitStatus::from_raw(status), usage));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// "exit code 1: <first line of stderr>", "killed by signal 11 (SIGSEGV)",
/// "timed out after 300 s".
fn describe_failure(status: ExitStatus, job: &Job) -> String {
    let why = match (status.code(), status.signal()) {
        (_, Some(libc::SIGALRM)) => format!("timed out after {} s", job.timeout_secs),
        (_, Some(sig)) => format!("killed by signal {sig} ({})", signal_name(sig)),
        (Some(code), _) => format!("exit code {code}"),
        _ => format!("{status}"),
    };
    match first_line(job.log) {
        Some(line) => format!("{why}: {line}"),
        None => why,
    }
}

/// The first non-empty line of a file, shortened.
fn first_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(160).collect())
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGKILL => "SIGKILL",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => "signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn log_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "goheap-cli-measure-{}-{name}.log",
            std::process::id()
        ))
    }

    fn sh(script: &str, log: &Path, timeout_secs: u32) -> Result<Measurement, String> {
        let args = [OsStr::new("-c"), OsStr::new(script)];
        measure(&Job {
            program: Path::new("/bin/sh"),
            args: &args,
            preload: None,
            env: &[],
            log,
            timeout_secs,
        })
    }

    #[test]
    fn a_successful_run_has_time_and_rss() {
        let log = log_path("ok");
        let m = sh("exit 0", &log, 30).unwrap();
        assert!(m.peak_rss_kib > 0);
        assert!(m.wall < Duration::from_secs(30));
        let _ = std::fs::remove_file(log);
    }

    #[test]
    fn metric_lines_of_stdout_and_stderr_are_collected() {
        let log = log_path("metrics");
        let m = sh(
            "echo 'metric gc_count 42'; echo 'metric max_pause_ms 0.25' >&2; \
             echo 'metric broken x'; echo 'metrics are printed'",
            &log,
            30,
        )
        .unwrap();
        assert_eq!(
            m.metrics,
            [
                ("gc_count".to_owned(), 42.0),
                ("max_pause_ms".to_owned(), 0.25)
            ]
        );
        let _ = std::fs::remove_file(log);
    }

    #[test]
    fn exit_code_and_stderr_line_describe_a_failure() {
        let log = log_path("fail");
        let err = sh("echo 'workload failed: corrupted' >&2; exit 3", &log, 30).unwrap_err();
        assert_eq!(err, "exit code 3: workload failed: corrupted");
        let _ = std::fs::remove_file(log);
    }

    #[test]
    fn signals_and_timeouts_are_named() {
        let log = log_path("signal");
        assert_eq!(
            sh("kill -SEGV $$", &log, 30).unwrap_err(),
            "killed by signal 11 (SIGSEGV)"
        );
        assert_eq!(sh("sleep 5", &log, 1).unwrap_err(), "timed out after 1 s");
        let _ = std::fs::remove_file(log);
    }

    #[test]
    fn a_missing_program_is_a_failure() {
        let log = log_path("missing");
        let err = measure(&Job {
            program: Path::new("/nonexistent/goheap-workload"),
            args: &[],
            preload: None,
            env: &[],
            log: &log,
            timeout_secs: 5,
        })
        .unwrap_err();
        assert!(err.starts_with("cannot start"), "{err}");
        let _ = std::fs::remove_file(log);
    }
}
