//! Untyped channels of fixed-size byte blobs, for the C ABI (`goheap-ffi`,
//! `goheap_chan_*` in include/goheap.h). Same channel, same select as the
//! typed API; the caller supplies element buffers of `elem_size` bytes.

use core::mem::MaybeUninit;

use super::hchan::{Dir, ElemType, Hchan, Outcome};
use super::select::{select as selectgo, SelCase};
pub use super::select::{Selected, Wait};

/// How a raw operation ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    /// Sent, or received (the element buffer was written).
    Ok,
    /// The channel is closed (and, for a receive, drained).
    Closed,
    /// It would have had to wait (`Wait::No`), or waited past its timeout.
    NotReady,
}

/// A channel of `elem_size`-byte blobs.
pub struct RawChan {
    hchan: Hchan,
}

/// The most cases one `select` call takes.
pub const MAX_SELECT_CASES: usize = 64;

impl RawChan {
    /// A channel with room for `cap` blobs; `None` if that much cannot
    /// exist.
    pub fn new(elem_size: usize, cap: usize) -> Option<RawChan> {
        let elem = ElemType::bytes(elem_size);
        Hchan::fits(&elem, cap).then(|| RawChan {
            hchan: Hchan::new(elem, cap),
        })
    }

    /// The blob size given at creation.
    pub fn elem_size(&self) -> usize {
        self.hchan.elem.size
    }

    /// Sends the blob at `elem`.
    ///
    /// # Safety
    /// `elem` points to `elem_size` readable bytes.
    pub unsafe fn send(&self, elem: *const u8, wait: Wait) -> Status {
        // SAFETY: a send only reads its element; per the contract.
        status(unsafe { self.hchan.send(elem.cast_mut(), wait.block()) })
    }

    /// Receives a blob into `elem`.
    ///
    /// # Safety
    /// `elem` points to `elem_size` writable bytes.
    pub unsafe fn recv(&self, elem: *mut u8, wait: Wait) -> Status {
        // SAFETY: per the contract.
        status(unsafe { self.hchan.recv(elem, wait.block()) })
    }

    /// Closes the channel; false if it was closed already.
    pub fn close(&self) -> bool {
        self.hchan.close()
    }
}

fn status(o: Outcome) -> Status {
    match o {
        Outcome::Done => Status::Ok,
        Outcome::Closed => Status::Closed,
        Outcome::WouldBlock | Outcome::Timeout => Status::NotReady,
    }
}

/// One case of a raw select.
pub struct RawCase<'a> {
    pub chan: &'a RawChan,
    /// true: send the blob at `elem`; false: receive into `elem`.
    pub send: bool,
    pub elem: *mut u8,
}

/// Selects among `cases` (at most `MAX_SELECT_CASES`; `None` if more). A
/// `None` case is never ready (Go's nil channel); the index in the result
/// counts every case, `None`s included.
///
/// # Safety
/// Each case's `elem` points to `elem_size` bytes of its channel, readable
/// for a send, writable for a receive.
pub unsafe fn select<'a>(
    cases: impl IntoIterator<Item = Option<RawCase<'a>>>,
    wait: Wait,
) -> Option<Selected> {
    let mut sel = [const { MaybeUninit::<SelCase<'_>>::uninit() }; MAX_SELECT_CASES];
    let mut index = [0usize; MAX_SELECT_CASES];
    let mut n = 0;
    for (i, case) in cases.into_iter().enumerate() {
        if i >= MAX_SELECT_CASES {
            return None;
        }
        if let Some(c) = case {
            sel[n].write(SelCase {
                c: &c.chan.hchan,
                dir: if c.send { Dir::Send } else { Dir::Recv },
                elem: c.elem,
            });
            index[n] = i;
            n += 1;
        }
    }
    // SAFETY: the first `n` entries were just initialised (`SelCase` has no
    // drop glue to miss).
    let sel = unsafe { core::slice::from_raw_parts(sel.as_ptr().cast::<SelCase<'_>>(), n) };
    Some(match selectgo::<MAX_SELECT_CASES>(sel, wait.block()) {
        Selected::Case(i, ok) => Selected::Case(index[i], ok),
        other => other,
    })
}
