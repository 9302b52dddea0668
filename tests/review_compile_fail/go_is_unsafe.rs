// expect: E0133
pub fn f() {
    goheap::go(|| ());
}
