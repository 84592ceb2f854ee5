//! Starting an emulator: [`Emulator`] and [`EmulatorBuilder`] over an [`EmulatorConfig`], and
//! the start itself (check the configuration, open the store, bind both listeners, make the
//! TLS material, build the shared state, spawn the listeners).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use wa_media_types::PhoneNumberId;

use crate::clock::{Clock, OffsetClock, SystemClock};
use crate::config::{
    check_url, EmulatorConfig, PairRateLimit, UserAgentPolicy, WebhookTarget, PRODUCTION_GRAPH_URL,
    PRODUCTION_LOOKASIDE_URL,
};
use crate::delivery::Delivery;
use crate::error::EmulatorError;
use crate::fault::Faults;
use crate::handle::{CaCertificate, EmulatorHandle};
use crate::listener;
use crate::request_log::{Origin, RequestLog};
use crate::signed_url::UrlSigner;
use crate::state::Shared;
use crate::store::Store;
use crate::tls;

/// Entry point: `Emulator::builder()…start().await`.
///
/// ```no_run
/// # async fn demo() -> Result<(), wa_media_emulator::EmulatorError> {
/// let emu = wa_media_emulator::Emulator::builder().start().await?;
/// println!("Graph: {}  download: {}  token: {}", emu.graph_url(), emu.lookaside_url(), emu.token());
/// emu.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Emulator;

impl Emulator {
    /// A builder with the defaults of [`EmulatorConfig::default`].
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// Starts an emulator with `config` and the system clock.
    pub async fn start(config: EmulatorConfig) -> Result<EmulatorHandle, EmulatorError> {
        EmulatorBuilder::from_config(config).start().await
    }
}

/// Configures and starts an emulator. Every setting has a default; see [`EmulatorConfig`].
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    config: EmulatorConfig,
    clock: Arc<dyn Clock>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self::from_config(EmulatorConfig::default())
    }
}

impl EmulatorBuilder {
    /// A builder starting from `config` (what the CLI builds from its flags).
    pub fn from_config(config: EmulatorConfig) -> Self {
        Self {
            config,
            clock: Arc::new(SystemClock),
        }
    }

