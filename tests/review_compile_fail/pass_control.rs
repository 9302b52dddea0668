// expect: pass
// The harness's control: the same setup compiles ordinary uses.
use goheap::gc::{mutate, Gc, GcCell, Root};
use goheap::{Rootable, Trace};

#[derive(Trace)]
pub struct Node<'gc> {
    pub next: GcCell<Option<Gc<'gc, Node<'gc>>>>,
}

pub fn f() -> Root<Rootable!['gc => Node<'gc>]> {
    mutate(|outer| {
        let o = Gc::new(outer, Node { next: GcCell::new(None) });
        mutate(|inner| {
            let again = Gc::new(outer, Node { next: GcCell::new(None) });
            *o.next.borrow_mut(inner) = Some(again);
        });
        std::thread::scope(|s| {
            s.spawn(|| assert!(o.next.borrow().is_some()));
        });
        Root::new(outer, o)
    })
}
