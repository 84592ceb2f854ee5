//! `wa-media send --to N (FILE | --media-id ID | --link URL)`: validate locally, upload when
//! given a FILE, send the media message once, print its wamid. A FILE is checked and planned
//! once, by the library (`MediaClient::plan_send_file`), and the plan carried out
//! (`send_planned`).
//!
//! A send is never repeated blindly (a duplicate message to a customer is worse than an error):
//! when the request may have reached Graph without an answer saying what happened, the
//! library returns `Error::MaybeSent` and the command says so with its own exit code (8)
//! instead of trying again. When the upload of a FILE worked but the send did not, the media id
//! is printed with the command that sends it by `--media-id`, without uploading again.

use std::path::Path;

use serde_json::json;
use wa_media_core::{Error, MediaClient, MessagingApi, SendFileError, SendOptions};
use wa_media_types::{MediaId, MediaKind, MediaType, SendMedia, SendValidationError, SentMessage};

use crate::cli::{Global, SendArgs};
use crate::failure::{Exit, Failure};
use crate::progress::Bars;
use crate::{client, output};

/// Runs `send`.
pub async fn run(g: &Global, args: SendArgs) -> Result<(), Failure> {
    let client = client::build(g)?;
    if client.config().phone_number_id.is_none() {
        return Err(Failure::usage(
            "sending needs the business phone number id: pass --phone-number-id or set WHATSAPP_PHONE_NUMBER_ID",
        ));
    }
    if args.template.is_some() {
        return super::template::send(g, &client, &args).await;
    }
    let kind = args
        .kind
        .as_deref()
        .map(|k| {
            k.parse::<MediaKind>()
                .map_err(|e| Failure::usage(format!("--kind: {e}")))
        })
        .transpose()?;
    if args.file.is_some() {
        return send_file(g, &client, &args, kind).await;
    }
    let kind =
        kind.ok_or_else(|| Failure::usage("--kind is required with --media-id or --link"))?;
    let (msg, media_id) = match (&args.media_id, &args.link) {
        (Some(id), _) => {
            let id = output::media_id(id)?;
            (SendMedia::by_id(&args.to, kind, id.clone()), Some(id))
        }
        (None, Some(link)) => (SendMedia::by_link(&args.to, kind, link), None),
        (None, None) => return Err(Failure::usage("give a FILE, --media-id or --link")),
    };
    let msg = with_options(msg.map_err(refused)?, &args);
    // The library checks again before sending; checking here shows the notes first.
    for note in msg.validate().map_err(refused)? {
        output::info(g.quiet, &format!("note: {note}"));
    }
    match client.send_media(&msg).await {
        Ok(sent) => print(g, &sent, media_id.as_ref()),
        Err(e) => Err(send_failure(e, &args.to)),
    }
}

/// Plans the send of FILE in the library (every check, once, before the upload; the notes
/// shown first), then carries the plan out: upload, then send by the new media id.
async fn send_file(
    g: &Global,
    client: &MediaClient,
    args: &SendArgs,
    kind: Option<MediaKind>,
) -> Result<(), Failure> {
    let Some(file) = args.file.as_deref() else {
        return Err(Failure::usage("no FILE given"));
    };
    let mut options = SendOptions::default().voice(args.voice);
    if let Some(m) = &args.mime {
        let mime = m
            .parse::<MediaType>()
            .map_err(|e| Failure::usage(format!("--mime: {e}")))?;
        options = options.mime(mime);
    }
    if let Some(k) = kind {
        options = options.kind(k);
    }
    if let Some(c) = &args.caption {
        options = options.caption(c.as_str());
    }
    if let Some(f) = &args.filename {
        options = options.filename(f.as_str());
    }
    if let Some(r) = &args.reply_to {
        options = options.reply_to(r.as_str());
    }
    if let Some(d) = &args.callback_data {
        options = options.callback_data(d.as_str());
    }
    if let Some(minutes) = args.ttl_minutes {
        options = options.ttl_minutes(minutes);
    }
    let bar = Bars::new(g.quiet, g.json).bytes("upload", None);
    let progress_bar = bar.clone();
    options = options.progress(move |done: u64, total: Option<u64>| {
        if let Some(t) = total {
            progress_bar.set_length(t);
        }
        progress_bar.set_position(done);
    });
    let plan = match client.plan_send_file(file, &args.to, options) {
        Ok(plan) => plan,
        Err(e) => {
            bar.finish_and_clear();
            return Err(plan_failure(file, e));
        }
    };
    for note in plan.notes() {
        output::info(g.quiet, &format!("note: {note}"));
    }
    // The kind the retry command names, should the send fail after the upload.
    let retry_kind = if plan.is_voice() {
        "audio --voice".to_owned()
    } else {
        plan.kind().to_string()
    };
    let result = client.send_planned(plan).await;
    bar.finish_and_clear();
    match result {
        Ok((id, sent)) => print(g, &sent, Some(&id)),
        Err(e) => Err(send_file_failure(g, e, args, &retry_kind)?),
    }
}

