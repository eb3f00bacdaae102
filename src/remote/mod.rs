#![doc = include_str!("README.md")]

mod batch;
pub(crate) mod callbacks;
pub(crate) mod chunked;
pub mod codec;
pub(crate) mod complete;
pub(crate) mod front;
pub(crate) mod registry;
pub(crate) mod serve;
pub(crate) mod task;
pub(crate) mod unwind;
pub mod wire;
