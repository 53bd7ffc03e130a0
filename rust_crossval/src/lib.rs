//! Rust binding of libbitnet_quant (BitNet b1.58 ternary quantization with a
//! stable C ABI) and its cross-validation against BitNet-rs.
//!
//! * [`sys`]: raw bindings to every function of `include/bitnet_quant.h`.
//! * [`Library`]: the safe API, over the linked library
//!   ([`Library::linked`]) or one opened at run time ([`Library::load`]).
//! * With the default `crossval` feature: the golden-vector reader, a model
//!   of BitNet-rs's family-A rules, random-input strategies and the checks
//!   that the `crossval` binary and the tests run.
pub mod sys;

mod library;
pub use library::*;

#[cfg(feature = "crossval")]
pub mod crossval;
#[cfg(feature = "crossval")]
pub mod golden;
#[cfg(feature = "crossval")]
pub mod model;
#[cfg(feature = "crossval")]
pub mod strategies;
