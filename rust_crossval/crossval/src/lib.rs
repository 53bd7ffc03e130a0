//! Cross-validation of libbitnet_quant (through the `bitnet-quant` crate)
//! against BitNet-rs: the golden-vector reader, a model of BitNet-rs's
//! family-A rules, random-input strategies and the checks that the
//! `crossval` binary and the tests run. Not published.
pub mod crossval;
pub mod golden;
pub mod model;
pub mod strategies;
