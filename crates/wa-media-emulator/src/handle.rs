//! The [`EmulatorHandle`] that controls a running emulator: its URLs and token, clock, TLS
//! material, fault queue, request log, webhook delivery counts, stored media, sent messages,
//! inbound simulation, an in-process transport, and the stop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use wa_media_types::MediaId;

use crate::clock::Clock;
use crate::config::EmulatorConfig;
use crate::delivery::DeliveryStats;
use crate::error::EmulatorError;
use crate::fault::Faults;
use crate::inbound::{self, InboundMessage, SimulatedInbound};
use crate::outbox::SentMessage;
use crate::request_log::LoggedRequest;
use crate::state::Shared;
use crate::store::StoredMedia;
use crate::transport::InProcessTransport;

/// A running emulator. Dropping it stops both listeners (open connections finish their
/// current exchange); [`shutdown`](Self::shutdown) does the same and waits for it. A temporary
/// data directory is removed once everything using it has stopped.
#[derive(Debug)]
pub struct EmulatorHandle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) graph_addr: SocketAddr,
    pub(crate) lookaside_addr: SocketAddr,
    /// The local CA, in TLS mode.
    pub(crate) ca: Option<CaCertificate>,
    /// Set to `true` to stop both listeners.
    pub(crate) stop: watch::Sender<bool>,
    /// The two listeners' tasks.
    pub(crate) tasks: Vec<JoinHandle<()>>,
}

/// The local CA certificate of TLS mode, and where it was written.
#[derive(Debug)]
pub(crate) struct CaCertificate {
    pub(crate) pem: String,
    pub(crate) der: Vec<u8>,
    pub(crate) path: PathBuf,
}

impl EmulatorHandle {
    /// The Graph base URL to configure a client with (`http://127.0.0.1:PORT`, or
    /// `https://graph.facebook.com` in TLS mode), without a trailing slash.
    pub fn graph_url(&self) -> &str {
        &self.shared.graph_url
    }

    /// The download base URL that retrieve answers point at (`http://127.0.0.1:PORT`, or
    /// `https://lookaside.fbsbx.com` in TLS mode), without a trailing slash.
    pub fn lookaside_url(&self) -> &str {
        &self.shared.lookaside_url
    }

    /// The address the Graph origin listens on (map the Graph hostname here in TLS mode).
    pub fn graph_addr(&self) -> SocketAddr {
        self.graph_addr
    }

    /// The address the download origin listens on.
    pub fn lookaside_addr(&self) -> SocketAddr {
        self.lookaside_addr
    }

    /// How many connections are open on the two listeners right now (accepted, not yet
    /// closed). Each listener serves at most
    /// [`max_connections`](crate::EmulatorConfig::max_connections).
    pub fn open_connections(&self) -> usize {
        self.shared.open_connections.load(Ordering::Relaxed)
    }

    /// The access token configured at start (both origins accept it until
    /// [`rotate_token`](Self::rotate_token); [`accepted_token`](Self::accepted_token) is the
    /// one accepted now).
    pub fn token(&self) -> &str {
        &self.shared.config.token
    }

    /// The access token both origins accept now.
    pub fn accepted_token(&self) -> String {
        self.shared.accepted_token().to_string()
    }

    /// Rotates the access token, as a secret manager or Meta's token expiry would: from now on
    /// both origins accept only `token`; the previous one is answered like an invalid or
    /// expired token (Graph code 190, HTTP 401). Requests already past their token check
    /// finish.
    pub fn rotate_token(&self, token: impl Into<String>) {
        let token: String = token.into();
        *self
            .shared
            .accepted_token
            .0
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::from(token.as_str());
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// The emulator's clock: the configured clock plus every [`advance_clock`](Self::advance_clock).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.shared.clock.clone()
    }

    /// The emulator's current time.
    pub fn now(&self) -> SystemTime {
        self.shared.clock.now()
    }

    /// Moves the emulator's time forward (works with any clock; also
    /// `POST /__emulator/clock/advance`) and returns the new time. Use it to expire URLs and
    /// media ids. The clock moves at most [`MAX_CLOCK_ADVANCE`](crate::MAX_CLOCK_ADVANCE) in
    /// total; beyond that it is an [`EmulatorError::ClockRange`] and the clock does not move.
    pub fn advance_clock(&self, by: Duration) -> Result<SystemTime, EmulatorError> {
        self.shared.advance_clock(by)
    }

    /// The local CA certificate (PEM) that signed the server certificate, in TLS mode.
    pub fn ca_certificate_pem(&self) -> Option<String> {
        self.ca.as_ref().map(|ca| ca.pem.clone())
    }

