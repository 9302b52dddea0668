//! The bar chart `goheap bench --svg FILE` writes, as hand-written SVG: per
//! workload (and for the geometric mean) one bar per allocator showing its
//! time relative to goheap, on a log scale around the goheap line (a bar up
//! is slower than goheap, down is faster).

use crate::allocators::Allocator;
use crate::results::{Metric, Results};

const BAR: f64 = 16.0;
const GROUP_GAP: f64 = 22.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 64.0;
const PLOT_HEIGHT: f64 = 300.0;
const BOTTOM: f64 = 40.0;

/// One allocator's bars.
struct Series {
    allocator: Allocator,
    /// Per group: the ratio, or `None` when there is none (a failed run).
    values: Vec<Option<f64>>,
}

/// Geometry of the chart.
struct Layout {
    groups: usize,
    series: usize,
    /// The axis spans 2^lo_exp ..= 2^hi_exp.
    lo_exp: i32,
    hi_exp: i32,
}

impl Layout {
    fn group_width(&self) -> f64 {
        self.series as f64 * BAR + GROUP_GAP
    }

    fn width(&self) -> f64 {
        LEFT + self.groups as f64 * self.group_width() + RIGHT
    }

    fn height(&self) -> f64 {
        TOP + PLOT_HEIGHT + BOTTOM
    }

    fn group_x(&self, group: usize) -> f64 {
        LEFT + group as f64 * self.group_width() + GROUP_GAP / 2.0
    }

    /// The y coordinate of a ratio (log2 scale).
    fn y(&self, ratio: f64) -> f64 {
        let span = f64::from(self.hi_exp - self.lo_exp);
        let pos = (ratio.log2() - f64::from(self.lo_exp)) / span;
        TOP + PLOT_HEIGHT * (1.0 - pos)
    }
}

/// The chart of `results`' time ratios; an error when goheap (the baseline)
/// was not measured.
pub fn chart(results: &Results) -> Result<String, String> {
    if !results.allocators.contains(&Allocator::Goheap) {
        return Err("the chart shows ratios to goheap: include goheap in --alloc".into());
    }
    let series = series(results);
    let mut groups: Vec<&str> = results.workloads.clone();
    groups.push("geomean");
    let layout = layout(&series, groups.len());
    let mut svg = header(&layout, results.runs);
    svg += &axis(&layout);
    for (i, s) in series.iter().enumerate() {
        svg += &bars(&layout, i, s);
    }
    svg += &mean_separator(&layout);
    svg += &group_labels(&layout, &groups);
    svg += &legend(&series);
    svg += "</svg>\n";
    Ok(svg)
}

/// Every allocator but goheap, with its ratio per workload and the mean.
fn series(results: &Results) -> Vec<Series> {
    (0..results.allocators.len())
        .filter(|&a| results.allocators[a] != Allocator::Goheap)
        .map(|a| {
            let mut values: Vec<Option<f64>> = (0..results.workloads.len())
                .map(|w| results.ratio(w, a, Metric::Time))
                .collect();
            values.push(results.mean_ratio(a, Metric::Time).value);
            Series {
                allocator: results.allocators[a],
                values,
            }
        })
        .collect()
}

/// Room past the longest bar for its value label, as a factor on the log axis.
const LABEL_ROOM: f64 = 1.4;

/// An axis of whole powers of two spanning every value (with room for the
/// labels) and at least ½..2.
fn layout(series: &[Series], groups: usize) -> Layout {
    let values = series.iter().flat_map(|s| s.values.iter().flatten());
    let (lo, hi) = values.fold((1.0f64, 1.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    Layout {
        groups,
        series: series.len().max(1),
        lo_exp: ((lo / LABEL_ROOM).log2().floor() as i32).min(-1),
        hi_exp: ((hi * LABEL_ROOM).log2().ceil() as i32).max(1),
    }
}

fn header(layout: &Layout, runs: u32) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
         viewBox=\"0 0 {w:.0} {h:.0}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{LEFT}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">\
         Wall time relative to goheap (median of {runs} run(s); log scale)</text>\n\
         <text x=\"{LEFT}\" y=\"38\" fill=\"#555\">above the line: slower than goheap; \
         below: faster</text>\n",
        w = layout.width(),
        h = layout.height()
    )
}

/// Grid lines and labels at each power of two, the goheap line at 1.
fn axis(layout: &Layout) -> String {
    let (x0, x1) = (LEFT, layout.width() - RIGHT);
    let mut out = String::new();
    for exp in layout.lo_exp..=layout.hi_exp {
        let ratio = 2f64.powi(exp);
        let y = layout.y(ratio);
        let (stroke, width) = if exp == 0 {
            (color(Allocator::Goheap), 1.5)
        } else {
            ("#ddd", 1.0)
        };
        out += &format!(
            "<line x1=\"{x0}\" x2=\"{x1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{stroke}\" \
             stroke-width=\"{width}\"/>\n<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}×</text>\n",
            x0 - 6.0,
            y + 4.0,
            ratio
        );
    }
    out
}

