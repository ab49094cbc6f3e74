//! Gradient histograms: per feature, per bin sums of gradient, hessian and row
//! count for the rows of one leaf. Split finding only reads these; the larger
//! child of a split gets its histogram by subtracting the smaller child's from
//! the parent's (the "histogram subtraction trick"), halving the work.

use rayon::prelude::*;

use crate::binning::{BinColumn, BinnedData};

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HistBin {
    pub g: f64,
    pub h: f64,
    pub n: u32,
}

/// Flat histogram for all features of a leaf; feature `f` owns
/// `bins[offsets[f]..offsets[f + 1]]`.
#[derive(Debug, Clone)]
pub struct Histogram {
    pub bins: Vec<HistBin>,
}

/// Offsets of each feature's bins inside a flat [`Histogram`].
pub fn feature_offsets(data: &BinnedData) -> Vec<usize> {
    let mut off = Vec::with_capacity(data.mappers.len() + 1);
    let mut acc = 0;
    off.push(0);
    for m in &data.mappers {
        acc += m.num_bins();
        off.push(acc);
    }
    off
}

/// Below this many (row × feature) updates a histogram is built on the
/// calling thread; above it, work units are spread over the rayon pool.
const PAR_MIN_WORK: usize = 1 << 16;

/// One unit of histogram work with exclusive access to its features' bins.
enum Unit<'a> {
    /// A packed group: `lanes[i]` is the (active) byte lane and its bins.
    Group {
        group: usize,
        lanes: Vec<(usize, &'a mut [HistBin])>,
    },
    /// A u16 column.
    Wide {
        feature: usize,
        bins: &'a mut [HistBin],
    },
}

/// Gradients of the rows being histogrammed: by row (all rows) or gathered
/// in the order of a row subset (read sequentially by every unit).
enum Grads<'a> {
    ByRow(&'a [f32], &'a [f32]),
    Ordered(&'a [[f64; 2]]),
}

#[inline(always)]
fn add(e: &mut HistBin, gh: [f64; 2]) {
    e.g += gh[0];
    e.h += gh[1];
    e.n += 1;
}

/// How many rows ahead of the current one a subset walk prefetches.
const PREFETCH_AHEAD: usize = 24;

/// Hints the CPU to start loading `slice[i]`'s cache line. Subset rows are
/// increasing but gapped, which hardware prefetchers do not follow; without
/// this, histogram building stalls on memory.
#[inline(always)]
#[allow(unsafe_code)] // audited: see SAFETY below
fn prefetch<T>(slice: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = slice.get(i) {
        // SAFETY: `_mm_prefetch` only hints the cache (it never faults, even
        // for invalid addresses) and SSE is part of the x86_64 baseline; the
        // pointer comes from a live reference anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (x as *const T).cast::<i8>(),
            )
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slice, i);
}

/// Walks `(row, gradient pair)` for the rows being histogrammed; on subsets,
/// `data[row]` is prefetched a few rows ahead.
#[inline(always)]
fn for_rows<T>(
    rows: Option<&[u32]>,
    n: usize,
    grads: &Grads<'_>,
    data: &[T],
    mut f: impl FnMut(usize, [f64; 2]),
) {
    // One call site for `f`, so it is inlined; the per-row matches are
    // loop-invariant and predicted perfectly.
    let len = rows.map_or(n, <[u32]>::len);
    for i in 0..len {
        let r = match rows {
            Some(rs) => {
                if let Some(&ahead) = rs.get(i + PREFETCH_AHEAD) {
                    prefetch(data, ahead as usize);
                }
                rs[i] as usize
            }
            None => i,
        };
        let gh = match grads {
            Grads::Ordered(gh) => gh[i],
            Grads::ByRow(g, h) => [g[r] as f64, h[r] as f64],
        };
        f(r, gh);
    }
}

