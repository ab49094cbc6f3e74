//! Evaluation metrics, used for early stopping during training, for scoring
//! tuning trials and by `Model::evaluate` (the `ml eval` table). Inputs are
//! labels (class index or value) and transformed predictions (probabilities,
//! row-major `n × k` for multiclass).

use serde::{Deserialize, Serialize};

use crate::params::Metric;

const EPS: f64 = 1e-15;

/// Area under the ROC curve; tied scores count half (Mann-Whitney U).
pub fn auc(labels: &[f64], scores: &[f64]) -> f64 {
    let mut idx: Vec<usize> = (0..labels.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let n_pos = labels.iter().filter(|&&y| y > 0.5).count() as f64;
    let n_neg = labels.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return 0.5;
    }
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        // Average 1-based rank of the tie group.
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if labels[k] > 0.5 {
                rank_sum += avg;
            }
        }
        i = j + 1;
    }
    (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// Area under the precision-recall curve as average precision (step-wise,
/// like scikit-learn's `average_precision_score`).
pub fn average_precision(labels: &[f64], scores: &[f64]) -> f64 {
    let mut idx: Vec<usize> = (0..labels.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let n_pos = labels.iter().filter(|&&y| y > 0.5).count() as f64;
    if n_pos == 0.0 {
        return 0.0;
    }
    let (mut tp, mut fp, mut ap, mut prev_recall) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        for &k in &idx[i..=j] {
            if labels[k] > 0.5 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
        }
        let recall = tp / n_pos;
        ap += (recall - prev_recall) * tp / (tp + fp);
        prev_recall = recall;
        i = j + 1;
    }
    ap
}

pub fn log_loss(labels: &[f64], probs: &[f64]) -> f64 {
    let s: f64 = labels
        .iter()
        .zip(probs)
        .map(|(&y, &p)| {
            let p = p.clamp(EPS, 1.0 - EPS);
            -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        })
        .sum();
    s / labels.len().max(1) as f64
}

/// Binary confusion matrix at a probability threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinaryConfusion {
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    pub fn_: usize,
}

impl BinaryConfusion {
    pub fn new(labels: &[f64], probs: &[f64], threshold: f64) -> Self {
        let mut c = BinaryConfusion {
            tp: 0,
            fp: 0,
            tn: 0,
            fn_: 0,
        };
        for (&y, &p) in labels.iter().zip(probs) {
            match (y > 0.5, p > threshold) {
                (true, true) => c.tp += 1,
                (false, true) => c.fp += 1,
                (false, false) => c.tn += 1,
                (true, false) => c.fn_ += 1,
            }
        }
        c
    }
    pub fn accuracy(&self) -> f64 {
        let n = self.tp + self.fp + self.tn + self.fn_;
        ratio(self.tp + self.tn, n)
    }
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Index of the largest probability in each row of a row-major `n × k` matrix.
pub fn argmax_rows(probs: &[f64], k: usize) -> Vec<usize> {
    probs
        .chunks(k)
        .map(|r| {
            r.iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (i, &v)| {
                    if v > best.1 { (i, v) } else { best }
                })
                .0
        })
        .collect()
}

pub fn multiclass_accuracy(labels: &[f64], probs: &[f64], k: usize) -> f64 {
    let pred = argmax_rows(probs, k);
    let hit = labels
        .iter()
        .zip(&pred)
        .filter(|&(&y, &p)| y as usize == p)
        .count();
    ratio(hit, labels.len())
}

pub fn multiclass_log_loss(labels: &[f64], probs: &[f64], k: usize) -> f64 {
    let s: f64 = labels
        .iter()
        .zip(probs.chunks(k))
        .map(|(&y, row)| -row[y as usize].clamp(EPS, 1.0).ln())
        .sum();
    s / labels.len().max(1) as f64
}

/// `k × k` confusion counts, rows = true class, columns = predicted class.
pub fn confusion_matrix(labels: &[f64], probs: &[f64], k: usize) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0usize; k]; k];
    for (&y, p) in labels.iter().zip(argmax_rows(probs, k)) {
        m[y as usize][p] += 1;
    }
    m
}

pub fn mse(labels: &[f64], pred: &[f64]) -> f64 {
    mean(
        labels.iter().zip(pred).map(|(y, p)| (y - p) * (y - p)),
        labels.len(),
    )
}

pub fn rmse(labels: &[f64], pred: &[f64]) -> f64 {
    mse(labels, pred).sqrt()
}

pub fn mae(labels: &[f64], pred: &[f64]) -> f64 {
    mean(
        labels.iter().zip(pred).map(|(y, p)| (y - p).abs()),
        labels.len(),
    )
}

