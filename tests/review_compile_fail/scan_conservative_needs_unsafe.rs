// expect: E0133
// A root hook cannot make the marker read an arbitrary range in safe code.
pub fn hook(m: &mut goheap::gc::Marker) {
    m.scan_conservative(64, 4096);
}
