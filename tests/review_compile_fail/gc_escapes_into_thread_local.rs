// expect: error
use goheap::gc::{mutate, Gc};
use std::cell::RefCell;
thread_local! {
    static STASH: RefCell<Option<Gc<'static, u32>>> = const { RefCell::new(None) };
}
pub fn f() {
    mutate(|mu| STASH.with(|s| *s.borrow_mut() = Some(Gc::new(mu, 1u32))));
}
