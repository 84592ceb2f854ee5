//! `index.jsonl`: one JSON line per saved media, appended with group commit — the workers
//! saving at the same moment share one write and one fsync, and each returns only once its
//! own line is durable.
//!
//! The file stays parseable through every fault, and holds one line per media across processes:
//! - every batch is written under an advisory lock on the file (`flock`), so the instances of
//!   the documented multi-instance layout (one `-d`, a spool each) take turns;
//! - under the lock, the lines other processes appended since this one last looked are read
//!   first: a media one of them indexed already is not indexed again;
//! - a partial last line (a writer killed mid-append) is cut off before the next append, so
//!   the next record never glues onto it;
//! - a write cut short (a full disk) is truncated back before the error is returned, so the
//!   retry appends whole lines;
//! - a reader skips an unparseable line with a warning instead of failing.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::fsops;

/// The index file of a [`crate::DirectorySink`].
#[derive(Debug)]
pub(crate) struct IndexLog {
    path: PathBuf,
    state: Mutex<State>,
    /// Held by the one thread writing and syncing a batch (the leader).
    writer: Mutex<Writer>,
}

#[derive(Debug, Default)]
struct Writer {
    file: Option<File>,
    /// Bytes of the file read so far: whole lines, every one of them known.
    read: u64,
}

#[derive(Debug, Default)]
struct State {
    /// Media id → the ticket of its line (0: in the file, written by another process or
    /// found there when opened).
    ids: HashMap<String, u64>,
    /// Lines waiting for the next batch, with their tickets and media ids.
    pending: Vec<Line>,
    next: u64,
    /// Every ticket up to this one is durable.
    flushed: u64,
}

#[derive(Debug)]
struct Line {
    ticket: u64,
    media_id: String,
    text: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The media ids of the whole lines of `bytes` (read from `offset` of `path`), and the length
/// of those whole lines; an unparseable line is skipped with a warning.
fn scan(path: &Path, offset: u64, bytes: &[u8]) -> (Vec<String>, u64) {
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut ids = Vec::new();
    let mut at = offset;
    for line in bytes[..whole].split(|b| *b == b'\n') {
        if line.is_empty() {
            at += 1;
            continue;
        }
        // A record's key: its media id, or for a `failed` record its message id.
        let key = match serde_json::from_slice::<crate::SavedRecord>(line) {
            Ok(r) => Some(r.key()),
            // A line of another shape that names a media.
            Err(_) => serde_json::from_slice::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v["media_id"].as_str().map(str::to_owned)),
        };
        match key {
            Some(id) => ids.push(id),
            None => tracing::warn!(
                path = %path.display(),
                offset = at,
                "an index line is not a record (skipped): {}",
                String::from_utf8_lossy(&line[..line.len().min(120)])
            ),
        }
        at += line.len() as u64 + 1;
    }
    (ids, whole as u64)
}

impl IndexLog {
    /// Opens the index at `path`, reading the media ids already in it.
    pub(crate) fn open(path: PathBuf) -> Self {
        let mut ids = HashMap::new();
        let mut read = 0;
        if let Ok(bytes) = fsops::read_regular(&path) {
            let (found, whole) = scan(&path, 0, &bytes);
            ids.extend(found.into_iter().map(|id| (id, 0)));
            read = whole;
            if whole < bytes.len() as u64 {
                tracing::warn!(path = %path.display(), bytes = bytes.len() as u64 - whole, "index.jsonl ends in a partial line (a write was cut off); it is removed before the next append");
            }
        }
        Self {
            path,
            state: Mutex::new(State {
                ids,
                ..State::default()
            }),
            writer: Mutex::new(Writer { file: None, read }),
        }
    }