impl Unit<'_> {
    fn run(&mut self, data: &BinnedData, rows: Option<&[u32]>, grads: &Grads<'_>) {
        let n = data.n_rows;
        match self {
            Unit::Group { group, lanes } => {
                let words = data.group_words(*group);
                if let [
                    (0, b0),
                    (1, b1),
                    (2, b2),
                    (3, b3),
                    (4, b4),
                    (5, b5),
                    (6, b6),
                    (7, b7),
                ] = &mut lanes[..]
                {
                    // The common case: all eight lanes active.
                    for_rows(rows, n, grads, words, |r, gh| {
                        let w = words[r];
                        add(&mut b0[(w & 0xff) as usize], gh);
                        add(&mut b1[((w >> 8) & 0xff) as usize], gh);
                        add(&mut b2[((w >> 16) & 0xff) as usize], gh);
                        add(&mut b3[((w >> 24) & 0xff) as usize], gh);
                        add(&mut b4[((w >> 32) & 0xff) as usize], gh);
                        add(&mut b5[((w >> 40) & 0xff) as usize], gh);
                        add(&mut b6[((w >> 48) & 0xff) as usize], gh);
                        add(&mut b7[(w >> 56) as usize], gh);
                    });
                } else {
                    for_rows(rows, n, grads, words, |r, gh| {
                        let w = words[r];
                        for (lane, bins) in lanes.iter_mut() {
                            add(&mut bins[((w >> (8 * *lane)) & 0xff) as usize], gh);
                        }
                    });
                }
            }
            Unit::Wide { feature, bins } => {
                let BinColumn::U16(col) = &data.columns[*feature] else {
                    unreachable!("u8 features are packed")
                };
                for_rows(rows, n, grads, col, |r, gh| {
                    add(&mut bins[col[r] as usize], gh)
                });
            }
        }
    }
}

impl Histogram {
    pub fn zeros(total_bins: usize) -> Histogram {
        Histogram {
            bins: vec![HistBin::default(); total_bins],
        }
    }

    /// Builds the histogram of `rows` (all rows when `None`; otherwise row
    /// indices in increasing order) for the features in `active` (inactive
    /// features stay zero). `g`/`h` are indexed by row. Packed groups and
    /// wide columns are spread over the rayon pool; every bin is still summed
    /// sequentially in row order, so the result does not depend on threads.
    /// It is built in `buffer` (any length): the learner passes the memory of
    /// a finished leaf's histogram, since fresh 300 KB allocations page-fault
    /// and cost as much as building a small leaf's histogram.
    pub fn build(
        mut buffer: Vec<HistBin>,
        data: &BinnedData,
        offsets: &[usize],
        active: &[bool],
        rows: Option<&[u32]>,
        g: &[f32],
        h: &[f32],
    ) -> Histogram {
        buffer.clear();
        buffer.resize(*offsets.last().unwrap_or(&0), HistBin::default());
        let mut hist = Histogram { bins: buffer };
        let n_active = active.iter().filter(|&&a| a).count();
        if n_active == 0 {
            return hist;
        }
        let mut per_feature: Vec<Option<&mut [HistBin]>> = Vec::with_capacity(offsets.len());
        let mut rest: &mut [HistBin] = &mut hist.bins;
        for w in offsets.windows(2) {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(w[1] - w[0]);
            per_feature.push(Some(head));
            rest = tail;
        }
        let mut units: Vec<Unit<'_>> = Vec::new();
        for (gi, feats) in data.groups.iter().enumerate() {
            let lanes: Vec<(usize, &mut [HistBin])> = feats
                .iter()
                .enumerate()
                .filter(|&(_, &f)| active[f])
                // `from_columns` puts each feature in one group at most, so its slice is
                // still there to take.
                .filter_map(|(lane, &f)| {
                    let bins = per_feature[f].take();
                    debug_assert!(bins.is_some(), "feature {f} is in two groups");
                    bins.map(|bins| (lane, bins))
                })
                .collect();
            if !lanes.is_empty() {
                units.push(Unit::Group { group: gi, lanes });
            }
        }
        for (f, col) in data.columns.iter().enumerate() {
            // A wide feature is in no group, so its slice is still there to take.
            if active[f]
                && matches!(col, BinColumn::U16(_))
                && let Some(bins) = per_feature[f].take()
            {
                units.push(Unit::Wide { feature: f, bins });
            }
        }
        let n_rows = rows.map_or(data.n_rows, |r| r.len());
        let parallel = n_rows * n_active >= PAR_MIN_WORK && units.len() > 1;
        // A subset's gradients are gathered once, in row order, so every
        // unit reads them sequentially.
        let ordered: Vec<[f64; 2]>;
        let grads = match rows {
            Some(rs) if units.len() > 1 => {
                ordered = rs
                    .iter()
                    .map(|&r| [g[r as usize] as f64, h[r as usize] as f64])
                    .collect();
                Grads::Ordered(&ordered)
            }
            _ => Grads::ByRow(g, h),
        };
        if parallel {
            units.par_iter_mut().for_each(|u| u.run(data, rows, &grads));
        } else {
            units.iter_mut().for_each(|u| u.run(data, rows, &grads));
        }
        hist
    }

