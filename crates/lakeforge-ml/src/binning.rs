//! Histogram binning: the first step of GBDT training. Each feature's values
//! are mapped once to small integer bins (quantile bins learned on a row
//! sample, plus a dedicated missing bin) so split finding scans at most
//! `max_bin + 1` histogram entries instead of sorting raw values.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, FeatureKind};
use crate::error::{MlError, Result};
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
        sort_total(&mut values);
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
///
/// Besides one column per feature (used to partition rows at a split), the
/// features whose bins fit in a byte are packed [`PACK`] to a [`Word`], group
/// by group: `packed[group * n_rows + row]`. Building a histogram then reads
/// one word per row for eight features, and a group's histogram (8 × 256
/// bins) stays in L1/L2 cache while its rows stream by.
#[derive(Debug, Clone)]
pub struct BinnedData {
    pub n_rows: usize,
    pub mappers: Vec<BinMapper>,
    pub columns: Vec<BinColumn>,
    /// Group-major packed u8 bins (see the type docs).
    pub packed: Vec<Word>,
    /// Features of each packed group (lane `i` = byte `i` of the word).
    pub groups: Vec<Vec<usize>>,
}

/// Features per packed group (bytes of a [`Word`]).
pub const PACK: usize = 8;
/// One row of a packed group.
pub type Word = u64;

/// Binning settings (subset of the GBDT parameters).
#[derive(Debug, Clone, Copy)]
pub struct BinningConfig {
    pub max_bin: usize,
    pub min_data_in_bin: usize,
    pub sample_cnt: usize,
    pub seed: u64,
}

/// Rows per parallel task when binning / packing.
const BIN_CHUNK: usize = 1 << 16;

/// A bin as a column stores it: `u8` for a feature of at most 256 bins, else `u16`.
trait BinIndex: Copy + Default + Send {
    /// How many bins the type can number.
    const BINS: usize;
    /// `b` as this type; `bin_column` picks the type so that every bin of the mapper fits.
    fn from_bin(b: usize) -> Self;
}

impl BinIndex for u8 {
    const BINS: usize = 1 << 8;
    fn from_bin(b: usize) -> u8 {
        debug_assert!(b < Self::BINS);
        b as u8
    }
}

impl BinIndex for u16 {
    const BINS: usize = 1 << 16;
    fn from_bin(b: usize) -> u16 {
        debug_assert!(b < Self::BINS);
        b as u16
    }
}

/// Bins a numeric column: "first bound >= v" (same result as [`BinMapper::bin`]).
fn bin_numeric<T: BinIndex>(upper: &[f64], col: &[f64], missing: usize, out: &mut [T]) {
    for (o, &v) in out.iter_mut().zip(col) {
        let b = if v.is_nan() {
            missing
        } else {
            upper.partition_point(|&u| u < v)
        };
        *o = T::from_bin(b);
    }
}

/// The column's bins, in the narrowest type that numbers all of the mapper's bins; `None`
/// when even `u16` cannot (more than 65,536 bins).
fn bin_column(mapper: &BinMapper, col: &[f64]) -> Option<BinColumn> {
    fn fill<T: BinIndex>(mapper: &BinMapper, col: &[f64]) -> Vec<T> {
        let mut out = vec![T::default(); col.len()];
        match mapper {
            BinMapper::Numeric { upper } => {
                let missing = mapper.missing_bin();
                out.chunks_mut(BIN_CHUNK)
                    .zip(col.chunks(BIN_CHUNK))
                    .for_each(|(o, c)| bin_numeric(upper, c, missing, o));
            }
            BinMapper::Categorical { .. } => {
                for (o, &v) in out.iter_mut().zip(col) {
                    *o = T::from_bin(mapper.bin(v));
                }
            }
        }
        out
    }
    let bins = mapper.num_bins();
    if bins <= u8::BINS {
        Some(BinColumn::U8(fill::<u8>(mapper, col)))
    } else if bins <= u16::BINS {
        Some(BinColumn::U16(fill::<u16>(mapper, col)))
    } else {
        None
    }
}

/// Sorts non-NaN values by their IEEE total order using integer keys
/// (same order as `f64::total_cmp`, much cheaper to compare).
fn sort_total(values: &mut [f64]) {
    let mut keys: Vec<i64> = values
        .iter()
        .map(|v| {
            let b = v.to_bits() as i64;
            b ^ ((((b >> 63) as u64) >> 1) as i64)
        })
        .collect();
    keys.sort_unstable();
    for (v, k) in values.iter_mut().zip(keys) {
        let b = k ^ ((((k >> 63) as u64) >> 1) as i64);
        *v = f64::from_bits(b as u64);
    }
}

