//! Business-scoped user ids (BSUIDs), as the emulator writes and checks them (checked by
//! `wa_media_types::Bsuid`, the one definition: `CC.` then 1–128 ASCII letters and digits, with
//! `ENT.` after the country code for an enterprise-wide parent BSUID). Simulated customers get a
//! BSUID derived from their phone number, so the same phone always has the same BSUID, within a
//! run and across runs.

use sha2::{Digest as _, Sha256};

/// Whether `s` is a BSUID or a parent BSUID (the one rule: [`wa_media_types::Bsuid`]).
pub(crate) fn is_bsuid(s: &str) -> bool {
    wa_media_types::Bsuid::new(s).is_ok()
}

/// Whether `s` is a parent (enterprise-wide) BSUID: a BSUID with `ENT.` after the country code.
pub(crate) fn is_parent_bsuid(s: &str) -> bool {
    wa_media_types::Bsuid::new(s).is_ok_and(|b| b.is_parent())
}

/// 20 decimal digits from a SHA-256 of `domain` and `input` (stable across runs and platforms).
fn digits(domain: &str, input: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"wa-media-emulator/");
    h.update(domain.as_bytes());
    h.update(b"\0");
    h.update(input.as_bytes());
    let out = h.finalize();
    let mut n = [0u8; 8];
    n.copy_from_slice(&out[..8]);
    format!("{:020}", u64::from_be_bytes(n))
}

/// The BSUID the emulator gives the simulated customer whose phone number is `phone`:
/// `US.` and 20 digits from a hash of the phone's digits, so `+1 555-123-4567` and
/// `15551234567` are one customer. The same phone always gets the same BSUID (within and across
/// runs); it has nothing to do with the BSUID Meta would assign.
///
/// ```
/// let a = wa_media_emulator::simulated_user_id("15551234567");
/// assert_eq!(a, wa_media_emulator::simulated_user_id("+1 555-123-4567"));
/// assert!(a.starts_with("US.") && a.len() == 23);
/// ```
pub fn simulated_user_id(phone: &str) -> String {
    let d: String = phone.chars().filter(char::is_ascii_digit).collect();
    format!("US.{}", digits("user", &d))
}

/// The user BSUID the emulator gives the customer behind the parent BSUID `parent`
/// (`US.ENT.…`): the same country code and 20 digits from a hash of `parent`. The emulator has
/// no directory of customers, so a message sent to a parent BSUID reaches this user.
pub(crate) fn user_id_of_parent(parent: &str) -> String {
    let cc = parent.get(..2).unwrap_or("US");
    format!("{cc}.{}", digits("parent", parent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_of_a_bsuid() {
        for ok in [
            "US.13491208655302741918",
            "US.ENT.11815799212886844830",
            "BR.abcDEF123",
            "DE.1",
            &format!("US.{}", "a".repeat(128)),
            &format!("US.ENT.{}", "7".repeat(128)),
        ] {
            assert!(is_bsuid(ok), "{ok}");
        }
        for bad in [
            "",
            "US.",
            "US.ENT.",
            "us.123",
            "U.123",
            "USA.123",
            "US123",
            "US.12-3",
            "US.12 3",
            "US.ENT.12.3",
            "US.é1",
            "15551234567",
            &format!("US.{}", "a".repeat(129)),
        ] {
            assert!(!is_bsuid(bad), "{bad}");
        }
        assert!(is_parent_bsuid("US.ENT.11815799212886844830"));
        assert!(!is_parent_bsuid("US.13491208655302741918"));
        // `ENT` alone is a body of letters, not the parent marker.
        assert!(!is_parent_bsuid("US.ENT"));
    }

    #[test]
    fn simulated_ids_are_stable_and_valid() {
        let a = simulated_user_id("15551234567");
        // Pinned: the same phone gets the same BSUID in every run and on every platform.
        assert_eq!(a, simulated_user_id("+1 (555) 123-4567"));
        assert_eq!(a, "US.13349043760375565723");
        assert!(is_bsuid(&a) && !is_parent_bsuid(&a));
        assert_ne!(a, simulated_user_id("15551234568"));
        let child = user_id_of_parent("BR.ENT.42");
        assert!(child.starts_with("BR.") && is_bsuid(&child) && !is_parent_bsuid(&child));
        assert_eq!(child, user_id_of_parent("BR.ENT.42"));
    }
}
