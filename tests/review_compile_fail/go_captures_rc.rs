// expect: E0277
pub fn f() {
    let rc = std::rc::Rc::new(1u8);
    unsafe { goheap::go(move || drop(rc)) };
}