impl BinnedData {
    /// Bins every feature of `data`; a feature with more than 65,536 bins (a categorical
    /// column with that many categories) is refused.
    pub fn build(data: &Dataset, cfg: &BinningConfig) -> Result<BinnedData> {
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
                let column = bin_column(&mapper, col).ok_or_else(|| MlError::TooManyBins {
                    feature: data.names()[j].clone(),
                    bins: mapper.num_bins(),
                })?;
                Ok((mapper, column))
            })
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        Ok(BinnedData::from_columns(n, mappers, columns))
    }

    /// Assembles binned data from per-feature columns, building the packed
    /// group-major copy of the u8 columns.
    pub fn from_columns(n_rows: usize, mappers: Vec<BinMapper>, columns: Vec<BinColumn>) -> Self {
        let narrow: Vec<usize> = (0..columns.len())
            .filter(|&f| matches!(columns[f], BinColumn::U8(_)))
            .collect();
        let groups: Vec<Vec<usize>> = narrow.chunks(PACK).map(<[usize]>::to_vec).collect();
        let mut packed: Vec<Word> = vec![0; n_rows * groups.len()];
        if n_rows > 0 {
            packed
                .par_chunks_mut(n_rows)
                .zip(&groups)
                .for_each(|(out, feats)| {
                    for (lane, &f) in feats.iter().enumerate() {
                        let BinColumn::U8(col) = &columns[f] else {
                            unreachable!("only u8 columns are packed")
                        };
                        for (w, &b) in out.iter_mut().zip(col) {
                            *w |= Word::from(b) << (8 * lane);
                        }
                    }
                });
        }
        BinnedData {
            n_rows,
            mappers,
            columns,
            packed,
            groups,
        }
    }

    /// Packed words of group `g`, one per row.
    pub fn group_words(&self, g: usize) -> &[Word] {
        &self.packed[g * self.n_rows..(g + 1) * self.n_rows]
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
        // The bulk (branch-free) binning agrees with `bin`.
        let col = [
            0.5,
            1.0,
            1.5,
            2.0,
            2.5,
            3.0,
            7.0,
            f64::NAN,
            -1.0,
            f64::INFINITY,
        ];
        match bin_column(&m, &col).unwrap() {
            BinColumn::U8(b) => {
                let want: Vec<u8> = col.iter().map(|&v| m.bin(v) as u8).collect();
                assert_eq!(b, want);
            }
            BinColumn::U16(_) => panic!("4 bins fit in u8"),
        }
        // bin <= b  <=>  v <= threshold(b)
        assert!(1.0 <= m.threshold(0) && 2.0 > m.threshold(0));
    }

    #[test]
    fn a_feature_with_more_bins_than_u16_numbers_is_refused() {
        let ds = Dataset::from_columns(
            3,
            vec!["zip".into()],
            vec![FeatureKind::Categorical {
                n_categories: 70_000,
            }],
            vec![vec![0.0, 69_999.0, f64::NAN]],
        );
        let cfg = BinningConfig {
            max_bin: 255,
            min_data_in_bin: 1,
            sample_cnt: 1000,
            seed: 0,
        };
        let err = BinnedData::build(&ds, &cfg).err().unwrap();
        assert!(
            matches!(&err, MlError::TooManyBins { feature, bins: 70_001 } if feature == "zip"),
            "{err}"
        );
        // 65,535 categories and the missing bin still fit.
        let ds = Dataset::from_columns(
            2,
            vec!["zip".into()],
            vec![FeatureKind::Categorical {
                n_categories: 65_535,
            }],
            vec![vec![65_534.0, f64::NAN]],
        );
        let b = BinnedData::build(&ds, &cfg).unwrap();
        assert_eq!((b.columns[0].get(0), b.columns[0].get(1)), (65_534, 65_535));
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
    fn bulk_binning_and_packing_match_per_value() {
        let mut r = Rng::new(3);
        let vals: Vec<f64> = (0..5000)
            .map(|i| {
                if i % 97 == 0 {
                    f64::NAN
                } else {
                    (r.next_f64() * 100.0).round() / 3.0 - 10.0
                }
            })
            .collect();
        for max_bin in [1, 2, 7, 63, 255, 1000] {
            let m = BinMapper::fit_numeric(vals.clone(), max_bin, 1);
            let c = bin_column(&m, &vals).unwrap();
            for (i, &v) in vals.iter().enumerate() {
                assert_eq!(c.get(i), m.bin(v), "max_bin {max_bin} value {v}");
            }
        }
        let ds = Dataset::from_columns(
            vals.len(),
            vec!["a".into(), "b".into()],
            vec![FeatureKind::Numeric; 2],
            vec![vals.clone(), vals.iter().map(|v| -v).collect()],
        );
        let b = BinnedData::build(
            &ds,
            &BinningConfig {
                max_bin: 255,
                min_data_in_bin: 3,
                sample_cnt: 1000,
                seed: 1,
            },
        )
        .unwrap();
        assert_eq!(b.groups, vec![vec![0, 1]]);
        for r in 0..vals.len() {
            for f in 0..2 {
                let w = b.group_words(0)[r];
                assert_eq!(((w >> (8 * f)) & 0xff) as usize, b.columns[f].get(r));
            }
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
