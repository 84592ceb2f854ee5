//! Command-line syntax: global options (each with an environment variable) and the commands.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Examples:
  wa-media demo
  WHATSAPP_TOKEN=... WHATSAPP_PHONE_NUMBER_ID=106540352242922 wa-media upload invoice.pdf
  wa-media info 1037543291543636 --json
  wa-media download 1037543291543636 -o photo.jpg
  wa-media inbound webhook.json -d inbox/ --app-secret \"$APP_SECRET\" --signature \"$SIG\"
  wa-media emulator --graph-listen 127.0.0.1:8080 --lookaside-listen 127.0.0.1:8081

Exit codes:
  0  success
  2  usage error
  3  refused by local validation (nothing was sent): a file the API would refuse, a file that
     changed while it was uploaded, or a malformed webhook payload
  4  API error (message, code and fbtrace_id printed)
  5  integrity failure (SHA-256 or size mismatch; nothing left at the destination)
  6  network error or timeout
  7  refused for the token's safety (download host not trusted, or plain http to a non-loopback host)
  8  send: the message may have been sent (the connection failed after the request went out);
     it was not retried: check its statuses (wa-media serve, or your webhook) before sending again
  1  any other failure (local I/O, bad webhook signature, ...)
  130, 143  interrupted by SIGINT (Ctrl-C) or SIGTERM; partial files were removed first

The token is never printed, logged or put into an error message, even with RUST_LOG=trace.";

/// wa-media: upload, inspect and download WhatsApp Cloud API media, safely and verified.
#[derive(Debug, Parser)]
#[command(name = "wa-media", version = env!("WA_MEDIA_VERSION_LINE"), about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command.
#[derive(Debug, Args)]
pub struct Global {
    /// Access token (system user or app token). For `emulator`: the token it accepts.
    #[arg(long, env = "WHATSAPP_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,

    /// Business phone number id that uploads belong to. For `emulator`: the only id it accepts.
    #[arg(long, env = "WHATSAPP_PHONE_NUMBER_ID", global = true)]
    pub phone_number_id: Option<String>,

