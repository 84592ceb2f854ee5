//! The transport-agnostic WhatsApp Cloud API media client.
//!
//! (Being built: see issue "wa-media-core". The [`Transport`] seam below is fixed.)
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod transport;

pub use transport::{
    BoxError, BoxFuture, RequestBody, ResponseBody, Transport, TransportError, TransportErrorKind,
};
pub use wa_media_types as types;
