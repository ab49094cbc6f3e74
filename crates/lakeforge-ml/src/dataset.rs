//! The dense feature matrix every learner trains on. The fitted
//! [`FeaturePipeline`](crate::pipeline::FeaturePipeline) turns arrow
//! RecordBatches into a [`Dataset`]; learners and prediction only ever see this
//! column-major `f64` matrix (NaN = missing), never arrow arrays.

use serde::{Deserialize, Serialize};

/// How a learner should treat a feature column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FeatureKind {
    Numeric,
    /// Values are integer codes `0..n_categories` (NaN = missing/unseen).
    Categorical {
        n_categories: usize,
    },
}

/// Column-major dense matrix: column `j` is `data[j * n_rows .. (j + 1) * n_rows]`.
/// Column-major because histogram building and scaling walk one feature at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    n_rows: usize,
    names: Vec<String>,
    kinds: Vec<FeatureKind>,
    data: Vec<f64>,
}

impl Dataset {
    /// Builds a dataset from per-feature columns; every column must have `n_rows` values.
    pub fn from_columns(
        n_rows: usize,
        names: Vec<String>,
        kinds: Vec<FeatureKind>,
        columns: Vec<Vec<f64>>,
    ) -> Dataset {
        assert_eq!(names.len(), columns.len());
        assert_eq!(kinds.len(), columns.len());
        let mut data = Vec::with_capacity(n_rows * columns.len());
        for c in &columns {
            assert_eq!(c.len(), n_rows, "column length mismatch");
            data.extend_from_slice(c);
        }
        Dataset {
            n_rows,
            names,
            kinds,
            data,
        }
    }

    /// All-numeric dataset from row-major values (handy for tests and examples).
    pub fn from_rows(rows: &[Vec<f64>]) -> Dataset {
        let n_rows = rows.len();
        let n_cols = rows.first().map_or(0, |r| r.len());
        let columns: Vec<Vec<f64>> = (0..n_cols)
            .map(|j| rows.iter().map(|r| r[j]).collect())
            .collect();
        Dataset::from_columns(
            n_rows,
            (0..n_cols).map(|j| format!("f{j}")).collect(),
            vec![FeatureKind::Numeric; n_cols],
            columns,
        )
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    pub fn n_features(&self) -> usize {
        self.names.len()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn kinds(&self) -> &[FeatureKind] {
        &self.kinds
    }

    pub fn column(&self, j: usize) -> &[f64] {
        &self.data[j * self.n_rows..(j + 1) * self.n_rows]
    }

    pub fn value(&self, row: usize, col: usize) -> f64 {
        self.data[col * self.n_rows + row]
    }

    /// Rows `rows` (in that order) as a new dataset; used by splits, CV and tuning.
    pub fn take_rows(&self, rows: &[usize]) -> Dataset {
        let mut data = Vec::with_capacity(rows.len() * self.n_features());
        for j in 0..self.n_features() {
            let col = self.column(j);
            data.extend(rows.iter().map(|&r| col[r]));
        }
        Dataset {
            n_rows: rows.len(),
            names: self.names.clone(),
            kinds: self.kinds.clone(),
            data,
        }
    }

    /// Copies rows `start..end` into `out` row-major; prediction walks trees row
    /// by row, which is cache-friendly only on a row-major block.
    pub fn row_block(&self, start: usize, end: usize, out: &mut Vec<f64>) {
        let p = self.n_features();
        out.clear();
        out.resize((end - start) * p, 0.0);
        for j in 0..p {
            let col = &self.column(j)[start..end];
            for (i, &v) in col.iter().enumerate() {
                out[i * p + j] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_major_layout_and_take() {
        let d = Dataset::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]]);
        assert_eq!(d.column(0), &[1.0, 3.0, 5.0]);
        assert_eq!(d.value(2, 1), 6.0);
        let t = d.take_rows(&[2, 0]);
        assert_eq!(t.column(1), &[6.0, 2.0]);
        let mut block = Vec::new();
        d.row_block(1, 3, &mut block);
        assert_eq!(block, vec![3.0, 4.0, 5.0, 6.0]);
    }
}