    /// Graph API version (vMAJOR.MINOR).
    #[arg(
        long,
        env = "WHATSAPP_API_VERSION",
        global = true,
        default_value = wa_media_types::DEFAULT_API_VERSION
    )]
    pub api_version: String,

    /// Graph API base URL.
    #[arg(long, env = "WHATSAPP_GRAPH_URL", global = true)]
    pub graph_url: Option<String>,

    /// Download host that may receive the token (host or host:port); repeatable. Added to
    /// lookaside.fbsbx.com. Env: comma-separated list.
    #[arg(
        long = "trust-host",
        env = "WHATSAPP_TRUSTED_HOSTS",
        value_delimiter = ',',
        global = true
    )]
    pub trust_host: Vec<String>,

    /// HTTP proxy for every request: http://[user:password@]host:port (https goes through a
    /// CONNECT tunnel with TLS end to end; the proxy never sees the token). Without it,
    /// HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured as curl does (NO_PROXY also
    /// applies to --proxy). Prefer HTTPS_PROXY for credentials: a command line is visible to
    /// other local users.
    #[arg(long, value_name = "URL", global = true, conflicts_with = "no_proxy")]
    pub proxy: Option<String>,

    /// Use no proxy, whatever the environment says.
    #[arg(long, global = true)]
    pub no_proxy: bool,

    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// No progress bars and no informational messages on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Log lines on stderr as text, or as one JSON object per line (secrets stay redacted).
    #[arg(
        long,
        value_enum,
        env = "WA_MEDIA_LOG_FORMAT",
        global = true,
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (tracing-subscriber's JSON format).
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload a file; prints its media id.
    Upload(UploadArgs),
    /// Send a media message: a FILE (validated, uploaded, then sent), an uploaded --media-id, or
    /// a --link; prints the message id (wamid).
    Send(SendArgs),
    /// Show a media id's URL, MIME type, SHA-256 and size.
    Info {
        /// The media id.
        media_id: String,
    },
    /// Download a media by id, verify SHA-256 and size, and write it atomically.
    Download {
        /// The media id.
        media_id: String,
        /// Where to write the file, atomically: a temporary file beside it is renamed into
        /// place once verified. `-` writes to stdout. A character device or FIFO (such as
        /// /dev/null or a named pipe) is never replaced: the bytes are verified into a private
        /// temporary file first, then streamed into it, so that write cannot be atomic.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Delete a media id.
    Delete {
        /// The media id.
        media_id: String,
    },
    /// Download every media referenced by a webhook notification into a directory. A name
    /// already holding a different media gets the next free `-N` suffix; the same media
    /// again is recognised as already saved.
    Inbound(InboundArgs),
    /// Receive Meta's webhooks and save every media a customer sends into a directory, once,
    /// verified (the first Ctrl-C drains, a second one exits).
    Serve(ServeArgs),
    /// The media index: `media ls` lists saved and failed media (by customer, date, status),
    /// `media show MEDIA_ID` one record; from DIR/index.jsonl (-d) or the database of
    /// `serve --queue` (--queue).
    Media(MediaArgs),
    /// Create a message template with a media header (its example a handle from
    /// `upload --resumable`); prints its id and status.
    Template(TemplateArgs),
    /// Run the local emulator of the media endpoints until Ctrl-C or SIGTERM.
    #[cfg_attr(
        not(feature = "emulator"),
        command(
            about = "Run the local emulator (not in this build: needs the `emulator` feature)"
        )
    )]
    Emulator(EmulatorArgs),
    /// Upload, retrieve, download, verify and delete sample media, then send one and watch its
    /// statuses arrive through the webhook service, against an embedded emulator.
    #[cfg_attr(
        not(feature = "emulator"),
        command(about = "Run the offline demo (not in this build: needs the `emulator` feature)")
    )]
    Demo,
    /// Print a shell completion script for bash, zsh, fish, powershell or elvish, e.g.
    /// `wa-media completions bash > ~/.local/share/bash-completion/completions/wa-media`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `wa-media man > ~/.local/share/man/man1/wa-media.1`.
    Man,
}

/// `media` options: which index, and what to read from it.
#[derive(Debug, Args)]
pub struct MediaArgs {
    /// What to read.
    #[command(subcommand)]
    pub command: MediaCommand,
    /// The directory `serve -d` saves into: its index.jsonl is read.
    #[arg(short = 'd', long = "dir", env = "WA_MEDIA_DIR", global = true)]
    pub dir: Option<PathBuf>,
    /// The PostgreSQL database of `serve --queue` (postgres://user@host/db): its media index
    /// table is read. Wins over -d.
    #[arg(long, value_name = "URL", env = "WA_MEDIA_QUEUE_URL", global = true)]
    #[cfg_attr(
        not(feature = "postgres"),
        arg(
            help = "The database of serve --queue (not in this build: needs the `postgres` feature)"
        )
    )]
    pub queue: Option<String>,
}

/// `media ls` and `media show`.
#[derive(Debug, Subcommand)]
pub enum MediaCommand {
    /// List the media of the index, newest first (--json: one record per line).
    Ls {
        /// Only this customer's: a phone number, a BSUID, a parent BSUID or a username.
        #[arg(long, value_name = "ID")]
        from: Option<String>,
        /// Only those received since: a date (2026-03-01, midnight UTC) or an RFC 3339 time.
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Only saved media, or only failed ones (what Meta could not deliver).
        #[arg(long, value_enum)]
        status: Option<RecordStatusArg>,
    },
    /// Show the record of one media id (--json: the record as written).
    Show {
        /// The media id.
        media_id: String,
    },
}

/// `media ls --status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordStatusArg {
    /// Saved and verified.
    Saved,
    /// Recorded as failed.
    Failed,
}

impl RecordStatusArg {
    /// The record's `status` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Saved => "saved",
            Self::Failed => "failed",
        }
    }
}