    /// The accepted access token (default [`DEFAULT_TOKEN`](crate::DEFAULT_TOKEN)).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.config.token = token.into();
        self
    }

    /// Fixes the phone number id uploads must use (`None`: any is accepted).
    pub fn phone_number_id(mut self, id: Option<PhoneNumberId>) -> Self {
        self.config.phone_number_id = id;
        self
    }

    /// How long retrieve URLs stay valid (default five minutes).
    pub fn url_ttl(mut self, ttl: Duration) -> Self {
        self.config.url_ttl = ttl;
        self
    }

    /// How long uploaded media ids live (default 30 days).
    pub fn media_ttl(mut self, ttl: Duration) -> Self {
        self.config.media_ttl = ttl;
        self
    }

    /// How long media ids of simulated inbound messages live (default 7 days).
    pub fn inbound_media_ttl(mut self, ttl: Duration) -> Self {
        self.config.inbound_media_ttl = ttl;
        self
    }

    /// A "No Storage" number (`--no-storage`): inbound media live 1 hour, uploads 1 hour
    /// unless their `ttl_minutes` says otherwise (see [`EmulatorConfig::no_storage`]).
    pub fn no_storage(mut self, on: bool) -> Self {
        self.config.no_storage = on;
        self
    }

    /// Keeps media and the index in `dir` (created if missing), so they survive restarts.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.data_dir = Some(dir.into());
        self
    }

    /// Where the Graph origin listens (default `127.0.0.1:0`).
    pub fn graph_listen(mut self, addr: SocketAddr) -> Self {
        self.config.graph_listen = addr;
        self
    }

    /// Where the download origin listens (default `127.0.0.1:0`).
    pub fn lookaside_listen(mut self, addr: SocketAddr) -> Self {
        self.config.lookaside_listen = addr;
        self
    }

    /// Serves both origins over TLS with a generated local CA; the announced URLs become
    /// `https://graph.facebook.com` and `https://lookaside.fbsbx.com` unless set with
    /// [`public_graph_url`](Self::public_graph_url) / [`public_lookaside_url`](Self::public_lookaside_url).
    pub fn tls(mut self, on: bool) -> Self {
        self.config.tls = on;
        self
    }

    /// The Graph base URL the emulator announces (no trailing slash needed).
    pub fn public_graph_url(mut self, url: impl Into<String>) -> Self {
        self.config.public_graph_url = Some(url.into());
        self
    }

    /// The download base URL put into retrieve answers.
    pub fn public_lookaside_url(mut self, url: impl Into<String>) -> Self {
        self.config.public_lookaside_url = Some(url.into());
        self
    }

    /// What the download host does without a `User-Agent` header.
    pub fn user_agent_policy(mut self, policy: UserAgentPolicy) -> Self {
        self.config.user_agent_policy = policy;
        self
    }

    /// Offers HTTP/2 besides HTTP/1.1 (default on); see [`EmulatorConfig::http2`].
    pub fn http2(mut self, on: bool) -> Self {
        self.config.http2 = on;
        self
    }

    /// Requires `token` in the `X-Emulator-Admin-Token` header of every `/__emulator/` request
    /// but the health check (see [`EmulatorConfig::admin_token`]).
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.config.admin_token = Some(token.into());
        self
    }

    /// How many connections each listener serves at once (default
    /// [`DEFAULT_MAX_CONNECTIONS`](crate::DEFAULT_MAX_CONNECTIONS); at least 1).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.config.max_connections = max;
        self
    }

    /// How long an idle connection stays open (default
    /// [`DEFAULT_IDLE_TIMEOUT`](crate::DEFAULT_IDLE_TIMEOUT)).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// How long a new connection has for its TLS handshake and first request (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`](crate::DEFAULT_HANDSHAKE_TIMEOUT)).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// How long a request body may go without enough progress (default
    /// [`DEFAULT_BODY_TIMEOUT`](crate::DEFAULT_BODY_TIMEOUT)).
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.config.body_timeout = timeout;
        self
    }

    /// POSTs every simulated inbound notification and every status of a sent message to `url`
    /// (http), signed with `app_secret` as Meta signs them, redelivered on a non-2xx answer or
    /// a timeout.
    pub fn webhook(mut self, url: impl Into<String>, app_secret: impl Into<String>) -> Self {
        self.config.webhook = Some(WebhookTarget::new(url, app_secret));
        self
    }

    /// Sets every setting of the webhook deliveries at once.
    pub fn webhook_target(mut self, target: WebhookTarget) -> Self {
        self.config.webhook = Some(target);
        self
    }

    /// The wait before each status notification of a sent message (default
    /// [`DEFAULT_STATUS_DELAY`](crate::DEFAULT_STATUS_DELAY), at most
    /// [`MAX_STATUS_DELAY`](crate::MAX_STATUS_DELAY)).
    pub fn status_delay(mut self, delay: Duration) -> Self {
        self.config.status_delay = delay;
        self
    }

    /// Limits each phone number to `per_second` messages per second (emulator clock); beyond
    /// it the messages endpoint answers 429 with code 130429.
    pub fn message_throughput(mut self, per_second: u32) -> Self {
        self.config.message_throughput = Some(per_second);
        self
    }

    /// Limits each (phone number, recipient) pair to `max` messages per `per` (emulator
    /// clock); beyond it the messages endpoint answers code 131056.
    pub fn pair_rate_limit(mut self, max: u32, per: Duration) -> Self {
        self.config.pair_rate_limit = Some(PairRateLimit::new(max, per));
        self
    }

    /// Whether simulated inbound notifications carry a signed download `url` in their media
    /// objects (default on, as Meta's webhooks do since late 2025); `false` simulates an app on
    /// an older webhook version, whose client must retrieve the URL first.
    pub fn inbound_media_urls(mut self, on: bool) -> Self {
        self.config.inbound_media_urls = on;
        self
    }

    /// Seeds an approved template (repeatable; `wa-media emulator --template`), under
    /// [`SIMULATED_WABA_ID`](crate::SIMULATED_WABA_ID).
    pub fn template(mut self, template: crate::EmulatedTemplate) -> Self {
        self.config.templates.push(template);
        self
    }

    /// How long a created template stays `PENDING` before it is `APPROVED`, on the emulator's
    /// clock (default zero: approved at once).
    pub fn template_approval_delay(mut self, delay: Duration) -> Self {
        self.config.template_approval_delay = delay;
        self
    }

    /// Models the 24-hour customer-service window (default off): a session message to a
    /// customer who has not written within 24 hours (emulator clock) gets 131047; a template
    /// does not.
    pub fn customer_service_window(mut self, on: bool) -> Self {
        self.config.customer_service_window = on;
        self
    }

    /// The clock for signatures, expiry and timestamps (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The configuration as built so far.
    pub fn config(&self) -> &EmulatorConfig {
        &self.config
    }

    /// Binds both listeners, loads the data directory and starts serving on the current tokio
    /// runtime.
    pub async fn start(self) -> Result<EmulatorHandle, EmulatorError> {
        start(self.config, self.clock).await
    }
}

