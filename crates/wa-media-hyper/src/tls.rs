//! TLS configuration: the rustls client config with the crypto provider chosen by feature
//! (`ring`, the default, or `aws-lc-rs`) and the trusted roots (built-in stores by feature, plus
//! custom PEM certificates).
//!
//! Why ring is the default: "Build-time and dependency choices" in docs/performance.md. The
//! provider is passed explicitly (`builder_with_provider`), so the process-wide default provider
//! is never consulted and a second provider linked by another crate cannot make building the
//! config panic. With both features on, aws-lc-rs is used: ring comes with the default
//! features, so turning `aws-lc-rs` on is the explicit choice.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use crate::error::BuildError;

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
compile_error!(
    "wa-media-hyper needs a rustls crypto provider: enable the `ring` (default) or `aws-lc-rs` feature"
);

/// The crypto provider chosen by feature: aws-lc-rs when its feature is on, else ring.
pub(crate) fn crypto_provider() -> rustls::crypto::CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    let provider = rustls::crypto::ring::default_provider();
    provider
}

/// Which roots to trust, as collected by the builder.
#[derive(Clone)]
pub(crate) struct RootsConfig {
    /// Trust the stores compiled in by feature (`webpki-roots`, `native-roots`).
    pub(crate) built_in: bool,
    /// Custom certificates as PEM text (each entry may hold several certificates).
    pub(crate) pem: Vec<Vec<u8>>,
    /// Custom certificates already in DER.
    pub(crate) der: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for RootsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootsConfig")
            .field("built_in", &self.built_in)
            .field("custom_pem_documents", &self.pem.len())
            .field("custom_der_certificates", &self.der.len())
            .finish()
    }
}

impl Default for RootsConfig {
    fn default() -> Self {
        Self {
            built_in: true,
            pem: Vec::new(),
            der: Vec::new(),
        }
    }
}

/// Parses every certificate in a PEM document; a document without one is an error.
pub(crate) fn parse_pem_certificates(
    index: usize,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, BuildError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BuildError::InvalidCertificate {
            index,
            reason: format!("unreadable PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(BuildError::InvalidCertificate {
            index,
            reason: "no `-----BEGIN CERTIFICATE-----` block found".into(),
        });
    }
    Ok(certs)
}

/// Builds the root store from the configuration.
pub(crate) fn root_store(cfg: &RootsConfig) -> Result<RootCertStore, BuildError> {
    let mut roots = RootCertStore::empty();
    if cfg.built_in {
        add_built_in(&mut roots);
    }
    let custom = cfg
        .pem
        .iter()
        .enumerate()
        .map(|(i, pem)| parse_pem_certificates(i, pem))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .chain(cfg.der.iter().cloned());
    for (index, cert) in custom.enumerate() {
        roots
            .add(cert)
            .map_err(|e| BuildError::InvalidCertificate {
                index,
                reason: e.to_string(),
            })?;
    }
    if roots.is_empty() {
        return Err(BuildError::NoRootCertificates);
    }
    Ok(roots)
}

#[allow(unused_variables)] // `roots` is unused when no root feature is on.
fn add_built_in(roots: &mut RootCertStore) {
    #[cfg(feature = "webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    #[cfg(feature = "native-roots")]
    {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(error = %e, "could not load some native root certificates");
        }
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        tracing::debug!(added, ignored, "loaded native root certificates");
    }
}

/// The rustls client configuration: the feature's provider ([`crypto_provider`]), TLS 1.2 and
/// 1.3, the given roots, no client certificate. ALPN is left empty: hyper-rustls fills it from
/// the enabled HTTP versions.
pub(crate) fn client_config(cfg: &RootsConfig) -> Result<rustls::ClientConfig, BuildError> {
    let roots = root_store(cfg)?;
    let provider = Arc::new(crypto_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| BuildError::Tls(Box::new(e)))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_without_certificates_is_refused() {
        let err = parse_pem_certificates(3, b"not a pem").unwrap_err();
        assert!(
            matches!(err, BuildError::InvalidCertificate { index: 3, .. }),
            "{err}"
        );
    }

    #[test]
    fn no_roots_at_all_is_refused() {
        let cfg = RootsConfig {
            built_in: false,
            ..RootsConfig::default()
        };
        assert!(matches!(
            root_store(&cfg),
            Err(BuildError::NoRootCertificates)
        ));
    }

    /// The provider named by the features is the one in the config (ring's and aws-lc-rs'
    /// key providers print as `Ring` and `AwsLcRs`), and no process-wide default was installed.
    #[test]
    fn the_features_provider_is_used_explicitly() {
        let cfg = RootsConfig {
            built_in: false,
            der: vec![rcgen::generate_simple_self_signed(vec!["ca.test".into()])
                .unwrap()
                .cert
                .der()
                .clone()],
            ..RootsConfig::default()
        };
        let config = client_config(&cfg).unwrap();
        let key_provider = format!("{:?}", config.crypto_provider().key_provider);
        let want = if cfg!(feature = "aws-lc-rs") {
            "AwsLcRs"
        } else {
            "Ring"
        };
        assert_eq!(key_provider, want);
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    }

    #[cfg(feature = "webpki-roots")]
    #[test]
    fn built_in_webpki_roots_are_loaded() {
        let store = root_store(&RootsConfig::default()).unwrap();
        assert!(store.len() > 50, "{}", store.len());
    }
}
