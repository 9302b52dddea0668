//! goheap across threads: objects allocated on one thread and freed on another
//! (producer -> consumer over std::sync::mpsc, and some sent back), a long
//! steady-state producer -> consumer run whose RSS (from /proc/self/statm) must
//! stop growing after the first round, churn of 10,000 short-lived threads
//! (some handing live objects back to the main thread) with bounded RSS growth,
//! and many threads allocating at once while swapping objects, all with pattern
//! checks. The tests in this file take a common lock so that RSS, which is
//! per process, is only measured while no other test here is allocating.

mod common;

use common::{check, fill, first_mismatch, pattern_box, rss_bytes, Rng, GO_SIZE_CLASSES, MIB};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::thread;

#[global_allocator]
static GLOBAL: goheap::GoHeap = goheap::GoHeap;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Objects of several kinds, each verifiable against the id it was made from.
enum Obj {
    Bytes(u64, Box<[u8]>),
    Text(u64, String),
    Words(u64, Vec<u64>),
    Tiny(u64, Box<u32>),
}

impl Obj {
    fn make(id: u64, rng: &mut Rng) -> Obj {
        match rng.below(8) {
            0 => Obj::Text(id, format!("object-{id}-{}", "x".repeat(rng.range(0, 300)))),
            1 => Obj::Words(
                id,
                (0..rng.log_uniform(1, 20_000) as u64)
                    .map(|i| common::splitmix64(id ^ i))
                    .collect(),
            ),
            2 => Obj::Tiny(id, Box::new(id as u32 ^ 0xDEAD_BEEF)),
            _ => Obj::Bytes(id, pattern_box(id, rng.log_uniform(1, 256 << 10))),
        }
    }

    fn id(&self) -> u64 {
        match self {
            Obj::Bytes(id, _) | Obj::Text(id, _) | Obj::Words(id, _) | Obj::Tiny(id, _) => *id,
        }
    }

    fn verify(&self) {
        match self {
            Obj::Bytes(id, b) => assert!(
                check(b, *id),
                "bytes object {id} ({} B) corrupted at {:?}",
                b.len(),
                first_mismatch(b, *id)
            ),
            Obj::Text(id, s) => {
                let prefix = format!("object-{id}-");
                assert!(
                    s.starts_with(&prefix) && s[prefix.len()..].bytes().all(|c| c == b'x'),
                    "string object {id} corrupted"
                );
            }
            Obj::Words(id, v) => assert!(
                v.iter()
                    .enumerate()
                    .all(|(i, &w)| w == common::splitmix64(id ^ i as u64)),
                "vec object {id} corrupted"
            ),
            Obj::Tiny(id, b) => {
                assert_eq!(**b, *id as u32 ^ 0xDEAD_BEEF, "tiny object {id} corrupted")
            }
        }
    }
}

#[test]
fn cross_thread_free_many_rounds() {
    let _g = serial();
    const ROUNDS: u64 = 40;
    const PER_ROUND: u64 = 1500;
    let (to_consumer, consumer_rx) = mpsc::channel::<Option<Obj>>();
    let (back_to_producer, producer_back_rx) = mpsc::channel::<Obj>();
    let (round_done, round_done_rx) = mpsc::channel::<(u64, u64)>();

    // The consumer verifies and frees 3 of 4 objects; the 4th goes back to the
    // producer, so objects also die on the thread that made them after a trip.
    let consumer = thread::spawn(move || {
        let (mut freed, mut returned) = (0u64, 0u64);
        while let Some(msg) = consumer_rx.recv().unwrap() {
            msg.verify();
            if msg.id() % 4 == 0 {
                back_to_producer.send(msg).unwrap();
                returned += 1;
            } else {
                drop(msg);
                freed += 1;
            }
            if (freed + returned) % PER_ROUND == 0 {
                round_done.send((freed, returned)).unwrap();
            }
        }
        (freed, returned)
    });

    let mut rng = Rng::new(1);
    let mut back_freed = 0u64;
    for round in 0..ROUNDS {
        for i in 0..PER_ROUND {
            to_consumer
                .send(Some(Obj::make(round * PER_ROUND + i, &mut rng)))
                .unwrap();
        }
        let (freed, returned) = round_done_rx.recv().unwrap();
        assert_eq!(freed + returned, (round + 1) * PER_ROUND);
        for obj in producer_back_rx.try_iter() {
            assert_eq!(obj.id() % 4, 0);
            obj.verify();
            back_freed += 1;
        }
    }
    to_consumer.send(None).unwrap();
    let (freed, returned) = consumer.join().unwrap();
    back_freed += producer_back_rx.iter().map(|o| o.verify()).count() as u64;
    assert_eq!(freed + returned, ROUNDS * PER_ROUND);
    assert_eq!(returned, back_freed, "objects lost on the way back");
    assert_eq!(returned, ROUNDS * PER_ROUND / 4);
}

