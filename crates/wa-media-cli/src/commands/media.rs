//! `wa-media media ls` and `wa-media media show MEDIA_ID`: the media index, from
//! `DIR/index.jsonl` (`-d`, what one `serve` writes) or from the PostgreSQL database of
//! `serve --queue` (the `wa_media_index` table, shared by every instance).

use std::path::Path;

use wa_media_webhook::{RecordStatus, SavedRecord};

use crate::cli::{Global, MediaArgs, MediaCommand, RecordStatusArg};
use crate::failure::Failure;
use crate::output;

/// Which records `ls` lists (the same rule for both indexes).
#[derive(Debug, Default)]
struct Filter {
    from: Option<String>,
    since: Option<u64>,
    status: Option<&'static str>,
}

fn status_name(r: &SavedRecord) -> &'static str {
    match r.status {
        RecordStatus::Failed => "failed",
        _ => "saved",
    }
}

impl Filter {
    fn matches(&self, r: &SavedRecord) -> bool {
        let who = |w: &str| {
            [&r.from, &r.user_id, &r.parent_user_id, &r.username]
                .iter()
                .any(|f| f.as_deref() == Some(w))
        };
        self.from.as_deref().is_none_or(who)
            && self.since.is_none_or(|s| r.received_at >= s)
            && self.status.is_none_or(|s| status_name(r) == s)
    }
}

/// `--since`: `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time; seconds since the epoch.
fn parse_since(s: &str) -> Result<u64, Failure> {
    let text = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_owned()
    };
    humantime::parse_rfc3339_weak(&text)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .ok_or_else(|| {
            Failure::usage(format!(
                "--since {s}: expected a date (2026-03-01) or a time (2026-03-01T12:00:00Z)"
            ))
        })
}

/// Every record of `DIR/index.jsonl`, in file order; a line that does not parse (a partial
/// line left by a crash) is skipped with a warning, as the sink's own reader does.
fn read_jsonl(dir: &Path) -> Result<Vec<SavedRecord>, Failure> {
    let path = dir.join("index.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Failure::other(format!("{}: {e}", path.display()))),
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<SavedRecord>(line) {
            Ok(r) => out.push(r),
            Err(e) => tracing::warn!(
                path = %path.display(),
                line = n + 1,
                error = %e,
                "an index line that is not a record; skipped"
            ),
        }
    }
    Ok(out)
}

fn when(secs: u64) -> String {
    if secs == 0 {
        return "-".into();
    }
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

fn customer(r: &SavedRecord) -> &str {
    r.from
        .as_deref()
        .or(r.user_id.as_deref())
        .or(r.username.as_deref())
        .unwrap_or("-")
}

fn print(g: &Global, records: &[SavedRecord]) -> Result<(), Failure> {
    for r in records {
        if g.json {
            output::line(&r.to_json().to_string())?;
            continue;
        }
        let what = match r.status {
            RecordStatus::Failed => r
                .error
                .as_ref()
                .map(|e| format!("error {} {}", e.code, e.title.as_deref().unwrap_or("")))
                .unwrap_or_default(),
            _ => r.path.clone(),
        };
        let id = if r.media_id.is_empty() {
            &r.message_id
        } else {
            &r.media_id
        };
        output::line(&format!(
            "{}  {:<6}  {:<18}  {:<8}  {:<16}  {}",
            when(r.received_at),
            status_name(r),
            id,
            if r.kind.is_empty() { "-" } else { &r.kind },
            customer(r),
            what.trim_end()
        ))?;
    }
    Ok(())
}

fn show(g: &Global, r: &SavedRecord) -> Result<(), Failure> {
    if g.json {
        return output::line(&r.to_json().to_string());
    }
    if let serde_json::Value::Object(fields) = r.to_json() {
        for (k, v) in fields {
            let v = match v {
                serde_json::Value::String(s) => s,
                v => v.to_string(),
            };
            output::line(&format!("{:<16}{v}", format!("{k}:")))?;
        }
    }
    Ok(())
}

/// Runs `media ls` or `media show`.
pub async fn run(g: &Global, args: MediaArgs) -> Result<(), Failure> {
    if let Some(url) = args.queue.as_deref() {
        return from_database(g, url, args.command).await;
    }
    let Some(dir) = args.dir.as_deref() else {
        return Err(Failure::usage(
            "which index? -d DIR (its index.jsonl) or --queue postgres://… (the database of serve --queue)",
        ));
    };
    let records = read_jsonl(dir)?;
    match args.command {
        MediaCommand::Ls {
            from,
            since,
            status,
        } => {
            let filter = Filter {
                from,
                since: since.as_deref().map(parse_since).transpose()?,
                status: status.map(RecordStatusArg::as_str),
            };
            // Newest first, as the database lists them.
            let mut found: Vec<SavedRecord> =
                records.into_iter().filter(|r| filter.matches(r)).collect();
            found.reverse();
            found.sort_by_key(|r| std::cmp::Reverse(r.received_at));
            print(g, &found)
        }
        MediaCommand::Show { media_id } => {
            match records
                .iter()
                .rev()
                .find(|r| r.media_id == media_id || r.key() == media_id)
            {
                Some(r) => show(g, r),
                None => Err(Failure::other(format!(
                    "{media_id} is not in {}",
                    dir.join("index.jsonl").display()
                ))),
            }
        }
    }
}

#[cfg(feature = "postgres")]
async fn from_database(g: &Global, url: &str, command: MediaCommand) -> Result<(), Failure> {
    let unreachable = |e: std::io::Error| {
        Failure::new(
            crate::failure::Exit::Network,
            format!("the database {}: {e}", wa_media_postgres::redact(url)),
        )
    };
    let pool = wa_media_postgres::connect(url, 2)
        .await
        .map_err(unreachable)?;
    let index = wa_media_postgres::PgIndex::new(pool);
    match command {
        MediaCommand::Ls {
            from,
            since,
            status,
        } => {
            let mut q = wa_media_postgres::IndexQuery::default();
            if let Some(f) = from {
                q = q.from(f);
            }
            if let Some(s) = since.as_deref() {
                q = q.since(parse_since(s)?);
            }
            if let Some(s) = status {
                q = q.status(s.as_str());
            }
            let records = index.list(&q).await.map_err(unreachable)?;
            print(g, &records)
        }
        MediaCommand::Show { media_id } => {
            match index.show(&media_id).await.map_err(unreachable)? {
                Some(r) => show(g, &r),
                None => Err(Failure::other(format!(
                    "{media_id} is not in the media index"
                ))),
            }
        }
    }
}

#[cfg(not(feature = "postgres"))]
async fn from_database(_: &Global, _: &str, _: MediaCommand) -> Result<(), Failure> {
    Err(crate::failure::not_in_this_build(
        "`media --queue` (the PostgreSQL index)",
        "postgres",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_date_or_a_time() {
        assert_eq!(parse_since("2026-03-01").unwrap(), 1_772_323_200);
        assert_eq!(parse_since("2026-03-01T00:01:00Z").unwrap(), 1_772_323_260);
        assert!(parse_since("March").is_err());
    }
}
