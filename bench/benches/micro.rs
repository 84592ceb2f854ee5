//! criterion micro-benchmarks of the hot pure functions: multipart framing, Graph response
//! parsing, webhook parsing and digest comparison. `cargo bench -p wa-media-bench` measures
//! them; `cargo test --all-targets` runs each once as a check that they still work.

use std::hint::black_box;
use std::path::PathBuf;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wa_media_core::multipart::{random_boundary, MultipartBody};
use wa_media_core::protocol::{parse_error_response, parse_retrieve_response};
use wa_media_types::webhook::{inbound_media, Notification};
use wa_media_types::{MediaType, Sha256Digest};

fn fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn response(status: u16, body: Vec<u8>) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Bytes::from(body))
        .expect("a valid response")
}

fn multipart(c: &mut Criterion) {
    let mime: MediaType = "application/pdf".parse().expect("MIME");
    let mut g = c.benchmark_group("multipart");
    g.bench_function("frame head and tail", |b| {
        b.iter(|| {
            MultipartBody::with_boundary(
                black_box("wa-media-0123456789abcdefghijklmnop".to_owned()),
                black_box(&mime),
                black_box("Quarterly report \"final\".pdf"),
                black_box(100 * 1024 * 1024),
            )
        })
    });
    g.bench_function("random boundary", |b| b.iter(random_boundary));
    let file = Bytes::from(vec![b'x'; 20 * 1024]);
    let body = MultipartBody::new(&mime, "a.pdf", file.len() as u64);
    g.throughput(Throughput::Bytes(body.len()));
    g.bench_function("20 KiB body in memory", |b| {
        b.iter(|| body.to_bytes(black_box(file.clone())))
    });
    g.finish();
}

fn graph_responses(c: &mut Criterion) {
    let retrieve = response(200, fixture("graph/retrieve.json"));
    let error = response(400, fixture("graph/error-100-invalid-param.json"));
    let mut g = c.benchmark_group("graph response");
    g.bench_function("parse retrieve", |b| {
        b.iter(|| parse_retrieve_response(black_box(&retrieve)).expect("parses"))
    });
    g.bench_function("parse error envelope", |b| {
        b.iter(|| parse_error_response("retrieve", black_box(&error)))
    });
    g.finish();
}

fn webhooks(c: &mut Criterion) {
    let image = fixture("webhooks/image.json");
    let several = fixture("webhooks/several-messages.json");
    let mut g = c.benchmark_group("webhook");
    for (name, body) in [("image", &image), ("several messages", &several)] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(format!("parse + inbound_media: {name}"), |b| {
            b.iter(|| {
                let n = Notification::from_slice(black_box(body)).expect("parses");
                inbound_media(&n)
            })
        });
    }
    g.finish();
}

fn digests(c: &mut Criterion) {
    let a = Sha256Digest::of(b"wa-media");
    let same = Sha256Digest::from_bytes(*a.as_bytes());
    let mut other_bytes = *a.as_bytes();
    other_bytes[31] ^= 1;
    let other = Sha256Digest::from_bytes(other_bytes);
    let hex = a.to_hex();
    let b64 = a.to_base64();
    let mut g = c.benchmark_group("digest");
    g.bench_function("compare equal", |b| {
        b.iter(|| black_box(&a) == black_box(&same))
    });
    g.bench_function("compare differing in the last byte", |b| {
        b.iter(|| black_box(&a) == black_box(&other))
    });
    g.bench_function("parse hex", |b| {
        b.iter(|| Sha256Digest::parse(black_box(&hex)).expect("hex"))
    });
    g.bench_function("parse base64", |b| {
        b.iter(|| Sha256Digest::parse(black_box(&b64)).expect("base64"))
    });
    g.finish();
}

criterion_group!(benches, multipart, graph_responses, webhooks, digests);
criterion_main!(benches);
