//! Templates with a media header, the way media reaches a customer outside the 24-hour
//! customer-service window: `wa-media send --template NAME --lang CODE [--header-file FILE |
//! --header-media-id ID --header-kind KIND | --header-link URL] [--param TEXT]…
//! [--param-name NAME=TEXT]…` (checked locally, the header file uploaded, sent once under the
//! library's never-send-twice rule), `wa-media upload --resumable --app-id ID FILE` (the
//! Resumable Upload API: prints the file handle) and `wa-media template create` (a template
//! whose header example is that handle).

use serde_json::json;
use wa_media_core::{Error, MediaClient, MessagingApi, SendFileError, Upload};
use wa_media_types::{
    mime_for_extension, MediaKind, SendTemplate, SendValidationError, TemplateDefinition,
};

use super::send::{plan_failure, print, refused, send_failure, sentence, unwrap_maybe_sent};
use crate::cli::{Global, SendArgs, TemplateArgs, TemplateCommand, UploadArgs};
use crate::failure::{Exit, Failure};
use crate::output;
use crate::progress::Bars;

/// Runs `template …`.
pub async fn run(g: &Global, args: TemplateArgs) -> Result<(), Failure> {
    let client = crate::client::build(g)?;
    match args.command {
        TemplateCommand::Create(a) => {
            let header = header_kind(&a.header_format, "--header-format")?;
            let def =
                TemplateDefinition::new(&a.name, &a.lang, &a.category, header, &a.header_handle)
                    .body(a.body.as_str(), a.examples.iter().map(String::as_str));
            let created = client
                .create_template(&a.waba_id, &def)
                .await
                .map_err(|e| match e {
                    Error::InvalidMessage(v) => refused(v),
                    e => send_failure(e, &format!("template {}", a.name)),
                })?;
            if g.json {
                output::json(&json!({
                    "id": created.id,
                    "status": created.status,
                    "category": created.category,
                }))
            } else {
                output::line(&format!("{} {}", created.id, created.status))
            }
        }
    }
}

fn header_kind(s: &str, flag: &str) -> Result<MediaKind, Failure> {
    let kind: MediaKind = s
        .to_ascii_lowercase()
        .parse()
        .map_err(|e| Failure::usage(format!("{flag}: {e}")))?;
    if !matches!(
        kind,
        MediaKind::Image | MediaKind::Video | MediaKind::Document
    ) {
        return Err(Failure::usage(format!(
            "{flag}: a template's media header is image, video or document, not {kind}"
        )));
    }
    Ok(kind)
}

/// `send --template …`.
pub async fn send(g: &Global, client: &MediaClient, args: &SendArgs) -> Result<(), Failure> {
    let (Some(name), Some(lang)) = (args.template.as_deref(), args.lang.as_deref()) else {
        return Err(Failure::usage("--template needs --lang"));
    };
    let mut msg = SendTemplate::new(&args.to, name, lang).map_err(refused)?;
    for p in &args.params {
        msg = msg.body_text(p.as_str());
    }
    for p in &args.param_name {
        let Some((n, t)) = p.split_once('=') else {
            return Err(Failure::usage(format!(
                "--param-name {p:?}: give NAME=TEXT"
            )));
        };
        msg = msg.body_named(n, t);
    }
    if let Some(d) = &args.callback_data {
        msg = msg.callback_data(d.as_str());
    }
    let kind = args
        .header_kind
        .as_deref()
        .map(|k| header_kind(k, "--header-kind"))
        .transpose()?;
    if let Some(file) = &args.header_file {
        if let Some(f) = &args.filename {
            msg = msg
                .header_id(
                    kind.unwrap_or(MediaKind::Document),
                    "0".parse().map_err(|_| Failure::other("id"))?,
                )
                .header_filename(f.as_str());
        }
        // Every local check before the upload (the library's, as for `send FILE`).
        msg.validate().map_err(refused)?;
        let bar = Bars::new(g.quiet, g.json).bytes("upload", None);
        let result = client.send_template_file(file, msg, kind).await;
        bar.finish_and_clear();
        return match result {
            Ok((id, sent)) => print(g, &sent, Some(&id)),
            Err(SendFileError::Send { media_id, source }) => {
                let retry = format!(
                    "wa-media send --to {} --template {name} --lang {lang} --header-media-id {media_id} --header-kind KIND (with the same parameters)",
                    args.to
                );
                let maybe = source.may_have_been_sent();
                let (exit, message) = if maybe {
                    let cause = Failure::from(unwrap_maybe_sent(source));
                    (Exit::MaybeSent, format!(
                        "the header file was uploaded as media id {media_id}, and the template message to {} may have been sent: {} It was not sent again, because a retry could deliver it twice: check its statuses first; if it was not sent: {retry}",
                        args.to, sentence(&cause.message)
                    ))
                } else {
                    let cause = Failure::from(source);
                    (cause.exit, format!(
                        "the header file was uploaded as media id {media_id}, but sending the template failed: {} Send it without uploading again: {retry}",
                        sentence(&cause.message)
                    ))
                };
                if g.json {
                    output::json(&json!({
                        "media_id": media_id.as_str(),
                        "sent": false,
                        "may_have_been_sent": maybe,
                        "error": message,
                    }))?;
                }
                Err(Failure::new(exit, message))
            }
            Err(e) => Err(plan_failure(file, e)),
        };
    }
    if let Some(id) = &args.header_media_id {
        let kind = kind.ok_or_else(|| Failure::usage("--header-media-id needs --header-kind"))?;
        msg = msg.header_id(kind, output::media_id(id)?);
    } else if let Some(link) = &args.header_link {
        let kind = match kind {
            Some(k) => k,
            None => link_kind(link)?,
        };
        msg = msg.header_link(kind, link).map_err(refused)?;
    }
    if let Some(f) = &args.filename {
        if msg.header.is_none() {
            return Err(Failure::usage(
                "--filename names a header document: give the header too",
            ));
        }
        msg = msg.header_filename(f.as_str());
    }
    msg.validate().map_err(refused)?;
    match client.send_template(&msg).await {
        Ok(sent) => print(g, &sent, None),
        Err(e) => Err(send_failure(e, &args.to)),
    }
}

