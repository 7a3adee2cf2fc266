//! `chinwag-bench chart`: turns the JSON lines of `pairs` runs into a
//! hand-written SVG with two panels, delivered messages per second and p99
//! latency, each against the number of pairs on a logarithmic axis.

use std::fmt::Write as _;

use crate::json;

/// One `pairs` run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    /// Pairs.
    pub(crate) pairs: f64,
    /// Deliveries per second.
    pub(crate) per_sec: f64,
    /// p99 latency in µs.
    pub(crate) p99_us: f64,
}

/// The successful `pairs` runs in `input` (one JSON object per line) in
/// clear (not `--tls`) on one server (not `--cluster`), sorted by pairs;
/// for a pair count measured twice the last line wins.
pub(crate) fn read_points(input: &str) -> Vec<Point> {
    let mut points: Vec<Point> = Vec::new();
    for line in input.lines() {
        if json::field(line, "workload") != Some("pairs")
            || json::field(line, "ok") != Some("true")
            || json::field(line, "tls") == Some("true")
            || json::number(line, "nodes").is_some_and(|nodes| nodes > 1.0)
        {
            continue;
        }
        let point = (|| {
            Some(Point {
                pairs: json::number(line, "pairs")?,
                per_sec: json::number(line, "msgs_per_sec")?,
                p99_us: json::number(line, "p99_us")?,
            })
        })();
        if let Some(point) = point {
            points.retain(|p| p.pairs != point.pairs);
            points.push(point);
        }
    }
    points.sort_by(|a, b| a.pairs.total_cmp(&b.pairs));
    points
}

const PANEL_W: f64 = 420.0;
const PANEL_H: f64 = 300.0;
const MARGIN_L: f64 = 70.0;
const MARGIN_T: f64 = 50.0;
const PLOT_W: f64 = 320.0;
const PLOT_H: f64 = 200.0;

/// The SVG document for `points`, titled `title`.
pub(crate) fn render(points: &[Point], title: &str) -> String {
    let mut svg = String::new();
    let width = 2.0 * PANEL_W + 20.0;
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" viewBox="0 0 {width} {h}" font-family="sans-serif" font-size="12">"#,
        h = PANEL_H + 40.0
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
        width / 2.0,
        escape(title)
    );
    let series = |f: fn(&Point) -> f64| points.iter().map(|p| (p.pairs, f(p))).collect::<Vec<_>>();
    let throughput = series(|p| p.per_sec);
    let latency = series(|p| p.p99_us);
    let panels = [
        (
            0.0,
            "delivered messages / s",
            &throughput,
            "#1f77b4",
            YScale::linear(&throughput),
        ),
        (
            PANEL_W + 20.0,
            "p99 latency (µs, log scale)",
            &latency,
            "#d62728",
            YScale::log(&latency),
        ),
    ];
    for (left, label, data, colour, scale) in panels {
        panel(&mut svg, left, label, data, colour, &scale);
    }
    svg.push_str("</svg>\n");
    svg
}

/// A vertical axis: linear from 0, or logarithmic over whole decades.
#[derive(Debug, Clone)]
struct YScale {
    log: bool,
    low: f64,
    high: f64,
    ticks: Vec<f64>,
}

impl YScale {
    fn linear(data: &[(f64, f64)]) -> YScale {
        let high = nice_ceiling(data.iter().map(|d| d.1).fold(0.0, f64::max));
        let ticks = (0..=4).map(|step| high * f64::from(step) / 4.0).collect();
        YScale {
            log: false,
            low: 0.0,
            high,
            ticks,
        }
    }

    fn log(data: &[(f64, f64)]) -> YScale {
        let positive = || data.iter().map(|d| d.1).filter(|&v| v > 0.0);
        let low = positive().fold(f64::INFINITY, f64::min);
        let high = positive().fold(0.0, f64::max);
        if !(low.is_finite() && high > 0.0) {
            return YScale::linear(data);
        }
        let low = low.log10().floor();
        let high = high.log10().ceil().max(low + 1.0);
        let ticks = (low as i32..=high as i32).map(|e| 10f64.powi(e)).collect();
        YScale {
            log: true,
            low,
            high,
            ticks,
        }
    }

