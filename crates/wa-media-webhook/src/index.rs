//! `index.jsonl`: one JSON line per saved media, appended with group commit — the workers
//! saving at the same moment share one write and one fsync, and each returns only once its
//! own line is durable.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// The index file of a [`crate::DirectorySink`].
#[derive(Debug)]
pub(crate) struct IndexLog {
    path: PathBuf,
    state: Mutex<State>,
    /// Held by the one thread writing and syncing a batch (the leader).
    writer: Mutex<Option<File>>,
}

#[derive(Debug, Default)]
struct State {
    /// Media id → the ticket of its line (0: already in the file when opened).
    ids: HashMap<String, u64>,
    /// Lines waiting for the next batch, with their tickets.
    pending: Vec<(u64, String)>,
    next: u64,
    /// Every ticket up to this one is durable.
    flushed: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl IndexLog {
    /// Opens the index at `path`, reading the media ids already in it.
    pub(crate) fn open(path: PathBuf) -> Self {
        let mut ids = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(&path) {
            for line in text.lines() {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                    if let Some(id) = v["media_id"].as_str() {
                        ids.insert(id.to_owned(), 0);
                    }
                }
            }
        }
        Self {
            path,
            state: Mutex::new(State {
                ids,
                ..State::default()
            }),
            writer: Mutex::new(None),
        }
    }

    /// Appends `line` for `media_id` unless the media is indexed already, and returns once it
    /// is durable (blocking: call it from a blocking context).
    pub(crate) fn append(&self, media_id: &str, line: String) -> io::Result<()> {
        let ticket = {
            let mut st = lock(&self.state);
            match st.ids.get(media_id) {
                Some(&t) => t,
                None => {
                    st.next += 1;
                    let t = st.next;
                    st.ids.insert(media_id.to_owned(), t);
                    st.pending.push((t, line));
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
        let upto = batch.iter().map(|(t, _)| *t).max().unwrap_or(ticket);
        match self.write(&mut writer, &batch) {
            Ok(()) => {
                let mut st = lock(&self.state);
                st.flushed = st.flushed.max(upto);
                Ok(())
            }
            Err(e) => {
                // Put the batch back: the next writer (or the retry of this save) writes it.
                *writer = None;
                let mut st = lock(&self.state);
                let mut back = batch;
                back.append(&mut st.pending);
                st.pending = back;
                Err(e)
            }
        }
    }

    fn write(&self, writer: &mut Option<File>, batch: &[(u64, String)]) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        if writer.is_none() {
            *writer = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        let Some(f) = writer.as_mut() else {
            return Err(io::Error::other("index not open"));
        };
        let mut text = String::new();
        for (_, line) in batch {
            text.push_str(line);
            text.push('\n');
        }
        // One append of whole lines, then one fsync for the batch.
        f.write_all(text.as_bytes())?;
        f.sync_data()
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
}