/// `upload` options.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The file to upload.
    pub file: PathBuf,
    /// MIME type to declare (guessed from the contents when absent).
    #[arg(long)]
    pub mime: Option<String>,
    /// image, document, audio, video, sticker or voice (inferred from the MIME type when absent).
    #[arg(long)]
    pub kind: Option<String>,
    /// Skip local validation (the API may then refuse the file).
    #[arg(long)]
    pub no_validate: bool,
    /// Keep the media this many minutes on a "No Storage" number (one with local storage
    /// turned off, where media otherwise last 1 hour): sent as the upload's `ttl_minutes`.
    /// 60 to 43200 (1 hour to 30 days); outside that range the upload is refused before
    /// anything is sent (exit 3), unless --no-validate.
    #[arg(long, value_name = "N")]
    pub ttl_minutes: Option<u32>,
    /// Upload through Graph's Resumable Upload API for --app-id instead, and print the file
    /// handle (a template's header example, for `template create --header-handle`). PDF,
    /// JPEG, PNG or MP4; streamed from the file, and resumed from the server's offset after an
    /// interruption.
    #[arg(long, requires = "app_id", conflicts_with_all = ["kind", "ttl_minutes"])]
    pub resumable: bool,
    /// The app id the resumable upload belongs to.
    #[arg(
        long,
        value_name = "ID",
        env = "WHATSAPP_APP_ID",
        requires = "resumable"
    )]
    pub app_id: Option<String>,
}

/// `send` options: exactly one of FILE, `--media-id`, `--link` and `--template`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("media").required(true).args(["file", "media_id", "link", "template"])))]
pub struct SendArgs {
    /// The recipient: a phone number with country code (`+`, spaces and dashes are removed),
    /// or a business-scoped user id for a customer known by username (`US.1349…`, a parent
    /// BSUID `US.ENT.…`), sent as Graph's `recipient`.
    #[arg(long)]
    pub to: String,
    /// A file to upload and send (its kind is inferred from its MIME type unless --kind).
    pub file: Option<PathBuf>,
    /// Send a media id already uploaded (needs --kind).
    #[arg(long, requires = "kind")]
    pub media_id: Option<String>,
    /// Send an https:// link that WhatsApp fetches itself (needs --kind).
    #[arg(long, requires = "kind")]
    pub link: Option<String>,
    /// image, document, audio, video or sticker (`voice` is audio with --voice).
    #[arg(long)]
    pub kind: Option<String>,
    /// MIME type of FILE (guessed from its contents when absent).
    #[arg(long, requires = "file")]
    pub mime: Option<String>,
    /// Caption (image, video and document only; at most 1,024 characters).
    #[arg(long)]
    pub caption: Option<String>,
    /// File name the recipient sees (document only).
    #[arg(long)]
    pub filename: Option<String>,
    /// Send audio as a voice note (Opus in Ogg, `audio/ogg; codecs=opus`).
    #[arg(long)]
    pub voice: bool,
    /// Reply to this message id (wamid.…).
    #[arg(long)]
    pub reply_to: Option<String>,
    /// Opaque data echoed back in this message's statuses (biz_opaque_callback_data).
    #[arg(long)]
    pub callback_data: Option<String>,
    /// Upload FILE to be kept this many minutes on a "No Storage" number (one with local
    /// storage turned off, where media otherwise last 1 hour): the upload's `ttl_minutes`.
    /// 60 to 43200 (1 hour to 30 days); outside that range nothing is uploaded or sent
    /// (exit 3). Only with a FILE: a --media-id or --link was uploaded or is fetched elsewhere.
    #[arg(long, value_name = "N", conflicts_with_all = ["media_id", "link"])]
    pub ttl_minutes: Option<u32>,
    /// Send this approved template instead of a media message: what reaches a customer
    /// outside the 24-hour customer-service window (where a media message gets 131047). Its
    /// media header comes from --header-file, --header-media-id or --header-link.
    #[arg(long, value_name = "NAME", requires = "lang", conflicts_with_all = ["kind", "caption", "voice", "mime", "reply_to", "ttl_minutes"])]
    pub template: Option<String>,
    /// The template's language code (en, en_US, pt_BR).
    #[arg(long, value_name = "CODE", requires = "template")]
    pub lang: Option<String>,
    /// The template's media header from a file: validated, uploaded, then sent (its kind
    /// inferred from the contents unless --header-kind; a document is named after the file
    /// unless --filename).
    #[arg(long, value_name = "FILE", requires = "template", conflicts_with_all = ["header_media_id", "header_link"])]
    pub header_file: Option<PathBuf>,
    /// The template's media header by an uploaded media id (needs --header-kind).
    #[arg(long, value_name = "ID", requires_all = ["template", "header_kind"], conflicts_with = "header_link")]
    pub header_media_id: Option<String>,
    /// The template's media header by an https link WhatsApp fetches (its kind from
    /// --header-kind, else from the link's extension).
    #[arg(long, value_name = "URL", requires = "template")]
    pub header_link: Option<String>,
    /// The header's kind: image, video or document.
    #[arg(long, value_name = "KIND", requires = "template")]
    pub header_kind: Option<String>,
    /// A positional body parameter ({{1}}, {{2}}, … in order); repeatable.
    #[arg(
        long = "param",
        value_name = "TEXT",
        requires = "template",
        conflicts_with = "param_name"
    )]
    pub params: Vec<String>,
    /// A named body parameter ({{name}}); repeatable.
    #[arg(long = "param-name", value_name = "NAME=TEXT", requires = "template")]
    pub param_name: Vec<String>,
}