#[test]
fn producer_consumer_steady_state_rss_is_bounded() {
    let _g = serial();
    // The producer allocates batches of objects (60 small ones of 1 B..1 KiB, 3 of
    // 1..32 KiB, 1 of 32..256 KiB), the consumer keeps the last RING batches and
    // frees the oldest. At most CHANNEL + RING + 2 batches (< 8 MiB) are alive at
    // any time, so once the first round has warmed the heap up, freed memory
    // must be reused and RSS must stop growing.
    const ROUNDS: usize = 8;
    const BATCHES_PER_ROUND: u64 = 2500;
    const CHANNEL: usize = 4;
    const RING: usize = 8;
    type Batch = Vec<(u64, Box<[u8]>)>;
    let (tx, rx) = mpsc::sync_channel::<Option<Batch>>(CHANNEL);
    let (ack_tx, ack_rx) = mpsc::channel::<u64>();
    let consumer = thread::spawn(move || {
        let mut ring: std::collections::VecDeque<Batch> = std::collections::VecDeque::new();
        let mut n = 0u64;
        while let Some(batch) = rx.recv().unwrap() {
            ring.push_back(batch);
            if ring.len() > RING {
                for (id, b) in ring.pop_front().unwrap() {
                    assert!(
                        check(&b, id),
                        "object {id} ({} B) corrupted: first bad byte {:?}",
                        b.len(),
                        first_mismatch(&b, id)
                    );
                }
            }
            n += 1;
            if n % BATCHES_PER_ROUND == 0 {
                ack_tx.send(n).unwrap();
            }
        }
        ring.len()
    });
    let mut rng = Rng::new(2);
    let mut rss = Vec::new();
    let mut id = 0u64;
    for round in 0..ROUNDS {
        for _ in 0..BATCHES_PER_ROUND {
            let batch: Batch = (0..64)
                .map(|k| {
                    id += 1;
                    let len = match k {
                        0 => rng.log_uniform(32 << 10, 256 << 10),
                        1..=3 => rng.log_uniform(1, 32 << 10),
                        _ => rng.log_uniform(1, 1024),
                    };
                    (id, pattern_box(id, len))
                })
                .collect();
            tx.send(Some(batch)).unwrap();
        }
        assert_eq!(
            ack_rx.recv().unwrap(),
            (round as u64 + 1) * BATCHES_PER_ROUND
        );
        rss.push(rss_bytes());
    }
    tx.send(None).unwrap();
    assert_eq!(consumer.join().unwrap(), RING);
    eprintln!(
        "steady state: RSS after each round (MiB): {:?}",
        rss.iter().map(|r| r / MIB).collect::<Vec<_>>()
    );
    let baseline = rss[0];
    let peak = *rss.iter().max().unwrap();
    let growth = peak.saturating_sub(baseline);
    assert!(
        growth < 64 * MIB,
        "RSS grew by {} MiB after the first round (RSS after each round, MiB: {:?}): freed memory is not being reused",
        growth / MIB,
        rss.iter().map(|r| r / MIB).collect::<Vec<_>>()
    );
}

/// Pattern a block entirely if it is small, else its first and last 256 bytes
/// (with different ids, so a swapped or shifted block is noticed).
fn write_ends(b: &mut [u8], id: u64) {
    let len = b.len();
    if len <= 512 {
        fill(b, id);
    } else {
        fill(&mut b[..256], id);
        fill(&mut b[len - 256..], id ^ 1);
    }
}

fn check_ends(b: &[u8], id: u64) -> bool {
    let len = b.len();
    if len <= 512 {
        check(b, id)
    } else {
        check(&b[..256], id) && check(&b[len - 256..], id ^ 1)
    }
}

/// Allocate one object of every Go size class (and a few tiny ones), write and
/// check it, free it; optionally keep some and return them.
fn thread_body(t: u64, keep: bool) -> Vec<(u64, Box<[u8]>)> {
    let mut kept = Vec::new();
    let mut objs: Vec<(u64, Box<[u8]>)> = Vec::with_capacity(GO_SIZE_CLASSES.len() + 8);
    for (i, &size) in GO_SIZE_CLASSES
        .iter()
        .chain(&[1, 3, 5, 7, 9, 12, 15, 40_000])
        .enumerate()
    {
        let id = t * 1000 + i as u64;
        let mut b = vec![0u8; size].into_boxed_slice();
        write_ends(&mut b, id);
        objs.push((id, b));
    }
    for (id, b) in objs {
        assert!(
            check_ends(&b, id),
            "thread {t}: object {id} of {} B corrupted",
            b.len()
        );
        if keep && id % 7 == 0 {
            kept.push((id, pattern_box(id, b.len())));
        }
    }
    kept
}

