//! Where things are: libgoheap.so (next to the executable, in an installed
//! lib dir, or built on demand in a cargo target dir), the other allocators'
//! libraries (searched in the usual lib dirs), and the cache dir for the
//! compiled workloads.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// File name of goheap's preload library.
pub const GOHEAP_LIBRARY: &str = "libgoheap.so";

/// Environment variable naming libgoheap.so explicitly.
pub const GOHEAP_LIBRARY_VAR: &str = "GOHEAP_LIB";

/// The workspace this executable was built from (for building libgoheap.so
/// on demand); it may no longer exist where the executable runs.
pub const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The path named by environment variable `var`, when set and not empty; an
/// error when it names no file.
fn path_from_env(var: &str) -> Option<Result<PathBuf, String>> {
    let value = std::env::var_os(var).filter(|v| !v.is_empty())?;
    let path = PathBuf::from(value);
    Some(if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{var}={} is not a file", path.display()))
    })
}

/// The first `dir/name` that is a file, trying each name in each dir in turn.
pub fn find_file(dirs: &[PathBuf], names: &[&str]) -> Option<PathBuf> {
    dirs.iter()
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|path| path.is_file())
}

/// The directories shared libraries are searched in: `LD_LIBRARY_PATH`,
/// `$PREFIX/lib`, then the system's lib dirs (Debian's multiarch dirs
/// included).
pub fn library_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("LD_LIBRARY_PATH")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|d| d.is_absolute())
                .collect()
        })
        .unwrap_or_default();
    if let Some(prefix) = std::env::var_os("PREFIX").filter(|p| !p.is_empty()) {
        dirs.push(Path::new(&prefix).join("lib"));
    }
    let multiarch = format!("{}-linux-gnu", std::env::consts::ARCH);
    for base in ["/usr/local/lib", "/usr/lib", "/lib"] {
        dirs.push(PathBuf::from(base));
        dirs.push(Path::new(base).join(&multiarch));
    }
    dirs.extend(["/usr/lib64", "/lib64"].map(PathBuf::from));
    dirs
}

/// An allocator library: `$var` if set, else the first of `names` in the
/// lib dirs.
pub fn system_library(var: &str, names: &[&str]) -> Result<PathBuf, String> {
    if let Some(found) = path_from_env(var) {
        return found;
    }
    find_file(&library_dirs(), names).ok_or_else(|| {
        format!(
            "{} not found in the usual lib dirs (set {var}=/path/to/it, or run \
             scripts/install-allocators.sh)",
            names[0]
        )
    })
}

/// The directory of the running executable.
fn exe_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.parent().map(Path::to_path_buf)
}

/// The cargo target dir the executable was built in (`<target>/<profile>/goheap`;
/// cargo marks `<target>` with a CACHEDIR.TAG), if it runs from one.
pub fn cargo_target_dir() -> Option<PathBuf> {
    let target = exe_dir()?.parent()?.to_path_buf();
    target.join("CACHEDIR.TAG").is_file().then_some(target)
}

/// Where libgoheap.so may be, in order: the release dir of the cargo target
/// dir the executable runs from (so a debug build of the tool still runs
/// and measures the optimized library), next to the executable (an
/// install's bin dir, or another profile's dir), `<prefix>/lib` of an
/// install in `<prefix>/bin`, the lib dirs.
fn goheap_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(target) = cargo_target_dir() {
        dirs.push(target.join("release"));
    }
    if let Some(dir) = exe_dir() {
        let installed_lib_dir = dir.join("../lib");
        dirs.push(dir);
        dirs.push(installed_lib_dir);
    }
    dirs.extend(library_dirs());
    dirs
}

/// libgoheap.so: `$GOHEAP_LIB`, else found in [`goheap_dirs`], else built
/// with cargo when the executable runs from a cargo target dir of a goheap
/// workspace (e.g. `cargo run -p goheap-cli` before `goheap-ffi` was built).
/// The path is canonical (absolute), as LD_PRELOAD needs it to be.
pub fn goheap_library() -> Result<PathBuf, String> {
    let found = match path_from_env(GOHEAP_LIBRARY_VAR) {
        Some(found) => found?,
        None => match find_file(&goheap_dirs(), &[GOHEAP_LIBRARY]) {
            Some(path) => path,
            None => build_goheap_library()?,
        },
    };
    std::fs::canonicalize(&found).map_err(|e| format!("{}: {e}", found.display()))
}