/// `template` subcommands.
#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// What to do with templates.
    #[command(subcommand)]
    pub command: TemplateCommand,
}

/// `template` subcommands.
#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// Create a template with a media header: POST /{waba-id}/message_templates.
    Create(TemplateCreateArgs),
}

/// `template create` options.
#[derive(Debug, Args)]
pub struct TemplateCreateArgs {
    /// The WhatsApp Business Account id the template belongs to.
    #[arg(long, value_name = "ID", env = "WHATSAPP_BUSINESS_ACCOUNT_ID")]
    pub waba_id: String,
    /// The template's name (lowercase letters, digits, underscores).
    #[arg(long)]
    pub name: String,
    /// Its language code (en, en_US, pt_BR).
    #[arg(long, value_name = "CODE")]
    pub lang: String,
    /// UTILITY, MARKETING or AUTHENTICATION.
    #[arg(long, default_value = "UTILITY")]
    pub category: String,
    /// The media header's format: image, video or document.
    #[arg(long, value_name = "KIND")]
    pub header_format: String,
    /// The header example's handle (from `wa-media upload --resumable --app-id ID FILE`).
    #[arg(long, value_name = "HANDLE")]
    pub header_handle: String,
    /// The body text, with {{1}}, {{2}}… placeholders.
    #[arg(long, value_name = "TEXT")]
    pub body: String,
    /// An example value for each placeholder, in order; repeatable.
    #[arg(long = "example", value_name = "TEXT")]
    pub examples: Vec<String>,
}

/// `inbound` options.
#[derive(Debug, Args)]
pub struct InboundArgs {
    /// The webhook notification JSON, or `-` for stdin.
    pub payload: PathBuf,
    /// Directory to download into (created if missing).
    #[arg(short = 'd', long = "dir")]
    pub dir: PathBuf,
    /// App secret: verify the X-Hub-Signature-256 header before downloading anything.
    #[arg(
        long,
        env = "WHATSAPP_APP_SECRET",
        hide_env_values = true,
        requires = "signature"
    )]
    pub app_secret: Option<String>,
    /// The X-Hub-Signature-256 header value (`sha256=<hex>`).
    #[arg(long, requires = "app_secret")]
    pub signature: Option<String>,
    /// How many media to download at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
}

