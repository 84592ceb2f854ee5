//! The report: one row per measured thing (samples, median, min–max, ratios), the printed table
//! and its JSON twin under `target/bench/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// Whether a row holds numbers, was skipped on purpose, or failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Measured.
    Ok,
    /// Not measured for a reason that is not a failure (e.g. `curl` is not installed).
    Skipped(String),
    /// The measurement failed.
    Error(String),
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Stable key, used in the JSON and by the checks (`download.100m.http.project`).
    pub id: String,
    /// The scenario number of issue 7 (1–7).
    pub scenario: u8,
    /// What is measured.
    pub what: String,
    /// Who does it (`wa-media`, `curl + sha256sum`, `emulator`…).
    pub client: String,
    /// The unit of the samples.
    pub unit: &'static str,
    /// One value per run.
    pub samples: Vec<f64>,
    /// Median of this row divided by the median of the row it is compared with (curl).
    pub ratio: Option<f64>,
    /// Median of this row as a fraction of the lower ceiling (scenario 6).
    pub of_ceiling: Option<f64>,
    /// Free-form details (latency percentiles, bytes moved, method).
    pub notes: Vec<String>,
    /// Measured, skipped or failed.
    pub status: Status,
}

impl Row {
    /// A row in `scenario` with no samples yet.
    pub fn new(
        id: impl Into<String>,
        scenario: u8,
        what: impl Into<String>,
        client: impl Into<String>,
        unit: &'static str,
    ) -> Self {
        Self {
            id: id.into(),
            scenario,
            what: what.into(),
            client: client.into(),
            unit,
            samples: Vec::new(),
            ratio: None,
            of_ceiling: None,
            notes: Vec::new(),
            status: Status::Ok,
        }
    }

    /// Adds a note.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Marks the row failed (keeps the first error).
    pub fn fail(&mut self, error: impl std::fmt::Display) {
        if matches!(self.status, Status::Ok) {
            self.status = Status::Error(error.to_string());
        }
    }

    /// Marks the row skipped.
    pub fn skip(&mut self, reason: impl Into<String>) {
        self.status = Status::Skipped(reason.into());
    }

    /// The median of the samples (`None` without samples or unless the row is `Ok`).
    pub fn median(&self) -> Option<f64> {
        if self.status != Status::Ok {
            return None;
        }
        median(&self.samples)
    }

    fn min_max(&self) -> Option<(f64, f64)> {
        let min = self.samples.iter().copied().reduce(f64::min)?;
        let max = self.samples.iter().copied().reduce(f64::max)?;
        Some((min, max))
    }
}

/// The median of `v` (mean of the two middle values for an even count).
pub fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// The `p`-th percentile (0–100) of sorted `v`, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 {
        // Thousands separators for readability.
        let n = v.round() as u64;
        let s = n.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// One target: what it asks, whether it was met (`None`: no number), and the figure.
pub type Target = (String, Option<bool>, String);

/// Everything one run of the harness produced.
#[derive(Debug)]
pub struct Report {
    /// The rows in table order.
    pub rows: Vec<Row>,
    /// Machine description lines (cores, CPU model…).
    pub machine: Vec<(String, String)>,
    /// Settings (profile, quick, sizes, runs).
    pub settings: Vec<(String, String)>,
    /// Target verdicts: (target, met, detail).
    pub targets: Vec<Target>,
}

