// expect: error
use goheap::gc::{mutate, Gc};
pub fn f() {
    mutate(|outer| {
        let mut a = Gc::new(outer, 1u32);
        mutate(|inner| {
            let mut b = Gc::new(inner, 2u32);
            std::mem::swap(&mut a, &mut b);
        });
        let _ = a;
    });
}
