//! The context switch (Go's `gogo` and `mcall`, asm_amd64.s / asm_arm64.s).
//!
//! `switch(save, to)` pushes the callee-saved registers on the current stack,
//! stores the stack pointer in `*save`, loads `to` as the stack pointer,
//! pops the callee-saved registers saved there and returns into that
//! context. The caller-saved registers need no saving: `switch` is an
//! ordinary `extern "C"` call to the compiler, which has already spilled
//! them. The floating-point control words are not saved; Rust code does not
//! change them.
//!
//! A new goroutine's stack is prepared by `init_stack` so that the first
//! switch into it "returns" into `goheap_sched_trampoline`, which calls
//! `entry(arg)` (both passed in callee-saved registers); `entry` never
//! returns.

use core::arch::global_asm;

#[cfg(target_arch = "x86_64")]
global_asm!(
    ".text",
    ".globl goheap_sched_switch",
    ".hidden goheap_sched_switch",
    ".type goheap_sched_switch,@function",
    ".p2align 4",
    "goheap_sched_switch:",
    "push rbp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov [rdi], rsp",
    "mov rsp, rsi",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".size goheap_sched_switch, .-goheap_sched_switch",
    ".globl goheap_sched_trampoline",
    ".hidden goheap_sched_trampoline",
    ".type goheap_sched_trampoline,@function",
    ".p2align 4",
    "goheap_sched_trampoline:",
    "mov rdi, r12",
    "call r13",
    "ud2",
    ".size goheap_sched_trampoline, .-goheap_sched_trampoline",
);

#[cfg(target_arch = "aarch64")]
global_asm!(
    ".text",
    ".globl goheap_sched_switch",
    ".hidden goheap_sched_switch",
    ".type goheap_sched_switch,%function",
    ".p2align 4",
    "goheap_sched_switch:",
    "sub sp, sp, #160",
    "stp x19, x20, [sp, #0]",
    "stp x21, x22, [sp, #16]",
    "stp x23, x24, [sp, #32]",
    "stp x25, x26, [sp, #48]",
    "stp x27, x28, [sp, #64]",
    "stp x29, x30, [sp, #80]",
    "stp d8, d9, [sp, #96]",
    "stp d10, d11, [sp, #112]",
    "stp d12, d13, [sp, #128]",
    "stp d14, d15, [sp, #144]",
    "mov x9, sp",
    "str x9, [x0]",
    "mov sp, x1",
    "ldp x19, x20, [sp, #0]",
    "ldp x21, x22, [sp, #16]",
    "ldp x23, x24, [sp, #32]",
    "ldp x25, x26, [sp, #48]",
    "ldp x27, x28, [sp, #64]",
    "ldp x29, x30, [sp, #80]",
    "ldp d8, d9, [sp, #96]",
    "ldp d10, d11, [sp, #112]",
    "ldp d12, d13, [sp, #128]",
    "ldp d14, d15, [sp, #144]",
    "add sp, sp, #160",
    "ret",
    ".size goheap_sched_switch, .-goheap_sched_switch",
    ".globl goheap_sched_trampoline",
    ".hidden goheap_sched_trampoline",
    ".type goheap_sched_trampoline,%function",
    ".p2align 4",
    "goheap_sched_trampoline:",
    "mov x0, x19",
    "blr x20",
    "brk #1",
    ".size goheap_sched_trampoline, .-goheap_sched_trampoline",
);

extern "C" {
    fn goheap_sched_switch(save: *mut usize, to: usize);
    fn goheap_sched_trampoline();
}

/// Saves the current context's stack pointer in `*save` and resumes the
/// context whose stack pointer is `to`. Returns when some other context
/// switches back to the one saved here.
///
/// # Safety
/// `to` is a stack pointer saved by `switch` or made by `init_stack`, of a
/// context that is not running, and no other thread resumes it meanwhile.
#[inline(always)]
pub(crate) unsafe fn switch(save: *mut usize, to: usize) {
    // SAFETY: the caller's contract; the asm follows the C ABI.
    unsafe { goheap_sched_switch(save, to) }
}

/// Prepares the stack whose highest address is `top` so that switching to
/// the returned stack pointer calls `entry(arg)` on it.
///
/// # Safety
/// `[top - 256, top)` is writable memory owned by the caller.
pub(crate) unsafe fn init_stack(top: usize, entry: extern "C" fn(usize) -> !, arg: usize) -> usize {
    let top = top & !15;
    #[cfg(target_arch = "x86_64")]
    {
        // Popped in order r15, r14, r13, r12, rbx, rbp, then `ret`. After the
        // `ret`, rsp = sp + 56 must be 16-aligned for the trampoline's call.
        let sp = top - 72;
        let frame: [usize; 7] = [
            0,
            0,
            entry as *const () as usize,
            arg,
            0,
            0,
            goheap_sched_trampoline as *const () as usize,
        ];
        // SAFETY: the frame lies in [top - 72, top - 16), inside the caller's memory.
        unsafe { core::ptr::copy_nonoverlapping(frame.as_ptr(), sp as *mut usize, frame.len()) };
        sp
    }
    #[cfg(target_arch = "aarch64")]
    {
        let sp = top - 160;
        // SAFETY: the frame lies in [top - 160, top), inside the caller's memory.
        unsafe {
            core::ptr::write_bytes(sp as *mut u8, 0, 160);
            let w = sp as *mut usize;
            w.add(0).write(arg); // x19
            w.add(1).write(entry as *const () as usize); // x20
            w.add(11)
                .write(goheap_sched_trampoline as *const () as usize); // x30
        }
        sp
    }
}
