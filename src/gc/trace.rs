//! `Trace`: how the collector finds the GC pointers inside a value.
//!
//! The trait is `unsafe`: the collector frees whatever a `trace` does not
//! reach, so an impl must mark every `Gc` the value holds (through the
//! fields' own `trace`). `#[derive(Trace)]` writes such impls; a hand-written
//! impl is the writer's promise. The impls below cover std types without
//! interior mutability (a `RefCell<Gc<..>>` could change without a barrier,
//! so it has none), and references only when `'static`: a GC object, which
//! a `Root` can keep past its scope, must not borrow anything shorter.
//!
//! `NEEDS_TRACE` is false for types that hold no GC pointer: their objects
//! go to noscan spans and the barrier skips them.

use super::mgcmark::Marker;
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault};

/// Types whose GC pointers the collector can find.
///
/// # Safety
/// `trace` must call `trace` on every value inside `self` that holds a GC
/// pointer (or `Marker::mark_object` on the pointer itself), and
/// `NEEDS_TRACE` may be false only if the type never holds one.
pub unsafe trait Trace {
    /// Whether values of the type may hold GC pointers.
    const NEEDS_TRACE: bool = true;

    /// Marks the GC pointers inside `self`.
    fn trace(&self, m: &mut Marker);
}

/// The derive's guard against `Drop` impls on traced types (whose drop could
/// follow a `Gc` into a collected object): the derive implements this trait
/// for the type, which conflicts with the blanket impl for `Drop` types.
#[doc(hidden)]
pub trait __MustNotImplDrop {}
#[allow(drop_bounds)]
impl<T: Drop> __MustNotImplDrop for T {}

macro_rules! leaf {
    ($($t:ty),*) => {$(
        // SAFETY: holds no GC pointer.
        unsafe impl Trace for $t {
            const NEEDS_TRACE: bool = false;
            #[inline(always)]
            fn trace(&self, _: &mut Marker) {}
        }
    )*};
}

leaf!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    str,
    std::time::Duration,
    std::time::Instant,
    core::sync::atomic::AtomicBool,
    core::sync::atomic::AtomicUsize,
    core::sync::atomic::AtomicIsize,
    core::sync::atomic::AtomicU64,
    core::sync::atomic::AtomicI64,
    core::sync::atomic::AtomicU32,
    core::sync::atomic::AtomicI32
);

// SAFETY: a 'static reference cannot point into the GC heap (`Gc` derefs
// only give scope-bound references).
unsafe impl<T: ?Sized + 'static> Trace for &'static T {
    const NEEDS_TRACE: bool = false;
    #[inline(always)]
    fn trace(&self, _: &mut Marker) {}
}

// SAFETY: holds no value.
unsafe impl<T: ?Sized + 'static> Trace for core::marker::PhantomData<T> {
    const NEEDS_TRACE: bool = false;
    #[inline(always)]
    fn trace(&self, _: &mut Marker) {}
}

// SAFETY: traces the boxed value.
unsafe impl<T: Trace + ?Sized> Trace for Box<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    #[inline]
    fn trace(&self, m: &mut Marker) {
        (**self).trace(m)
    }
}

// SAFETY: traces the value, if any.
unsafe impl<T: Trace> Trace for Option<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    #[inline]
    fn trace(&self, m: &mut Marker) {
        if let Some(v) = self {
            v.trace(m)
        }
    }
}

// SAFETY: traces whichever value is present.
unsafe impl<T: Trace, E: Trace> Trace for Result<T, E> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE || E::NEEDS_TRACE;
    fn trace(&self, m: &mut Marker) {
        match self {
            Ok(v) => v.trace(m),
            Err(e) => e.trace(m),
        }
    }
}

/// Traces every element of a sequence.
fn trace_all<'a, T: Trace + 'a>(items: impl IntoIterator<Item = &'a T>, m: &mut Marker) {
    if T::NEEDS_TRACE {
        for v in items {
            v.trace(m);
        }
    }
}

macro_rules! sequence {
    ($([$($g:tt)*] $t:ty),* $(,)?) => {$(
        // SAFETY: traces every element.
        unsafe impl<$($g)*> Trace for $t {
            const NEEDS_TRACE: bool = T::NEEDS_TRACE;
            fn trace(&self, m: &mut Marker) {
                trace_all(self, m)
            }
        }
    )*};
}

sequence!(
    [T: Trace] [T],
    [T: Trace, const N: usize] [T; N],
    [T: Trace] Vec<T>,
    [T: Trace] VecDeque<T>,
    [T: Trace] BTreeSet<T>,
);

/// Traces every key and value of a map.
fn trace_pairs<'a, K: Trace + 'a, V: Trace + 'a>(
    pairs: impl IntoIterator<Item = (&'a K, &'a V)>,
    m: &mut Marker,
) {
    if K::NEEDS_TRACE || V::NEEDS_TRACE {
        for (k, v) in pairs {
            k.trace(m);
            v.trace(m);
        }
    }
}

// SAFETY: traces every element and the hasher (`BuildHasher` is a safe
// trait: a hasher may hold a `Gc`).
unsafe impl<T: Trace, S: BuildHasher + Trace> Trace for HashSet<T, S> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE || S::NEEDS_TRACE;
    fn trace(&self, m: &mut Marker) {
        self.hasher().trace(m);
        trace_all(self, m)
    }
}

// SAFETY: traces every key and value, and the hasher (as for `HashSet`).
unsafe impl<K: Trace, V: Trace, S: BuildHasher + Trace> Trace for HashMap<K, V, S> {
    const NEEDS_TRACE: bool = K::NEEDS_TRACE || V::NEEDS_TRACE || S::NEEDS_TRACE;
    fn trace(&self, m: &mut Marker) {
        self.hasher().trace(m);
        trace_pairs(self, m)
    }
}

// SAFETY: std's hasher state is two keys, no GC pointer.
unsafe impl Trace for RandomState {
    const NEEDS_TRACE: bool = false;
    #[inline(always)]
    fn trace(&self, _: &mut Marker) {}
}

// SAFETY: holds no value (it builds `H::default()` on demand).
unsafe impl<H> Trace for BuildHasherDefault<H> {
    const NEEDS_TRACE: bool = false;
    #[inline(always)]
    fn trace(&self, _: &mut Marker) {}
}

// SAFETY: traces every key and value.
unsafe impl<K: Trace, V: Trace> Trace for BTreeMap<K, V> {
    const NEEDS_TRACE: bool = K::NEEDS_TRACE || V::NEEDS_TRACE;
    fn trace(&self, m: &mut Marker) {
        trace_pairs(self, m)
    }
}

macro_rules! tuple {
    ($($n:tt $t:ident),+) => {
        // SAFETY: traces every member.
        unsafe impl<$($t: Trace),+> Trace for ($($t,)+) {
            const NEEDS_TRACE: bool = $($t::NEEDS_TRACE)||+;
            fn trace(&self, m: &mut Marker) {
                $(self.$n.trace(m);)+
            }
        }
    };
}

tuple!(0 A);
tuple!(0 A, 1 B);
tuple!(0 A, 1 B, 2 C);
tuple!(0 A, 1 B, 2 C, 3 D);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F);
