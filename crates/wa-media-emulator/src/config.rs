//! The emulator's configuration: one plain struct mirroring the `wa-media emulator` flags (the
//! [`EmulatorBuilder`](crate::EmulatorBuilder) sets it), its defaults and the rules it must keep.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wa_media_types::PhoneNumberId;

use crate::error::EmulatorError;

/// The token the emulator accepts when none is configured. Well known on purpose: the emulator
/// guards nothing of value, and tests and `curl` examples can hard-code it.
pub const DEFAULT_TOKEN: &str = "wa-media-emulator-token";

/// How long a retrieve URL stays valid by default (as in production: about five minutes).
pub const DEFAULT_URL_TTL: Duration = Duration::from_secs(5 * 60);

/// How long an uploaded media id lives by default (30 days, as documented).
pub const DEFAULT_MEDIA_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How long a media id received in a (simulated) webhook lives by default (7 days, as documented:
/// [`wa_media_types::webhook::MEDIA_ID_LIFETIME`]).
pub const DEFAULT_INBOUND_MEDIA_TTL: Duration = wa_media_types::webhook::MEDIA_ID_LIFETIME;

/// How long media live on a "No Storage" number ([`EmulatorConfig::no_storage`]): inbound
/// media, and uploads without a `ttl_minutes`. One hour, as Meta documents.
pub const NO_STORAGE_MEDIA_TTL: Duration = Duration::from_secs(60 * 60);

/// How many connections each listener serves at once by default. Beyond it, new connections
/// wait in the listen backlog until one closes; those already open keep being served.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// How long a connection may stay idle (no request in progress, none started) by default,
/// and how long an HTTP/1 request head may take to arrive.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a new connection has by default to finish its TLS handshake and to send its first
/// request (HTTP/1 head, or HTTP/2 preface, settings and headers).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request body may go without enough progress by default (see
/// [`BODY_MIN_BYTES_PER_WINDOW`](crate::BODY_MIN_BYTES_PER_WINDOW)) before it is answered 408.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The wait before each status notification of a sent message by default: fast, where
/// production takes from a fraction of a second (`sent`) to as long as the customer takes
/// (`read`).
pub const DEFAULT_STATUS_DELAY: Duration = Duration::from_millis(20);

/// How many webhook deliveries are in flight at once by default (each holds at most one
/// connection to the receiver); the others wait. See [`WebhookTarget::max_in_flight`].
pub const DEFAULT_WEBHOOK_MAX_IN_FLIGHT: usize = 16;

/// How many simulated inbound notifications may wait for a delivery slot by default; beyond
/// it they are dropped and counted. See [`WebhookTarget::queue_capacity`].
pub const DEFAULT_WEBHOOK_QUEUE_CAPACITY: usize = 10_000;

/// The largest accepted [`WebhookTarget::max_in_flight`].
const MAX_WEBHOOK_IN_FLIGHT: usize = 4096;

/// The longest accepted [`EmulatorConfig::status_delay`].
pub const MAX_STATUS_DELAY: Duration = Duration::from_secs(60);

/// The header that carries the admin token ([`EmulatorConfig::admin_token`]).
pub const ADMIN_TOKEN_HEADER: &str = "x-emulator-admin-token";

/// The public Graph URL used in TLS mode unless configured otherwise.
pub const PRODUCTION_GRAPH_URL: &str = "https://graph.facebook.com";

/// The public download URL used in TLS mode unless configured otherwise.
pub const PRODUCTION_LOOKASIDE_URL: &str = "https://lookaside.fbsbx.com";

/// The longest accepted timeout setting (a week): far from `Instant` overflow.
const MAX_TIMEOUT_SETTING: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The longest accepted pair rate limit window.
const MAX_PAIR_RATE_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// What the download host does with a request that has no `User-Agent` header.
///
/// Production reportedly answers such requests with an HTML "content isn't available" page
/// instead of the file; the default reproduces exactly that, with status 200, so that a client
/// which forgets the header fails here (on its digest check) as it would in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UserAgentPolicy {
    /// 200 with an HTML page instead of the file (the reported production behaviour).
    #[default]
    HtmlPage,
    /// 400 with an HTML page: easier to diagnose, less faithful.
    Refuse,
    /// Serve the file anyway.
    Ignore,
}