impl Report {
    /// The row with `id`.
    pub fn get(&self, id: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.id == id)
    }

    /// The table as text (what is printed and copied into docs/performance.md).
    pub fn table(&self) -> String {
        let header = [
            "#",
            "scenario",
            "client",
            "median",
            "min–max",
            "unit",
            "vs curl",
            "of ceiling",
            "notes",
        ];
        let mut lines: Vec<[String; 9]> = Vec::new();
        for r in &self.rows {
            let (median, range) = match (&r.status, r.median(), r.min_max()) {
                (Status::Ok, Some(m), Some((lo, hi))) => (
                    fmt_num(m),
                    if r.samples.len() > 1 {
                        format!("{}–{}", fmt_num(lo), fmt_num(hi))
                    } else {
                        "(1 run)".to_owned()
                    },
                ),
                (Status::Skipped(why), _, _) => ("skipped".into(), why.clone()),
                (Status::Error(e), _, _) => ("ERROR".into(), e.clone()),
                _ => ("ERROR".into(), "no sample".into()),
            };
            lines.push([
                r.scenario.to_string(),
                r.what.clone(),
                r.client.clone(),
                median,
                range,
                r.unit.to_owned(),
                r.ratio.map(|x| format!("{x:.2}×")).unwrap_or_default(),
                r.of_ceiling
                    .map(|x| format!("{:.0} %", x * 100.0))
                    .unwrap_or_default(),
                r.notes.join("; "),
            ]);
        }
        let mut widths = header.map(|h| h.chars().count());
        for l in &lines {
            for (w, c) in widths.iter_mut().zip(l.iter()) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let mut put = |cells: &[String]| {
            let mut line = String::new();
            for (i, (c, w)) in cells.iter().zip(widths.iter()).enumerate() {
                let pad = w.saturating_sub(c.chars().count());
                // Numbers right-aligned, text left-aligned; the last column unpadded.
                if i == cells.len() - 1 {
                    line.push_str(c);
                } else if matches!(i, 0 | 3) {
                    let _ = write!(line, "{}{}  ", " ".repeat(pad), c);
                } else {
                    let _ = write!(line, "{}{}  ", c, " ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        };
        put(&header.map(str::to_owned));
        put(&widths.map(|w| "-".repeat(w)));
        for l in &lines {
            put(l);
        }
        out
    }

    /// The target verdicts as text.
    pub fn targets_text(&self) -> String {
        let mut out = String::new();
        for (t, met, detail) in &self.targets {
            let verdict = match met {
                Some(true) => "met",
                Some(false) => "NOT met",
                None => "not measured",
            };
            let _ = writeln!(out, "- {t}: {verdict} ({detail})");
        }
        out
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let (status, error) = match &r.status {
                    Status::Ok => ("ok", None),
                    Status::Skipped(w) => ("skipped", Some(w.clone())),
                    Status::Error(e) => ("error", Some(e.clone())),
                };
                let mm = r.min_max();
                json!({
                    "id": r.id,
                    "scenario": r.scenario,
                    "what": r.what,
                    "client": r.client,
                    "unit": r.unit,
                    "median": r.median(),
                    "min": mm.map(|m| m.0),
                    "max": mm.map(|m| m.1),
                    "samples": r.samples,
                    "ratio_vs_curl": r.ratio,
                    "fraction_of_lower_ceiling": r.of_ceiling,
                    "notes": r.notes,
                    "status": status,
                    "reason": error,
                })
            })
            .collect();
        let obj = |pairs: &[(String, String)]| {
            Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        };
        json!({
            "machine": obj(&self.machine),
            "settings": obj(&self.settings),
            "rows": rows,
            "targets": self.targets.iter().map(|(t, met, d)| json!({"target": t, "met": met, "detail": d})).collect::<Vec<_>>(),
        })
    }

    /// Writes `latest.json` and a timestamped copy into `dir`; returns the timestamped path.
    pub fn write_json(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let text = serde_json::to_string_pretty(&self.to_json()).map_err(std::io::Error::other)?;
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let path = dir.join(format!("bench-{secs}.json"));
        std::fs::write(&path, &text)?;
        std::fs::write(dir.join("latest.json"), &text)?;
        Ok(path)
    }

    /// Rows that failed, and ids expected but missing.
    pub fn problems(&self, expected: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self
            .rows
            .iter()
            .filter_map(|r| match &r.status {
                Status::Error(e) => Some(format!("{}: {e}", r.id)),
                Status::Ok if r.samples.is_empty() => Some(format!("{}: no sample", r.id)),
                _ => None,
            })
            .collect();
        for id in expected {
            if self.get(id).is_none() {
                out.push(format!("{id}: row missing"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_percentiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
    }

    #[test]
    fn numbers_are_readable() {
        assert_eq!(fmt_num(2101.4), "2,101");
        assert_eq!(fmt_num(1234567.0), "1,234,567");
        assert_eq!(fmt_num(42.25), "42.2");
        assert_eq!(fmt_num(1.234), "1.23");
    }

    #[test]
    fn failed_skipped_and_missing_rows_are_problems_but_skips_are_not() {
        let mut ok = Row::new("a", 1, "a", "x", "MB/s");
        ok.samples.push(1.0);
        let mut skipped = Row::new("b", 1, "b", "curl", "MB/s");
        skipped.skip("curl not installed");
        let mut failed = Row::new("c", 1, "c", "x", "MB/s");
        failed.fail("boom");
        let empty = Row::new("d", 1, "d", "x", "MB/s");
        let report = Report {
            rows: vec![ok, skipped, failed, empty],
            machine: vec![],
            settings: vec![],
            targets: vec![],
        };
        let p = report.problems(&["a".into(), "e".into()]);
        assert_eq!(p, vec!["c: boom", "d: no sample", "e: row missing"]);
        let table = report.table();
        assert!(table.contains("skipped"), "{table}");
        assert!(table.contains("ERROR"), "{table}");
        let json = report.to_json();
        assert_eq!(json["rows"][1]["status"], "skipped");
        assert_eq!(json["rows"][0]["median"], 1.0);
    }
}
