//! wa-media-emulator (placeholder, filled in by its issue).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
