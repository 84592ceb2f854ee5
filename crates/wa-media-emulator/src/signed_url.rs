//! Signed download URLs: `…/whatsapp_business/attachments/?mid=<id>&ext=<expiry>&hash=<mac>`,
//! where `hash` is an HMAC-SHA256 over the id and the expiry with a secret that only this
//! emulator knows (a new one at each start, so old URLs die with the process, as they would).

use base64::Engine as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

/// The path of download URLs on the lookaside origin.
pub(crate) const ATTACHMENTS_PATH: &str = "/whatsapp_business/attachments/";

/// Whether `path` is the download path (with or without its trailing slash).
pub(crate) fn is_attachments_path(path: &str) -> bool {
    path.strip_suffix('/').unwrap_or(path) == ATTACHMENTS_PATH.trim_end_matches('/')
}

/// The per-emulator signing secret.
#[derive(Clone)]
pub(crate) struct UrlSigner {
    secret: [u8; 32],
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(***)")
    }
}

/// Why a download URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlProblem {
    /// Missing parameters or a signature that does not match.
    Mismatch,
    /// A valid signature whose expiry has passed.
    Expired,
}

impl UrlSigner {
    /// A new secret from the operating system's random number generator: nobody can forge a
    /// download URL without it (`fastrand` is predictable from its seed).
    pub(crate) fn random() -> Result<Self, getrandom::Error> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)?;
        Ok(Self { secret })
    }

    fn mac(&self, mid: &str, ext: &str) -> Hmac<Sha256> {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.secret) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(mid.as_bytes());
        mac.update(b":");
        mac.update(ext.as_bytes());
        mac
    }

    /// The query string (`mid=…&ext=…&hash=…`) for `mid` valid until `expires` (Unix seconds).
    pub(crate) fn query(&self, mid: &str, expires: u64) -> String {
        let ext = expires.to_string();
        let tag = self.mac(mid, &ext).finalize().into_bytes();
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag);
        format!("mid={mid}&ext={ext}&hash={hash}")
    }

    /// Checks a download query at `now` (Unix seconds); returns the media id.
    pub(crate) fn verify(&self, query: Option<&str>, now: u64) -> Result<String, UrlProblem> {
        let (mut mid, mut ext, mut hash) = (None, None, None);
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "mid" => mid = Some(v.into_owned()),
                "ext" => ext = Some(v.into_owned()),
                "hash" => hash = Some(v.into_owned()),
                _ => {}
            }
        }
        let (Some(mid), Some(ext), Some(hash)) = (mid, ext, hash) else {
            return Err(UrlProblem::Mismatch);
        };
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(hash.as_bytes())
            .map_err(|_| UrlProblem::Mismatch)?;
        self.mac(&mid, &ext)
            .verify_slice(&tag)
            .map_err(|_| UrlProblem::Mismatch)?;
        let expires: u64 = ext.parse().map_err(|_| UrlProblem::Mismatch)?;
        if now >= expires {
            return Err(UrlProblem::Expired);
        }
        Ok(mid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_tamper_and_expiry() {
        let s = UrlSigner::random().unwrap();
        let q = s.query("123", 1000);
        assert_eq!(s.verify(Some(&q), 999), Ok("123".to_owned()));
        assert_eq!(s.verify(Some(&q), 1000), Err(UrlProblem::Expired));
        let tampered = q.replace("mid=123", "mid=124");
        assert_eq!(s.verify(Some(&tampered), 10), Err(UrlProblem::Mismatch));
        let later = q.replace("ext=1000", "ext=9999");
        assert_eq!(s.verify(Some(&later), 10), Err(UrlProblem::Mismatch));
        assert_eq!(s.verify(None, 10), Err(UrlProblem::Mismatch));
        assert_eq!(
            UrlSigner::random().unwrap().verify(Some(&q), 10),
            Err(UrlProblem::Mismatch)
        );
    }
}
