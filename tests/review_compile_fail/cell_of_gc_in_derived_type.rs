// expect: E0277
use goheap::gc::Gc;
#[derive(goheap::Trace)]
pub struct Hidden<'gc> {
    c: std::cell::Cell<Option<Gc<'gc, u32>>>,
}