/// `serve` options (the token, Graph URL and trusted hosts come from the global options).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (plain HTTP: put TLS in a reverse proxy, see docs/webhooks.md).
    #[arg(long, default_value = "127.0.0.1:8080", env = "WA_MEDIA_LISTEN")]
    pub listen: SocketAddr,
    /// Path of the webhook endpoint.
    #[arg(long, default_value = wa_media_webhook::DEFAULT_PATH, env = "WA_MEDIA_PATH")]
    pub path: String,
    /// App secret: every notification's X-Hub-Signature-256 is checked with it.
    #[arg(long, env = "WHATSAPP_APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<String>,
    /// Verify token for Meta's subscription handshake (GET).
    #[arg(long, env = "WHATSAPP_VERIFY_TOKEN", hide_env_values = true)]
    pub verify_token: Option<String>,
    /// Accept unsigned notifications (local tests only: anyone could make it fetch media).
    #[arg(long, env = "WA_MEDIA_INSECURE_SKIP_SIGNATURE")]
    pub insecure_skip_signature: bool,
    /// Directory the media are saved into (DIR/YYYY-MM-DD/NAME, plus DIR/index.jsonl). With
    /// --store it holds only the spool (DIR/.spool).
    #[arg(short = 'd', long = "dir", env = "WA_MEDIA_DIR")]
    pub dir: PathBuf,
    /// Save into an object store instead: s3://bucket/prefix (also file:///dir), keys
    /// PREFIX/YYYY-MM-DD/NAME with one JSON metadata object per media in
    /// PREFIX/YYYY-MM-DD/.meta/. Credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_REGION… (docs/object-store.md).
    #[arg(long, value_name = "URL", env = "WA_MEDIA_STORE")]
    #[cfg_attr(
        not(feature = "store"),
        arg(help = "Save into an object store (not in this build: needs the `store` feature)")
    )]
    pub store: Option<String>,
    /// Endpoint of an S3-compatible server for --store (MinIO, R2, moto…); http:// allowed.
    #[arg(
        long,
        value_name = "URL",
        requires = "store",
        env = "WA_MEDIA_STORE_ENDPOINT"
    )]
    pub store_endpoint: Option<String>,
    /// Spool directory (default DIR/.spool): one per instance, never shared.
    #[arg(long, env = "WA_MEDIA_SPOOL")]
    pub spool: Option<PathBuf>,
    /// Keep the pending media and the media index in PostgreSQL instead of the spool
    /// (postgres://user@host/db): any number of instances share it, a dead instance's media
    /// are taken over after --queue-lease, and `media ls --queue` reads the index
    /// (docs/scaling.md). The schema is migrated at start.
    #[arg(
        long,
        value_name = "URL",
        env = "WA_MEDIA_QUEUE_URL",
        conflicts_with = "spool"
    )]
    #[cfg_attr(
        not(feature = "postgres"),
        arg(
            help = "Keep the queue in PostgreSQL (not in this build: needs the `postgres` feature)"
        )
    )]
    pub queue: Option<String>,
    /// With --queue: seconds an instance holds a media without renewing it; a dead
    /// instance's media are taken over after this.
    #[arg(
        long,
        value_name = "SECS",
        env = "WA_MEDIA_QUEUE_LEASE",
        default_value_t = 30
    )]
    pub queue_lease: u64,
    /// Media downloaded at once.
    #[arg(long, default_value_t = wa_media_webhook::IngestConfig::default().concurrency, env = "WA_MEDIA_CONCURRENCY")]
    pub concurrency: usize,
    /// How long a media can be fetched after its message was sent (`7d`, `1h`, `90min`):
    /// older media are failed as expired, saying so. 7 days by default; 1 hour on a
    /// "No Storage" number.
    #[arg(long, value_name = "DURATION", default_value_t = wa_media_webhook::MEDIA_ID_LIFETIME.into(), env = "WA_MEDIA_MEDIA_LIFETIME")]
    pub media_lifetime: humantime::Duration,
    /// Move the entries of SPOOL/failed back to the queue before starting.
    #[arg(long, env = "WA_MEDIA_RETRY_FAILED")]
    pub retry_failed: bool,
    /// Attempts at a media before a failure that may pass (network, 5xx, a full disk) is given
    /// up to SPOOL/failed.
    #[arg(long, default_value_t = wa_media_webhook::IngestConfig::default().retry.max_attempts, env = "WA_MEDIA_MAX_ATTEMPTS")]
    pub max_attempts: u32,
    /// Longest wait, in seconds, between two attempts at one media (the waits double from
    /// 2 s, with jitter).
    #[arg(long, value_name = "SECS", default_value_t = wa_media_webhook::IngestConfig::default().retry.max_delay.as_secs(), env = "WA_MEDIA_MAX_RETRY_DELAY")]
    pub max_retry_delay: u64,
    /// Connections served at once; beyond it new ones wait.
    #[arg(long, default_value_t = wa_media_server::ServerConfig::default().max_connections, env = "WA_MEDIA_MAX_CONNECTIONS")]
    pub max_connections: usize,
    /// Seconds a connection may stay idle (and HTTP/1 headers may take).
    #[arg(long, default_value_t = wa_media_server::ServerConfig::default().idle_timeout.as_secs(), env = "WA_MEDIA_IDLE_TIMEOUT")]
    pub idle_timeout: u64,
    /// Seconds a request body may take to arrive (slower: 408).
    #[arg(long, default_value_t = wa_media_webhook::DEFAULT_BODY_TIMEOUT.as_secs(), env = "WA_MEDIA_BODY_TIMEOUT")]
    pub body_timeout: u64,
    /// Seconds running downloads may take to finish after Ctrl-C or SIGTERM.
    #[arg(long, default_value_t = wa_media_webhook::DEFAULT_SHUTDOWN_GRACE.as_secs(), env = "WA_MEDIA_GRACE")]
    pub grace: u64,
    /// Forward every accepted notification (messages of every type, statuses, errors, other
    /// fields) to this URL of your application, as Meta sent it, signed with the app secret
    /// (X-Hub-Signature-256) and the Standard Webhooks headers; a notification with media once
    /// its media are saved, each media object with a `wa_media` object (docs/webhooks.md, "Put
    /// it in front of your bot").
    #[arg(long, value_name = "URL", env = "WA_MEDIA_FORWARD_URL")]
    pub forward: Option<String>,
    /// Standard Webhooks signing secret (`whsec_…`): each forward gets a `webhook-signature`.
    #[arg(
        long,
        value_name = "whsec_…",
        requires = "forward",
        hide_env_values = true,
        env = "WA_MEDIA_FORWARD_SECRET"
    )]
    pub forward_secret: Option<String>,
    /// Seconds one forward attempt may take (to the application's answer).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 10,
        env = "WA_MEDIA_FORWARD_TIMEOUT"
    )]
    pub forward_timeout: u64,
    /// Forwards sent at once.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 16,
        env = "WA_MEDIA_FORWARD_CONCURRENCY"
    )]
    pub forward_concurrency: usize,
    /// How long a forward is tried (`7d`, `12h`) before it moves to the failed forwards
    /// (`--retry-failed` sends them again).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "7d",
        env = "WA_MEDIA_FORWARD_MAX_AGE"
    )]
    pub forward_max_age: humantime::Duration,
    /// Longest wait, in seconds, between two attempts at one forward (the waits double from
    /// 1 s, with jitter; an answer's Retry-After is honoured up to this).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 300,
        env = "WA_MEDIA_FORWARD_MAX_RETRY_DELAY"
    )]
    pub forward_max_retry_delay: u64,
    /// Serve GET /metrics (Prometheus text format), /healthz and /readyz on this address, a
    /// listener of its own (keep it off the internet).
    #[arg(long, value_name = "ADDR", env = "WA_MEDIA_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
}