/// Everything an emulator needs to start. The CLI's `wa-media emulator` flags map one to one:
/// `--graph-listen` → [`graph_listen`](Self::graph_listen), `--lookaside-listen` →
/// [`lookaside_listen`](Self::lookaside_listen), `--token` → [`token`](Self::token),
/// `--phone-number-id` → [`phone_number_id`](Self::phone_number_id), `--url-ttl SECS` →
/// [`url_ttl`](Self::url_ttl), `--data-dir` → [`data_dir`](Self::data_dir), `--tls` →
/// [`tls`](Self::tls), `--admin-token` → [`admin_token`](Self::admin_token),
/// `--max-connections` → [`max_connections`](Self::max_connections), `--idle-timeout SECS` →
/// [`idle_timeout`](Self::idle_timeout), `--body-timeout SECS` →
/// [`body_timeout`](Self::body_timeout), `--webhook-url`/`--app-secret` →
/// [`webhook`](Self::webhook), `--status-delay-ms` → [`status_delay`](Self::status_delay),
/// `--message-throughput` → [`message_throughput`](Self::message_throughput),
/// `--pair-rate-limit`/`--pair-rate-window` → [`pair_rate_limit`](Self::pair_rate_limit).
///
/// `Debug` never shows the token nor the admin token.
#[derive(Clone)]
#[non_exhaustive]
pub struct EmulatorConfig {
    /// Where the Graph origin listens (default `127.0.0.1:0`: any free port).
    pub graph_listen: SocketAddr,
    /// Where the download origin listens (default `127.0.0.1:0`).
    pub lookaside_listen: SocketAddr,
    /// The one access token accepted on both origins (default [`DEFAULT_TOKEN`]).
    pub token: String,
    /// When set, uploads must name this phone number id; otherwise any numeric id is accepted.
    pub phone_number_id: Option<PhoneNumberId>,
    /// How long a retrieve URL stays valid (default five minutes).
    pub url_ttl: Duration,
    /// How long an uploaded media id lives (default 30 days).
    pub media_ttl: Duration,
    /// How long a media id from a simulated inbound message lives (default 7 days).
    pub inbound_media_ttl: Duration,
    /// A "No Storage" number (`--no-storage`): inbound media live 1 hour
    /// ([`NO_STORAGE_MEDIA_TTL`]) and uploads 1 hour unless their `ttl_minutes` says otherwise,
    /// instead of [`inbound_media_ttl`](Self::inbound_media_ttl) and
    /// [`media_ttl`](Self::media_ttl). Default off.
    pub no_storage: bool,
    /// Where media and the index are kept; `None` uses a temporary directory removed on stop.
    /// With a directory, media survive restarts.
    pub data_dir: Option<PathBuf>,
    /// Serve both origins over TLS with certificates from a freshly generated local CA.
    pub tls: bool,
    /// The Graph base URL the emulator announces. Default: `http://<graph addr>`, or
    /// [`PRODUCTION_GRAPH_URL`] in TLS mode (the client maps the hostname to the listener).
    pub public_graph_url: Option<String>,
    /// The download base URL used in retrieve answers. Default: `http://<lookaside addr>`, or
    /// [`PRODUCTION_LOOKASIDE_URL`] in TLS mode.
    pub public_lookaside_url: Option<String>,
    /// What the download host does without a `User-Agent` header.
    pub user_agent_policy: UserAgentPolicy,
    /// Offer HTTP/2 (ALPN `h2` in TLS mode, prior knowledge in plain text) besides HTTP/1.1
    /// (default on, as production does). hyper's HTTP/2 server does not answer
    /// `Expect: 100-continue`, so curl over TLS waits its expect timeout (1 s) before sending an
    /// upload body; turn this off (or use `curl --http1.1`) to avoid that.
    pub http2: bool,
    /// The phone number id used for simulated inbound media when none is given and
    /// [`phone_number_id`](Self::phone_number_id) is unset.
    pub inbound_phone_number_id: PhoneNumberId,
    /// When set, every `/__emulator/` request except `GET /__emulator/health` must carry it in
    /// the [`ADMIN_TOKEN_HEADER`] header (compared in constant time). Default: none.
    pub admin_token: Option<String>,
    /// How many connections each listener serves at once (default
    /// [`DEFAULT_MAX_CONNECTIONS`]); beyond it new connections wait until one closes.
    pub max_connections: usize,
    /// How long a connection may stay idle before it is closed, for HTTP/1 and HTTP/2 alike;
    /// also HTTP/1's request-head timeout and the HTTP/2 keep-alive ping interval and timeout
    /// (default [`DEFAULT_IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
    /// How long a new connection has to finish its TLS handshake and send its first request
    /// (default [`DEFAULT_HANDSHAKE_TIMEOUT`]).
    pub handshake_timeout: Duration,
    /// How long a request body may go without enough progress before it is answered 408 and
    /// its spool file removed (default [`DEFAULT_BODY_TIMEOUT`]).
    pub body_timeout: Duration,
    /// Where every simulated inbound notification and every status of a sent message is
    /// POSTed, signed like Meta's (none by default).
    pub webhook: Option<WebhookTarget>,
    /// The wait before each status notification of a sent message (`sent`, `delivered`,
    /// `read`, `played`): default [`DEFAULT_STATUS_DELAY`], at most [`MAX_STATUS_DELAY`].
    pub status_delay: Duration,
    /// When set, each phone number accepts at most this many messages per second (measured
    /// on the emulator's clock); beyond it the messages endpoint answers 429 with code
    /// 130429. Production's default is 80. Default: no limit.
    pub message_throughput: Option<u32>,
    /// When set, each (phone number, recipient) pair accepts at most `max` messages per
    /// `per` (emulator clock); beyond it the messages endpoint answers code 131056.
    /// Production allows about one message every six seconds, with short bursts. Default: no
    /// limit.
    pub pair_rate_limit: Option<PairRateLimit>,
    /// Whether the media objects of simulated inbound notifications carry a signed download
    /// `url` (the kind a retrieve answers, valid for [`url_ttl`](Self::url_ttl)) beside their
    /// `id`, as Meta's webhooks have since late 2025. Default on; turn it off to simulate an app
    /// on an older webhook version (each [`InboundMessage`](crate::InboundMessage) may override
    /// it).
    pub inbound_media_urls: bool,
    /// Templates known from the start, approved, under
    /// [`SIMULATED_WABA_ID`](crate::SIMULATED_WABA_ID) (`--template`). Default none.
    pub templates: Vec<crate::EmulatedTemplate>,
    /// How long a template created through `message_templates` stays `PENDING` before it is
    /// `APPROVED`, on the emulator's clock (`--template-approval-delay`). Default zero.
    pub template_approval_delay: Duration,
    /// Whether session (non-template) messages to a customer who has not written within 24
    /// hours (emulator clock) are refused with 131047, as Graph refuses them outside the
    /// customer-service window (`--customer-service-window`). Default off, so that a test can
    /// send to any number without simulating a customer message first.
    pub customer_service_window: bool,
}

