//! One module per command.

pub mod delete;
pub mod demo;
pub mod download;
pub mod emulator;
pub mod inbound;
pub mod info;
pub mod send;
pub mod serve;
pub mod upload;
