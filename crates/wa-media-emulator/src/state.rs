//! What every part of a running emulator shares: its configuration, storage, fault queue,
//! request log, outbox, clock, URL signer and public URLs.

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use wa_media_types::MediaId;

use crate::clock::{unix_secs, Clock as _, OffsetClock, MAX_CLOCK_ADVANCE};
use crate::config::EmulatorConfig;
use crate::delivery::Delivery;
use crate::error::EmulatorError;
use crate::fault::Faults;
use crate::outbox::Outbox;
use crate::request_log::RequestLog;
use crate::signed_url::{UrlSigner, ATTACHMENTS_PATH};
use crate::store::Store;

/// Everything the request handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: EmulatorConfig,
    pub(crate) store: Store,
    pub(crate) faults: Faults,
    pub(crate) log: Arc<RequestLog>,
    /// Webhook deliveries of simulated inbound notifications and message statuses, when
    /// configured (bounded: see [`crate::delivery`]).
    pub(crate) delivery: Option<Delivery>,
    /// Sent messages and the send rate windows.
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) clock: Arc<OffsetClock>,
    pub(crate) signer: UrlSigner,
    /// Public Graph base URL, without a trailing slash.
    pub(crate) graph_url: String,
    /// Public download base URL, without a trailing slash.
    pub(crate) lookaside_url: String,
    /// The address the Graph listener is bound to (what `Host` may name besides `localhost`
    /// and the public Graph host).
    pub(crate) graph_addr: SocketAddr,
    /// Connections open on both listeners (accepted and not yet closed).
    pub(crate) open_connections: AtomicUsize,
    /// The access token both origins accept now: the configured one until
    /// [`rotate_token`](crate::EmulatorHandle::rotate_token).
    pub(crate) accepted_token: AcceptedToken,
    /// The Resumable Upload API's sessions and handles.
    pub(crate) resumable: crate::resumable::Sessions,
    /// Message templates, and when each customer last wrote (the customer-service window).
    pub(crate) templates: crate::templates::Templates,
}

/// The accepted token; Debug shows `***`, like the configuration's token.
pub(crate) struct AcceptedToken(pub(crate) RwLock<Arc<str>>);

impl std::fmt::Debug for AcceptedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl Shared {
    /// The access token accepted now.
    pub(crate) fn accepted_token(&self) -> Arc<str> {
        self.accepted_token
            .0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn now(&self) -> u64 {
        unix_secs(self.clock.now())
    }

    /// Moves the clock forward, within [`MAX_CLOCK_ADVANCE`](crate::MAX_CLOCK_ADVANCE) in total.
    pub(crate) fn advance_clock(&self, by: Duration) -> Result<SystemTime, EmulatorError> {
        match self.clock.advance(by) {
            Ok(_) => Ok(self.clock.now()),
            Err(moved) => Err(EmulatorError::ClockRange {
                requested_secs: by.as_secs(),
                moved_secs: moved.as_secs(),
                max_secs: MAX_CLOCK_ADVANCE.as_secs(),
            }),
        }
    }

    /// The signed download URL for `id`, valid for the configured URL lifetime from now.
    pub(crate) fn download_url(&self, id: &MediaId) -> String {
        let expires = self
            .now()
            .saturating_add(self.config.url_ttl.as_secs().max(1));
        format!(
            "{}{}?{}",
            self.lookaside_url,
            ATTACHMENTS_PATH,
            self.signer.query(id.as_str(), expires)
        )
    }
}
