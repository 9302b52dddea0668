//! `goheap run`: starts a program with libgoheap.so preloaded and the
//! requested `GOHEAP_*` options in its environment, waits for it and
//! returns its exit status as an exit code.

use crate::cli::RunArgs;
use crate::locate;
use crate::Failure;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus};

/// Runs the command; its exit code (128+N for a signal N).
pub fn run(args: &RunArgs) -> Result<i32, Failure> {
    let library = locate::goheap_library().map_err(Failure::error)?;
    let preload = preload_list(&library, std::env::var_os("LD_PRELOAD").as_deref())
        .map_err(Failure::error)?;
    let mut cmd = Command::new(&args.command[0]);
    cmd.args(&args.command[1..]).env("LD_PRELOAD", preload);
    if args.stats {
        cmd.env("GOHEAP_STATS", "1");
    }
    if args.verbose {
        cmd.env("GOHEAP_VERBOSE", "1");
    }
    if let Some(path) = &args.profile {
        cmd.env("GOHEAP_PROFILE", absolute(path)?);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| spawn_failure(&args.command[0], &e))?;
    ignore_terminal_signals();
    let status = child
        .wait()
        .map_err(|e| Failure::error(format!("waiting for the command: {e}")))?;
    Ok(exit_code(status))
}

/// `path` made absolute (the program may change its directory before it
/// exits and writes the profile).
fn absolute(path: &Path) -> Result<std::path::PathBuf, Failure> {
    std::path::absolute(path).map_err(|e| Failure::error(format!("{}: {e}", path.display())))
}

/// LD_PRELOAD with `ours` first, then the entries already there (without a
/// second copy of ours). The loader splits the list at spaces and colons,
/// so a path containing either cannot be preloaded.
pub fn preload_list(ours: &Path, existing: Option<&OsStr>) -> Result<OsString, String> {
    let ours_text = ours.to_string_lossy();
    if ours_text.contains([' ', ':']) {
        return Err(format!(
            "{} contains a space or colon, which LD_PRELOAD cannot express; \
             move it or set GOHEAP_LIB to a copy elsewhere",
            ours.display()
        ));
    }
    let mut list = OsString::from(ours);
    let existing = existing.map(OsStr::to_string_lossy).unwrap_or_default();
    for entry in existing
        .split([' ', ':'])
        .filter(|e| !e.is_empty() && *e != ours_text)
    {
        list.push(":");
        list.push(entry);
    }
    Ok(list)
}

/// The shell's convention: the exit code, or 128+N for death by signal N.
pub fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        _ => 1,
    }
}

/// A command that cannot start exits like it would in a shell: 127 when not
/// found, 126 when not executable.
fn spawn_failure(program: &OsStr, err: &io::Error) -> Failure {
    let code = match err.kind() {
        io::ErrorKind::NotFound => 127,
        _ => 126,
    };
    Failure {
        code,
        message: format!("cannot run {}: {err}", program.to_string_lossy()),
    }
}

/// While the child runs, ^C and ^\ (sent to the whole foreground process
/// group) are left to the child, whose death then decides the exit code.
/// Called after the spawn: ignored signals would be inherited across exec.
fn ignore_terminal_signals() {
    for signal in [libc::SIGINT, libc::SIGQUIT] {
        // SAFETY: setting a signal's disposition to SIG_IGN installs no
        // handler code and has no memory-safety preconditions.
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ours: &str, existing: Option<&str>) -> Result<String, String> {
        preload_list(Path::new(ours), existing.map(OsStr::new)).map(|l| l.into_string().unwrap())
    }

    #[test]
    fn preload_alone_when_nothing_was_preloaded() {
        assert_eq!(list("/l/libgoheap.so", None).unwrap(), "/l/libgoheap.so");
        assert_eq!(
            list("/l/libgoheap.so", Some("")).unwrap(),
            "/l/libgoheap.so"
        );
    }

    #[test]
    fn existing_entries_follow_ours() {
        assert_eq!(
            list("/l/libgoheap.so", Some("/a/liba.so /b/libb.so:libc.so")).unwrap(),
            "/l/libgoheap.so:/a/liba.so:/b/libb.so:libc.so"
        );
    }

    #[test]
    fn ours_is_not_listed_twice() {
        assert_eq!(
            list("/l/libgoheap.so", Some("/l/libgoheap.so:/a/liba.so")).unwrap(),
            "/l/libgoheap.so:/a/liba.so"
        );
    }

    #[test]
    fn a_path_with_a_separator_is_refused() {
        assert!(list("/my libs/libgoheap.so", None).is_err());
        assert!(list("/a:b/libgoheap.so", None).is_err());
    }

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(exit_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGKILL)), 128 + 9);
        assert_eq!(
            exit_code(ExitStatus::from_raw(libc::SIGSEGV | 0x80)),
            128 + 11
        );
    }

    #[test]
    fn start_failures_use_126_and_127() {
        let missing = io::Error::from(io::ErrorKind::NotFound);
        assert_eq!(spawn_failure(OsStr::new("x"), &missing).code, 127);
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(spawn_failure(OsStr::new("x"), &denied).code, 126);
    }
}
