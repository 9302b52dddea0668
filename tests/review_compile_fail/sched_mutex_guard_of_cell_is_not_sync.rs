// expect: E0277
fn need_sync<T: Sync>(_: &T) {}
pub fn f() {
    let m = goheap::sched::Mutex::new(std::cell::Cell::new(1u8));
    let g = m.lock();
    need_sync(&g);
}
