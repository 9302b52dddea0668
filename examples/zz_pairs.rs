use std::alloc::{GlobalAlloc, Layout};
fn main() {
    let size: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(16);
    let align: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(8);
    let n: usize = std::env::var("N")
        .map(|s| s.parse().unwrap())
        .unwrap_or(10_000_000);
    let l = Layout::from_size_align(size, align).unwrap();
    let t = std::time::Instant::now();
    for _ in 0..n {
        unsafe {
            let p = goheap::GoHeap.alloc(l);
            std::ptr::write_volatile(p, 1);
            goheap::GoHeap.dealloc(std::hint::black_box(p), l);
        }
    }
    println!("{:.2} ns/pair", t.elapsed().as_nanos() as f64 / n as f64);
}