/// A per-recipient rate limit: at most `max` messages from one phone number to one recipient
/// within any window of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PairRateLimit {
    /// Messages allowed within the window (at least 1).
    pub max: u32,
    /// The window (more than zero, at most a day).
    pub per: Duration,
}

impl PairRateLimit {
    /// At most `max` messages per `per` to one recipient.
    pub fn new(max: u32, per: Duration) -> Self {
        Self { max, per }
    }
}

/// The receiver of the emulator's webhook deliveries.
#[derive(Clone)]
#[non_exhaustive]
pub struct WebhookTarget {
    /// An `http://` URL (the receiver is local; put TLS in front of it in production).
    pub url: String,
    /// The app secret the deliveries are signed with.
    pub app_secret: String,
    /// How long one attempt may take (default 10 s, as Meta).
    pub timeout: Duration,
    /// Attempts per delivery (default 5).
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles after each (default 100 ms: fast, where
    /// Meta waits minutes to hours).
    pub retry_delay: Duration,
    /// How many deliveries are in flight at once, each with at most one connection to the
    /// receiver (default [`DEFAULT_WEBHOOK_MAX_IN_FLIGHT`], at least 1, at most 4,096). The
    /// statuses of sent messages take the same slots. At most as many idle connections are
    /// kept for reuse.
    pub max_in_flight: usize,
    /// How many simulated inbound notifications wait for a slot when all are taken (default
    /// [`DEFAULT_WEBHOOK_QUEUE_CAPACITY`], at least 1); one arriving at a full queue is dropped,
    /// counted and logged. Statuses of sent messages are never dropped: each message's task
    /// waits for a slot, so they stay in order.
    pub queue_capacity: usize,
}

impl WebhookTarget {
    /// Deliveries to `url`, signed with `app_secret`, with the default timeout and retries.
    pub fn new(url: impl Into<String>, app_secret: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            app_secret: app_secret.into(),
            timeout: Duration::from_secs(10),
            max_attempts: 5,
            retry_delay: Duration::from_millis(100),
            max_in_flight: DEFAULT_WEBHOOK_MAX_IN_FLIGHT,
            queue_capacity: DEFAULT_WEBHOOK_QUEUE_CAPACITY,
        }
    }
}

