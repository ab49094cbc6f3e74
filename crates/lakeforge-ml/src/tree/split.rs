//! Split finding on one feature's histogram: the numeric scan (trying missing
//! values on both sides to learn the default direction) and LightGBM-style
//! categorical splits (one-vs-rest for few categories, otherwise categories
//! sorted by gradient/hessian ratio and the best prefix partition).

use crate::binning::BinMapper;
use crate::tree::histogram::HistBin;

/// Regularisation and size constraints that split finding needs.
#[derive(Debug, Clone, Copy)]
pub struct SplitConfig {
    pub lambda_l1: f64,
    pub lambda_l2: f64,
    pub max_delta_step: f64,
    pub min_data_in_leaf: usize,
    pub min_sum_hessian_in_leaf: f64,
    pub min_gain_to_split: f64,
    pub max_cat_threshold: usize,
    pub max_cat_to_onehot: usize,
    pub cat_l2: f64,
    pub cat_smooth: f64,
    pub min_data_per_group: usize,
}

/// Gradient statistics of a set of rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    pub g: f64,
    pub h: f64,
    pub n: usize,
}

impl Stats {
    fn add(&mut self, b: &HistBin) {
        self.g += b.g;
        self.h += b.h;
        self.n += b.n as usize;
    }
    fn minus(&self, o: &Stats) -> Stats {
        Stats {
            g: self.g - o.g,
            h: self.h - o.h,
            n: self.n - o.n,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SplitKind {
    /// Bins `<= threshold_bin` go left; the missing bin follows `default_left`.
    Numeric {
        threshold_bin: usize,
        default_left: bool,
    },
    /// These bins (= category codes) go left; the rest and missing go right.
    Categorical { left_bins: Vec<usize> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SplitCandidate {
    pub feature: usize,
    pub gain: f64,
    pub kind: SplitKind,
    pub left: Stats,
    pub right: Stats,
    pub left_output: f64,
    pub right_output: f64,
}

fn threshold_l1(g: f64, l1: f64) -> f64 {
    let r = g.abs() - l1;
    if r > 0.0 { r * g.signum() } else { 0.0 }
}

/// Optimal leaf value for gradient sum `g` and hessian sum `h`.
pub fn leaf_output(g: f64, h: f64, l1: f64, l2: f64, max_delta_step: f64) -> f64 {
    let denom = h + l2;
    if denom <= 0.0 {
        return 0.0;
    }
    let out = -threshold_l1(g, l1) / denom;
    if max_delta_step > 0.0 && out.abs() > max_delta_step {
        max_delta_step * out.signum()
    } else {
        out
    }
}

fn gain_given_output(g: f64, h: f64, l1: f64, l2: f64, out: f64) -> f64 {
    let sg = threshold_l1(g, l1);
    -(2.0 * sg * out + (h + l2) * out * out)
}

/// Loss reduction of a leaf with gradient sum `g` and hessian sum `h`.
/// Without `max_delta_step` this is LightGBM's closed form `sg^2 / (h + l2)`
/// (`sg` = L1-thresholded gradient); with it, the gain of the clamped output.
#[inline(always)]
fn side_gain(g: f64, h: f64, l1: f64, l2: f64, max_delta_step: f64) -> f64 {
    if max_delta_step > 0.0 {
        let out = leaf_output(g, h, l1, l2, max_delta_step);
        return gain_given_output(g, h, l1, l2, out);
    }
    let denom = h + l2;
    if denom <= 0.0 {
        return 0.0;
    }
    let sg = if l1 > 0.0 { threshold_l1(g, l1) } else { g };
    sg * sg / denom
}

pub fn leaf_gain(s: &Stats, l1: f64, l2: f64, max_delta_step: f64) -> f64 {
    side_gain(s.g, s.h, l1, l2, max_delta_step)
}

impl SplitConfig {
    #[inline(always)]
    fn admissible(&self, s: &Stats) -> bool {
        s.n >= self.min_data_in_leaf && s.h >= self.min_sum_hessian_in_leaf
    }

    /// Gain of a split (the hot path of split finding: no outputs computed).
    #[inline(always)]
    fn split_gain(&self, left: &Stats, right: &Stats, l2: f64) -> f64 {
        side_gain(left.g, left.h, self.lambda_l1, l2, self.max_delta_step)
            + side_gain(right.g, right.h, self.lambda_l1, l2, self.max_delta_step)
    }

    /// Leaf outputs of the two sides (computed only for the winning split).
    fn outputs(&self, left: &Stats, right: &Stats, l2: f64) -> (f64, f64) {
        (
            leaf_output(left.g, left.h, self.lambda_l1, l2, self.max_delta_step),
            leaf_output(right.g, right.h, self.lambda_l1, l2, self.max_delta_step),
        )
    }

    /// Best split of one feature for a leaf with totals `total`, or None when
    /// no split beats the parent by `min_gain_to_split`.
    pub fn best_split(
        &self,
        feature: usize,
        mapper: &BinMapper,
        hist: &[HistBin],
        total: &Stats,
    ) -> Option<SplitCandidate> {
        if hist.len() < 2 {
            return None;
        }
        let parent = leaf_gain(total, self.lambda_l1, self.lambda_l2, self.max_delta_step);
        let min_gain = parent + self.min_gain_to_split;
        let best = if mapper.is_categorical() {
            self.categorical(feature, hist, total, min_gain)
        } else {
            self.numeric(feature, hist, total, min_gain)
        };
        best.map(|mut c| {
            c.gain -= parent;
            c
        })
    }

    fn numeric(
        &self,
        feature: usize,
        hist: &[HistBin],
        total: &Stats,
        min_gain: f64,
    ) -> Option<SplitCandidate> {
        let missing_bin = hist.len() - 1;
        let n_value_bins = missing_bin;
        let mut missing = Stats::default();
        missing.add(&hist[missing_bin]);
        let l2 = self.lambda_l2;
        // The scan is the hot loop of split finding (every bin of every feature
        // of both children of every split): it keeps only the best threshold's
        // numbers and builds the candidate once at the end. A split must gain
        // more than `min_gain` and than every threshold before it.
        let mut bar = min_gain;
        let mut best: Option<(usize, bool, Stats)> = None;
        // Pass 1: missing rows go right.
        let mut left = Stats::default();
        let last_t = if missing.n > 0 {
            n_value_bins
        } else {
            n_value_bins - 1
        };
        for (t, bin) in hist.iter().enumerate().take(last_t) {
            left.add(bin);
            if bin.n == 0 && t + 1 < last_t {
                // Same partition as the previous threshold; skip the rescore.
                continue;
            }
            let right = total.minus(&left);
            if right.n < self.min_data_in_leaf {
                break; // the right side only shrinks from here
            }
            if !self.admissible(&left) || !self.admissible(&right) {
                continue;
            }
            let gain = self.split_gain(&left, &right, l2);
            if gain > bar {
                bar = gain;
                // With no missing rows in this leaf, route future missing values
                // with the larger side: the least surprising default.
                let default_left = missing.n == 0 && left.n >= right.n;
                best = Some((t, default_left, left));
            }
        }
        // Pass 2: missing rows go left.
        if missing.n > 0 {
            let mut left = missing;
            for (t, bin) in hist.iter().enumerate().take(n_value_bins - 1) {
                left.add(bin);
                if bin.n == 0 {
                    continue;
                }
                let right = total.minus(&left);
                if right.n < self.min_data_in_leaf {
                    break;
                }
                if !self.admissible(&left) || !self.admissible(&right) {
                    continue;
                }
                let gain = self.split_gain(&left, &right, l2);
                if gain > bar {
                    bar = gain;
                    best = Some((t, true, left));
                }
            }
        }
        best.map(|(threshold_bin, default_left, left)| {
            let right = total.minus(&left);
            let (left_output, right_output) = self.outputs(&left, &right, l2);
            SplitCandidate {
                feature,
                gain: bar,
                kind: SplitKind::Numeric {
                    threshold_bin,
                    default_left,
                },
                left,
                right,
                left_output,
                right_output,
            }
        })
    }

    fn categorical(
        &self,
        feature: usize,
        hist: &[HistBin],
        total: &Stats,
        min_gain: f64,
    ) -> Option<SplitCandidate> {
        let n_cat = hist.len() - 1;
        let used: Vec<usize> = (0..n_cat).filter(|&c| hist[c].n > 0).collect();
        if used.len() < 2 && hist[n_cat].n == 0 {
            return None;
        }
        let mut best: Option<SplitCandidate> = None;
        let mut consider = |left: Stats, bins: &[usize], l2: f64| {
            let right = total.minus(&left);
            if !self.admissible(&left) || !self.admissible(&right) {
                return;
            }
            let gain = self.split_gain(&left, &right, l2);
            if gain > min_gain && best.as_ref().is_none_or(|b| gain > b.gain) {
                let (lo, ro) = self.outputs(&left, &right, l2);
                let mut left_bins = bins.to_vec();
                left_bins.sort_unstable();
                best = Some(SplitCandidate {
                    feature,
                    gain,
                    kind: SplitKind::Categorical { left_bins },
                    left,
                    right,
                    left_output: lo,
                    right_output: ro,
                });
            }
        };
        if used.len() <= self.max_cat_to_onehot {
            for &c in &used {
                let mut left = Stats::default();
                left.add(&hist[c]);
                consider(left, &[c], self.lambda_l2);
            }
            return best;
        }
        // Many categories: order by smoothed gradient/hessian ratio so the best
        // partition is (approximately) a prefix of the order, searched from
        // both ends like LightGBM.
        let mut sorted: Vec<usize> = used
            .iter()
            .copied()
            .filter(|&c| hist[c].n as f64 >= self.cat_smooth)
            .collect();
        let ratio = |c: usize| hist[c].g / (hist[c].h + self.cat_smooth);
        sorted.sort_by(|&a, &b| ratio(a).total_cmp(&ratio(b)).then(a.cmp(&b)));
        let max_num_cat = self.max_cat_threshold.min(used.len().div_ceil(2));
        let l2 = self.lambda_l2 + self.cat_l2;
        for reverse in [false, true] {
            let order: Vec<usize> = if reverse {
                sorted.iter().rev().copied().collect()
            } else {
                sorted.clone()
            };
            let mut left = Stats::default();
            let mut group = 0usize;
            for (i, &c) in order.iter().enumerate().take(max_num_cat) {
                left.add(&hist[c]);
                group += hist[c].n as usize;
                let right = total.minus(&left);
                if right.n < self.min_data_in_leaf
                    || right.n < self.min_data_per_group
                    || right.h < self.min_sum_hessian_in_leaf
                {
                    break;
                }
                if left.n < self.min_data_in_leaf || left.h < self.min_sum_hessian_in_leaf {
                    continue;
                }
                if group < self.min_data_per_group {
                    continue;
                }
                group = 0;
                consider(left, &order[..=i], l2);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SplitConfig {
        SplitConfig {
            lambda_l1: 0.0,
            lambda_l2: 0.0,
            max_delta_step: 0.0,
            min_data_in_leaf: 1,
            min_sum_hessian_in_leaf: 0.0,
            min_gain_to_split: 0.0,
            max_cat_threshold: 32,
            max_cat_to_onehot: 4,
            cat_l2: 0.0,
            cat_smooth: 0.0,
            min_data_per_group: 1,
        }
    }

    fn hb(g: f64, n: u32) -> HistBin {
        HistBin { g, h: n as f64, n }
    }

    fn total(h: &[HistBin]) -> Stats {
        let mut s = Stats::default();
        h.iter().for_each(|b| s.add(b));
        s
    }

    #[test]
    fn numeric_finds_sign_change_and_missing_direction() {
        // bins 0,1 have negative gradient, bin 2 positive, missing like bin 2.
        let h = vec![hb(-5.0, 5), hb(-5.0, 5), hb(5.0, 5), hb(5.0, 5)];
        let m = BinMapper::Numeric {
            upper: vec![1.0, 2.0, f64::INFINITY],
        };
        let s = cfg().best_split(0, &m, &h, &total(&h)).unwrap();
        assert_eq!(
            s.kind,
            SplitKind::Numeric {
                threshold_bin: 1,
                default_left: false
            }
        );
        assert!(s.gain > 0.0);
        // Missing now behaves like the left bins → learned default_left.
        let h = vec![hb(-5.0, 5), hb(-5.0, 5), hb(5.0, 5), hb(-5.0, 5)];
        let s = cfg().best_split(0, &m, &h, &total(&h)).unwrap();
        assert_eq!(
            s.kind,
            SplitKind::Numeric {
                threshold_bin: 1,
                default_left: true
            }
        );
    }

    #[test]
    fn min_data_in_leaf_blocks_split() {
        let h = vec![hb(-5.0, 2), hb(5.0, 2), hb(0.0, 0)];
        let m = BinMapper::Numeric {
            upper: vec![1.0, f64::INFINITY],
        };
        let mut c = cfg();
        c.min_data_in_leaf = 3;
        assert!(c.best_split(0, &m, &h, &total(&h)).is_none());
    }

    #[test]
    fn categorical_groups_by_gradient_ratio() {
        // Categories 0, 2, 4 push down; 1, 3, 5 push up → {0,2,4} vs rest.
        let h = vec![
            hb(-4.0, 4),
            hb(4.0, 4),
            hb(-4.0, 4),
            hb(4.0, 4),
            hb(-4.0, 4),
            hb(4.0, 4),
            hb(0.0, 0),
        ];
        let m = BinMapper::Categorical { n_categories: 6 };
        let s = cfg().best_split(0, &m, &h, &total(&h)).unwrap();
        match s.kind {
            SplitKind::Categorical { left_bins } => {
                assert!(
                    left_bins == vec![0, 2, 4] || left_bins == vec![1, 3, 5],
                    "{left_bins:?}"
                )
            }
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn l1_shrinks_outputs() {
        assert_eq!(leaf_output(-0.5, 1.0, 1.0, 0.0, 0.0), 0.0);
        assert_eq!(leaf_output(-3.0, 1.0, 1.0, 1.0, 0.0), 1.0);
        assert_eq!(leaf_output(-30.0, 1.0, 0.0, 0.0, 2.0), 2.0);
    }
}