#[test]
fn thread_churn_10000_threads_bounded_rss() {
    let _g = serial();
    const THREADS: u64 = 10_000;
    const BATCH: u64 = 8;
    const WARMUP: u64 = 1000;
    let mut baseline = None;
    let mut returned = 0usize;
    let mut t = 0u64;
    while t < THREADS {
        let handles: Vec<_> = (t..t + BATCH)
            .map(|id| {
                thread::Builder::new()
                    .stack_size(256 << 10)
                    .spawn(move || thread_body(id, id % 10 == 0))
                    .expect("spawn")
            })
            .collect();
        for h in handles {
            // Objects kept by a thread that has exited are verified and freed here.
            for (id, b) in h.join().expect("churn thread panicked") {
                assert!(
                    check(&b, id),
                    "object {id} handed back by an exited thread is corrupted"
                );
                returned += 1;
            }
        }
        t += BATCH;
        if t == WARMUP {
            baseline = Some(rss_bytes());
        }
    }
    let end = rss_bytes();
    let baseline = baseline.unwrap();
    eprintln!(
        "thread churn: RSS {} MiB after {WARMUP} threads, {} MiB after {THREADS}",
        baseline / MIB,
        end / MIB
    );
    assert!(returned > 0);
    assert!(
        end.saturating_sub(baseline) < 32 * MIB,
        "RSS grew from {} MiB to {} MiB over {} threads: per-thread caches are leaking",
        baseline / MIB,
        end / MIB,
        THREADS - WARMUP
    );
}

#[test]
fn many_threads_allocating_at_once() {
    let _g = serial();
    const THREADS: u64 = 16;
    const OPS: usize = 15_000;
    const SLOTS: usize = 256;
    let barrier = Arc::new(Barrier::new(THREADS as usize));
    // A shared pool through which threads hand objects to each other, so frees
    // happen concurrently on threads other than the allocating one.
    type Pool = Mutex<Vec<(u64, Box<[u8]>)>>;
    let exchange: Arc<Pool> = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let barrier = barrier.clone();
            let exchange = exchange.clone();
            thread::spawn(move || {
                let mut rng = Rng::new(100 + t);
                let mut slots: Vec<Option<(u64, Box<[u8]>)>> = (0..SLOTS).map(|_| None).collect();
                let mut next = t << 40;
                let (mut made, mut foreign) = (0usize, 0usize);
                barrier.wait();
                for _ in 0..OPS {
                    let k = rng.below(SLOTS as u64) as usize;
                    match slots[k].take() {
                        None => {
                            next += 1;
                            let len = rng.log_uniform(1, 64 << 10);
                            slots[k] = Some((next, pattern_box(next, len)));
                            made += 1;
                        }
                        Some((id, b)) => {
                            assert!(
                                check(&b, id),
                                "thread {t}: object {id} ({} B) corrupted at {:?}",
                                b.len(),
                                first_mismatch(&b, id)
                            );
                            match rng.below(4) {
                                0 => exchange.lock().unwrap().push((id, b)),
                                1 => {
                                    let got = exchange.lock().unwrap().pop();
                                    if let Some((oid, ob)) = got {
                                        assert!(
                                            check(&ob, oid),
                                            "thread {t}: foreign object {oid} corrupted"
                                        );
                                        foreign += 1;
                                    }
                                }
                                _ => drop(b),
                            }
                        }
                    }
                }
                for (id, b) in slots.into_iter().flatten() {
                    assert!(
                        check(&b, id),
                        "thread {t}: object {id} corrupted at the end"
                    );
                }
                (made, foreign)
            })
        })
        .collect();
    let mut made = 0;
    let mut foreign = 0;
    for h in handles {
        let (m, f) = h.join().expect("allocating thread panicked");
        made += m;
        foreign += f;
    }
    let left = std::mem::take(&mut *exchange.lock().unwrap());
    for (id, b) in &left {
        assert!(
            check(b, *id),
            "object {id} left in the exchange is corrupted"
        );
    }
    assert!(
        made > THREADS as usize * OPS / 4,
        "too few allocations: {made}"
    );
    assert!(
        foreign > 0,
        "no object was freed by a thread other than its allocator"
    );
}
