//! Curve and distribution data behind the evaluation report ([`crate::report`]):
//! ROC and precision-recall points for classifiers, a residual sample and a
//! residual histogram for regression. Computed from labels and transformed
//! predictions (the same inputs as [`crate::metrics`]), small enough to be
//! stored as JSON beside a model version and drawn later.
//!
//! Curves are exact (one point per distinct score, ties forming one step, the
//! same grouping as [`metrics::auc`](crate::metrics::auc) and
//! [`metrics::average_precision`](crate::metrics::average_precision)) and only
//! then thinned to a point budget, so an undownsampled curve's area equals
//! the metric. Nothing here draws random numbers: the same input always gives
//! the same output, which keeps stored reports reproducible.

use serde::{Deserialize, Serialize};

/// Equal-width histogram: `counts[i]` values fall in `[edges[i], edges[i+1])`
/// (the last bin also holds its upper edge). Empty when there was no finite value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub edges: Vec<f64>,
    pub counts: Vec<usize>,
}

impl Histogram {
    /// Values counted (the finite ones).
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }
}

/// Groups of tied scores from the highest score down, as `(positives,
/// negatives)` per group. The order and grouping mirror `metrics::auc`
/// (stable ascending sort with `total_cmp`, ties by `==`) read backwards, so
/// areas computed from the groups agree with it exactly, NaN scores included.
fn score_groups(labels: &[f64], scores: &[f64]) -> Vec<(usize, usize)> {
    let n = labels.len().min(scores.len());
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut groups = Vec::new();
    let mut end = idx.len();
    while end > 0 {
        let top = scores[idx[end - 1]];
        let mut start = end - 1;
        while start > 0 && scores[idx[start - 1]] == top {
            start -= 1;
        }
        let pos = idx[start..end].iter().filter(|&&k| labels[k] > 0.5).count();
        groups.push((pos, end - start - pos));
        end = start;
    }
    groups
}

/// ROC curve as `(false positive rate, true positive rate)` from `(0,0)` to
/// `(1,1)`, at most `max_points` points (at least 2 are always kept).
/// Labels above 0.5 are positive, as in `metrics`. With only one class present
/// the rates are undefined; the diagonal is returned, matching `auc`'s 0.5.
pub fn roc_curve(labels: &[f64], scores: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    let groups = score_groups(labels, scores);
    let n_pos: usize = groups.iter().map(|g| g.0).sum();
    let n_neg: usize = groups.iter().map(|g| g.1).sum();
    if n_pos == 0 || n_neg == 0 {
        return vec![(0.0, 0.0), (1.0, 1.0)];
    }
    let mut points = Vec::with_capacity(groups.len() + 1);
    points.push((0.0, 0.0));
    let (mut tp, mut fp) = (0usize, 0usize);
    for (pos, neg) in groups {
        tp += pos;
        fp += neg;
        points.push((fp as f64 / n_neg as f64, tp as f64 / n_pos as f64));
    }
    downsample(&drop_collinear(points), max_points)
}

/// Precision-recall curve as `(recall, precision)`, starting at `(0, 1)` and
/// ending at recall 1 with precision = the positive rate; at most
/// `max_points` points. It is a step function: precision `p[i]` holds for
/// recall in `(r[i-1], r[i]]`, so [`step_area`] of the undownsampled curve is
/// `metrics::average_precision`. With no positive label it is flat at 0 (AP 0).
pub fn pr_curve(labels: &[f64], scores: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    let groups = score_groups(labels, scores);
    let n_pos: usize = groups.iter().map(|g| g.0).sum();
    if n_pos == 0 {
        return vec![(0.0, 0.0), (1.0, 0.0)];
    }
    let mut points = Vec::with_capacity(groups.len() + 1);
    points.push((0.0, 1.0));
    let (mut tp, mut fp) = (0usize, 0usize);
    for (pos, neg) in groups {
        tp += pos;
        fp += neg;
        // tp + fp > 0: every group has at least one row.
        points.push((tp as f64 / n_pos as f64, tp as f64 / (tp + fp) as f64));
    }
    downsample(&points, max_points)
}