/// A header link's kind from its path's extension.
fn link_kind(link: &str) -> Result<MediaKind, Failure> {
    let path = link.split(['?', '#']).next().unwrap_or("");
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    mime_for_extension(ext)
        .and_then(|m| m.parse().ok())
        .and_then(|m| {
            [MediaKind::Image, MediaKind::Video, MediaKind::Document]
                .into_iter()
                .find(|k| k.allows(&m))
        })
        .ok_or_else(|| {
            Failure::usage("cannot tell the header's kind from the link: give --header-kind")
        })
}

/// `upload --resumable --app-id ID FILE`.
pub async fn upload_resumable(
    g: &Global,
    client: &MediaClient,
    args: &UploadArgs,
) -> Result<(), Failure> {
    let Some(app_id) = args.app_id.as_deref() else {
        return Err(Failure::usage(
            "--resumable needs --app-id (or WHATSAPP_APP_ID)",
        ));
    };
    let meta = std::fs::metadata(&args.file)
        .map_err(|e| Failure::other(format!("cannot read {}: {e}", args.file.display())))?;
    if !meta.is_file() {
        return Err(Failure::usage(format!(
            "{} is not a regular file",
            args.file.display()
        )));
    }
    if meta.len() == 0 {
        return Err(refused(format!(
            "{} is empty (0 bytes): there is nothing to upload",
            args.file.display()
        )));
    }
    let mime = match &args.mime {
        Some(m) => m
            .parse()
            .map_err(|e| Failure::usage(format!("--mime: {e}")))?,
        None => super::upload::guess_mime(&args.file)?,
    };
    let mut upload = Upload::from_path(&args.file, mime);
    if args.no_validate {
        upload = upload.skip_validation();
    }
    let bar = Bars::new(g.quiet, g.json).bytes("upload", Some(meta.len()));
    let progress_bar = bar.clone();
    upload = upload.progress(move |done: u64, _total: Option<u64>| progress_bar.set_position(done));
    let result = client.upload_resumable(app_id, upload).await;
    bar.finish_and_clear();
    let up = result.map_err(|e| match e {
        Error::InvalidMessage(SendValidationError::TemplateDefinition { reason }) => Failure::new(
            Exit::Validation,
            format!("the upload was refused before sending: {reason}"),
        ),
        e => Failure::from(e),
    })?;
    if g.json {
        output::json(&json!({
            "handle": up.handle,
            "session": up.session,
            "file_length": up.file_length,
            "bytes_sent": up.bytes_sent,
            "resumed_from": up.resumed_from,
        }))
    } else {
        output::line(&up.handle)
    }
}
