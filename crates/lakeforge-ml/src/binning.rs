//! Histogram binning: the first step of GBDT training. Each feature's values
//! are mapped once to small integer bins (quantile bins learned on a row
//! sample, plus a dedicated missing bin) so split finding scans at most
//! `max_bin + 1` histogram entries instead of sorting raw values.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, FeatureKind};
use crate::rng::Rng;

/// Per-feature value → bin mapping. The last bin always holds missing values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BinMapper {
    /// `upper[b]` is the inclusive upper bound of value bin `b`; the last is +inf.
    Numeric { upper: Vec<f64> },
    /// Bin = category code; codes outside `0..n_categories` count as missing.
    Categorical { n_categories: usize },
}

impl BinMapper {
    /// Number of bins including the missing bin.
    pub fn num_bins(&self) -> usize {
        match self {
            BinMapper::Numeric { upper } => upper.len() + 1,
            BinMapper::Categorical { n_categories } => n_categories + 1,
        }
    }

    pub fn missing_bin(&self) -> usize {
        self.num_bins() - 1
    }

    pub fn is_categorical(&self) -> bool {
        matches!(self, BinMapper::Categorical { .. })
    }

    pub fn bin(&self, v: f64) -> usize {
        if v.is_nan() {
            return self.missing_bin();
        }
        match self {
            // First bound >= v, i.e. v <= upper[b]; must agree with the
            // `value <= threshold` test trees use at prediction time.
            BinMapper::Numeric { upper } => upper.partition_point(|&u| u < v),
            BinMapper::Categorical { n_categories } => {
                if v >= 0.0 && (v as usize) < *n_categories && v.fract() == 0.0 {
                    v as usize
                } else {
                    self.missing_bin()
                }
            }
        }
    }

    /// Raw-value threshold equivalent to "bin <= b".
    pub fn threshold(&self, b: usize) -> f64 {
        match self {
            BinMapper::Numeric { upper } => upper[b],
            BinMapper::Categorical { .. } => b as f64,
        }
    }

    /// Learns quantile bins from (sampled) non-missing values.
    pub fn fit_numeric(mut values: Vec<f64>, max_bin: usize, min_data_in_bin: usize) -> BinMapper {
        values.retain(|v| !v.is_nan());
        values.sort_unstable_by(|a, b| a.total_cmp(b));
        let mut distinct: Vec<(f64, usize)> = Vec::new();
        for v in values {
            // -0.0 and 0.0 compare equal for thresholds; merge them.
            match distinct.last_mut() {
                Some((last, c)) if *last == v => *c += 1,
                _ => distinct.push((v, 1)),
            }
        }
        if distinct.len() <= 1 {
            return BinMapper::Numeric {
                upper: vec![f64::INFINITY],
            };
        }
        let total: usize = distinct.iter().map(|d| d.1).sum();
        let mut upper = Vec::new();
        let mut acc = 0usize;
        let mut remaining = total;
        let mut bins_left = max_bin.max(1);
        let mut target = if distinct.len() <= max_bin {
            0.0
        } else {
            remaining as f64 / bins_left as f64
        };
        for i in 0..distinct.len() - 1 {
            acc += distinct[i].1;
            let next_big = distinct.len() > max_bin && distinct[i + 1].1 as f64 >= target;
            let close = acc >= min_data_in_bin && (acc as f64 >= target || next_big);
            if close && bins_left > 1 {
                let (a, b) = (distinct[i].0, distinct[i + 1].0);
                let mut mid = a + (b - a) / 2.0;
                if mid >= b || !mid.is_finite() {
                    mid = a;
                }
                upper.push(mid);
                remaining -= acc;
                acc = 0;
                bins_left -= 1;
                if distinct.len() > max_bin {
                    // Re-spreading what is left keeps bins equal-frequency even
                    // after a heavy value took a bin of its own.
                    target = remaining as f64 / bins_left as f64;
                }
            }
        }
        upper.push(f64::INFINITY);
        BinMapper::Numeric { upper }
    }
}

