// expect: error
use goheap::gc::{mutate, Gc, Root};
use goheap::Rootable;
pub fn f(x: &u32) {
    let _r: Root<Rootable!['gc => &'gc u32]> = mutate(|mu| Root::new(mu, Gc::new(mu, x)));
}