/// Runs `cargo build --release -p goheap-ffi` into the executable's target
/// dir and returns the library it produced.
fn build_goheap_library() -> Result<PathBuf, String> {
    let not_found = || {
        format!(
            "{GOHEAP_LIBRARY} not found next to the goheap executable nor in the lib dirs; \
             build it with `cargo build --release --workspace`, install it with \
             scripts/install.sh, or set {GOHEAP_LIBRARY_VAR}=/path/to/{GOHEAP_LIBRARY}"
        )
    };
    let target = cargo_target_dir().ok_or_else(not_found)?;
    let workspace = Path::new(WORKSPACE);
    if !workspace.join("ffi/Cargo.toml").is_file() {
        return Err(not_found());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--release", "-p", "goheap-ffi", "--target-dir"])
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET");
    eprintln!(
        "goheap: {GOHEAP_LIBRARY} is not built yet; running cargo build --release -p goheap-ffi"
    );
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo ({e}); {}", not_found()))?;
    let built = target.join("release").join(GOHEAP_LIBRARY);
    if status.success() && built.is_file() {
        Ok(built)
    } else {
        Err(format!(
            "cargo build -p goheap-ffi failed ({status}); {}",
            not_found()
        ))
    }
}

/// The directory compiled workloads are cached in: `<target>/goheap-workloads`
/// when running from a cargo target dir, else `$XDG_CACHE_HOME/goheap` or
/// `~/.cache/goheap`, else a per-user dir in the system's temp dir.
pub fn cache_dir() -> PathBuf {
    if let Some(target) = cargo_target_dir() {
        return target.join("goheap-workloads");
    }
    let home_cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")));
    match home_cache {
        Some(dir) => dir.join("goheap").join("workloads"),
        None => std::env::temp_dir().join(format!("goheap-workloads-{}", user_id())),
    }
}

fn user_id() -> libc::uid_t {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("goheap-cli-locate-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn find_file_prefers_earlier_dirs_then_earlier_names() {
        let base = scratch("order");
        let (a, b) = (base.join("a"), base.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("libx.so"), "").unwrap();
        std::fs::write(b.join("libx.so.2"), "").unwrap();
        std::fs::write(b.join("libx.so"), "").unwrap();
        let dirs = [base.join("missing"), b.clone(), a.clone()];
        assert_eq!(
            find_file(&dirs, &["libx.so.2", "libx.so"]),
            Some(b.join("libx.so.2"))
        );
        assert_eq!(find_file(&dirs, &["libx.so"]), Some(b.join("libx.so")));
        assert_eq!(find_file(&dirs[..1], &["libx.so"]), None);
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn find_file_skips_directories_with_the_name() {
        let base = scratch("dirs");
        std::fs::create_dir_all(base.join("first/libx.so")).unwrap();
        std::fs::create_dir_all(base.join("second")).unwrap();
        std::fs::write(base.join("second/libx.so"), "").unwrap();
        let dirs = [base.join("first"), base.join("second")];
        assert_eq!(
            find_file(&dirs, &["libx.so"]),
            Some(base.join("second/libx.so"))
        );
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn library_dirs_include_the_multiarch_dir() {
        let multiarch = format!("/usr/lib/{}-linux-gnu", std::env::consts::ARCH);
        assert!(library_dirs().contains(&PathBuf::from(multiarch)));
    }

    #[test]
    fn system_library_reports_a_missing_library_and_the_override() {
        let err =
            system_library("GOHEAP_CLI_TEST_UNSET_VAR", &["libnot-an-allocator.so.9"]).unwrap_err();
        assert!(err.contains("libnot-an-allocator.so.9"), "{err}");
        assert!(err.contains("GOHEAP_CLI_TEST_UNSET_VAR"), "{err}");
    }
}
