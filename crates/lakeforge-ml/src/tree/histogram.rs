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

fn split_by_feature<'a>(mut bins: &'a mut [HistBin], offsets: &[usize]) -> Vec<&'a mut [HistBin]> {
    let mut out = Vec::with_capacity(offsets.len() - 1);
    for w in offsets.windows(2) {
        let (head, tail) = bins.split_at_mut(w[1] - w[0]);
        out.push(head);
        bins = tail;
    }
    out
}

/// Rows of a leaf plus their gradients in row order (gathered once per leaf
/// so every feature's pass reads gradients sequentially).
pub enum LeafRows<'a> {
    /// Every training row, gradients indexed by row.
    All { g: &'a [f32], h: &'a [f32] },
    /// A subset; `g[i]`/`h[i]` belong to `rows[i]`.
    Subset {
        rows: &'a [u32],
        g: &'a [f32],
        h: &'a [f32],
    },
}

#[inline]
fn accumulate<T: Copy + Into<usize>>(col: &[T], rows: &LeafRows<'_>, out: &mut [HistBin]) {
    match rows {
        LeafRows::All { g, h } => {
            for ((&b, &gi), &hi) in col.iter().zip(g.iter()).zip(h.iter()) {
                let e = &mut out[b.into()];
                e.g += gi as f64;
                e.h += hi as f64;
                e.n += 1;
            }
        }
        LeafRows::Subset { rows, g, h } => {
            for ((&r, &gi), &hi) in rows.iter().zip(g.iter()).zip(h.iter()) {
                let e = &mut out[col[r as usize].into()];
                e.g += gi as f64;
                e.h += hi as f64;
                e.n += 1;
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

    /// Builds the histogram of the given rows for the features in `active`
    /// (inactive features stay zero), one rayon task per feature. Each
    /// feature is summed sequentially, so results do not depend on threads.
    pub fn build(
        data: &BinnedData,
        offsets: &[usize],
        active: &[bool],
        rows: &LeafRows<'_>,
    ) -> Histogram {
        let mut hist = Histogram::zeros(*offsets.last().unwrap_or(&0));
        split_by_feature(&mut hist.bins, offsets)
            .into_par_iter()
            .enumerate()
            .filter(|(f, _)| active[*f])
            .for_each(|(f, out)| match &data.columns[f] {
                BinColumn::U8(col) => accumulate(col, rows, out),
                BinColumn::U16(col) => accumulate(col, rows, out),
            });
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
        let data = BinnedData {
            n_rows: 6,
            mappers: vec![BinMapper::Categorical { n_categories: 3 }],
            columns: vec![BinColumn::U8(vec![0, 1, 2, 3, 1, 0])],
        };
        let off = feature_offsets(&data);
        let g = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let h = [1.0f32; 6];
        let active = [true];
        let mut parent = Histogram::build(&data, &off, &active, &LeafRows::All { g: &g, h: &h });
        let rows = [1u32, 4];
        let small = Histogram::build(
            &data,
            &off,
            &active,
            &LeafRows::Subset {
                rows: &rows,
                g: &[2.0, 5.0],
                h: &[1.0, 1.0],
            },
        );
        parent.subtract(&small);
        let rest = [0u32, 2, 3, 5];
        let direct = Histogram::build(
            &data,
            &off,
            &active,
            &LeafRows::Subset {
                rows: &rest,
                g: &[1.0, 3.0, 4.0, 6.0],
                h: &[1.0; 4],
            },
        );
        assert_eq!(parent.bins, direct.bins);
        assert_eq!(direct.bins[0].g, 7.0);
        assert_eq!(direct.bins[3].n, 1);
    }
}
