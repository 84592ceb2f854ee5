//! `wa-media delete MEDIA_ID`.

use serde_json::json;
use wa_media_core::MediaApi;

use crate::cli::Global;
use crate::failure::Failure;
use crate::{client, output};

/// Runs `delete`.
pub async fn run(g: &Global, media_id: &str) -> Result<(), Failure> {
    let id = output::media_id(media_id)?;
    let client = client::build(g)?;
    client.delete(&id).await?;
    if g.json {
        output::json(&json!({ "id": id.as_str(), "deleted": true }))
    } else {
        output::line(&format!("deleted {id}"))
    }
}
