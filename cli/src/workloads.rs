//! The benchmark workloads: C programs in `workloads/`, embedded in the
//! executable and compiled with the system C compiler on first use into a
//! cache dir (one executable per source version, so edits recompile).

use std::path::{Path, PathBuf};
use std::process::Command;

/// One workload program.
pub struct Workload {
    pub name: &'static str,
    source: &'static str,
}

macro_rules! workload {
    ($name:literal) => {
        Workload {
            name: $name,
            source: include_str!(concat!("../../workloads/", $name, ".c")),
        }
    };
}

/// Every workload, in report order.
pub const WORKLOADS: &[Workload] = &[
    workload!("churn"),
    workload!("prodcons"),
    workload!("server"),
    workload!("realloc"),
    workload!("large"),
    workload!("fragment"),
    workload!("thread-churn"),
    workload!("parallel"),
    workload!("small-pairs"),
    workload!("small-pairs-2t"),
    workload!("xmalloc"),
    workload!("bigint"),
    workload!("random-threads"),
    workload!("larson"),
];

/// The header every workload includes.
const COMMON_H: &str = include_str!("../../workloads/common.h");

/// Compiler flags. The builtins are off so the compiler never folds or drops
/// an allocation: every call reaches the allocator under test.
const CFLAGS: &[&str] = &[
    "-O2",
    "-pthread",
    "-std=gnu11",
    "-Wall",
    "-fno-builtin-malloc",
    "-fno-builtin-calloc",
    "-fno-builtin-realloc",
    "-fno-builtin-free",
];

pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

pub fn names() -> Vec<&'static str> {
    WORKLOADS.iter().map(|w| w.name).collect()
}

/// The workloads named (all when `names` is empty), in report order.
pub fn select(names: &[String]) -> Vec<&'static Workload> {
    WORKLOADS
        .iter()
        .filter(|w| names.is_empty() || names.iter().any(|n| n == w.name))
        .collect()
}

impl Workload {
    /// What the workload does, from the first line of its source comment
    /// (`/* name.c — summary: details`).
    pub fn summary(&self) -> &'static str {
        let first = self.source.lines().next().unwrap_or_default();
        let after_dash = first.split_once(" — ").map_or(first, |(_, s)| s);
        after_dash.split(':').next().unwrap_or(after_dash).trim()
    }

    /// The compiled workload in `cache`, compiling it first when missing.
    pub fn executable(&self, cache: &Path) -> Result<PathBuf, String> {
        let cc = c_compiler();
        let key = fnv1a(&[
            cc.as_bytes(),
            CFLAGS.join(" ").as_bytes(),
            COMMON_H.as_bytes(),
            self.source.as_bytes(),
        ]);
        let exe = cache.join(format!("{}-{key:016x}", self.name));
        if !exe.is_file() {
            self.compile(&cc, &exe)
                .map_err(|e| format!("compiling workload {}: {e}", self.name))?;
        }
        Ok(exe)
    }

    /// Compiles the workload into `exe`. The sources are written to a
    /// directory of this process and the executable is built under a
    /// temporary name then renamed, so concurrent benches never see half a
    /// file.
    fn compile(&self, cc: &str, exe: &Path) -> Result<(), String> {
        let pid = std::process::id();
        let src_dir = exe.with_extension(format!("src{pid}"));
        let result = self.compile_in(cc, &src_dir, &exe.with_extension(format!("tmp{pid}")), exe);
        let _ = std::fs::remove_dir_all(&src_dir);
        result
    }

    fn compile_in(
        &self,
        cc: &str,
        src_dir: &Path,
        partial: &Path,
        exe: &Path,
    ) -> Result<(), String> {
        std::fs::create_dir_all(src_dir).map_err(|e| format!("{}: {e}", src_dir.display()))?;
        let source = src_dir.join(format!("{}.c", self.name));
        write(&src_dir.join("common.h"), COMMON_H)?;
        write(&source, self.source)?;
        let output = Command::new(cc)
            .args(CFLAGS)
            .arg("-o")
            .arg(partial)
            .arg(&source)
            .output()
            .map_err(|e| format!("cannot run the C compiler '{cc}' ({e}); set CC or install cc"))?;
        if !output.status.success() {
            let _ = std::fs::remove_file(partial);
            return Err(format!(
                "{cc} failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        std::fs::rename(partial, exe).map_err(|e| format!("{}: {e}", exe.display()))
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `$CC`, else `cc`.
fn c_compiler() -> String {
    std::env::var("CC")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| "cc".to_owned())
}

/// 64-bit FNV-1a over the parts, each followed by a separator byte.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|p| p.iter().chain(&[0xff])) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_has_a_summary_and_its_own_source() {
        for w in WORKLOADS {
            let summary = w.summary();
            assert!(
                !summary.is_empty() && summary.len() < 60,
                "{}: {summary:?}",
                w.name
            );
            assert!(
                w.source.contains(&format!("{}.c", w.name)),
                "{} source header",
                w.name
            );
            assert!(w.source.contains("#include \"common.h\""), "{}", w.name);
        }
    }

    #[test]
    fn summary_is_the_text_between_dash_and_colon() {
        assert_eq!(find("churn").unwrap().summary(), "small-object churn");
        assert_eq!(find("large").unwrap().summary(), "large blocks");
    }

    #[test]
    fn names_are_unique() {
        let mut names = names();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), WORKLOADS.len());
    }

    #[test]
    fn select_keeps_report_order() {
        let picked = select(&["large".into(), "churn".into()]);
        let names: Vec<_> = picked.iter().map(|w| w.name).collect();
        assert_eq!(names, ["churn", "large"]);
        assert_eq!(select(&[]).len(), WORKLOADS.len());
    }

    #[test]
    fn fnv1a_separates_parts() {
        assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
        assert_eq!(fnv1a(&[b"x"]), fnv1a(&[b"x"]));
    }
}
