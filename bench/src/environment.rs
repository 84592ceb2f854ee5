//! The environment every scenario runs in: two tokio runtimes (the emulator's and the client's),
//! a plain-HTTP emulator, the project's client pointed at it, the payload files and the external
//! tools (`curl`, `sha256sum`, the `wa-media` CLI).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use wa_media_core::{MediaApi, RetryPolicy, Timeouts};
use wa_media_emulator::{Emulator, EmulatorHandle};
use wa_media_hyper::{MediaClient, MediaId, MediaType, Upload};

/// The phone number id uploads are made for.
pub const PHONE: &str = "106540352242922";

/// Sizes and run counts of one harness run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `--quick`: small sizes, one run each.
    pub quick: bool,
    /// The "large" transfer (100 MiB, or 4 MiB with `--quick`).
    pub big: u64,
    /// The "small" transfer (1 MiB).
    pub small: u64,
    /// Runs per transfer scenario.
    pub runs: usize,
    /// Retrieve requests per run.
    pub retrieves: usize,
    /// Media in the many-small-media scenario.
    pub small_media: usize,
    /// Size of each of those media.
    pub small_media_size: usize,
    /// Bytes hashed / sent for the ceilings.
    pub ceiling_bytes: u64,
}

impl Plan {
    /// The full plan or the quick smoke plan.
    pub fn new(quick: bool) -> Self {
        const MIB: u64 = 1024 * 1024;
        if quick {
            Self {
                quick,
                big: 4 * MIB,
                small: MIB,
                runs: 1,
                retrieves: 200,
                small_media: 100,
                small_media_size: 20 * 1024,
                ceiling_bytes: 16 * MIB,
            }
        } else {
            Self {
                quick,
                big: wa_media_types::DOCUMENT_MAX_BYTES,
                small: MIB,
                runs: 5,
                retrieves: 10_000,
                small_media: 2_000,
                small_media_size: 20 * 1024,
                ceiling_bytes: 512 * MIB,
            }
        }
    }

    /// "100 MiB" / "4 MiB" / "20 KiB".
    pub fn size_label(bytes: u64) -> String {
        if bytes >= 1024 * 1024 {
            format!("{} MiB", bytes / (1024 * 1024))
        } else {
            format!("{} KiB", bytes / 1024)
        }
    }
}

/// External programs, each `None` when not found.
#[derive(Debug, Clone)]
pub struct Tools {
    /// `curl`.
    pub curl: Option<PathBuf>,
    /// `sha256sum`.
    pub sha256sum: Option<PathBuf>,
    /// The `wa-media` binary.
    pub cli: Option<PathBuf>,
}

/// Finds `name` on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Everything a scenario needs.
pub struct Environment {
    /// Runs the emulator (and the TCP ceiling's sender).
    pub server: tokio::runtime::Runtime,
    /// Runs the project's client (and the TCP ceiling's receiver).
    pub client_rt: tokio::runtime::Runtime,
    /// The plain-HTTP emulator.
    pub emu: EmulatorHandle,
    /// The project's client, one pool for every scenario.
    pub client: MediaClient,
    /// Scratch directory for payloads and downloads (in memory when possible).
    pub work: PathBuf,
    /// A directory on disk for the one fsync-included download row.
    pub disk: Option<PathBuf>,
    /// Sizes and run counts.
    pub plan: Plan,
    /// External programs.
    pub tools: Tools,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("work", &self.work)
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

/// A tokio multi-thread runtime with `threads` workers.
pub fn runtime(name: &str, threads: usize) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the {name} runtime: {e}"))
}

/// Runs `fut` as a task on `rt` (on a worker thread, as in a service) and waits for it.
pub fn run_on<F>(rt: &tokio::runtime::Runtime, fut: F) -> Result<F::Output, String>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(rt.spawn(fut))
        .map_err(|e| format!("task failed: {e}"))
}

/// hyper's HTTP/1 maximum read buffer for the project's clients (`--h1-max-buf`; `None`: the
/// transport's default). Only for experiments recorded in docs/performance.md.
pub static H1_MAX_BUF: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// The transport settings of every client the harness builds.
pub fn transport_builder() -> wa_media_hyper::HyperTransportBuilder {
    let b = wa_media_hyper::HyperTransport::builder();
    match H1_MAX_BUF.get() {
        Some(n) => b.http1_max_buf_size(*n),
        None => b,
    }
}

/// A client of the plain-HTTP emulator `emu` (no retries: a failure must show).
pub fn client_for(emu: &EmulatorHandle) -> Result<MediaClient, String> {
    client_to(
        emu.token(),
        emu.graph_url(),
        &emu.lookaside_addr().to_string(),
    )
}

/// The same client from the emulator's token, Graph URL and lookaside `host:port` (what a
/// child process is given).
pub fn client_to(token: &str, graph_url: &str, lookaside: &str) -> Result<MediaClient, String> {
    wa_media_hyper::builder()
        .transport(transport_builder())
        .token(token)
        .phone_number_id(PHONE)
        .graph_url(graph_url)
        .trust_host(lookaside)
        .retry_policy(RetryPolicy::none())
        .timeouts(Timeouts::default().with_request(Some(Duration::from_secs(120))))
        .build()
        .map_err(|e| format!("client: {e}"))
}

