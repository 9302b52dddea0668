// expect: pass
// `select!` expands to safe code only: usable where unsafe is forbidden.
#![forbid(unsafe_code)]
pub fn pick(a: &goheap::chan::Receiver<u8>, b: &goheap::chan::Sender<u8>) -> u8 {
    goheap::select! {
        recv(a) -> v => v.unwrap_or(0),
        send(b, 1) -> r => u8::from(r.is_ok()),
        default => 2,
    }
}
