//! Builds the hyper media client from the global options.

use wa_media_core::MediaClient;
use wa_media_types::ApiVersion;

use crate::cli::Global;
use crate::failure::Failure;

/// Builds a client for the commands that talk to the API; the token is required.
pub fn build(global: &Global) -> Result<MediaClient, Failure> {
    let token = global
        .token
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| Failure::usage("no access token: pass --token or set WHATSAPP_TOKEN"))?;
    let mut b = wa_media_hyper::builder().token(token.trim());
    if let Some(id) = &global.phone_number_id {
        b = b.phone_number_id(id);
    }
    let version: ApiVersion = global
        .api_version
        .parse()
        .map_err(|e| Failure::usage(format!("--api-version: {e}")))?;
    b = b.api_version(version);
    if let Some(url) = &global.graph_url {
        b = b.graph_url(url.clone());
    }
    for host in global
        .trust_host
        .iter()
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
    {
        b = b.trust_host(host.to_string());
    }
    if global.no_proxy {
        b = b.map_transport(|t| t.no_proxy());
    } else if let Some(proxy) = &global.proxy {
        b = b.map_transport(|t| t.proxy(proxy.trim()));
    }
    b.build()
        .map_err(|e| Failure::usage(format!("invalid configuration: {e}")))
}