impl Environment {
    /// Starts the runtimes and the emulator, builds the client.
    pub fn start(
        plan: Plan,
        work: PathBuf,
        disk: Option<PathBuf>,
        cli: Option<PathBuf>,
    ) -> Result<Self, String> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let server = runtime("emulator", cores)?;
        let client_rt = runtime("client", cores)?;
        let data = work.join("emulator-data");
        let emu = server
            .block_on(Emulator::builder().data_dir(&data).start())
            .map_err(|e| format!("emulator: {e}"))?;
        let client = client_for(&emu)?;
        Ok(Self {
            server,
            client_rt,
            emu,
            client,
            work,
            disk,
            plan,
            tools: Tools {
                curl: which("curl"),
                sha256sum: which("sha256sum"),
                cli: cli.filter(|p| p.is_file()),
            },
        })
    }

    /// Writes a payload file of `len` printable bytes (valid `text/plain`) named `name`.
    pub fn payload(&self, name: &str, len: u64, seed: u64) -> Result<PathBuf, String> {
        let path = self.work.join(name);
        if std::fs::metadata(&path).map(|m| m.len()).ok() == Some(len) {
            return Ok(path);
        }
        std::fs::write(&path, text_bytes(len as usize, seed))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    }

    /// Uploads `path` as `text/plain` with the project's client.
    pub fn upload(&self, path: &Path) -> Result<MediaId, String> {
        let client = self.client.clone();
        let path = path.to_owned();
        run_on(&self.client_rt, async move {
            client
                .upload(Upload::from_path(path, text_plain()))
                .await
                .map_err(|e| format!("upload: {e}"))
        })?
    }

    /// Deletes a media (best effort: frees the emulator's storage between runs).
    pub fn delete(&self, id: &MediaId) {
        let client = self.client.clone();
        let id = id.clone();
        let _ = run_on(&self.client_rt, async move { client.delete(&id).await });
    }

    /// A fresh download URL for `id` (what curl is given), with its expected SHA-256.
    pub fn fresh_url(&self, id: &MediaId) -> Result<(String, String), String> {
        let client = self.client.clone();
        let id = id.clone();
        run_on(&self.client_rt, async move {
            client
                .retrieve(&id)
                .await
                .map(|r| (r.url.into_exposed(), r.sha256.to_hex()))
                .map_err(|e| format!("retrieve: {e}"))
        })?
    }
}

/// Uploads `n` distinct `text/plain` media of `size` bytes through `client`, 8 at a time (media
/// `i` is [`text_bytes`]`(size, first_seed + i)`).
pub fn seed_text_media(
    rt: &tokio::runtime::Runtime,
    client: &MediaClient,
    n: usize,
    size: usize,
    first_seed: u64,
) -> Result<Vec<MediaId>, String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let client = client.clone();
    run_on(rt, async move {
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let client = client.clone();
            let next = next.clone();
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let bytes = text_bytes(size, first_seed + i as u64);
                    let id = client
                        .upload(Upload::from_bytes(bytes, text_plain()))
                        .await
                        .map_err(|e| format!("upload: {e}"))?;
                    ids.push(id);
                }
                Ok::<_, String>(ids)
            }));
        }
        let mut ids = Vec::with_capacity(n);
        for t in tasks {
            ids.extend(t.await.map_err(|e| e.to_string())??);
        }
        Ok(ids)
    })?
}

/// `curl -s -S -f` POSTing the Graph upload form (`messaging_product`, `type`, the file as
/// `text/plain`) with the bearer `token` to `url`: what a shell user uploads with.
pub fn curl_upload_command(curl: &Path, token: &str, path: &Path, url: &str) -> Command {
    let mut c = Command::new(curl);
    c.args(["-s", "-S", "-f", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .args([
            "-F",
            "messaging_product=whatsapp",
            "-F",
            "type=text/plain",
            "-F",
        ])
        .arg(format!("file=@{};type=text/plain", path.display()))
        .arg(url);
    c
}

/// `text/plain`.
pub fn text_plain() -> MediaType {
    match "text/plain".parse() {
        Ok(m) => m,
        Err(_) => unreachable!("a literal MIME type parses"),
    }
}

/// `len` pseudo-random printable ASCII bytes (and newlines): valid `text/plain`, no NUL.
pub fn text_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let x = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        for b in x.to_le_bytes() {
            if out.len() == len {
                break;
            }
            out.push(if b % 64 == 0 { b'\n' } else { b' ' + (b % 95) });
        }
    }
    out
}

/// Runs a command and returns how long it took, failing on a non-zero exit.
pub fn timed_command(cmd: &mut Command, what: &str) -> Result<(Duration, Vec<u8>), String> {
    let started = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    let took = started.elapsed();
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok((took, out.stdout))
}

/// Megabytes (10^6 bytes) per second.
pub fn mb_per_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / took.as_secs_f64().max(1e-9) / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_printable_text_of_the_exact_length() {
        let b = text_bytes(100_003, 7);
        assert_eq!(b.len(), 100_003);
        assert!(b.iter().all(|&c| c == b'\n' || (b' '..=b'~').contains(&c)));
        assert_ne!(text_bytes(64, 1), text_bytes(64, 2));
        let head = &b[..wa_media_types::SNIFF_LEN.min(b.len())];
        let v = wa_media_types::validate_upload(&wa_media_types::UploadCandidate {
            kind: None,
            mime: &text_plain(),
            len: b.len() as u64,
            head,
        });
        assert!(v.is_ok(), "{v:?}");
    }
}
