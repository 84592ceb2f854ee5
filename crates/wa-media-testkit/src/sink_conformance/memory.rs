//! [`MemorySink`]: a sink keeping media in memory that keeps every rule of the `Sink`
//! contract (the suite's own reference), and [`Break`]: variants that each break one rule, to
//! show the suite catches them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use wa_media_core::{FetchOptions, MediaApi, MediaApiExt};
use wa_media_webhook::{filing_name, Saved, SavedRecord, Sink, SinkError, SpoolEntry};

use super::SinkHarness;

/// What a broken [`MemorySink`] does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Break {
    /// Nothing: the reference sink.
    Nothing,
    /// Ignores the webhook's digest (checks only the API's). Breaks
    /// [`super::Rule::RefusesADigestThatDisagrees`].
    IgnoresTheWebhookDigest,
    /// Writes the bytes under the media's name as they arrive. Breaks
    /// [`super::Rule::AFailedTransferLeavesNothing`] and
    /// [`super::Rule::ACancelledSaveLeavesNothing`].
    WritesAsItDownloads,
    /// Calls every failure permanent. Breaks [`super::Rule::AFailedTransferLeavesNothing`].
    EveryFailureIsPermanent,
    /// Stores the media again under a new name each time. Breaks
    /// [`super::Rule::SavingAgainIsIdempotent`].
    StoresAgain,
    /// Writes a media over whatever holds its name. Breaks
    /// [`super::Rule::NeverReplacesAnotherMedia`].
    ReplacesByName,
}

#[derive(Debug, Default)]
struct State {
    /// Name → (media id, bytes).
    objects: BTreeMap<String, (String, Vec<u8>)>,
    /// Media id → record.
    records: BTreeMap<String, Vec<SavedRecord>>,
}

/// Media in memory: `DAY/NAME` → bytes, and one [`SavedRecord`] per media. Cheap to clone
/// (clones share the storage).
#[derive(Debug, Clone)]
pub struct MemorySink {
    state: Arc<Mutex<State>>,
    breaks: Break,
}

impl MemorySink {
    /// A sink that keeps every rule.
    pub fn new() -> Self {
        Self::broken(Break::Nothing)
    }

    /// A sink that does `breaks` wrong.
    pub fn broken(breaks: Break) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::default())),
            breaks,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The name for `entry`: its own when free or holding the same media, else the next
    /// numbered one (and whether the same media is there already).
    fn name_for(
        &self,
        entry: &SpoolEntry,
        sha256: Option<&wa_media_types::Sha256Digest>,
    ) -> (String, bool) {
        let (day, name) = filing_name(entry);
        let st = self.state();
        for n in 0.. {
            let candidate = format!("{day}/{}", wa_media_types::filename::numbered(&name, n));
            match st.objects.get(&candidate) {
                None => return (candidate, false),
                Some((id, bytes))
                    if id.as_str() == entry.media_id.as_str()
                        && self.breaks != Break::StoresAgain
                        && sha256.is_none_or(|s| wa_media_types::Sha256Digest::of(bytes) == *s) =>
                {
                    return (candidate, true)
                }
                Some(_) if self.breaks == Break::ReplacesByName => return (candidate, false),
                Some(_) => {}
            }
        }
        unreachable!("names are endless")
    }
}

impl Default for MemorySink {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl Sink for MemorySink {
    async fn save(&self, api: Arc<dyn MediaApi>, entry: &SpoolEntry) -> Result<Saved, SinkError> {
        let fail = |e: wa_media_core::Error| match self.breaks {
            Break::EveryFailureIsPermanent => SinkError::permanent(e),
            _ => SinkError::from(e),
        };
        let id = &entry.media_id;
        let mut options = FetchOptions::default();
        if let (Some(sha), false) = (
            entry.expected_sha256(),
            self.breaks == Break::IgnoresTheWebhookDigest,
        ) {
            options = options.expect_sha256(sha);
        }
        let (info, mut dl) = api.fetch_with_info(id, &options).await.map_err(fail)?;
        let (name, present) = self.name_for(entry, Some(&info.sha256));
        let saved = |already| Saved::new(name.clone(), info.file_size, info.sha256, already);
        if present {
            return Ok(saved(true));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = dl.next().await {
            let chunk = chunk.map_err(fail)?;
            bytes.extend_from_slice(&chunk);
            if self.breaks == Break::WritesAsItDownloads {
                self.state()
                    .objects
                    .insert(name.clone(), (entry.media_id.to_string(), bytes.clone()));
            }
        }
        let saved = saved(false);
        let record = SavedRecord::new(entry, &saved);
        let mut st = self.state();
        st.objects
            .insert(name.clone(), (entry.media_id.to_string(), bytes));
        let records = st.records.entry(entry.media_id.to_string()).or_default();
        if records.is_empty() || self.breaks == Break::StoresAgain {
            records.push(record);
        }
        Ok(saved)
    }
}

#[async_trait::async_trait]
impl SinkHarness for MemorySink {
    fn sink(&self) -> Arc<dyn Sink> {
        Arc::new(self.clone())
    }

    async fn stored(&self) -> Vec<(String, Vec<u8>)> {
        self.state()
            .objects
            .iter()
            .map(|(k, (_, b))| (k.clone(), b.clone()))
            .collect()
    }

    async fn records(&self) -> Vec<super::SavedRecord> {
        self.state().records.values().flatten().cloned().collect()
    }
}
