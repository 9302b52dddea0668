//! What `goheap bench` measured, one cell per workload and allocator, and
//! the figures derived from it: a cell's median time and peak RSS, each
//! allocator's ratio to goheap, the geometric means per allocator.

use crate::allocators::Allocator;
use crate::measure::Measurement;
use crate::stats::{geometric_mean, median, ratio};

/// The runs of one workload under one allocator.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// The successful runs so far.
    Measured(Vec<Measurement>),
    /// A run failed (later runs are skipped); why.
    Failed(String),
}

/// A cell's figures: median wall time, largest peak RSS.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub time_secs: f64,
    pub peak_rss_kib: u64,
}

/// Which figure a ratio or mean is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Time,
    PeakRss,
}

impl Summary {
    pub fn get(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Time => self.time_secs,
            Metric::PeakRss => self.peak_rss_kib as f64,
        }
    }
}

impl Cell {
    /// `None` when the cell failed or has no runs.
    pub fn summary(&self) -> Option<Summary> {
        let Cell::Measured(runs) = self else {
            return None;
        };
        let times: Vec<f64> = runs.iter().map(|m| m.wall.as_secs_f64()).collect();
        Some(Summary {
            time_secs: median(&times)?,
            peak_rss_kib: runs.iter().map(|m| m.peak_rss_kib).max()?,
        })
    }
}

/// A geometric mean over the workloads where it could be computed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mean {
    pub value: Option<f64>,
    /// How many workloads went into it.
    pub count: usize,
}

/// The whole grid.
#[derive(Debug)]
pub struct Results {
    pub workloads: Vec<&'static str>,
    pub allocators: Vec<Allocator>,
    pub runs: u32,
    /// Row-major: `cells[w * allocators.len() + a]`.
    cells: Vec<Cell>,
}

impl Results {
    pub fn new(workloads: Vec<&'static str>, allocators: Vec<Allocator>, runs: u32) -> Results {
        let cells = vec![Cell::Measured(Vec::new()); workloads.len() * allocators.len()];
        Results {
            workloads,
            allocators,
            runs,
            cells,
        }
    }

    pub fn cell(&self, w: usize, a: usize) -> &Cell {
        &self.cells[w * self.allocators.len() + a]
    }

    /// Adds the outcome of one run; a failure replaces the cell.
    pub fn record(&mut self, w: usize, a: usize, outcome: Result<Measurement, String>) {
        let index = w * self.allocators.len() + a;
        match (&mut self.cells[index], outcome) {
            (Cell::Measured(runs), Ok(m)) => runs.push(m),
            (cell, Err(why)) => *cell = Cell::Failed(why),
            (Cell::Failed(_), Ok(_)) => {}
        }
    }

    pub fn failed(&self, w: usize, a: usize) -> bool {
        matches!(self.cell(w, a), Cell::Failed(_))
    }

    pub fn any_failed(&self) -> bool {
        self.cells.iter().any(|c| matches!(c, Cell::Failed(_)))
    }

    /// The column of goheap, the baseline of every ratio.
    fn baseline(&self) -> Option<usize> {
        self.allocators.iter().position(|&a| a == Allocator::Goheap)
    }

    /// Allocator `a`'s figure on workload `w` divided by goheap's.
    pub fn ratio(&self, w: usize, a: usize, metric: Metric) -> Option<f64> {
        let base = self.cell(w, self.baseline()?).summary()?;
        let value = self.cell(w, a).summary()?;
        ratio(value.get(metric), base.get(metric))
    }

    /// Geometric mean of allocator `a`'s figure over the workloads it passed.
    pub fn mean(&self, a: usize, metric: Metric) -> Mean {
        self.mean_of(|w| Some(self.cell(w, a).summary()?.get(metric)))
    }

    /// Geometric mean of allocator `a`'s ratio to goheap over the workloads
    /// both passed.
    pub fn mean_ratio(&self, a: usize, metric: Metric) -> Mean {
        self.mean_of(|w| self.ratio(w, a, metric))
    }

