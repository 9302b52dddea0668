//! The managed heap. (Placeholder module file of the `gcc` branch: the GC
//! core's `mod.rs`, from branch `gccore`, replaces it at merge; only the
//! `mod` lines of libgc's C API below are this branch's.)

pub mod conservative;
pub mod stoptheworld;