    /// The same CA certificate in DER form (what `rustls::RootCertStore::add` takes).
    pub fn ca_certificate_der(&self) -> Option<Vec<u8>> {
        self.ca.as_ref().map(|ca| ca.der.clone())
    }

    /// Where the CA certificate was written (`<data dir>/ca.pem`), in TLS mode.
    pub fn ca_certificate_path(&self) -> Option<&Path> {
        self.ca.as_ref().map(|ca| ca.path.as_path())
    }

    /// The fault controls.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Every request received so far on the two origins (oldest first; `/__emulator/` calls
    /// excluded).
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.shared.log.snapshot()
    }

    /// The counts of the webhook deliveries (delivered, given up, dropped because the queue
    /// was full, queued, in flight), when a webhook is configured. Also the `webhook` field of
    /// `GET /__emulator/health`.
    pub fn webhook_deliveries(&self) -> Option<DeliveryStats> {
        self.shared.delivery.as_ref().map(|d| d.stats())
    }

    /// Empties the request log.
    pub fn clear_request_log(&self) {
        self.shared.log.clear();
    }

    /// The data directory (a temporary one unless configured).
    pub fn data_dir(&self) -> &Path {
        self.shared.store.root()
    }

    /// Every stored media (oldest first).
    pub fn media(&self) -> Vec<StoredMedia> {
        self.shared.store.list()
    }

    /// One stored media, if it exists and has not expired.
    pub fn media_info(&self, id: &MediaId) -> Option<StoredMedia> {
        self.shared.store.get(id, self.shared.now())
    }

    /// Where a stored media's bytes are on disk, if it exists and has not expired.
    pub fn media_path(&self, id: &MediaId) -> Option<PathBuf> {
        self.media_info(id)
            .map(|m| self.shared.store.media_path(&m.id))
    }

    /// A freshly signed download URL for a stored media, as retrieve would give it.
    pub fn download_url(&self, id: &MediaId) -> Option<String> {
        self.media_info(id).map(|m| self.shared.download_url(&m.id))
    }

    /// Creates media "sent by a customer" and returns the webhook notification the real API
    /// would deliver for it (see [`SimulatedInbound::signature_header`]).
    pub async fn simulate_inbound(
        &self,
        message: InboundMessage,
    ) -> Result<SimulatedInbound, EmulatorError> {
        inbound::simulate(&self.shared, message).await
    }

    /// Every message accepted by the messages endpoint so far (oldest first, at most
    /// [`SENT_MESSAGES_CAPACITY`](crate::SENT_MESSAGES_CAPACITY)), with the statuses emitted
    /// for each so far. Also `GET /__emulator/messages`.
    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.shared.outbox.list()
    }

    /// The Resumable Upload API's sessions (in no particular order), with the bytes each
    /// received over all its uploads.
    pub fn upload_sessions(&self) -> Vec<crate::UploadSessionInfo> {
        self.shared.resumable.list()
    }

    /// Every template, with its status as of now on the emulator's clock.
    pub fn templates(&self) -> Vec<crate::StoredTemplate> {
        self.shared.templates.list(self.shared.now())
    }

    /// Adds an approved template (or one of another status) under
    /// [`SIMULATED_WABA_ID`](crate::SIMULATED_WABA_ID), replacing one of the same name and
    /// language there.
    pub fn seed_template(&self, template: crate::EmulatedTemplate) -> crate::StoredTemplate {
        self.shared
            .templates
            .seed(crate::SIMULATED_WABA_ID, template)
    }

    /// Sets the status of every template called `name` in `language` (pause or disable one to
    /// see 132015 or 132016); false when there is none.
    pub fn set_template_status(
        &self,
        name: &str,
        language: &str,
        status: crate::TemplateStatus,
    ) -> bool {
        self.shared.templates.set_status(name, language, status)
    }

    /// Records that the customer `user_id` (a BSUID; a phone number's is
    /// [`simulated_user_id`](crate::simulated_user_id)) wrote now, as a simulated inbound
    /// message does: the customer-service window is open for 24 hours.
    pub fn customer_wrote(&self, user_id: &str) {
        self.shared
            .templates
            .customer_wrote(user_id, self.shared.now());
    }

    /// A [`wa_media_core::Transport`] that calls this emulator directly, without sockets.
    pub fn in_process_transport(&self) -> InProcessTransport {
        InProcessTransport::new(self.shared.clone())
    }

    /// Stops both listeners and waits until they have stopped (open connections get up to
    /// five seconds to finish their current exchange).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
