//! The chart frame every SVG figure shares: size, palette, "nice" axis ticks, the mapping
//! from data to pixels, axes with their labels, lines and legends.

use std::fmt::Write as _;

use lakeforge_ml::Curve;

use crate::text::{c, esc, fmt_area, truncate};

pub(crate) const CHART_W: f64 = 480.0;
pub(crate) const CHART_H: f64 = 360.0;

pub(crate) const PALETTE: [&str; 10] = [
    "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#db2777", "#65a30d",
    "#4f46e5", "#a16207",
];

/// "Nice" tick values (multiples of 1, 2 or 5 × 10^k) covering `[lo, hi]`;
/// the first and last ticks become the axis range, so data never touches a
/// ragged edge. Always at least two distinct finite ticks.
pub(crate) fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() {
        (lo.min(hi), lo.max(hi))
    } else {
        (0.0, 1.0)
    };
    if hi - lo <= 0.0 {
        let pad = (lo.abs() * 0.1).max(1.0);
        lo -= pad;
        hi += pad;
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = mag
        * if norm < 1.5 {
            1.0
        } else if norm < 3.0 {
            2.0
        } else if norm < 7.0 {
            5.0
        } else {
            10.0
        };
    let (first, last) = ((lo / step).floor(), (hi / step).ceil());
    if !step.is_finite() || step <= 0.0 || !(last - first).is_finite() || last - first > 50.0 {
        return vec![lo, hi];
    }
    // Integer multiples keep 0 exactly 0 (no "-0.0" labels from drift).
    (first as i64..=last as i64)
        .map(|k| k as f64 * step)
        .collect()
}

/// Tick label with as many decimals as the tick spacing needs.
pub(crate) fn fmt_tick(v: f64, step: f64) -> String {
    let v = v + 0.0; // turns -0.0 into 0.0
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e6).contains(&a) {
        return format!("{v:.1e}");
    }
    let decimals = if step > 0.0 && step.is_finite() {
        (-step.log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        2
    };
    format!("{v:.decimals$}")
}

/// Plot area of one chart, mapping data coordinates to SVG pixels.
pub(crate) struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    pub(crate) fn new(xticks: &[f64], yticks: &[f64]) -> Frame {
        Frame {
            left: 62.0,
            top: 38.0,
            width: CHART_W - 62.0 - 20.0,
            height: CHART_H - 38.0 - 52.0,
            x: range_of(xticks),
            y: range_of(yticks),
        }
    }

    pub(crate) fn px(&self, x: f64) -> f64 {
        self.left + (x - self.x.0) / (self.x.1 - self.x.0) * self.width
    }

    pub(crate) fn py(&self, y: f64) -> f64 {
        self.top + self.height - (y - self.y.0) / (self.y.1 - self.y.0) * self.height
    }

    fn bottom(&self) -> f64 {
        self.top + self.height
    }

    fn right(&self) -> f64 {
        self.left + self.width
    }
}

pub(crate) fn range_of(ticks: &[f64]) -> (f64, f64) {
    match (ticks.first(), ticks.last()) {
        (Some(&a), Some(&b)) if b > a => (a, b),
        _ => (0.0, 1.0),
    }
}

