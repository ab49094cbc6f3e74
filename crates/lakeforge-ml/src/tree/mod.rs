//! Decision trees: the fitted [`Tree`] structure used at prediction time and
//! the histogram-based leaf-wise learner that grows one tree per boosting
//! round (see [`learner`]). Trees store raw-value thresholds, so prediction
//! needs no binning and works directly on the pipeline's output.

pub mod histogram;
pub mod learner;
pub mod split;

use serde::{Deserialize, Serialize};

/// How an internal node routes a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum SplitRule {
    /// `value <= threshold` goes left; NaN follows `default_left`.
    Numeric { threshold: f64, default_left: bool },
    /// Category codes whose bit is set go left; everything else (other codes,
    /// unseen categories, missing) goes right.
    Categorical { bitset: Vec<u32> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub feature: u32,
    pub rule: SplitRule,
    /// Child references: `>= 0` is a node index, `< 0` is leaf `!child`.
    pub left: i32,
    pub right: i32,
    /// Loss reduction of this split (feature importance by gain).
    pub gain: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
    pub leaf_values: Vec<f64>,
}

pub(crate) fn bitset_contains(bitset: &[u32], code: usize) -> bool {
    bitset
        .get(code / 32)
        .is_some_and(|w| (w >> (code % 32)) & 1 == 1)
}

pub(crate) fn bitset_from(codes: &[usize]) -> Vec<u32> {
    let words = codes.iter().max().map_or(0, |m| m / 32 + 1);
    let mut out = vec![0u32; words];
    for &c in codes {
        out[c / 32] |= 1 << (c % 32);
    }
    out
}

impl SplitRule {
    #[inline]
    pub fn goes_left(&self, v: f64) -> bool {
        match self {
            SplitRule::Numeric {
                threshold,
                default_left,
            } => {
                if v.is_nan() {
                    *default_left
                } else {
                    v <= *threshold
                }
            }
            SplitRule::Categorical { bitset } => {
                !v.is_nan() && v >= 0.0 && v.fract() == 0.0 && bitset_contains(bitset, v as usize)
            }
        }
    }
}

impl Tree {
    /// A tree with a single leaf (no split was worth making).
    pub fn constant(value: f64) -> Tree {
        Tree {
            nodes: Vec::new(),
            leaf_values: vec![value],
        }
    }

    pub fn num_leaves(&self) -> usize {
        self.leaf_values.len()
    }

    /// Leaf index reached by a row whose feature `f` is `value(f)`.
    #[inline]
    pub fn leaf_index(&self, value: impl Fn(usize) -> f64) -> usize {
        if self.nodes.is_empty() {
            return 0;
        }
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            let next = if n.rule.goes_left(value(n.feature as usize)) {
                n.left
            } else {
                n.right
            };
            if next < 0 {
                return !next as usize;
            }
            i = next as usize;
        }
    }

    #[inline]
    pub fn predict_row(&self, row: &[f64]) -> f64 {
        self.leaf_values[self.leaf_index(|f| row[f])]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_numeric_missing_and_categorical() {
        // node0: f0 <= 1.5 (NaN left) ; left → leaf0, right → node1
        // node1: f1 in {2, 40} → leaf1 else leaf2
        let t = Tree {
            nodes: vec![
                Node {
                    feature: 0,
                    rule: SplitRule::Numeric {
                        threshold: 1.5,
                        default_left: true,
                    },
                    left: !0,
                    right: 1,
                    gain: 1.0,
                },
                Node {
                    feature: 1,
                    rule: SplitRule::Categorical {
                        bitset: bitset_from(&[2, 40]),
                    },
                    left: !1,
                    right: !2,
                    gain: 1.0,
                },
            ],
            leaf_values: vec![10.0, 20.0, 30.0],
        };
        assert_eq!(t.predict_row(&[1.0, 0.0]), 10.0);
        assert_eq!(t.predict_row(&[f64::NAN, 0.0]), 10.0);
        assert_eq!(t.predict_row(&[2.0, 2.0]), 20.0);
        assert_eq!(t.predict_row(&[2.0, 40.0]), 20.0);
        assert_eq!(t.predict_row(&[2.0, 3.0]), 30.0);
        assert_eq!(t.predict_row(&[2.0, f64::NAN]), 30.0);
        assert_eq!(t.predict_row(&[2.0, 99.0]), 30.0);
        assert_eq!(Tree::constant(5.0).predict_row(&[0.0]), 5.0);
    }
}
