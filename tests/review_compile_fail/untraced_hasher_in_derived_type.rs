// expect: E0277
// A map's hasher is traced: one that is not `Trace` (here holding a `Gc`
// the collector could not see) is rejected.
use goheap::gc::Gc;
use std::hash::BuildHasher;
pub struct Untraced<'gc>(Gc<'gc, u32>);
impl BuildHasher for Untraced<'_> {
    type Hasher = std::collections::hash_map::DefaultHasher;
    fn build_hasher(&self) -> Self::Hasher {
        Default::default()
    }
}
#[derive(goheap::Trace)]
pub struct Holder<'gc> {
    map: std::collections::HashMap<u32, u32, Untraced<'gc>>,
}