    fn mean_of(&self, value_of: impl Fn(usize) -> Option<f64>) -> Mean {
        let values: Vec<f64> = (0..self.workloads.len()).filter_map(value_of).collect();
        Mean {
            value: geometric_mean(&values),
            count: values.len(),
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use std::time::Duration;

    pub fn m(secs: f64, rss: u64) -> Measurement {
        Measurement {
            wall: Duration::from_secs_f64(secs),
            peak_rss_kib: rss,
            metrics: Vec::new(),
        }
    }

    /// Two workloads ("a", "b") × goheap, glibc, mimalloc; mimalloc fails "b".
    pub fn sample() -> Results {
        use Allocator::*;
        let mut r = Results::new(vec!["a", "b"], vec![Goheap, Glibc, Mimalloc], 3);
        for (w, a, secs, rss) in [
            (0, 0, [1.0, 1.2, 1.1], 100),
            (0, 1, [2.0, 2.2, 2.1], 200),
            (0, 2, [0.5, 0.6, 0.55], 400),
            (1, 0, [4.0, 4.0, 4.0], 1000),
            (1, 1, [2.0, 2.0, 2.0], 1000),
        ] {
            for (i, s) in secs.into_iter().enumerate() {
                r.record(w, a, Ok(m(s, rss + i as u64)));
            }
        }
        r.record(1, 2, Ok(m(1.0, 10)));
        r.record(1, 2, Err("exit code 1".into()));
        r
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn summary_is_median_time_and_largest_rss() {
        let r = sample();
        let s = r.cell(0, 0).summary().unwrap();
        assert!(close(s.time_secs, 1.1));
        assert_eq!(s.peak_rss_kib, 102);
        assert_eq!(Cell::Measured(vec![]).summary(), None);
    }

    #[test]
    fn a_failure_replaces_the_cell_and_sticks() {
        let mut r = sample();
        assert!(r.failed(1, 2) && r.any_failed());
        r.record(1, 2, Ok(m(1.0, 10)));
        assert_eq!(r.cell(1, 2), &Cell::Failed("exit code 1".into()));
        assert_eq!(r.cell(1, 2).summary(), None);
    }

    #[test]
    fn ratios_are_relative_to_goheap() {
        let r = sample();
        assert!(close(r.ratio(0, 1, Metric::Time).unwrap(), 2.1 / 1.1));
        assert!(close(r.ratio(1, 1, Metric::Time).unwrap(), 0.5));
        assert!(close(r.ratio(0, 0, Metric::Time).unwrap(), 1.0));
        assert!(close(
            r.ratio(0, 2, Metric::PeakRss).unwrap(),
            402.0 / 102.0
        ));
        assert_eq!(r.ratio(1, 2, Metric::Time), None);
    }

    #[test]
    fn no_ratios_without_goheap() {
        let mut r = Results::new(vec!["a"], vec![Allocator::Glibc], 1);
        r.record(0, 0, Ok(m(1.0, 1)));
        assert_eq!(r.ratio(0, 0, Metric::Time), None);
        assert_eq!(
            r.mean_ratio(0, Metric::Time),
            Mean {
                value: None,
                count: 0
            }
        );
    }

    #[test]
    fn means_cover_the_workloads_that_passed() {
        let r = sample();
        let glibc = r.mean_ratio(1, Metric::Time);
        assert_eq!(glibc.count, 2);
        assert!(close(glibc.value.unwrap(), ((2.1 / 1.1) * 0.5f64).sqrt()));
        let goheap = r.mean(0, Metric::Time);
        assert!(close(goheap.value.unwrap(), (1.1f64 * 4.0).sqrt()));
        let mimalloc = r.mean_ratio(2, Metric::Time);
        assert_eq!(mimalloc.count, 1);
        assert!(close(mimalloc.value.unwrap(), 0.55 / 1.1));
    }
}