/// Bin indices for one feature over all rows; u8 whenever the bins fit.
#[derive(Debug, Clone)]
pub enum BinColumn {
    U8(Vec<u8>),
    U16(Vec<u16>),
}

impl BinColumn {
    #[inline]
    pub fn get(&self, row: usize) -> usize {
        match self {
            BinColumn::U8(v) => v[row] as usize,
            BinColumn::U16(v) => v[row] as usize,
        }
    }
}

/// The training matrix in binned form, plus the mappers that produced it.
#[derive(Debug, Clone)]
pub struct BinnedData {
    pub n_rows: usize,
    pub mappers: Vec<BinMapper>,
    pub columns: Vec<BinColumn>,
}

/// Binning settings (subset of the GBDT parameters).
#[derive(Debug, Clone, Copy)]
pub struct BinningConfig {
    pub max_bin: usize,
    pub min_data_in_bin: usize,
    pub sample_cnt: usize,
    pub seed: u64,
}

impl BinnedData {
    pub fn build(data: &Dataset, cfg: &BinningConfig) -> BinnedData {
        let n = data.n_rows();
        let sample: Option<Vec<usize>> = if n > cfg.sample_cnt {
            Some(Rng::derive(cfg.seed, 1).sample_indices(n, cfg.sample_cnt))
        } else {
            None
        };
        let (mappers, columns): (Vec<BinMapper>, Vec<BinColumn>) = (0..data.n_features())
            .into_par_iter()
            .map(|j| {
                let col = data.column(j);
                let mapper = match data.kinds()[j] {
                    FeatureKind::Categorical { n_categories } => {
                        BinMapper::Categorical { n_categories }
                    }
                    FeatureKind::Numeric => {
                        let vals = match &sample {
                            Some(idx) => idx.iter().map(|&i| col[i]).collect(),
                            None => col.to_vec(),
                        };
                        BinMapper::fit_numeric(vals, cfg.max_bin, cfg.min_data_in_bin)
                    }
                };
                let column = if mapper.num_bins() <= 256 {
                    BinColumn::U8(col.iter().map(|&v| mapper.bin(v) as u8).collect())
                } else {
                    BinColumn::U16(col.iter().map(|&v| mapper.bin(v) as u16).collect())
                };
                (mapper, column)
            })
            .unzip();
        BinnedData {
            n_rows: n,
            mappers,
            columns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_own_bins() {
        let m = BinMapper::fit_numeric(vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0], 255, 3);
        assert_eq!(m.num_bins(), 4);
        assert_eq!(m.bin(1.0), 0);
        assert_eq!(m.bin(2.0), 1);
        assert_eq!(m.bin(3.0), 2);
        assert_eq!(m.bin(100.0), 2);
        assert_eq!(m.bin(f64::NAN), 3);
        // bin <= b  <=>  v <= threshold(b)
        assert!(1.0 <= m.threshold(0) && 2.0 > m.threshold(0));
    }

    #[test]
    fn quantile_bins_are_roughly_equal_frequency() {
        let vals: Vec<f64> = (0..10_000).map(|i| i as f64).collect();
        let m = BinMapper::fit_numeric(vals.clone(), 10, 3);
        assert_eq!(m.num_bins(), 11);
        let mut counts = vec![0usize; m.num_bins()];
        for v in vals {
            counts[m.bin(v)] += 1;
        }
        for &c in &counts[..10] {
            assert!((900..=1100).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn categorical_out_of_range_is_missing() {
        let m = BinMapper::Categorical { n_categories: 3 };
        assert_eq!(m.bin(2.0), 2);
        assert_eq!(m.bin(3.0), 3);
        assert_eq!(m.bin(-1.0), 3);
        assert_eq!(m.bin(f64::NAN), 3);
    }
}
