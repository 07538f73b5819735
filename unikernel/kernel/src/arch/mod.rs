//! Architecture support. Only aarch64 exists; generic code calls `arch::`.

mod aarch64;
pub use aarch64::*;