impl fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("app_secret", &"***")
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("retry_delay", &self.retry_delay)
            .field("max_in_flight", &self.max_in_flight)
            .field("queue_capacity", &self.queue_capacity)
            .finish()
    }
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        let local = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Self {
            graph_listen: local,
            lookaside_listen: local,
            token: DEFAULT_TOKEN.to_owned(),
            phone_number_id: None,
            url_ttl: DEFAULT_URL_TTL,
            media_ttl: DEFAULT_MEDIA_TTL,
            inbound_media_ttl: DEFAULT_INBOUND_MEDIA_TTL,
            no_storage: false,
            data_dir: None,
            tls: false,
            public_graph_url: None,
            public_lookaside_url: None,
            user_agent_policy: UserAgentPolicy::default(),
            http2: true,
            inbound_phone_number_id: default_inbound_phone(),
            admin_token: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            webhook: None,
            status_delay: DEFAULT_STATUS_DELAY,
            message_throughput: None,
            pair_rate_limit: None,
            inbound_media_urls: true,
            templates: Vec::new(),
            template_approval_delay: Duration::ZERO,
            customer_service_window: false,
        }
    }
}

fn default_inbound_phone() -> PhoneNumberId {
    match PhoneNumberId::new("106540352242922") {
        Ok(p) => p,
        Err(_) => unreachable!("a literal numeric id is valid"),
    }
}

impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("graph_listen", &self.graph_listen)
            .field("lookaside_listen", &self.lookaside_listen)
            .field("token", &"***")
            .field("phone_number_id", &self.phone_number_id)
            .field("url_ttl", &self.url_ttl)
            .field("media_ttl", &self.media_ttl)
            .field("inbound_media_ttl", &self.inbound_media_ttl)
            .field("no_storage", &self.no_storage)
            .field("data_dir", &self.data_dir)
            .field("tls", &self.tls)
            .field("public_graph_url", &self.public_graph_url)
            .field("public_lookaside_url", &self.public_lookaside_url)
            .field("user_agent_policy", &self.user_agent_policy)
            .field("http2", &self.http2)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "***"))
            .field("max_connections", &self.max_connections)
            .field("idle_timeout", &self.idle_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("webhook", &self.webhook)
            .field("status_delay", &self.status_delay)
            .field("message_throughput", &self.message_throughput)
            .field("pair_rate_limit", &self.pair_rate_limit)
            .field("inbound_media_urls", &self.inbound_media_urls)
            .field("templates", &self.templates)
            .field("template_approval_delay", &self.template_approval_delay)
            .field("customer_service_window", &self.customer_service_window)
            .finish()
    }
}

impl EmulatorConfig {
    /// How long an upload lives: [`media_ttl`](Self::media_ttl); on a "No Storage" number
    /// ([`no_storage`](Self::no_storage)) its `ttl_minutes` when given, else
    /// [`NO_STORAGE_MEDIA_TTL`]. The one rule for uploads' expiry.
    pub(crate) fn upload_lifetime(&self, ttl_minutes: Option<u32>) -> Duration {
        match (self.no_storage, ttl_minutes) {
            (false, _) => self.media_ttl,
            (true, Some(m)) => Duration::from_secs(u64::from(m) * 60),
            (true, None) => NO_STORAGE_MEDIA_TTL,
        }
    }

