//! `cargo xtask public-api`: no published library crate names a type of a crate outside an
//! allow-list in its public API.
//!
//! Why: a foreign type in a public signature (say `rustls::Error` in an error variant) ties our
//! semver to that crate's: its next major release becomes ours. The rule is the one smithy-rs
//! enforces with `external-types.toml`; the allow-list here is [`ALLOWED`], one comment per
//! entry saying why that crate is part of the API on purpose.
//!
//! How: for each crate, `cargo rustdoc --lib -- --output-format json` (unstable, so
//! `RUSTC_BOOTSTRAP=1`) writes `target/doc/<crate>.json`. The JSON is walked generically with
//! serde_json (no `rustdoc-types` dependency, so a new format version does not break this): in
//! every public item of the crate (functions and methods, struct fields, enum variants and their
//! fields, traits and their items, impls, constants, statics, type aliases, re-exports) every
//! path that resolves to an item of another crate is checked against the allow-list.
//! Synthetic (auto-trait) and blanket impls are skipped: they are not written by us.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// The published library crates whose API is checked.
const CRATES: &[&str] = &[
    "wa-media-types",
    "wa-media-core",
    "wa-media-hyper",
    "wa-media-webhook",
    "wa-media-server",
    "wa-media-emulator",
    "wa-media-store",
    "wa-media-conformance",
    "wa-media-reqwest",
];

/// Crates whose types may appear in the public API of the listed crates of ours (`*`: all).
/// Our own crates and the standard library (`std`, `core`, `alloc`) are always allowed.
const ALLOWED: &[(&str, &[&str], &str)] = &[
    (
        "http",
        &["*"],
        "the vocabulary of HTTP (Request, Response, StatusCode, HeaderMap): the Transport trait \
         and the services speak it; 1.x is stable",
    ),
    (
        "http_body",
        &["*"],
        "the Body trait that request and response bodies implement, so any HTTP stack can \
         stream them; 1.x is stable",
    ),
    (
        "bytes",
        &["*"],
        "Bytes is the body chunk type of http-body; 1.x is stable",
    ),
    (
        "futures_core",
        &["*"],
        "Stream, for streaming upload sources and bodies; futures-core is the stable core of \
         futures",
    ),
    (
        "serde",
        &["wa-media-types", "wa-media-webhook", "wa-media-emulator"],
        "Serialize/Deserialize of the payload models and of the webhook's and emulator's JSON \
         records: serialising them is their purpose",
    ),
    (
        "serde_core",
        &["wa-media-types", "wa-media-webhook", "wa-media-emulator"],
        "where serde's traits are defined (serde re-exports them): the same reason as serde",
    ),
    (
        "serde_json",
        &["wa-media-types", "wa-media-webhook", "wa-media-emulator"],
        "the fields a payload model does not know are kept as serde_json::Map/Value \
         (`extra`), so nothing Meta adds is lost; serde_json 1.x is stable",
    ),
    (
        "hyper",
        &["wa-media-server"],
        "the server is hyper's server loop: the services it runs take Request<hyper::body::Incoming>",
    ),
    (
        "http_body_util",
        &["wa-media-webhook"],
        "WebhookService's ResponseBody is http_body_util::Full<Bytes>; a candidate for a newtype \
         before 1.0 (http-body-util is 0.1)",
    ),
    (
        "url",
        &["wa-media-core"],
        "url::Url is the parsed form of the Graph URL and of media URLs (ClientConfig, \
         TrustedHosts::allows, the `protocol` module); url 2.x has been stable since 2019",
    ),
    (
        "tower_service",
        &["wa-media-webhook", "wa-media-server", "wa-media-emulator"],
        "the services implement tower_service::Service so they mount in hyper, axum or tower \
         stacks; tower-service is the one interface these share",
    ),
    (
        "tokio",
        &[
            "wa-media-hyper",
            "wa-media-server",
            "wa-media-emulator",
            "wa-media-webhook",
            "wa-media-conformance",
        ],
        "the tokio-bound crates take or return tokio types (TcpListener, JoinHandle, AsyncRead) \
         on purpose: they are built for tokio",
    ),
    (
        "rustls",
        &["wa-media-emulator"],
        "LocalPki::server_config gives tests a rustls ServerConfig for a TLS server of their own \
         that clients trusting the emulator's CA accept; the emulator is a test tool whose TLS \
         mode is rustls by design",
    ),
    (
        "rustls_pki_types",
        &["wa-media-emulator"],
        "LocalPki::cert_chain is the DER certificate chain in rustls' own type, for the same \
         reason as rustls",
    ),
    (
        "reqwest",
        &["wa-media-reqwest"],
        "the crate exists to carry requests on a service's own reqwest::Client \
         (from_client, from_builder, client); reqwest is re-exported so the version in use is \
         named, and a reqwest major release is a major release of wa-media-reqwest alone (the \
         adapter-crate shape of oauth2-reqwest)",
    ),
    (
        "object_store",
        &["wa-media-store"],
        "wa-media-store is object_store's companion: it takes any ObjectStore and Path, reports \
         object_store::Error and implements its HttpConnector; the version is re-exported \
         (`wa_media_store::object_store`) and a major bump of it is one of ours",
    ),
];

