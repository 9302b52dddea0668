//! Results across runs: `--json FILE` writes every figure of a bench run as
//! one record per (suite, workload, contender); `--compare OLD.json` prints,
//! for the records both runs have, each figure's old and new value and the
//! change in percent.

use crate::report::markdown;
use crate::results::{Cell, Results};
use crate::suites::{BenchResult, Outcome};
use crate::Failure;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One workload under one allocator (or one bench variant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub suite: String,
    pub workload: String,
    pub contender: String,
    /// Median wall time; absent when the runs failed or were skipped.
    pub time_secs: Option<f64>,
    pub peak_rss_kib: Option<u64>,
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct File {
    goheap_version: String,
    runs: u32,
    records: Vec<Record>,
}

/// The records of the alloc suite.
pub fn alloc_records(results: &Results) -> Vec<Record> {
    let mut out = Vec::new();
    for (w, workload) in results.workloads.iter().enumerate() {
        for (a, allocator) in results.allocators.iter().enumerate() {
            let cell = results.cell(w, a);
            let summary = cell.summary();
            out.push(Record {
                suite: "alloc".into(),
                workload: (*workload).into(),
                contender: allocator.name().into(),
                time_secs: summary.map(|s| s.time_secs),
                peak_rss_kib: summary.map(|s| s.peak_rss_kib),
                metrics: BTreeMap::new(),
                failed: match cell {
                    Cell::Failed(why) => Some(why.clone()),
                    Cell::Measured(_) => None,
                },
            });
        }
    }
    out
}

/// The records of a manifest bench.
pub fn bench_records(bench: &BenchResult) -> Vec<Record> {
    bench
        .variants
        .iter()
        .map(|v| {
            let summary = v.outcome.summary();
            Record {
                suite: bench.suite.name().into(),
                workload: bench.name.clone(),
                contender: v.name.clone(),
                time_secs: summary.as_ref().map(|s| s.time_secs),
                peak_rss_kib: summary.as_ref().map(|s| s.peak_rss_kib),
                metrics: summary.map(|s| s.metrics).unwrap_or_default(),
                failed: match &v.outcome {
                    Outcome::Failed(why) | Outcome::Skipped(why) => Some(why.clone()),
                    Outcome::TimedOut(secs) => Some(format!("timed out after {secs} s")),
                    Outcome::Measured(_) => None,
                },
            }
        })
        .collect()
}

pub fn write_json(path: &Path, runs: u32, records: &[Record]) -> Result<(), Failure> {
    let file = File {
        goheap_version: env!("CARGO_PKG_VERSION").into(),
        runs,
        records: records.to_vec(),
    };
    let text = serde_json::to_string_pretty(&file).map_err(|e| Failure::error(e.to_string()))?;
    std::fs::write(path, text + "\n")
        .map_err(|e| Failure::error(format!("{}: {e}", path.display())))
}

pub fn read_json(path: &Path) -> Result<Vec<Record>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::error(format!("--compare {}: {e}", path.display())))?;
    let file: File = serde_json::from_str(&text).map_err(|e| {
        Failure::error(format!(
            "--compare {}: not a goheap bench --json file: {e}",
            path.display()
        ))
    })?;
    Ok(file.records)
}

/// A figure's name, old and new value, and how to print a value.
type Figure = (String, Option<f64>, Option<f64>, fn(f64) -> String);

/// The change of every figure both runs measured, as a table.
pub fn report(old: &[Record], new: &[Record]) -> String {
    let key = |r: &Record| (r.suite.clone(), r.workload.clone(), r.contender.clone());
    let old: BTreeMap<_, &Record> = old.iter().map(|r| (key(r), r)).collect();
    let mut rows = Vec::new();
    for n in new {
        let Some(o) = old.get(&key(n)) else {
            continue;
        };
        let mut figures: Vec<Figure> = vec![
            (
                "time".into(),
                o.time_secs,
                n.time_secs,
                crate::report::seconds,
            ),
            (
                "peak RSS".into(),
                o.peak_rss_kib.map(|k| k as f64),
                n.peak_rss_kib.map(|k| k as f64),
                crate::report::mebibytes,
            ),
        ];
        for (name, &value) in &n.metrics {
            figures.push((
                name.clone(),
                o.metrics.get(name).copied(),
                Some(value),
                plain,
            ));
        }
        for (figure, before, after, format) in figures {
            let (Some(before), Some(after)) = (before, after) else {
                continue;
            };
            rows.push(vec![
                format!("{}/{}", n.suite, n.workload),
                n.contender.clone(),
                figure,
                format(before),
                format(after),
                change(before, after),
            ]);
        }
    }
    if rows.is_empty() {
        return "compare: the two runs have no figure in common\n".into();
    }
    let header = ["workload", "contender", "figure", "old", "new", "change"];
    let mut out = markdown(&header, &rows, &[false, false, false, true, true, true]);
    out += "change: new / old - 1 (for time and memory, negative is better)\n";
    out
}

fn plain(v: f64) -> String {
    format!("{v}")
}

/// `+12.5 %`, `-3.0 %`, `±0.0 %`.
fn change(before: f64, after: f64) -> String {
    if before == 0.0 {
        return crate::report::none();
    }
    let pct = (after / before - 1.0) * 100.0;
    if pct.abs() < 0.05 {
        "±0.0 %".into()
    } else {
        format!("{pct:+.1} %")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::tests::sample;

    #[test]
    fn alloc_results_become_records_with_failures() {
        let records = alloc_records(&sample());
        assert_eq!(records.len(), 6);
        assert_eq!(records[0].contender, "goheap");
        assert_eq!(records[0].time_secs, Some(1.1));
        let failed = records.iter().find(|r| r.failed.is_some()).unwrap();
        assert_eq!(
            (failed.workload.as_str(), failed.contender.as_str()),
            ("b", "mimalloc")
        );
        assert_eq!(failed.time_secs, None);
    }

    #[test]
    fn json_round_trips() {
        let dir = std::env::temp_dir().join(format!("goheap-cli-json-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.json");
        let records = alloc_records(&sample());
        write_json(&path, 3, &records).unwrap();
        assert_eq!(read_json(&path).unwrap(), records);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_comparison_shows_changes_of_common_figures() {
        let old = alloc_records(&sample());
        let mut new = old.clone();
        new[0].time_secs = Some(1.1 * 1.25);
        new[0].metrics.insert("gc_count".into(), 4.0);
        new.push(Record {
            workload: "only-new".into(),
            ..new[1].clone()
        });
        let text = report(&old, &new);
        let row = text
            .lines()
            .find(|l| l.contains("alloc/a") && l.contains("goheap") && l.contains("time"))
            .unwrap();
        assert!(row.contains("+25.0 %"), "{text}");
        assert!(text.contains("±0.0 %"), "{text}");
        assert!(
            !text.contains("only-new") && !text.contains("gc_count"),
            "{text}"
        );
        assert!(report(&old, &[]).contains("no figure in common"));
    }

    #[test]
    fn changes_are_signed_percentages() {
        assert_eq!(change(2.0, 1.0), "-50.0 %");
        assert_eq!(change(1.0, 1.0001), "±0.0 %");
        assert_eq!(change(0.0, 1.0), "–");
    }
}