/// The bars of series `i`: from the goheap line to the ratio, with the value
/// written at the end; a cross where there is no value (a failed run).
fn bars(layout: &Layout, i: usize, series: &Series) -> String {
    let color = color(series.allocator);
    let name = series.allocator.name();
    let mut out = String::new();
    for (group, value) in series.values.iter().enumerate() {
        let x = layout.group_x(group) + i as f64 * BAR;
        let base = layout.y(1.0);
        let Some(ratio) = *value else {
            out += &format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{color}\">✗\
                 <title>{name}: failed</title></text>\n",
                x + BAR / 2.0,
                base + 4.0
            );
            continue;
        };
        let end = layout.y(ratio);
        let (top, height) = (base.min(end), (base - end).abs().max(1.0));
        let label_y = if ratio >= 1.0 { end - 3.0 } else { end + 3.0 };
        let anchor = if ratio >= 1.0 { "start" } else { "end" };
        out += &format!(
            "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{height:.1}\" fill=\"{color}\">\
             <title>{name}: {ratio:.2}× goheap's time</title></rect>\n\
             <text transform=\"translate({:.1} {label_y:.1}) rotate(-90)\" text-anchor=\"{anchor}\" \
             font-size=\"9\" fill=\"#333\">{ratio:.2}</text>\n",
            x + 1.0,
            BAR - 2.0,
            x + BAR / 2.0 + 3.0
        );
    }
    out
}

/// A dashed line between the workloads and the geometric-mean group.
fn mean_separator(layout: &Layout) -> String {
    let x = layout.group_x(layout.groups - 1) - GROUP_GAP / 2.0;
    format!(
        "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{:.1}\" stroke=\"#999\" \
         stroke-dasharray=\"4 3\"/>\n",
        TOP + PLOT_HEIGHT + 24.0
    )
}

fn group_labels(layout: &Layout, groups: &[&str]) -> String {
    let y = TOP + PLOT_HEIGHT + 18.0;
    let center = |g: usize| layout.group_x(g) + (layout.group_width() - GROUP_GAP) / 2.0;
    groups
        .iter()
        .enumerate()
        .map(|(g, name)| {
            format!(
                "<text x=\"{:.1}\" y=\"{y:.1}\" text-anchor=\"middle\">{}</text>\n",
                center(g),
                escape(name)
            )
        })
        .collect()
}

/// A swatch per allocator, then the goheap line.
fn legend(series: &[Series]) -> String {
    let x_of = |i: usize| LEFT + i as f64 * 90.0;
    let goheap_x = x_of(series.len());
    let goheap = format!(
        "<line x1=\"{goheap_x:.0}\" x2=\"{:.0}\" y1=\"53\" y2=\"53\" stroke=\"{}\" \
         stroke-width=\"1.5\"/><text x=\"{:.0}\" y=\"57\">goheap (1×)</text>\n",
        goheap_x + 10.0,
        color(Allocator::Goheap),
        goheap_x + 14.0
    );
    let swatches: String = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let x = x_of(i);
            format!(
                "<rect x=\"{x:.0}\" y=\"48\" width=\"10\" height=\"10\" fill=\"{}\"/>\
                 <text x=\"{:.0}\" y=\"57\">{}</text>\n",
                color(s.allocator),
                x + 14.0,
                s.allocator.name()
            )
        })
        .collect();
    swatches + &goheap
}

fn color(allocator: Allocator) -> &'static str {
    match allocator {
        Allocator::Goheap => "#222222",
        Allocator::Glibc => "#4e79a7",
        Allocator::Mimalloc => "#f28e2b",
        Allocator::Jemalloc => "#59a14f",
        Allocator::Tcmalloc => "#e15759",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::tests::sample;

    #[test]
    fn chart_has_a_bar_per_value_and_a_cross_per_failure() {
        let svg = chart(&sample()).unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        // glibc: a, b, geomean; mimalloc: a, geomean (b failed).
        assert_eq!(svg.matches("<rect x=").count() - 2, 5, "{svg}");
        assert_eq!(svg.matches("mimalloc: failed").count(), 1);
        assert!(svg.contains(">geomean</text>"));
        assert_eq!(svg.matches('<').count(), svg.matches('>').count());
    }

    #[test]
    fn axis_spans_the_values_in_powers_of_two() {
        let s = |v: f64| Series {
            allocator: Allocator::Glibc,
            values: vec![Some(v), None],
        };
        let l = layout(&[s(0.3), s(5.0)], 2);
        assert_eq!((l.lo_exp, l.hi_exp), (-3, 3));
        let l = layout(&[s(0.6), s(6.0)], 2);
        assert_eq!((l.lo_exp, l.hi_exp), (-2, 4));
        let l = layout(&[s(1.1)], 2);
        assert_eq!((l.lo_exp, l.hi_exp), (-1, 1));
        assert!((l.y(1.0) - (TOP + PLOT_HEIGHT / 2.0)).abs() < 1e-9);
        assert!(l.y(2.0) < l.y(1.0));
    }

    #[test]
    fn chart_needs_goheap() {
        let r = Results::new(vec!["a"], vec![Allocator::Glibc], 1);
        assert!(chart(&r).is_err());
    }

    #[test]
    fn escape_markup() {
        assert_eq!(escape("a<b&c>"), "a&lt;b&amp;c&gt;");
    }
}