    /// Appends `line` for `media_id` unless the media is indexed already (by this process or
    /// another), and returns once it is durable (blocking: call it from a blocking context).
    pub(crate) fn append(&self, media_id: &str, line: String) -> io::Result<()> {
        let ticket = {
            let mut st = lock(&self.state);
            match st.ids.get(media_id) {
                Some(&t) => t,
                None => {
                    st.next += 1;
                    let t = st.next;
                    st.ids.insert(media_id.to_owned(), t);
                    st.pending.push(Line {
                        ticket: t,
                        media_id: media_id.to_owned(),
                        text: line,
                    });
                    t
                }
            }
        };
        let mut writer = lock(&self.writer);
        let batch = {
            let mut st = lock(&self.state);
            if st.flushed >= ticket {
                return Ok(());
            }
            std::mem::take(&mut st.pending)
        };
        let upto = batch.iter().map(|l| l.ticket).max().unwrap_or(ticket);
        match self.write(&mut writer, &batch) {
            Ok(()) => {
                let mut st = lock(&self.state);
                st.flushed = st.flushed.max(upto);
                Ok(())
            }
            Err(e) => {
                // Put the batch back: the next writer (or the retry of this save) writes it.
                writer.file = None;
                let mut st = lock(&self.state);
                let mut back = batch;
                back.append(&mut st.pending);
                st.pending = back;
                Err(e)
            }
        }
    }

