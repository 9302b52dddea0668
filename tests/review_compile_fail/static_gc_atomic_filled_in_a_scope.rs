// expect: error
use goheap::gc::{mutate, Gc, GcAtomic};
pub fn f() {
    let a: GcAtomic<'static, u32> = GcAtomic::new(None);
    mutate(|mu| a.store(mu, Some(Gc::new(mu, 1u32))));
}
