//! rust_static.rs — a Rust program (with its own std and its default
//! allocator shim) linked against libgoheap.a; tests/c_abi.rs builds it with
//! `rustc -l static=goheap` to check that the archive does not clash with a
//! Rust program's std (no duplicate symbols) and that the program's
//! allocations then go to goheap (Rust's System allocator calls malloc).
use std::collections::HashMap;

extern "C" {
    fn goheap_malloc_usable_size(p: *mut u8) -> usize;
}

fn main() {
    let mut m = HashMap::new();
    for i in 0..100_000u32 {
        m.insert(i, format!("value-{i}"));
    }
    let total: usize = m.values().map(String::len).sum();
    let b = Box::new([7u8; 100]);
    let raw = Box::into_raw(b);
    // SAFETY: raw comes from Box (System allocator → malloc → goheap); an
    // invalid pointer would make goheap abort, which is what this checks.
    let usable = unsafe { goheap_malloc_usable_size(raw.cast()) };
    // SAFETY: raw came from Box::into_raw above and is released once.
    drop(unsafe { Box::from_raw(raw) });
    assert!(usable >= 100, "usable {usable}");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                (0..10_000)
                    .map(|i| vec![t as u8; i % 300].len())
                    .sum::<usize>()
            })
        })
        .collect();
    let sum: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    println!("rust_static: ok {total} {sum}");
}
