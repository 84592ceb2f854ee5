//! Scenario 6, the machine's ceilings measured in the same run: SHA-256 of the hash crate the
//! project uses (sha2, in memory, one core) and raw loopback TCP with a minimal tokio
//! sender/receiver (no HTTP, no hashing).

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::environment::{mb_per_s, Environment};
use crate::report::Row;

/// Buffer size of both ceilings: large reads hash and copy fastest.
const BUF: usize = 1024 * 1024;

/// SHA-256 throughput of `bytes` bytes hashed in 1 MiB updates, on this thread.
pub fn sha256_once(bytes: u64) -> f64 {
    let buf = crate::environment::text_bytes(BUF * 8, 42);
    let mut hasher = Sha256::new();
    let started = Instant::now();
    let mut left = bytes;
    'outer: loop {
        for chunk in buf.chunks(BUF) {
            if left == 0 {
                break 'outer;
            }
            let n = (chunk.len() as u64).min(left) as usize;
            hasher.update(&chunk[..n]);
            left -= n as u64;
        }
    }
    let digest = hasher.finalize();
    std::hint::black_box(digest);
    mb_per_s(bytes, started.elapsed())
}

/// One raw TCP transfer of `bytes` over 127.0.0.1: the sender on the emulator's runtime, the
/// receiver on the client's, 1 MiB writes and reads.
pub fn tcp_once(env: &Environment, bytes: u64) -> Result<f64, String> {
    let listener = env
        .server
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let sender = env.server.spawn(async move {
        let (mut sock, _) = listener.accept().await?;
        sock.set_nodelay(true)?;
        let buf = vec![b'x'; BUF];
        let mut left = bytes;
        while left > 0 {
            let n = (BUF as u64).min(left) as usize;
            sock.write_all(&buf[..n]).await?;
            left -= n as u64;
        }
        sock.shutdown().await
    });
    let received = crate::environment::run_on(&env.client_rt, async move {
        let started = Instant::now();
        let mut sock = tokio::net::TcpStream::connect(addr).await?;
        sock.set_nodelay(true)?;
        let mut buf = vec![0u8; BUF];
        let mut got = 0u64;
        loop {
            let n = sock.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            got += n as u64;
        }
        Ok::<(u64, Duration), std::io::Error>((got, started.elapsed()))
    })?;
    let (got, took) = received.map_err(|e| format!("receive: {e}"))?;
    env.server
        .block_on(sender)
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("send: {e}"))?;
    if got != bytes {
        return Err(format!("received {got} of {bytes} bytes"));
    }
    Ok(mb_per_s(bytes, took))
}

/// The two ceiling rows.
pub fn rows(env: &Environment) -> Vec<Row> {
    let plan = &env.plan;
    let runs = plan.runs;
    let mut sha = Row::new(
        "ceiling.sha256",
        6,
        "SHA-256 in memory, 1 core",
        "sha2",
        "MB/s",
    );
    sha.note(format!(
        "{} hashed per run in 1 MiB updates",
        crate::environment::Plan::size_label(plan.ceiling_bytes)
    ));
    if !plan.quick {
        sha256_once(plan.ceiling_bytes / 4); // warm-up: CPU frequency, page faults
    }
    for _ in 0..runs {
        sha.samples.push(sha256_once(plan.ceiling_bytes));
    }

    let mut tcp = Row::new(
        "ceiling.tcp",
        6,
        "raw loopback TCP, tokio, no HTTP",
        "tokio",
        "MB/s",
    );
    tcp.note(format!(
        "{} per run, 1 MiB reads",
        crate::environment::Plan::size_label(plan.ceiling_bytes)
    ));
    for _ in 0..runs {
        match tcp_once(env, plan.ceiling_bytes) {
            Ok(v) => tcp.samples.push(v),
            Err(e) => {
                tcp.fail(e);
                break;
            }
        }
    }
    vec![sha, tcp]
}
