//! `wa-media info MEDIA_ID`: the retrieve response.

use wa_media_hyper::MediaApi;

use crate::cli::Global;
use crate::failure::Failure;
use crate::{client, output};

/// Runs `info`.
pub async fn run(g: &Global, media_id: &str) -> Result<(), Failure> {
    let id = output::media_id(media_id)?;
    let client = client::build(g)?;
    let info = client.retrieve(&id).await?;
    if g.json {
        return output::json(&info);
    }
    output::line(&format!("id:         {}", info.id))?;
    output::line(&format!("mime_type:  {}", info.mime_type))?;
    output::line(&format!("file_size:  {}", info.file_size))?;
    output::line(&format!("sha256:     {}", info.sha256))?;
    output::line(&format!("url:        {}", info.url))?;
    output::line("(the URL expires in about 5 minutes and needs the same Bearer token)")
}
