//! One module per command.

pub mod delete;
#[cfg(feature = "emulator")]
pub mod demo;
pub mod download;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod inbound;
pub mod info;
pub mod media;
pub mod ops;
pub mod relay;
pub mod send;
pub mod serve;
pub mod template;
pub mod upload;
