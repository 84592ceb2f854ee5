//! `wa-media info MEDIA_ID`: the retrieve response.

use crate::cli::Global;
use crate::failure::Failure;
use crate::{client, output};

/// Runs `info`.
pub async fn run(g: &Global, media_id: &str) -> Result<(), Failure> {
    let id = output::media_id(media_id)?;
    let client = client::build(g)?;
    let (info, body) = client.retrieve_with_body(&id).await?;
    if g.json {
        // The API's JSON as received, the token masked should a server echo it.
        let text = String::from_utf8_lossy(&body);
        return output::line(text.trim_end());
    }
    output::line(&format!("id:         {}", info.id))?;
    output::line(&format!("mime_type:  {}", info.mime_type))?;
    output::line(&format!("file_size:  {}", info.file_size))?;
    output::line(&format!("sha256:     {}", info.sha256))?;
    // The URL's query is its signature: shown to people without it (terminal output ends up in
    // tickets and chats); `--json` keeps the API's JSON, whole, for scripts.
    // MediaUrl's Display is exactly that: scheme, host and path, `?…` for the query.
    output::line(&format!(
        "url:        {} (signature hidden; --json shows it)",
        info.url
    ))?;
    output::line("(the URL expires in about 5 minutes and needs the same Bearer token)")
}
