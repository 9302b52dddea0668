//! `Buf<T>`: a growable array of plain values in memory mapped straight
//! from the OS, for the profile writer, which must not call malloc (it runs
//! at exit and while other threads allocate, and must not perturb the
//! profile it writes). Growth doubles the mapping and copies; a failed
//! mapping sets `failed`, after which pushes are dropped and the writer
//! reports the failure.

use crate::os;
use core::mem::size_of;
use core::ptr;

pub struct Buf<T: Copy> {
    ptr: *mut T,
    len: usize,
    cap: usize,
    /// Bytes mapped (0: nothing yet).
    mapped: usize,
    pub failed: bool,
}

impl<T: Copy> Buf<T> {
    pub const fn new() -> Buf<T> {
        Buf {
            ptr: ptr::null_mut(),
            len: 0,
            cap: 0,
            mapped: 0,
            failed: false,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn as_slice(&self) -> &[T] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the first len elements are initialised.
        unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: as in as_slice, and we hold &mut self.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn push(&mut self, v: T) {
        self.extend_from_slice(core::slice::from_ref(&v));
    }

    pub fn extend_from_slice(&mut self, vs: &[T]) {
        if self.len + vs.len() > self.cap && !self.grow(self.len + vs.len()) {
            return;
        }
        // SAFETY: cap ≥ len + vs.len(); vs cannot overlap our mapping's
        // free part.
        unsafe { ptr::copy_nonoverlapping(vs.as_ptr(), self.ptr.add(self.len), vs.len()) };
        self.len += vs.len();
    }

    fn grow(&mut self, need: usize) -> bool {
        if self.failed {
            return false;
        }
        let bytes = (need.max(self.cap * 2) * size_of::<T>()).max(64 << 10);
        let bytes = bytes.next_multiple_of(4096);
        let Some(p) = os::sys_alloc(bytes) else {
            self.failed = true;
            return false;
        };
        let p = p.as_ptr().cast::<T>();
        if self.mapped != 0 {
            // SAFETY: the old mapping holds len initialised elements.
            unsafe { ptr::copy_nonoverlapping(self.ptr, p, self.len) };
            os::sys_free(self.ptr.cast(), self.mapped);
        }
        self.ptr = p;
        self.mapped = bytes;
        self.cap = bytes / size_of::<T>();
        true
    }
}

impl<T: Copy> Drop for Buf<T> {
    fn drop(&mut self) {
        if self.mapped != 0 {
            os::sys_free(self.ptr.cast(), self.mapped);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_past_its_first_mapping_keeping_the_contents() {
        let mut b: Buf<u64> = Buf::new();
        for i in 0..100_000u64 {
            b.push(i);
        }
        assert_eq!(b.len(), 100_000);
        assert!(b.as_slice().iter().enumerate().all(|(i, &v)| v == i as u64));
        b.clear();
        assert!(b.as_slice().is_empty());
    }
}
