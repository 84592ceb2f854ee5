#![doc = include_str!("../README.md")]
//!
//! # What is where
//!
//! - [`MediaId`], [`PhoneNumberId`], [`ApiVersion`]: validated identifiers that cannot change a URL path;
//!   [`DEFAULT_API_VERSION`]: the Graph version everything defaults to.
//! - [`UploadResponse`], [`MediaUrlResponse`], [`DeleteResponse`]: success bodies.
//! - [`GraphError`], [`ErrorBody`], [`ErrorClass`]: the Graph error envelope and what to do about it.
//! - [`Sha256Digest`], [`StreamingDigest`]: digests in hex or base64, compared by bytes.
//! - [`MediaKind`], [`MediaType`] and the size constants ([`MB`], [`IMAGE_MAX_BYTES`], …).
//! - [`validate_upload`] and [`sniff`] ([`sniff_media_type`]: the MIME type to declare for a
//!   file of unknown type): every reason an upload would be refused, found from the
//!   declared type, the length and the first [`SNIFF_LEN`] bytes ([`validate_named_upload`]
//!   also checks the file name's extension); [`usual_extension`] and [`mime_for_extension`]:
//!   the one MIME type ↔ extension table; [`validate_ttl_minutes`]: the media TTL an upload
//!   may ask for on a "No Storage" number ([`MIN_MEDIA_TTL_MINUTES`] to [`MAX_MEDIA_TTL_MINUTES`]).
//! - [`SendMedia`], [`SentMessage`]: outbound media messages, checked locally
//!   ([`SendValidationError`]), and Graph's answer.
//! - [`webhook`]: inbound notifications and [`inbound_media`]; [`signature`]: `X-Hub-Signature-256`;
//!   [`filename`]: safe file names for inbound media; [`standard_webhooks`]: the signatures of a
//!   relay's deliveries (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod customer;
mod digest;
pub mod filename;
mod graph_error;
mod ids;
mod kind;
mod media_url;
pub mod message;
mod mime;
mod response;
mod serde_util;
pub mod signature;
mod sniff;
pub mod standard_webhooks;
mod status;
pub mod template;
mod validate;
pub mod webhook;

pub use customer::{Bsuid, BsuidError, Customer, Recipient, MAX_BSUID_ID_LEN};
pub use digest::{DigestParseError, Sha256Digest, StreamingDigest};
pub use graph_error::{ErrorBody, ErrorClass, ErrorData, GraphError, MAX_ERROR_SNIPPET};
pub use ids::{
    ApiVersion, IdError, MediaId, PhoneNumberId, DEFAULT_API_VERSION, MAX_ID_LEN, MAX_MEDIA_ID_LEN,
};
pub use kind::{
    mime_for_extension, usual_extension, MediaKind, UnknownKind, AUDIO_MAX_BYTES,
    DOCUMENT_MAX_BYTES, IMAGE_MAX_BYTES, KB, MAX_MEDIA_BYTES, MB, STICKER_ANIMATED_MAX_BYTES,
    STICKER_STATIC_MAX_BYTES, VIDEO_MAX_BYTES, VOICE_MAX_BYTES,
};
pub use media_url::MediaUrl;
pub use message::{MediaRef, SendMedia, SendNote, SendValidationError, SentMessage};
pub use mime::{MediaType, MimeError};
pub use response::{DeleteResponse, MediaUrlResponse, UploadResponse};
pub use signature::{signature_header, verify_signature, SignatureError};
pub use sniff::{sniff, sniff_media_type, Sniffed};
pub use template::{
    CreatedTemplate, SendTemplate, TemplateDefinition, TemplateHeader, TemplateParam, UploadHandle,
    UploadSession, UploadSessionStatus,
};
pub use validate::{
    validate_named_upload, validate_ttl_minutes, validate_upload, Problem, UploadCandidate,
    Validated, ValidationError, MAX_MEDIA_TTL_MINUTES, MIN_MEDIA_TTL_MINUTES, SNIFF_LEN,
};
pub use webhook::{inbound_media, InboundMedia, Notification};