    /// Fraction of the plot height from the bottom.
    fn fraction(&self, value: f64) -> f64 {
        if self.log {
            (value.max(1e-9).log10() - self.low) / (self.high - self.low)
        } else {
            value / self.high
        }
    }
}

/// One panel at horizontal offset `left`: log x (pairs), y per `scale`.
fn panel(
    svg: &mut String,
    left: f64,
    label: &str,
    data: &[(f64, f64)],
    colour: &str,
    scale: &YScale,
) {
    let x0 = left + MARGIN_L;
    let y0 = MARGIN_T;
    let max_pairs = data.iter().map(|d| d.0).fold(1.0, f64::max);
    let decades = max_pairs.log10().ceil().max(1.0);
    let x_of = |pairs: f64| x0 + PLOT_W * pairs.max(1.0).log10() / decades;
    let y_of = |value: f64| y0 + PLOT_H * (1.0 - scale.fraction(value));
    let _ = writeln!(
        svg,
        r##"<rect x="{x0}" y="{y0}" width="{PLOT_W}" height="{PLOT_H}" fill="none" stroke="#444"/>"##
    );
    for &value in &scale.ticks {
        let y = y_of(value);
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" y1="{y}" x2="{}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{}</text>"##,
            x0 + PLOT_W,
            x0 - 6.0,
            y + 4.0,
            short(value)
        );
    }
    for decade in 0..=decades as u32 {
        let pairs = 10f64.powi(decade as i32);
        let x = x_of(pairs);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle">{pairs}</text>"##,
            y0 + PLOT_H,
            y0 + PLOT_H + 16.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">pairs (log scale)</text>"#,
        x0 + PLOT_W / 2.0,
        y0 + PLOT_H + 36.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">{}</text>"#,
        x0 + PLOT_W / 2.0,
        y0 - 10.0,
        escape(label)
    );
    let path: Vec<String> = data
        .iter()
        .map(|&(p, v)| format!("{:.1},{:.1}", x_of(p), y_of(v)))
        .collect();
    let _ = writeln!(
        svg,
        r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
        path.join(" ")
    );
    for &(pairs, value) in data {
        let (x, y) = (x_of(pairs), y_of(value));
        let _ = writeln!(
            svg,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{colour}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
            y - 8.0,
            short(value)
        );
    }
}

/// 1, 2 or 5 times a power of ten, at least `value` (1 for nothing).
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|&candidate| candidate >= value)
        .unwrap_or(10.0 * power)
}

/// `12k`, `1.5M`, `850`.
fn short(value: f64) -> String {
    let (scaled, suffix) = match value {
        v if v >= 1e6 => (v / 1e6, "M"),
        v if v >= 1e3 => (v / 1e3, "k"),
        v => (v, ""),
    };
    let text = format!("{scaled:.1}");
    format!("{}{suffix}", text.trim_end_matches(".0"))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_successful_pairs_lines_count_and_the_last_wins() {
        let input = concat!(
            r#"{"workload":"pairs","pairs":10,"msgs_per_sec":100,"p99_us":5,"ok":true}"#,
            "\n",
            r#"{"workload":"rate","pairs":10,"msgs_per_sec":1,"p99_us":1,"ok":true}"#,
            "\n",
            r#"{"workload":"pairs","pairs":1,"msgs_per_sec":50,"p99_us":2,"ok":false}"#,
            "\n",
            r#"{"workload":"pairs","pairs":10,"msgs_per_sec":200,"p99_us":6,"ok":true}"#,
            "\n",
            r#"{"workload":"pairs","pairs":10,"nodes":2,"msgs_per_sec":9,"p99_us":9,"ok":true}"#,
            "\n",
        );
        let points = read_points(input);
        assert_eq!(
            points,
            [Point {
                pairs: 10.0,
                per_sec: 200.0,
                p99_us: 6.0
            }]
        );
        assert!(render(&points, "t").starts_with("<svg"));
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(130.0), 200.0);
        assert_eq!(nice_ceiling(48_000.0), 50_000.0);
        assert_eq!(short(48_000.0), "48k");
    }
}