    /// Writes `batch` under the file's lock: catches up with other writers, cuts off a partial
    /// last line, appends the lines of media not indexed yet, and syncs.
    fn write(&self, writer: &mut Writer, batch: &[Line]) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        if writer.file.is_none() {
            writer.file = Some(
                OpenOptions::new()
                    .create(true)
                    .read(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        let Some(f) = writer.file.as_mut() else {
            return Err(io::Error::other("index not open"));
        };
        fsops::lock::exclusive(f)?;
        let result = Self::write_locked(&self.path, f, &mut writer.read, &self.state, batch);
        let _ = fsops::lock::unlock(f);
        result
    }

    fn write_locked(
        path: &Path,
        f: &mut File,
        read: &mut u64,
        state: &Mutex<State>,
        batch: &[Line],
    ) -> io::Result<()> {
        // What other processes appended since, and a partial last line.
        if f.metadata()?.len() < *read {
            // Truncated or replaced by someone else: read it again from the start.
            *read = 0;
        }
        let mut tail = Vec::new();
        f.seek(SeekFrom::Start(*read))?;
        f.read_to_end(&mut tail)?;
        let (others, whole) = scan(path, *read, &tail);
        if whole < tail.len() as u64 {
            let cut = *read + whole;
            tracing::warn!(path = %path.display(), bytes = tail.len() as u64 - whole, "removing a partial last line of index.jsonl (a write was cut off)");
            f.set_len(cut)?;
        }
        *read += whole;
        // A media in the file already (by another process, now or at an earlier catch-up) is
        // marked with ticket 0 and not written again.
        let mut text = String::new();
        {
            let mut st = lock(state);
            for id in others {
                st.ids.insert(id, 0);
            }
            for line in batch {
                if st.ids.get(&line.media_id) != Some(&0) {
                    text.push_str(&line.text);
                    text.push('\n');
                }
            }
        }
        if text.is_empty() {
            return Ok(());
        }
        // One append of whole lines, then one fsync for the batch; a write cut short is
        // truncated back, so the retry appends whole lines.
        if let Err(e) = fsops::write_all(f, path, text.as_bytes()) {
            if let Err(t) = f.set_len(*read) {
                tracing::error!(path = %path.display(), error = %t, "cannot truncate a cut-off index write; it is removed before the next append");
            }
            return Err(e);
        }
        f.sync_data()?;
        *read += text.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_appends_write_every_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = IndexLog::open(dir.path().join("index.jsonl"));
        std::thread::scope(|s| {
            for t in 0..8 {
                let log = &log;
                s.spawn(move || {
                    for i in 0..50 {
                        let id = format!("{}", t * 1000 + i);
                        let line = serde_json::json!({ "media_id": id }).to_string();
                        log.append(&id, line.clone()).unwrap();
                        // A second save of the same media adds nothing.
                        log.append(&id, line).unwrap();
                    }
                });
            }
        });
        let text = std::fs::read_to_string(dir.path().join("index.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 400);
        let reopened = IndexLog::open(dir.path().join("index.jsonl"));
        reopened
            .append("3", r#"{"media_id":"3"}"#.to_owned())
            .unwrap();
        let text = std::fs::read_to_string(dir.path().join("index.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 400, "indexed twice after a reopen");
    }

    use crate::fsops::inject::{self, Fault, Op};

    fn record(id: &str) -> String {
        serde_json::json!({ "media_id": id, "path": format!("/inbox/{id}.jpg") }).to_string()
    }

    /// Every line of the file parses, and the media ids in it, in order.
    fn parsed_ids(path: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "ends mid-line: {text:?}"
        );
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("unparseable line ({e}): {l:?}"));
                v["media_id"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    #[test]
    fn a_partial_last_line_left_by_a_crash_is_cut_off_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.jsonl");
        // A whole line, then what a writer killed mid-append leaves.
        std::fs::write(&path, format!("{}\n{{\"media_id\":\"2\",\"pa", record("1"))).unwrap();
        let log = IndexLog::open(path.clone());
        log.append("3", record("3")).unwrap();
        assert_eq!(parsed_ids(&path), ["1", "3"]);
        // The media whose line was cut is indexed when it is saved again.
        log.append("2", record("2")).unwrap();
        log.append("1", record("1")).unwrap();
        assert_eq!(parsed_ids(&path), ["1", "3", "2"]);
    }

    #[test]
    fn a_write_cut_short_by_a_full_disk_is_truncated_back_and_the_retry_appends_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.jsonl");
        let log = IndexLog::open(path.clone());
        log.append("1", record("1")).unwrap();
        // The next write stops after 7 bytes with ENOSPC, the one after fails outright.
        inject::fail(dir.path(), Op::Write, "index", 0, 1, Fault::ShortWrite(7));
        inject::fail(dir.path(), Op::Write, "index", 0, 1, Fault::NoSpace);
        let e = log.append("2", record("2")).unwrap_err();
        assert_eq!(e.raw_os_error(), crate::fsops::no_space().raw_os_error());
        assert_eq!(parsed_ids(&path), ["1"], "the fragment stayed");
        assert!(log.append("2", record("2")).is_err());
        assert_eq!(parsed_ids(&path), ["1"]);
        // Space again: one whole line, once.
        log.append("2", record("2")).unwrap();
        log.append("2", record("2")).unwrap();
        assert_eq!(parsed_ids(&path), ["1", "2"]);
        inject::clear(dir.path());
    }

    #[test]
    fn an_unparseable_line_is_skipped_and_the_rest_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.jsonl");
        let glued = format!("{{\"media_id\":\"9\",\"pa{}", record("8"));
        std::fs::write(
            &path,
            format!("{}\n{glued}\n{}\n", record("1"), record("3")),
        )
        .unwrap();
        let log = IndexLog::open(path.clone());
        log.append("1", record("1")).unwrap();
        log.append("3", record("3")).unwrap();
        log.append("9", record("9")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.ends_with(&format!("{}\n", record("9"))));
    }

    #[test]
    fn a_line_of_another_writer_read_while_writing_an_earlier_batch_is_not_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.jsonl");
        let (a, b) = (IndexLog::open(path.clone()), IndexLog::open(path.clone()));
        // B's X line was queued just after B's leader took the batch holding Y; A indexes X;
        // B writes Y (reading A's line), then the batch holding X.
        lock(&b.state).ids.insert("X".into(), 99);
        a.append("X", record("X")).unwrap();
        b.append("Y", record("Y")).unwrap();
        lock(&b.state).pending.push(Line {
            ticket: 99,
            media_id: "X".into(),
            text: record("X"),
        });
        b.append("X", record("X")).unwrap();
        b.append("Z", record("Z")).unwrap();
        assert_eq!(parsed_ids(&path), ["X", "Y", "Z"]);
    }

    #[test]
    fn two_writers_on_one_file_index_each_media_once() {
        // Two processes of the multi-instance layout: two logs on one file, each saving
        // every media.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.jsonl");
        let a = IndexLog::open(path.clone());
        let b = IndexLog::open(path.clone());
        std::thread::scope(|s| {
            for log in [&a, &b] {
                s.spawn(move || {
                    for i in 0..200 {
                        let id = i.to_string();
                        log.append(&id, record(&id)).unwrap();
                    }
                });
            }
        });
        let mut ids = parsed_ids(&path);
        assert_eq!(ids.len(), 200, "{ids:?}");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 200);
    }
}
