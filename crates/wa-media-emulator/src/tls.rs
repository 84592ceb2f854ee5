//! TLS mode: a local CA generated at start and one server certificate, signed by it, for the
//! production hostnames (`graph.facebook.com`, `lookaside.fbsbx.com`) and for `localhost` /
//! `127.0.0.1` — so a client in its production configuration, with only its root store and
//! address resolution changed, can be tested against the emulator.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::EmulatorError;

/// The names the server certificate covers.
pub const CERTIFICATE_NAMES: [&str; 4] = [
    "graph.facebook.com",
    "lookaside.fbsbx.com",
    "localhost",
    "127.0.0.1",
];

/// The generated CA (PEM) and the rustls server configuration using the signed certificate.
pub(crate) struct TlsSetup {
    pub(crate) ca_pem: String,
    pub(crate) ca_der: Vec<u8>,
    pub(crate) server_config: Arc<rustls::ServerConfig>,
}

fn tls_err(e: impl std::fmt::Display) -> EmulatorError {
    EmulatorError::Tls(e.to_string())
}

/// A local certificate authority and one server certificate it signed: what TLS mode generates
/// at start, public so that tests can make their own for a server of theirs.
pub struct LocalPki {
    /// The CA certificate, PEM (what a client adds to its root store).
    pub ca_pem: String,
    /// The CA certificate, DER.
    pub ca_der: Vec<u8>,
    /// The server certificate followed by the CA certificate.
    pub cert_chain: Vec<CertificateDer<'static>>,
    /// The server certificate's private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for LocalPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPki").finish_non_exhaustive()
    }
}

impl LocalPki {
    /// Generates a CA named `ca_name` and a certificate for `names` (DNS names or IP
    /// addresses) with the common name `leaf_name`, signed by it.
    pub fn generate(
        ca_name: &str,
        leaf_name: &str,
        names: &[String],
    ) -> Result<Self, EmulatorError> {
        let ca_key = KeyPair::generate().map_err(tls_err)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(tls_err)?;
        let leaf_key = KeyPair::generate().map_err(tls_err)?;
        let mut leaf_params = CertificateParams::new(names.to_vec()).map_err(tls_err)?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, leaf_name);
        let leaf = leaf_params.signed_by(&leaf_key, &ca).map_err(tls_err)?;
        Ok(LocalPki {
            ca_pem: ca.pem(),
            ca_der: ca.der().to_vec(),
            cert_chain: vec![leaf.der().clone(), CertificateDer::from(ca.der().to_vec())],
            key_der: leaf_key.serialize_der(),
        })
    }

    /// A rustls server configuration (ring provider) presenting the certificate and offering
    /// the ALPN protocols `alpn` (e.g. `h2`, `http/1.1`).
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<rustls::ServerConfig, EmulatorError> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_no_client_auth()
            .with_single_cert(self.cert_chain.clone(), key)
            .map_err(tls_err)?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

pub(crate) fn generate(extra_names: &[String], http2: bool) -> Result<TlsSetup, EmulatorError> {
    let mut names: Vec<String> = CERTIFICATE_NAMES.iter().map(|s| (*s).to_owned()).collect();
    for n in extra_names {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let pki = LocalPki::generate("wa-media-emulator local CA", "wa-media-emulator", &names)?;
    let alpn: &[&[u8]] = if http2 {
        &[b"h2", b"http/1.1"]
    } else {
        &[b"http/1.1"]
    };
    let config = pki.server_config(alpn)?;
    Ok(TlsSetup {
        ca_pem: pki.ca_pem,
        ca_der: pki.ca_der,
        server_config: Arc::new(config),
    })
}