/// Opens a chart: title, light grid, tick labels, axes and axis titles.
/// The caller adds the data marks and closes the `<svg>`.
pub(crate) fn chart_open(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    f: &Frame,
    xticks: &[f64],
    yticks: &[f64],
) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\" font-family=\"system-ui,sans-serif\" font-size=\"11\">",
        w = CHART_W,
        h = CHART_H,
        t = esc(title)
    );
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"600\" fill=\"#111827\">{}</text>",
        c(CHART_W / 2.0),
        esc(title)
    );
    let xstep = tick_step(xticks);
    for &t in xticks {
        let x = c(f.px(t));
        let _ = write!(
            s,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#eef0f3\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" fill=\"#4b5563\">{}</text>",
            c(f.top),
            c(f.bottom()),
            c(f.bottom() + 16.0),
            fmt_tick(t, xstep)
        );
    }
    let ystep = tick_step(yticks);
    for &t in yticks {
        let y = c(f.py(t));
        let _ = write!(
            s,
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#eef0f3\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#4b5563\">{}</text>",
            c(f.left),
            c(f.right()),
            c(f.left - 6.0),
            c(f.py(t) + 4.0),
            fmt_tick(t, ystep)
        );
    }
    let _ = write!(
        s,
        "<path d=\"M{l} {t} V{b} H{r}\" fill=\"none\" stroke=\"#6b7280\"/>",
        l = c(f.left),
        t = c(f.top),
        b = c(f.bottom()),
        r = c(f.right())
    );
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#374151\">{}</text>",
        c(f.left + f.width / 2.0),
        c(CHART_H - 12.0),
        esc(xlabel)
    );
    let (yx, yy) = (c(16.0), c(f.top + f.height / 2.0));
    let _ = write!(
        s,
        "<text x=\"{yx}\" y=\"{yy}\" transform=\"rotate(-90 {yx} {yy})\" text-anchor=\"middle\" fill=\"#374151\">{}</text>",
        esc(ylabel)
    );
    s
}

pub(crate) fn tick_step(ticks: &[f64]) -> f64 {
    match ticks {
        [a, b, ..] => b - a,
        _ => 1.0,
    }
}

pub(crate) fn unit_ticks() -> Vec<f64> {
    (0..=5).map(|i| f64::from(i) / 5.0).collect()
}

pub(crate) fn polyline(points: &[(f64, f64)], f: &Frame, color: &str) -> String {
    let pts: Vec<String> = points
        .iter()
        .map(|&(x, y)| format!("{},{}", c(f.px(x)), c(f.py(y))))
        .collect();
    format!(
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" stroke-linejoin=\"round\"/>",
        pts.join(" ")
    )
}

pub(crate) fn dashed_line(f: &Frame, from: (f64, f64), to: (f64, f64)) -> String {
    format!(
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#9ca3af\" stroke-dasharray=\"4 4\"/>",
        c(f.px(from.0)),
        c(f.py(from.1)),
        c(f.px(to.0)),
        c(f.py(to.1))
    )
}

/// Legend box in a corner of the plot area; one entry per curve.
pub(crate) fn legend(curves: &[Curve], f: &Frame, area_name: &str, bottom_left: bool) -> String {
    let mut s = String::new();
    let row = 15.0;
    let h = row * curves.len() as f64 + 8.0;
    let w = 190.0;
    let x = if bottom_left {
        f.left + 8.0
    } else {
        f.right() - w - 8.0
    };
    let y = f.bottom() - h - 8.0;
    let _ = write!(
        s,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#ffffff\" fill-opacity=\"0.9\" stroke=\"#e5e7eb\"/>",
        c(x),
        c(y),
        c(w),
        c(h)
    );
    for (i, curve) in curves.iter().enumerate() {
        let ly = y + 4.0 + row * i as f64 + row / 2.0;
        let _ = write!(
            s,
            "<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\" fill=\"#374151\">{} ({area_name} {})</text>",
            c(x + 6.0),
            c(x + 22.0),
            PALETTE[i % PALETTE.len()],
            c(x + 28.0),
            c(ly + 4.0),
            esc(&truncate(&curve.label, 16)),
            fmt_area(curve.area),
            ly = c(ly)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice_and_cover_the_range() {
        assert_eq!(
            nice_ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        let t = nice_ticks(-3.2, 17.9, 5);
        assert!(t[0] <= -3.2 && *t.last().unwrap() >= 17.9);
        let t = nice_ticks(5.0, 5.0, 5);
        assert!(t.len() >= 2 && t[0] < 5.0 && *t.last().unwrap() > 5.0);
        assert_eq!(
            nice_ticks(f64::NAN, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(fmt_tick(-0.0, 0.2), "0.0");
        assert_eq!(fmt_tick(0.6000000000000001, 0.2), "0.6");
        assert_eq!(fmt_tick(20.0, 5.0), "20");
    }
}
