//! The allocators `goheap bench` compares and how each is reached: goheap
//! through libgoheap.so, glibc by preloading nothing, mimalloc, jemalloc and
//! tcmalloc through Debian's shared libraries (or the file named by
//! `GOHEAP_BENCH_<NAME>`).

use crate::locate;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Allocator {
    Goheap,
    Glibc,
    Mimalloc,
    Jemalloc,
    Tcmalloc,
}

impl Allocator {
    /// Every allocator, in the order they are reported.
    pub const ALL: [Allocator; 5] = [
        Allocator::Goheap,
        Allocator::Glibc,
        Allocator::Mimalloc,
        Allocator::Jemalloc,
        Allocator::Tcmalloc,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Allocator::Goheap => "goheap",
            Allocator::Glibc => "glibc",
            Allocator::Mimalloc => "mimalloc",
            Allocator::Jemalloc => "jemalloc",
            Allocator::Tcmalloc => "tcmalloc",
        }
    }

    /// Library file names to look for in the lib dirs, preferred first
    /// (Debian's first); goheap has its own search ([`locate::goheap_library`]).
    fn library_names(self) -> &'static [&'static str] {
        match self {
            Allocator::Goheap | Allocator::Glibc => &[],
            Allocator::Mimalloc => &["libmimalloc.so.2", "libmimalloc.so"],
            Allocator::Jemalloc => &["libjemalloc.so.2", "libjemalloc.so"],
            Allocator::Tcmalloc => &[
                "libtcmalloc_minimal.so.4",
                "libtcmalloc_minimal.so",
                "libtcmalloc.so.4",
                "libtcmalloc.so",
            ],
        }
    }

    /// The environment variable that overrides the library's location.
    pub fn override_var(self) -> String {
        match self {
            Allocator::Goheap => locate::GOHEAP_LIBRARY_VAR.to_owned(),
            _ => format!("GOHEAP_BENCH_{}", self.name().to_ascii_uppercase()),
        }
    }

    /// The library to preload for this allocator (`None` for glibc, the
    /// allocator every program has already); an error saying why when it is
    /// not installed.
    pub fn preload(self) -> Result<Option<PathBuf>, String> {
        match self {
            Allocator::Glibc => Ok(None),
            Allocator::Goheap => locate::goheap_library().map(Some),
            _ => locate::system_library(&self.override_var(), self.library_names()).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_names_are_report_names() {
        use clap::ValueEnum;
        for a in Allocator::ALL {
            assert_eq!(a.to_possible_value().unwrap().get_name(), a.name());
        }
        assert_eq!(Allocator::value_variants(), Allocator::ALL);
    }

    #[test]
    fn override_variables() {
        assert_eq!(Allocator::Mimalloc.override_var(), "GOHEAP_BENCH_MIMALLOC");
        assert_eq!(Allocator::Tcmalloc.override_var(), "GOHEAP_BENCH_TCMALLOC");
        assert_eq!(Allocator::Goheap.override_var(), "GOHEAP_LIB");
    }

    #[test]
    fn glibc_preloads_nothing() {
        assert_eq!(Allocator::Glibc.preload(), Ok(None));
    }

    #[test]
    fn debian_library_names_come_first() {
        assert_eq!(Allocator::Mimalloc.library_names()[0], "libmimalloc.so.2");
        assert_eq!(Allocator::Jemalloc.library_names()[0], "libjemalloc.so.2");
        assert_eq!(
            Allocator::Tcmalloc.library_names()[0],
            "libtcmalloc_minimal.so.4"
        );
    }
}