/// The base URL announced for a listener: the configured one, else production's in TLS mode,
/// else `http://<addr>` (with the loopback address for an unspecified one).
fn public_url(configured: Option<&str>, tls: bool, production: &str, addr: SocketAddr) -> String {
    let url = match configured {
        Some(u) => u.to_owned(),
        None if tls => production.to_owned(),
        None => {
            let ip = match addr.ip() {
                IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                ip => ip,
            };
            format!("http://{}", SocketAddr::new(ip, addr.port()))
        }
    };
    url.trim_end_matches('/').to_owned()
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), EmulatorError> {
    let bind_error = |source| EmulatorError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}

async fn start(
    config: EmulatorConfig,
    clock: Arc<dyn Clock>,
) -> Result<EmulatorHandle, EmulatorError> {
    config.validate()?;
    let store = Store::open(config.data_dir.as_deref())?;
    let (graph_listener, graph_addr) = bind(config.graph_listen).await?;
    let (lookaside_listener, lookaside_addr) = bind(config.lookaside_listen).await?;
    let graph_url = public_url(
        config.public_graph_url.as_deref(),
        config.tls,
        PRODUCTION_GRAPH_URL,
        graph_addr,
    );
    let lookaside_url = public_url(
        config.public_lookaside_url.as_deref(),
        config.tls,
        PRODUCTION_LOOKASIDE_URL,
        lookaside_addr,
    );
    let g = check_url("the public Graph URL", &graph_url)?;
    let l = check_url("the public download URL", &lookaside_url)?;

    let (acceptor, ca) = if config.tls {
        let extra: Vec<String> = [g.host_str(), l.host_str()]
            .into_iter()
            .flatten()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
            .collect();
        let setup = tls::generate(&extra, config.http2)?;
        let path = store.root().join("ca.pem");
        std::fs::write(&path, &setup.ca_pem).map_err(|source| EmulatorError::Storage {
            path: path.clone(),
            source,
        })?;
        (
            Some(tokio_rustls::TlsAcceptor::from(setup.server_config)),
            Some(CaCertificate {
                pem: setup.ca_pem,
                der: setup.ca_der,
                path,
            }),
        )
    } else {
        (None, None)
    };

    let faults = Faults::default();
    let log = Arc::new(RequestLog::default());
    let delivery = config
        .webhook
        .clone()
        .map(|t| Delivery::new(t, faults.clone(), log.clone()));
    let signer = UrlSigner::random().map_err(|e| EmulatorError::Random(e.to_string()))?;
    let shared = Arc::new(Shared {
        accepted_token: crate::state::AcceptedToken(std::sync::RwLock::new(Arc::from(
            config.token.as_str(),
        ))),
        config,
        store,
        faults,
        log,
        delivery,
        outbox: Arc::default(),
        clock: Arc::new(OffsetClock::new(clock)),
        signer,
        graph_url,
        lookaside_url,
        graph_addr,
        open_connections: AtomicUsize::new(0),
        resumable: Default::default(),
        templates: Default::default(),
    });
    for t in &shared.config.templates {
        shared
            .templates
            .seed(crate::inbound::SIMULATED_WABA_ID, t.clone());
    }
    let (stop, stop_rx) = watch::channel(false);
    let tasks = vec![
        tokio::spawn(listener::serve(
            graph_listener,
            Origin::Graph,
            shared.clone(),
            acceptor.clone(),
            stop_rx.clone(),
        )),
        tokio::spawn(listener::serve(
            lookaside_listener,
            Origin::Lookaside,
            shared.clone(),
            acceptor,
            stop_rx,
        )),
    ];
    tracing::info!(
        graph = %shared.graph_url,
        lookaside = %shared.lookaside_url,
        %graph_addr,
        %lookaside_addr,
        "emulator started"
    );
    Ok(EmulatorHandle {
        shared,
        graph_addr,
        lookaside_addr,
        ca,
        stop,
        tasks,
    })
}