/// Removes the middle of three points on one vertical or horizontal line:
/// runs of same-class groups make long straight ROC segments, and dropping
/// their inner points leaves the drawn curve and its area unchanged while
/// leaving more of the point budget for the bends.
fn drop_collinear(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if points.len() < 3 {
        return points;
    }
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for (i, &p) in points.iter().enumerate() {
        if let (Some(&prev), Some(&next)) = (out.last(), points.get(i + 1)) {
            let vertical = prev.0 == p.0 && p.0 == next.0;
            let horizontal = prev.1 == p.1 && p.1 == next.1;
            if vertical || horizontal {
                continue;
            }
        }
        out.push(p);
    }
    out
}

/// Keeps at most `max_points` (at least 2) points, evenly spaced by position
/// and always including the first and last, so a monotonic curve stays
/// monotonic and still spans its full range.
pub fn downsample(points: &[(f64, f64)], max_points: usize) -> Vec<(f64, f64)> {
    let m = max_points.max(2);
    let n = points.len();
    if n <= m {
        return points.to_vec();
    }
    // n > m makes the stride (n-1)/(m-1) exceed 1, so the indices are distinct
    // and increasing; the last one is exactly n-1.
    (0..m)
        .map(|j| points[(j * (n - 1) + (m - 1) / 2) / (m - 1)])
        .collect()
}

/// Area under a piecewise-linear curve (the ROC convention).
pub fn trapezoid_area(points: &[(f64, f64)]) -> f64 {
    points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
        .sum()
}

/// Area under a right-continuous step curve: each point's `y` holds over the
/// `x` interval ending at it (the average-precision convention).
pub fn step_area(points: &[(f64, f64)]) -> f64 {
    points.windows(2).map(|w| (w[1].0 - w[0].0) * w[1].1).sum()
}

/// `(predicted, actual)` pairs for a scatter plot: the rows where both are
/// finite, thinned to at most `max_points` evenly spaced by row index (no
/// sampling RNG, so the same data gives the same picture).
pub fn residual_sample(labels: &[f64], predictions: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    let finite: Vec<(f64, f64)> = labels
        .iter()
        .zip(predictions)
        .filter(|(y, p)| y.is_finite() && p.is_finite())
        .map(|(&y, &p)| (p, y))
        .collect();
    let n = finite.len();
    if n <= max_points {
        return finite;
    }
    (0..max_points)
        .map(|j| finite[j * n / max_points])
        .collect()
}

/// Histogram of residuals `actual - predicted` over the finite ones, with at
/// most `max_bins` equal-width bins, fewer for small samples (square-root
/// rule) so a handful of rows does not scatter into empty bins.
pub fn residual_histogram(labels: &[f64], predictions: &[f64], max_bins: usize) -> Histogram {
    let residuals: Vec<f64> = labels
        .iter()
        .zip(predictions)
        .map(|(y, p)| y - p)
        .filter(|r| r.is_finite())
        .collect();
    histogram(&residuals, max_bins)
}