/// Why the send of `file` was refused before anything was uploaded.
pub(super) fn plan_failure(file: &Path, e: SendFileError) -> Failure {
    match e {
        SendFileError::Validation(SendValidationError::EmptyFile) => refused(format!(
            "{} is empty (0 bytes): there is nothing to send",
            file.display()
        )),
        SendFileError::Validation(SendValidationError::UnknownFileType) => {
            super::upload::unknown_type(file)
        }
        SendFileError::Validation(e) => refused(e),
        SendFileError::Upload(Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::InvalidInput =>
        {
            Failure::usage(format!("{} is not a regular file", file.display()))
        }
        SendFileError::Upload(e) => {
            let f = Failure::from(e);
            Failure::new(
                f.exit,
                format!("cannot read {}: {}", file.display(), f.message),
            )
        }
        other => Failure::other(other.to_string()),
    }
}

/// The failure of `send FILE`, by step. After the upload, the media id and the command that
/// sends it without uploading again are given (and, with `--json`, printed on stdout).
fn send_file_failure(
    g: &Global,
    e: SendFileError,
    args: &SendArgs,
    kind: &str,
) -> Result<Failure, Failure> {
    Ok(match e {
        SendFileError::Validation(e) => refused(e),
        SendFileError::Upload(e) => {
            let f = Failure::from(e);
            Failure::new(
                f.exit,
                format!("the upload failed, no message was sent: {}", f.message),
            )
        }
        SendFileError::Send { media_id, source } => {
            let maybe = source.may_have_been_sent();
            let retry = format!(
                "wa-media send --to {} --media-id {media_id} --kind {kind}",
                args.to
            );
            let (exit, message) = if maybe {
                let cause = Failure::from(unwrap_maybe_sent(source));
                (
                    Exit::MaybeSent,
                    format!(
                        "the file was uploaded as media id {media_id}, and the message to {} may have been sent: {} It was not sent again, because a retry could deliver it twice: check its statuses (wa-media serve, or your webhook) first; if it was not sent, send it without uploading again (with the same options): {retry}",
                        args.to,
                        sentence(&cause.message)
                    ),
                )
            } else {
                let cause = Failure::from(source);
                (
                    cause.exit,
                    format!(
                        "the file was uploaded as media id {media_id}, but sending the message failed: {} Send it without uploading again (with the same options): {retry}",
                        sentence(&cause.message)
                    ),
                )
            };
            if g.json {
                output::json(&json!({
                    "media_id": media_id.as_str(),
                    "sent": false,
                    "may_have_been_sent": maybe,
                    "error": message,
                }))?;
            }
            Failure::new(exit, message)
        }
        other => Failure::other(other.to_string()),
    })
}

/// The optional parts of the message.
fn with_options(mut msg: SendMedia, args: &SendArgs) -> SendMedia {
    if let Some(c) = &args.caption {
        msg = msg.caption(c.as_str());
    }
    if let Some(f) = &args.filename {
        msg = msg.filename(f.as_str());
    }
    if args.voice {
        msg = msg.voice(true);
    }
    if let Some(r) = &args.reply_to {
        msg = msg.reply_to(r.as_str());
    }
    if let Some(d) = &args.callback_data {
        msg = msg.callback_data(d.as_str());
    }
    msg
}

/// A local refusal: exit 3, nothing was sent.
pub(super) fn refused(e: impl std::fmt::Display) -> Failure {
    Failure::new(
        Exit::Validation,
        format!("refused before sending, nothing was sent: {e}"),
    )
}

/// What went wrong inside an [`Error::MaybeSent`].
pub(super) fn unwrap_maybe_sent(e: Error) -> Error {
    match e {
        Error::MaybeSent { source } => *source,
        other => other,
    }
}

/// The failure of a send; "may have been sent" gets its own message and exit code (8).
pub(super) fn send_failure(e: Error, to: &str) -> Failure {
    if !e.may_have_been_sent() {
        return Failure::from(e);
    }
    let cause = Failure::from(unwrap_maybe_sent(e));
    Failure::new(
        Exit::MaybeSent,
        format!(
            "the message to {to} may have been sent: {} It was not sent again, because a retry could deliver it twice: check its statuses (wa-media serve, or your webhook) before sending it again",
            sentence(&cause.message)
        ),
    )
}

/// `text` ending with one full stop (or its own question or exclamation mark).
pub(super) fn sentence(text: &str) -> String {
    let text = text.trim_end().trim_end_matches('.');
    if text.ends_with(['?', '!']) {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}

pub(super) fn print(
    g: &Global,
    sent: &SentMessage,
    media_id: Option<&MediaId>,
) -> Result<(), Failure> {
    if g.json {
        output::json(&json!({
            "wamid": sent.wamid,
            "wa_id": sent.wa_id,
            "message_status": sent.message_status,
            "media_id": media_id.map(MediaId::as_str),
        }))
    } else {
        output::line(&sent.wamid)
    }
}
