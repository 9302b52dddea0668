// Test binaries export their `goheap_test_*` functions in the dynamic symbol
// table, so that the heap-profile tests can check that the profile names
// them through dladdr (tests/profile.rs). Nothing else is built here.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-link-arg-tests=-Wl,--export-dynamic-symbol=goheap_test_*");
}
