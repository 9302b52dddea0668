// expect: error
pub fn f() {
    let m = goheap::gc::mutate(|mu| mu as *const goheap::gc::Mutation<'_>);
    let _ = m;
}
