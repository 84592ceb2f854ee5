//! The access-token check both origins make (`Authorization: Bearer <token>`; the Resumable
//! Upload API's paths also take `OAuth <token>`, the form Meta's guide shows).

use http::{header, HeaderMap};

/// What a request's `Authorization` header says about the token.
pub(crate) enum TokenCheck {
    Missing,
    Wrong,
    Ok,
}

pub(crate) fn check_token(headers: &HeaderMap, token: &str, oauth: bool) -> TokenCheck {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return TokenCheck::Missing;
    };
    let Ok(value) = value.to_str() else {
        return TokenCheck::Wrong;
    };
    let value = value.trim();
    let given = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some((scheme, rest)) if oauth && scheme.eq_ignore_ascii_case("oauth") => rest.trim(),
        _ => return TokenCheck::Wrong,
    };
    if given.is_empty() {
        TokenCheck::Missing
    } else if given.as_bytes() == token.as_bytes() {
        TokenCheck::Ok
    } else {
        TokenCheck::Wrong
    }
}