/// Equal-width histogram of finite `values` (non-finite ones are ignored).
pub fn histogram(values: &[f64], max_bins: usize) -> Histogram {
    let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return Histogram::default();
    }
    let sqrt_rule = (values.len() as f64).sqrt().ceil() as usize;
    let mut bins = max_bins.min(sqrt_rule).max(1);
    let mut lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if hi <= lo {
        // One distinct value: a single bin centred on it, wide enough to
        // survive rounding for large magnitudes.
        let pad = 0.5f64.max(lo.abs() * 1e-3);
        lo = (lo - pad).max(-f64::MAX);
        hi = (hi + pad).min(f64::MAX);
        bins = 1;
    }
    // Divided before subtracting so extreme ranges do not overflow to inf.
    let width = hi / bins as f64 - lo / bins as f64;
    let mut counts = vec![0usize; bins];
    for v in values {
        let pos = (v / width - lo / width).floor();
        // `as usize` saturates (negative and NaN to 0), `min` keeps the top
        // edge in the last bin.
        counts[(pos as usize).min(bins - 1)] += 1;
    }
    let mut edges: Vec<f64> = (0..bins).map(|i| lo + i as f64 * width).collect();
    edges.push(hi);
    Histogram { edges, counts }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }

    fn all_finite(points: &[(f64, f64)]) -> bool {
        points.iter().all(|p| p.0.is_finite() && p.1.is_finite())
    }

    #[test]
    fn roc_by_hand() {
        // Scores high to low: 0.8(+) 0.4(-) 0.35(+) 0.1(-).
        let y = [0.0, 0.0, 1.0, 1.0];
        let s = [0.1, 0.4, 0.35, 0.8];
        let roc = roc_curve(&y, &s, 100);
        assert_eq!(
            roc,
            vec![(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
        );
        close(trapezoid_area(&roc), 0.75);
    }

    #[test]
    fn ties_are_one_step() {
        // Both rows share a score: one diagonal step, area 0.5 like auc.
        let roc = roc_curve(&[0.0, 1.0], &[0.5, 0.5], 100);
        assert_eq!(roc, vec![(0.0, 0.0), (1.0, 1.0)]);
        let y = [1.0, 0.0, 1.0, 0.0, 1.0];
        let s = [0.9, 0.7, 0.7, 0.7, 0.2];
        let roc = roc_curve(&y, &s, 100);
        assert_eq!(
            roc,
            vec![(0.0, 0.0), (0.0, 1.0 / 3.0), (1.0, 2.0 / 3.0), (1.0, 1.0)]
        );
        close(trapezoid_area(&roc), metrics::auc(&y, &s));
        let pr = pr_curve(&y, &s, 100);
        assert_eq!(
            pr,
            vec![(0.0, 1.0), (1.0 / 3.0, 1.0), (2.0 / 3.0, 0.5), (1.0, 0.6)]
        );
        close(step_area(&pr), metrics::average_precision(&y, &s));
    }

    #[test]
    fn pr_by_hand_matches_sklearn() {
        let y = [0.0, 0.0, 1.0, 1.0];
        let s = [0.1, 0.4, 0.35, 0.8];
        let pr = pr_curve(&y, &s, 100);
        assert_eq!(
            pr,
            vec![
                (0.0, 1.0),
                (0.5, 1.0),
                (0.5, 0.5),
                (1.0, 2.0 / 3.0),
                (1.0, 0.5)
            ]
        );
        close(step_area(&pr), 0.8333333333333333);
    }

    #[test]
    fn one_class_and_empty_inputs_stay_finite() {
        for (y, s) in [
            (vec![1.0, 1.0, 1.0], vec![0.2, 0.5, 0.5]),
            (vec![0.0, 0.0], vec![0.2, 0.9]),
            (vec![], vec![]),
        ] {
            let roc = roc_curve(&y, &s, 10);
            let pr = pr_curve(&y, &s, 10);
            assert!(all_finite(&roc) && all_finite(&pr), "{roc:?} {pr:?}");
            close(trapezoid_area(&roc), metrics::auc(&y, &s));
            close(step_area(&pr), metrics::average_precision(&y, &s));
            assert_eq!(roc.first(), Some(&(0.0, 0.0)));
            assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        }
        // NaN scores still give finite rates.
        let roc = roc_curve(&[0.0, 1.0, 1.0], &[f64::NAN, 0.3, f64::NAN], 10);
        assert!(all_finite(&roc));
        close(
            trapezoid_area(&roc),
            metrics::auc(&[0.0, 1.0, 1.0], &[f64::NAN, 0.3, f64::NAN]),
        );
    }

    /// Deterministic pseudo-random data (LCG) with many ties.
    fn noisy(n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as f64 / (1u64 << 31) as f64
        };
        let mut y = Vec::new();
        let mut s = Vec::new();
        for _ in 0..n {
            let label = if next() < 0.3 { 1.0 } else { 0.0 };
            // Rounded to 3 decimals so many scores tie.
            let score = ((0.6 * next() + 0.4 * label) * 1000.0).round() / 1000.0;
            y.push(label);
            s.push(score);
        }
        (y, s)
    }

    #[test]
    fn areas_match_metrics_on_larger_data() {
        let (y, s) = noisy(2000);
        let roc = roc_curve(&y, &s, usize::MAX);
        close(trapezoid_area(&roc), metrics::auc(&y, &s));
        let pr = pr_curve(&y, &s, usize::MAX);
        close(step_area(&pr), metrics::average_precision(&y, &s));
    }

    #[test]
    fn downsampling_keeps_endpoints_and_order() {
        let (y, s) = noisy(2000);
        let full = roc_curve(&y, &s, usize::MAX);
        assert!(full.len() > 50, "{}", full.len());
        for max in [0, 1, 2, 3, 7, 50] {
            let roc = roc_curve(&y, &s, max);
            assert_eq!(roc.len(), max.max(2));
            assert_eq!(roc.first(), Some(&(0.0, 0.0)));
            assert_eq!(roc.last(), Some(&(1.0, 1.0)));
            assert!(roc.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
            let pr = pr_curve(&y, &s, max);
            assert_eq!(pr.len(), max.max(2));
            assert_eq!(pr.first(), Some(&(0.0, 1.0)));
            assert_eq!(pr.last().map(|p| p.0), Some(1.0));
            assert!(pr.windows(2).all(|w| w[0].0 <= w[1].0));
        }
        // The thinned curve's area stays near the exact one.
        let roc = roc_curve(&y, &s, 50);
        assert!((trapezoid_area(&roc) - metrics::auc(&y, &s)).abs() < 0.01);
    }

    #[test]
    fn residual_sample_is_even_and_finite() {
        let y: Vec<f64> = (0..10).map(f64::from).collect();
        let p: Vec<f64> = (0..10).map(|i| f64::from(i) + 0.5).collect();
        let s = residual_sample(&y, &p, 4);
        assert_eq!(s, vec![(0.5, 0.0), (2.5, 2.0), (5.5, 5.0), (7.5, 7.0)]);
        assert_eq!(residual_sample(&y, &p, 100).len(), 10);
        assert!(residual_sample(&y, &p, 0).is_empty());
        let s = residual_sample(&[1.0, f64::NAN, 3.0], &[1.0, 2.0, f64::INFINITY], 10);
        assert_eq!(s, vec![(1.0, 1.0)]);
    }

    #[test]
    fn histogram_counts_every_finite_residual() {
        let y = [0.0, 1.0, 2.0, 3.0, 10.0, f64::NAN];
        let p = [0.0; 6];
        let h = residual_histogram(&y, &p, 30);
        // 5 finite values -> ceil(sqrt 5) = 3 bins over [0, 10].
        assert_eq!(h.counts, vec![4, 0, 1]);
        assert_eq!(h.edges.len(), 4);
        close(h.edges[0], 0.0);
        close(h.edges[3], 10.0);
        assert_eq!(h.total(), 5);
        let same = residual_histogram(&[2.0, 2.0], &[1.0, 1.0], 10);
        assert_eq!(same.counts, vec![2]);
        assert_eq!(same.edges, vec![0.5, 1.5]);
        assert_eq!(residual_histogram(&[], &[], 10), Histogram::default());
        let wide = histogram(&[-f64::MAX, f64::MAX], 4);
        assert_eq!(wide.counts, vec![1, 1]);
        assert!(wide.edges.iter().all(|e| e.is_finite()));
    }
}