    /// `self -= other`, turning a parent histogram into its larger child's.
    pub fn subtract(&mut self, other: &Histogram) {
        for (a, b) in self.bins.iter_mut().zip(&other.bins) {
            a.g -= b.g;
            a.h -= b.h;
            a.n -= b.n;
        }
    }

    pub fn feature<'a>(&'a self, offsets: &[usize], f: usize) -> &'a [HistBin] {
        &self.bins[offsets[f]..offsets[f + 1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binning::{BinMapper, BinnedData};

    #[test]
    fn subtraction_matches_direct_build() {
        let data = BinnedData::from_columns(
            6,
            vec![
                BinMapper::Categorical { n_categories: 3 },
                BinMapper::Categorical { n_categories: 300 },
                BinMapper::Categorical { n_categories: 2 },
            ],
            vec![
                BinColumn::U8(vec![0, 1, 2, 3, 1, 0]),
                BinColumn::U16(vec![299, 0, 5, 5, 300, 1]),
                BinColumn::U8(vec![2, 2, 1, 0, 1, 0]),
            ],
        );
        let off = feature_offsets(&data);
        let g = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let h = [1.0f32; 6];
        let active = [true, true, true];
        let mut parent = Histogram::build(Vec::new(), &data, &off, &active, None, &g, &h);
        let small = Histogram::build(Vec::new(), &data, &off, &active, Some(&[1, 4]), &g, &h);
        parent.subtract(&small);
        let direct = Histogram::build(
            Vec::new(),
            &data,
            &off,
            &active,
            Some(&[0, 2, 3, 5]),
            &g,
            &h,
        );
        assert_eq!(parent.bins, direct.bins);
        assert_eq!(direct.bins[0].g, 7.0);
        assert_eq!(direct.bins[3].n, 1);
        assert_eq!(direct.feature(&off, 1)[5].g, 7.0);
        assert_eq!(direct.feature(&off, 2)[0].n, 2);
        // Inactive features stay zero; the others are unaffected.
        let part = Histogram::build(Vec::new(), &data, &off, &[true, false, true], None, &g, &h);
        assert!(part.feature(&off, 1).iter().all(|b| b.n == 0));
        let full = Histogram::build(Vec::new(), &data, &off, &active, None, &g, &h);
        assert_eq!(part.feature(&off, 2), full.feature(&off, 2));
    }

    #[test]
    fn parallel_build_matches_sequential() {
        let n = 40_000;
        let cols: Vec<BinColumn> = (0..6)
            .map(|f| {
                if f == 3 {
                    BinColumn::U16((0..n).map(|r| ((r * 7 + f) % 400) as u16).collect())
                } else {
                    BinColumn::U8((0..n).map(|r| ((r * 13 + f * 5) % 11) as u8).collect())
                }
            })
            .collect();
        let mappers = (0..6)
            .map(|f| BinMapper::Categorical {
                n_categories: if f == 3 { 400 } else { 11 },
            })
            .collect();
        let data = BinnedData::from_columns(n, mappers, cols);
        let off = feature_offsets(&data);
        let g: Vec<f32> = (0..n).map(|r| (r % 17) as f32 * 0.37 - 2.0).collect();
        let h: Vec<f32> = (0..n).map(|r| 0.1 + (r % 5) as f32).collect();
        let rows: Vec<u32> = (0..n as u32).filter(|r| r % 3 != 0).collect();
        let active = [true, false, true, true, true, true];
        let pool = |t| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap()
        };
        let one = pool(1)
            .install(|| Histogram::build(Vec::new(), &data, &off, &active, Some(&rows), &g, &h));
        let four = pool(4)
            .install(|| Histogram::build(Vec::new(), &data, &off, &active, Some(&rows), &g, &h));
        assert_eq!(one.bins, four.bins);
        // Direct per-bin sums in row order.
        for f in [0usize, 3] {
            let mut want = vec![HistBin::default(); off[f + 1] - off[f]];
            for &r in &rows {
                let e = &mut want[data.columns[f].get(r as usize)];
                e.g += g[r as usize] as f64;
                e.h += h[r as usize] as f64;
                e.n += 1;
            }
            assert_eq!(one.feature(&off, f), &want[..]);
        }
    }
}