pub fn r2(labels: &[f64], pred: &[f64]) -> f64 {
    let m = mean(labels.iter().copied(), labels.len());
    let ss_tot: f64 = labels.iter().map(|y| (y - m) * (y - m)).sum();
    let ss_res: f64 = labels
        .iter()
        .zip(pred)
        .map(|(y, p)| (y - p) * (y - p))
        .sum();
    if ss_tot == 0.0 {
        0.0
    } else {
        1.0 - ss_res / ss_tot
    }
}

/// Mean absolute percentage error (fraction, not percent); rows with a zero
/// label use a tiny denominator like scikit-learn.
pub fn mape(labels: &[f64], pred: &[f64]) -> f64 {
    mean(
        labels
            .iter()
            .zip(pred)
            .map(|(y, p)| (y - p).abs() / y.abs().max(f64::EPSILON)),
        labels.len(),
    )
}

pub fn huber(labels: &[f64], pred: &[f64], alpha: f64) -> f64 {
    mean(
        labels.iter().zip(pred).map(|(y, p)| {
            let d = (y - p).abs();
            if d <= alpha {
                0.5 * d * d
            } else {
                alpha * (d - 0.5 * alpha)
            }
        }),
        labels.len(),
    )
}

/// Poisson negative log-likelihood (without the label-only term), as LightGBM.
pub fn poisson(labels: &[f64], pred: &[f64]) -> f64 {
    mean(
        labels.iter().zip(pred).map(|(y, p)| {
            let p = p.max(1e-10);
            p - y * p.ln()
        }),
        labels.len(),
    )
}

fn mean(it: impl Iterator<Item = f64>, n: usize) -> f64 {
    it.sum::<f64>() / n.max(1) as f64
}

/// Computes `metric` for transformed predictions (`k` columns per row).
pub fn compute(metric: Metric, labels: &[f64], pred: &[f64], k: usize, huber_alpha: f64) -> f64 {
    match metric {
        Metric::Auc => auc(labels, pred),
        Metric::AveragePrecision => average_precision(labels, pred),
        Metric::BinaryLogloss => log_loss(labels, pred),
        Metric::BinaryError => 1.0 - BinaryConfusion::new(labels, pred, 0.5).accuracy(),
        Metric::MultiLogloss => multiclass_log_loss(labels, pred, k),
        Metric::MultiError => 1.0 - multiclass_accuracy(labels, pred, k),
        Metric::L2 => mse(labels, pred),
        Metric::Rmse => rmse(labels, pred),
        Metric::L1 => mae(labels, pred),
        Metric::Huber => huber(labels, pred, huber_alpha),
        Metric::Poisson => poisson(labels, pred),
        Metric::Mape => mape(labels, pred),
        Metric::R2 => r2(labels, pred),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }

    #[test]
    fn auc_matches_hand_computation() {
        close(auc(&[0.0, 0.0, 1.0, 1.0], &[0.1, 0.4, 0.35, 0.8]), 0.75);
        close(auc(&[0.0, 1.0], &[0.5, 0.5]), 0.5);
        close(auc(&[0.0, 1.0], &[0.1, 0.9]), 1.0);
    }

    #[test]
    fn average_precision_matches_sklearn() {
        // sklearn.metrics.average_precision_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.8333
        close(
            average_precision(&[0.0, 0.0, 1.0, 1.0], &[0.1, 0.4, 0.35, 0.8]),
            0.8333333333333333,
        );
    }

    #[test]
    fn classification_counts() {
        let y = [1.0, 0.0, 1.0, 1.0, 0.0];
        let p = [0.9, 0.6, 0.4, 0.8, 0.1];
        let c = BinaryConfusion::new(&y, &p, 0.5);
        assert_eq!((c.tp, c.fp, c.tn, c.fn_), (2, 1, 1, 1));
        close(c.accuracy(), 0.6);
        close(c.precision(), 2.0 / 3.0);
        close(c.recall(), 2.0 / 3.0);
        close(c.f1(), 2.0 / 3.0);
        close(log_loss(&[1.0, 0.0], &[0.5, 0.5]), 2f64.ln());
    }

    #[test]
    fn multiclass_and_regression() {
        let y = [0.0, 2.0];
        let p = [0.7, 0.2, 0.1, 0.1, 0.5, 0.4];
        close(multiclass_accuracy(&y, &p, 3), 0.5);
        close(
            multiclass_log_loss(&y, &p, 3),
            -(0.7f64.ln() + 0.4f64.ln()) / 2.0,
        );
        assert_eq!(confusion_matrix(&y, &p, 3)[2][1], 1);
        let y = [1.0, 2.0, 3.0];
        let p = [1.0, 2.0, 5.0];
        close(mse(&y, &p), 4.0 / 3.0);
        close(mae(&y, &p), 2.0 / 3.0);
        close(r2(&y, &p), 1.0 - 4.0 / 2.0);
        close(mape(&y, &p), (2.0 / 3.0) / 3.0);
    }
}