    /// How long a simulated inbound media lives: [`inbound_media_ttl`](Self::inbound_media_ttl),
    /// or [`NO_STORAGE_MEDIA_TTL`] on a "No Storage" number.
    pub(crate) fn inbound_lifetime(&self) -> Duration {
        if self.no_storage {
            NO_STORAGE_MEDIA_TTL
        } else {
            self.inbound_media_ttl
        }
    }

    /// The business phone number id a Graph path names, if this emulator serves it: a valid id,
    /// and the configured [`phone_number_id`](Self::phone_number_id) when one is set (uploads
    /// and messages alike).
    pub(crate) fn business_phone(&self, segment: &str) -> Option<PhoneNumberId> {
        PhoneNumberId::new(segment)
            .ok()
            .filter(|p| self.phone_number_id.as_ref().is_none_or(|fixed| fixed == p))
    }

    /// Checks every setting that has a rule (at least one connection, timeouts within a week, a
    /// usable webhook target, the status delay, the rate limits, a non-empty admin token); the
    /// public URLs are checked once the listeners' addresses are known ([`check_url`]).
    pub(crate) fn validate(&self) -> Result<(), EmulatorError> {
        if self.max_connections == 0 {
            return Err(EmulatorError::Config(
                "max_connections must be at least 1".to_owned(),
            ));
        }
        for (what, t) in [
            ("idle_timeout", self.idle_timeout),
            ("handshake_timeout", self.handshake_timeout),
            ("body_timeout", self.body_timeout),
        ] {
            if t.is_zero() || t > MAX_TIMEOUT_SETTING {
                return Err(EmulatorError::Config(format!(
                    "{what} must be between 1 ms and {} s, not {t:?}",
                    MAX_TIMEOUT_SETTING.as_secs()
                )));
            }
        }
        if let Some(w) = &self.webhook {
            let u = check_url("webhook URL", &w.url)?;
            if u.scheme() != "http" {
                return Err(EmulatorError::Config(format!(
                    "webhook URL {:?} must be http:// (deliveries go to a local receiver)",
                    w.url
                )));
            }
            if w.app_secret.is_empty() || w.max_attempts == 0 || w.timeout.is_zero() {
                return Err(EmulatorError::Config(
                    "the webhook needs an app secret, at least one attempt and a timeout"
                        .to_owned(),
                ));
            }
            if w.max_in_flight == 0 || w.max_in_flight > MAX_WEBHOOK_IN_FLIGHT {
                return Err(EmulatorError::Config(format!(
                    "the webhook's max_in_flight must be between 1 and {MAX_WEBHOOK_IN_FLIGHT}, \
                     not {}",
                    w.max_in_flight
                )));
            }
            if w.queue_capacity == 0 {
                return Err(EmulatorError::Config(
                    "the webhook's queue_capacity must be at least 1".to_owned(),
                ));
            }
        }
        if self.status_delay > MAX_STATUS_DELAY {
            return Err(EmulatorError::Config(format!(
                "status_delay must be at most {} s, not {:?}",
                MAX_STATUS_DELAY.as_secs(),
                self.status_delay
            )));
        }
        if self.message_throughput == Some(0) {
            return Err(EmulatorError::Config(
                "message_throughput must be at least 1 message per second".to_owned(),
            ));
        }
        if let Some(p) = self.pair_rate_limit {
            if p.max == 0 || p.per.is_zero() || p.per > MAX_PAIR_RATE_WINDOW {
                return Err(EmulatorError::Config(format!(
                    "the pair rate limit needs at least 1 message per window of more than zero \
                     and at most a day, not {} per {:?}",
                    p.max, p.per
                )));
            }
        }
        if self
            .admin_token
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err(EmulatorError::Config(
                "the admin token must not be empty".to_owned(),
            ));
        }
        Ok(())
    }
}

/// Parses `u` (named `what` in the error) as an http or https URL with a host.
pub(crate) fn check_url(what: &str, u: &str) -> Result<url::Url, EmulatorError> {
    let parsed = url::Url::parse(u).map_err(|e| {
        EmulatorError::Config(format!(
            "{what} {u:?} is not a URL ({e}); give an http or https URL with a host"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(EmulatorError::Config(format!(
            "{what} {u:?} must be an http or https URL with a host"
        )));
    }
    Ok(parsed)
}
