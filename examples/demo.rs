//! Runs a small workload on goheap as the global allocator and prints what it did.
use std::collections::{BTreeMap, HashMap};

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

fn main() {
    let t = std::time::Instant::now();
    let words: Vec<String> = (0..200_000).map(|i| format!("w{}", i % 5000)).collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for w in &words {
        *counts.entry(w.as_str()).or_default() += 1;
    }
    let mut tree = BTreeMap::new();
    for (i, w) in words.iter().enumerate().take(50_000) {
        tree.insert(i, w.clone());
    }
    let handles: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                (0..100_000)
                    .map(|i| vec![t as u8; i % 700])
                    .map(|v| v.len())
                    .sum::<usize>()
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let big = vec![1u8; 64 << 20];
    println!(
        "goheap demo: {} strings, {} distinct, {} tree entries, {} bytes in thread vectors, {} MiB block, {:?}",
        words.len(), counts.len(), tree.len(), total, big.len() >> 20, t.elapsed()
    );
}