/// Crates that are ours (names as rustdoc spells them, with underscores).
fn ours(name: &str) -> bool {
    name.starts_with("wa_media_") || matches!(name, "std" | "core" | "alloc")
}

fn allowed(name: &str, krate: &str) -> bool {
    ours(name)
        || ALLOWED
            .iter()
            .any(|(n, users, _)| *n == name && users.iter().any(|u| *u == "*" || *u == krate))
}

/// Runs the check for every crate in [`CRATES`] (or only `only`, when given).
/// With `--cached`, the JSON files left by an earlier run are read again without rebuilding.
pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let cached = args.iter().any(|a| a == "--cached");
    let only: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let mut problems = Vec::new();
    for krate in CRATES
        .iter()
        .filter(|c| only.is_empty() || only.iter().any(|o| o == *c))
    {
        eprintln!("==> public API of {krate}");
        if !cached {
            let status = crate::cargo()
                .args(["rustdoc", "--quiet", "-p", krate, "--lib", "--"])
                .args(["-Z", "unstable-options", "--output-format", "json"])
                .env("RUSTC_BOOTSTRAP", "1")
                .current_dir(root)
                .status()
                .map_err(|e| format!("cargo rustdoc: could not start: {e}"))?;
            if !status.success() {
                return Err(format!("cargo rustdoc -p {krate} failed ({status})"));
            }
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(Into::into)
            .unwrap_or_else(|| root.join("target"));
        let json = target
            .join("doc")
            .join(format!("{}.json", krate.replace('-', "_")));
        let text = std::fs::read_to_string(&json)
            .map_err(|e| format!("cannot read {}: {e}", json.display()))?;
        let doc: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))?;
        problems.extend(check(krate, &doc));
    }
    if problems.is_empty() {
        eprintln!("public API: no foreign type outside the allow-list (xtask/src/public_api.rs)");
        return Ok(());
    }
    for p in &problems {
        eprintln!("  {p}");
    }
    Err(format!(
        "{} public item(s) name a type of a crate that is not in the allow-list: make the type \
         opaque (a newtype, or a boxed error as `source()`), or, if exposing that crate is \
         deliberate, add it to ALLOWED in xtask/src/public_api.rs with the reason",
        problems.len()
    ))
}

