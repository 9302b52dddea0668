// expect: E0119
#[derive(goheap::Trace)]
pub struct Wrapper<T>(T);
impl<T> Drop for Wrapper<T> {
    fn drop(&mut self) {}
}
