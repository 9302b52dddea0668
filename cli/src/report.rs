//! The text report of `goheap bench`'s alloc suite: a Markdown table
//! (comfy-table's, aligned, so it reads as well in a terminal) with one row
//! per workload and allocator, the geometric means per allocator, a legend
//! and the reasons of failed runs; and the table helpers the other reports
//! share.

use crate::results::{Cell, Mean, Metric, Results, Summary};

const HEADER: [&str; 6] = [
    "workload",
    "allocator",
    "time",
    "vs goheap",
    "peak RSS",
    "vs goheap",
];
/// Which columns hold numbers (right-aligned).
const NUMERIC: [bool; 6] = [false, false, true, true, true, true];

/// The full report.
pub fn report(results: &Results) -> String {
    let mut rows = Vec::new();
    for w in 0..results.workloads.len() {
        rows.extend(workload_rows(results, w));
    }
    rows.extend(mean_rows(results));
    let mut out = table(&rows);
    out.push('\n');
    out.push_str(&legend(results));
    out.push_str(&failures(results));
    out
}

fn workload_rows(results: &Results, w: usize) -> Vec<[String; 6]> {
    (0..results.allocators.len())
        .map(|a| {
            let name = if a == 0 { results.workloads[w] } else { "" };
            let allocator = results.allocators[a].name();
            match results.cell(w, a) {
                Cell::Failed(_) => row(name, allocator, ["FAILED", "", "", ""].map(String::from)),
                cell => row(name, allocator, figures(cell.summary(), results, w, a)),
            }
        })
        .collect()
}

fn figures(summary: Option<Summary>, results: &Results, w: usize, a: usize) -> [String; 4] {
    [
        summary.map_or_else(none, |s| seconds(s.time_secs)),
        ratio(results.ratio(w, a, Metric::Time)),
        summary.map_or_else(none, |s| mebibytes(s.peak_rss_kib as f64)),
        ratio(results.ratio(w, a, Metric::PeakRss)),
    ]
}

fn mean_rows(results: &Results) -> Vec<[String; 6]> {
    let total = results.workloads.len();
    (0..results.allocators.len())
        .map(|a| {
            let label = if a == 0 { "geometric mean" } else { "" };
            let mean =
                |m: Metric, format: fn(f64) -> String| counted(results.mean(a, m), total, format);
            let mean_ratio =
                |m: Metric| counted(results.mean_ratio(a, m), total, |v| ratio(Some(v)));
            row(
                label,
                results.allocators[a].name(),
                [
                    mean(Metric::Time, seconds),
                    mean_ratio(Metric::Time),
                    mean(Metric::PeakRss, mebibytes),
                    mean_ratio(Metric::PeakRss),
                ],
            )
        })
        .collect()
}

fn row(workload: &str, allocator: &str, figures: [String; 4]) -> [String; 6] {
    let [t, tr, r, rr] = figures;
    [workload.to_owned(), allocator.to_owned(), t, tr, r, rr]
}

/// A mean, marked `(k/n)` when it covers only k of the n workloads.
fn counted(mean: Mean, total: usize, format: fn(f64) -> String) -> String {
    match mean.value {
        None => none(),
        Some(v) if mean.count == total => format(v),
        Some(v) => format!("{} ({}/{total})", format(v), mean.count),
    }
}

pub fn none() -> String {
    "–".to_owned()
}

pub fn seconds(secs: f64) -> String {
    format!("{secs:.3} s")
}

pub fn mebibytes(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

pub fn ratio(r: Option<f64>) -> String {
    r.map_or_else(none, |r| format!("{r:.2}"))
}

/// The rows as an aligned Markdown table (numbers right-aligned).
fn table(rows: &[[String; 6]]) -> String {
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.to_vec()).collect();
    markdown(&HEADER, &rows, &NUMERIC)
}

/// A Markdown table drawn by comfy-table, aligned so that it reads as well
/// in a terminal; `right[i]` right-aligns column i.
pub fn markdown(header: &[&str], rows: &[Vec<String>], right: &[bool]) -> String {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::ASCII_MARKDOWN)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(header.to_vec());
    for row in rows {
        table.add_row(row.clone());
    }
    for (i, &r) in right.iter().enumerate() {
        if let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(if r {
                comfy_table::CellAlignment::Right
            } else {
                comfy_table::CellAlignment::Left
            });
        }
    }
    let mut out = table.to_string();
    out.push('\n');
    out
}

fn legend(results: &Results) -> String {
    format!(
        "time: median wall time of {} run(s); peak RSS: largest of the runs (ru_maxrss); \
         vs goheap: the allocator's figure / goheap's (above 1: more time or memory than goheap); \
         geometric mean: over the workloads that passed ((k/n) when not all did).\n",
        results.runs
    )
}

fn failures(results: &Results) -> String {
    let mut out = String::new();
    for (w, workload) in results.workloads.iter().enumerate() {
        for (a, allocator) in results.allocators.iter().enumerate() {
            if let Cell::Failed(why) = results.cell(w, a) {
                out.push_str(&format!(
                    "FAILED: {workload} under {}: {why}\n",
                    allocator.name()
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::tests::sample;

    #[test]
    fn formats() {
        assert_eq!(seconds(1.23456), "1.235 s");
        assert_eq!(mebibytes(1536.0), "1.5 MiB");
        assert_eq!(ratio(Some(1.0)), "1.00");
        assert_eq!(ratio(None), "–");
        let partial = Mean {
            value: Some(2.0),
            count: 1,
        };
        assert_eq!(counted(partial, 2, |v| ratio(Some(v))), "2.00 (1/2)");
        assert_eq!(
            counted(
                Mean {
                    value: Some(2.0),
                    count: 2
                },
                2,
                seconds
            ),
            "2.000 s"
        );
    }

    /// The trimmed cells of the table rows.
    fn rows(text: &str) -> Vec<Vec<&str>> {
        text.lines()
            .take_while(|l| l.starts_with('|'))
            .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
            .collect()
    }

    #[test]
    fn report_has_rows_means_and_failures() {
        let text = report(&sample());
        let rows = rows(&text);
        assert_eq!(rows[0], HEADER);
        assert!(rows[1].iter().all(|c| c.starts_with("--")), "{text}");
        assert_eq!(
            rows[2],
            ["a", "goheap", "1.100 s", "1.00", "0.1 MiB", "1.00"]
        );
        assert_eq!(rows[3][..4], ["", "glibc", "2.100 s", "1.91"]);
        assert_eq!(rows[7], ["", "mimalloc", "FAILED", "", "", ""]);
        assert_eq!(rows[8][..2], ["geometric mean", "goheap"]);
        assert_eq!(rows[10][3], "0.50 (1/2)");
        assert!(
            text.contains("FAILED: b under mimalloc: exit code 1"),
            "{text}"
        );
    }

    #[test]
    fn table_lines_are_aligned() {
        let text = report(&sample());
        let table: Vec<&str> = text.lines().take_while(|l| l.starts_with('|')).collect();
        let width = table[0].chars().count();
        assert!(table.iter().all(|l| l.chars().count() == width), "{text}");
        assert_eq!(table.len(), 2 + 2 * 3 + 3);
    }
}
