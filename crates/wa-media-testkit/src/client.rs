//! The production client (`wa-media-hyper`) pointed at a plain-http emulator: Graph at the
//! emulator's URL, its download host trusted on loopback, fast retries. Tests add or override
//! what they need on the returned builder (`.retry_policy(RetryPolicy::none())`, timeouts, …;
//! the transport's settings through `.map_transport(|t| …)`).

use std::time::Duration;

use wa_media_emulator::EmulatorHandle;
use wa_media_hyper::{ClientBuilder, HyperTransportBuilder, RetryPolicy};

/// What [`emulator_builder`] and [`builder_at`] return: `wa_media_hyper::builder()`'s type.
pub type Builder = ClientBuilder<HyperTransportBuilder>;

/// The phone number id the test clients use (any id the emulator accepts).
pub const PHONE: &str = "106540352242922";

/// A client builder for a plain-http emulator (see [`builder_at`]).
pub fn emulator_builder(emu: &EmulatorHandle) -> Builder {
    builder_at(emu.graph_url(), emu.lookaside_addr().port(), emu.token())
}

/// A client builder for an emulator known by its parts (as a child process is told them):
/// its Graph URL, its download host's loopback port (trusted) and its token; phone number id
/// [`PHONE`], retries 10 to 200 ms apart.
pub fn builder_at(graph_url: &str, lookaside_port: u16, token: &str) -> Builder {
    wa_media_hyper::builder()
        .token(token)
        .phone_number_id(PHONE)
        .graph_url(graph_url)
        .trust_host(format!("127.0.0.1:{lookaside_port}"))
        .retry_policy(
            RetryPolicy::default()
                .with_delays(Duration::from_millis(10), Duration::from_millis(200)),
        )
}