/// `emulator` options (the token and phone number id come from the global options).
#[cfg(feature = "emulator")]
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address of the Graph origin.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub graph_listen: SocketAddr,
    /// Address of the download (lookaside) origin.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub lookaside_listen: SocketAddr,
    /// Lifetime of download URLs, in seconds.
    #[arg(long, default_value_t = 300)]
    pub url_ttl: u64,
    /// Act as a "No Storage" number: inbound media live 1 hour, uploads 1 hour unless their
    /// ttl_minutes says otherwise (then a retrieve answers code 100, as for any expired media).
    #[arg(long)]
    pub no_storage: bool,
    /// Keep media in this directory across restarts (default: a temporary directory).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Serve both origins over TLS with a generated local CA (printed as a PEM path).
    #[arg(long)]
    pub tls: bool,
    /// Require this token in the X-Emulator-Admin-Token header of every /__emulator/ request
    /// (the health check excepted).
    #[arg(long, env = "WA_MEDIA_EMULATOR_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Connections each origin serves at once; more wait until one closes.
    #[arg(long, default_value_t = wa_media_emulator::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Close a connection after this many seconds without a request.
    #[arg(long, default_value_t = wa_media_emulator::DEFAULT_IDLE_TIMEOUT.as_secs())]
    pub idle_timeout: u64,
    /// Answer 408 to a request body that sends under 16 KiB in this many seconds.
    #[arg(long, default_value_t = wa_media_emulator::DEFAULT_BODY_TIMEOUT.as_secs())]
    pub body_timeout: u64,
    /// POST every simulated inbound notification and every status of a sent message to this
    /// http:// URL (`wa-media serve`, say), signed with --app-secret like Meta's, redelivered on
    /// a non-2xx answer or a timeout.
    #[arg(long, requires = "app_secret")]
    pub webhook_url: Option<String>,
    /// The app secret webhook deliveries are signed with.
    #[arg(long, env = "WHATSAPP_APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<String>,
    /// Wait this many milliseconds before each status of a sent message (sent, delivered,
    /// read, played); at most 60000.
    #[arg(long, default_value_t = wa_media_emulator::DEFAULT_STATUS_DELAY.as_millis() as u64)]
    pub status_delay_ms: u64,
    /// Accept at most this many messages per second per phone number; beyond it answer 429
    /// with code 130429 (default: no limit; production's default is 80).
    #[arg(long)]
    pub message_throughput: Option<u32>,
    /// Accept at most this many messages to one recipient per --pair-rate-window; beyond it
    /// answer code 131056 (default: no limit).
    #[arg(long)]
    pub pair_rate_limit: Option<u32>,
    /// The window of --pair-rate-limit, in seconds.
    #[arg(long, default_value_t = 6, requires = "pair_rate_limit")]
    pub pair_rate_window: u64,
    /// Know this approved template from the start: NAME:LANG:HEADER_FORMAT:BODY_PARAMS, the
    /// header format one of IMAGE, VIDEO, DOCUMENT, TEXT, NONE (e.g.
    /// invoice_ready:en_US:DOCUMENT:1); repeatable.
    #[arg(long = "template", value_name = "SPEC")]
    pub templates: Vec<String>,
    /// Seconds a template created through message_templates stays PENDING before it is
    /// APPROVED (emulator clock).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub template_approval_delay: u64,
    /// Refuse a session (non-template) message to a customer who has not written within 24
    /// hours with 131047, as Graph does outside the customer-service window.
    #[arg(long)]
    pub customer_service_window: bool,
}

/// `emulator` in a build without the `emulator` feature: any arguments are taken, so that the
/// command is refused naming the feature rather than failing on an unknown option.
#[cfg(not(feature = "emulator"))]
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// The emulator's options (ignored: the command is refused).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<std::ffi::OsString>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_never_shows_the_token_from_the_environment() {
        // hide_env_values is what keeps `--help` from printing WHATSAPP_TOKEN's value.
        let cmd = Cli::command();
        let token = cmd.get_arguments().find(|a| a.get_id() == "token").unwrap();
        assert!(token.is_hide_env_values_set());
    }
}
