//! The heap profile's C ABI: `goheap_dump_profile()` writes the profile now,
//! and a constructor arranges for it to be written at exit when
//! `GOHEAP_PROFILE` is set (see `goheap::profile`).
//!
//! In a static link (libgoheap.a) this object file, and so the
//! constructor, is only pulled in by a call of `goheap_dump_profile`; the
//! profile is then still written at exit once anything was sampled.

use core::ffi::c_int;

#[used]
#[link_section = ".init_array"]
static GOHEAP_PROFILE_CONSTRUCTOR: extern "C" fn() = profile_constructor;

extern "C" fn profile_constructor() {
    goheap::profile::init();
}

/// Writes the heap profile (pprof's format, gzipped) to the file named by
/// `GOHEAP_PROFILE` (`%p` there is the process id). Returns 0, `ENOENT`
/// when `GOHEAP_PROFILE` is unset, or the errno of the failed write.
#[no_mangle]
pub extern "C" fn goheap_dump_profile() -> c_int {
    match goheap::profile::write() {
        Ok(()) => 0,
        Err(e) => e.raw_os_error().unwrap_or(libc::ENOENT),
    }
}