/// Every violation in one crate's rustdoc JSON, as `crate: item: path (from crate)`.
fn check(krate: &str, doc: &Value) -> Vec<String> {
    let index = &doc["index"];
    let paths = &doc["paths"];
    let externals = &doc["external_crates"];
    let crate_of = |id: &Value| -> Option<String> {
        let key = match id {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => return None,
        };
        let crate_id = paths[&key]["crate_id"]
            .as_u64()
            .or_else(|| index[&key]["crate_id"].as_u64())?;
        if crate_id == 0 {
            return None;
        }
        externals[crate_id.to_string()]["name"]
            .as_str()
            .map(str::to_owned)
    };
    let Some(items) = index.as_object() else {
        return vec![format!("{krate}: rustdoc JSON without an index")];
    };

    // The items to look at: public items of this crate, plus what hangs off them with
    // `default` visibility (variants, their fields, trait items, trait-impl items).
    let mut todo: Vec<String> = items
        .iter()
        .filter(|(_, v)| v["crate_id"] == 0 && v["visibility"] == "public")
        .map(|(k, _)| k.clone())
        .collect();
    // Impls written in this crate (not synthetic auto-trait impls, not blanket impls).
    todo.extend(
        items
            .iter()
            .filter(|(_, v)| {
                let imp = &v["inner"]["impl"];
                v["crate_id"] == 0
                    && imp.is_object()
                    && imp["is_synthetic"] != true
                    && imp["blanket_impl"].is_null()
            })
            .map(|(k, _)| k.clone()),
    );
    let mut seen = BTreeSet::new();
    let mut found = BTreeSet::new();
    while let Some(id) = todo.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let item = &index[&id];
        if item.is_null() || item["crate_id"] != 0 {
            continue;
        }
        let inner = &item["inner"];
        let Some((kind, body)) = inner.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        // Children reached through this item.
        let children: Vec<&Value> = match kind.as_str() {
            "enum" => body["variants"].as_array().into_iter().flatten().collect(),
            "variant" => match &body["kind"] {
                Value::Object(k) if k.contains_key("tuple") => {
                    k["tuple"].as_array().into_iter().flatten().collect()
                }
                Value::Object(k) if k.contains_key("struct") => k["struct"]["fields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .collect(),
                _ => Vec::new(),
            },
            "trait" => body["items"].as_array().into_iter().flatten().collect(),
            "impl" => body["items"].as_array().into_iter().flatten().collect(),
            _ => Vec::new(),
        };
        for c in children {
            if let Some(n) = c.as_u64() {
                // A private inherent method has no business here; trait items are `default`.
                let v = &index[n.to_string()]["visibility"];
                if v == "public" || v == "default" {
                    todo.push(n.to_string());
                }
            }
        }
        // Which part of the item to scan for foreign paths: never the lists of child ids
        // (they are walked as items), never modules' item lists.
        let scan: Vec<&Value> = match kind.as_str() {
            "module" => Vec::new(),
            "struct" | "enum" | "union" => vec![&body["generics"]],
            "variant" => vec![&body["discriminant"]],
            "trait" => vec![&body["generics"], &body["bounds"]],
            "impl" => vec![&body["generics"], &body["trait"], &body["for"]],
            "use" => {
                // A re-export: the target's crate.
                if let Some(name) = crate_of(&body["id"]) {
                    if !allowed(&name, krate) {
                        found.insert(format!(
                            "{krate}: re-export `{}` names crate `{name}`",
                            body["source"].as_str().unwrap_or("?")
                        ));
                    }
                }
                Vec::new()
            }
            _ => vec![body],
        };
        let mut paths_found = Vec::new();
        for s in scan {
            collect_paths(s, &mut paths_found);
        }
        for (path, target) in paths_found {
            if let Some(name) = crate_of(target) {
                if !allowed(&name, krate) {
                    found.insert(format!(
                        "{krate}: {} names `{path}` from crate `{name}`",
                        describe(index, &id, kind)
                    ));
                }
            }
        }
    }
    found.into_iter().collect()
}

/// Every `{ "path": "...", "id": ... }` object (a resolved path, a trait bound, a `dyn` trait)
/// anywhere in `v`.
fn collect_paths<'a>(v: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(o) => {
            if let (Some(Value::String(p)), Some(id)) = (o.get("path"), o.get("id")) {
                if !id.is_null() {
                    out.push((p.clone(), id));
                }
            }
            for x in o.values() {
                collect_paths(x, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                collect_paths(x, out);
            }
        }
        _ => {}
    }
}

/// A readable name for an item: `kind name (file:line)`.
fn describe(index: &Value, id: &str, kind: &str) -> String {
    let item = &index[id];
    let name = item["name"].as_str().unwrap_or("(impl)");
    let span = &item["span"];
    match (span["filename"].as_str(), span["begin"][0].as_u64()) {
        (Some(f), Some(l)) => format!("{kind} `{name}` ({f}:{l})"),
        _ => format!("{kind} `{name}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made miniature of rustdoc's JSON: an enum whose variant holds `rustls::Error`.
    #[test]
    fn a_foreign_type_in_a_variant_is_reported() {
        let doc = serde_json::json!({
            "index": {
                "1": {"id": 1, "crate_id": 0, "name": "BuildError", "visibility": "public",
                      "span": {"filename": "src/error.rs", "begin": [3, 1]},
                      "inner": {"enum": {"generics": {"params": []}, "variants": [2]}}},
                "2": {"id": 2, "crate_id": 0, "name": "Tls", "visibility": "default",
                      "inner": {"variant": {"kind": {"tuple": [3]}, "discriminant": null}}},
                "3": {"id": 3, "crate_id": 0, "name": "0", "visibility": "default",
                      "span": {"filename": "src/error.rs", "begin": [5, 9]},
                      "inner": {"struct_field": {"resolved_path":
                          {"path": "rustls::Error", "id": 9, "args": null}}}}
            },
            "paths": {"9": {"crate_id": 7, "path": ["rustls", "Error"], "kind": "enum"}},
            "external_crates": {"7": {"name": "rustls"}}
        });
        let found = check("wa-media-hyper", &doc);
        assert_eq!(
            found,
            ["wa-media-hyper: struct_field `0` (src/error.rs:5) names `rustls::Error` from crate `rustls`"]
        );
        // The same type from an allowed crate passes.
        let mut ok = doc.clone();
        ok["external_crates"]["7"]["name"] = "http".into();
        assert!(check("wa-media-hyper", &ok).is_empty());
    }
}
