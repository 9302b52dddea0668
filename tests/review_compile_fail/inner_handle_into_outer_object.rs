// expect: error
use goheap::gc::{mutate, Gc, GcCell};
use goheap::Trace;
#[derive(Trace)]
pub struct Node<'gc> {
    next: GcCell<Option<Gc<'gc, Node<'gc>>>>,
}
pub fn f() {
    mutate(|outer| {
        let o = Gc::new(outer, Node { next: GcCell::new(None) });
        mutate(|inner| {
            let i = Gc::new(inner, Node { next: GcCell::new(None) });
            *o.next.borrow_mut(inner) = Some(i);
        });
    });
}
