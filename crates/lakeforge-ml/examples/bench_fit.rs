//! Benchmark helper for `bench/ml/bench_gbdt.sh`: generates the same
//! synthetic binary-classification data as `bench/ml/bench_gbdt.py` (a
//! splitmix64 hash of a seed and the cell index, so both sides agree without
//! sharing files), trains the GBDT through the public `fit` API on arrow
//! batches, predicts the test rows and prints timings + test AUC as JSON.
//! It also times single-row latency (median over many test rows) two ways:
//! a one-row RecordBatch through `Model::predict_values` (arrow + pipeline +
//! trees) and `Model::predict_row` (same pipeline, no arrow).
//!
//! cargo run --release -p lakeforge-ml --example bench_fit -- --rows 200000

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array};
use arrow::record_batch::RecordBatch;
use lakeforge_ml::{FeatureValue, FitSpec, Model, Task, fit, metrics};

fn mix(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unif(seed: u64, i: u64) -> f64 {
    (mix(seed, i) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Rows `start..end` of the synthetic dataset as one RecordBatch (f0..f{p-1}, label).
fn generate(seed: u64, start: u64, end: u64, p: u64) -> RecordBatch {
    let n = (end - start) as usize;
    let mut cols: Vec<Vec<f64>> = vec![Vec::with_capacity(n); p as usize];
    let mut labels = Vec::with_capacity(n);
    for r in start..end {
        for j in 0..p {
            cols[j as usize].push(unif(seed, r * p + j) * 2.0 - 1.0);
        }
        let x = |j: usize| *cols[j].last().expect("row pushed");
        let noise = (unif(seed + 1, 3 * r) + unif(seed + 1, 3 * r + 1) + unif(seed + 1, 3 * r + 2)
            - 1.5)
            * 2.0;
        let logit = 1.5 * x(0) - 2.0 * x(1) * x(2) + 2.0 * x(3) * x(3) - 0.7
            + 0.8 * (if x(4) > 0.0 { 1.0 } else { 0.0 })
            - 0.7 * x(5)
            + 0.5 * x(6) * x(7);
        labels.push(i64::from(logit + noise > 0.0));
    }
    let mut fields: Vec<(String, ArrayRef)> = cols
        .into_iter()
        .enumerate()
        .map(|(j, c)| (format!("f{j}"), Arc::new(Float64Array::from(c)) as ArrayRef))
        .collect();
    fields.push((
        "label".into(),
        Arc::new(Int64Array::from(labels)) as ArrayRef,
    ));
    RecordBatch::try_from_iter(fields).expect("valid batch")
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("numeric argument"))
        .unwrap_or(default)
}

/// Median and 99th percentile (µs) of `f` timed once per call, after warm-up.
fn latency_us(samples: usize, mut f: impl FnMut(usize) -> f64) -> (f64, f64) {
    let mut sink = 0.0;
    for i in 0..samples.min(1000) {
        sink += f(i);
    }
    let mut t: Vec<f64> = (0..samples)
        .map(|i| {
            let s = Instant::now();
            sink += f(i);
            s.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    assert!(sink.is_finite());
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[t.len() * 99 / 100])
}

/// Single-row latency through the batch API and through `predict_row`,
/// each checked against the batch prediction of the same row.
fn single_row_latency(model: &Model, test: &RecordBatch, pred: &[f64]) -> [(f64, f64); 2] {
    let n = test.num_rows().min(20_000);
    let names = model.pipeline.input_columns();
    let cols: Vec<&Float64Array> = names
        .iter()
        .map(|c| {
            test.column_by_name(c)
                .and_then(|a| a.as_any().downcast_ref::<Float64Array>())
                .expect("float feature column")
        })
        .collect();
    let rows: Vec<Vec<FeatureValue<'static>>> = (0..n)
        .map(|i| {
            cols.iter()
                .map(|c| FeatureValue::Float(c.value(i)))
                .collect()
        })
        .collect();
    let batches: Vec<RecordBatch> = (0..n.min(2000)).map(|i| test.slice(i, 1)).collect();
    let batch = latency_us(n, |i| {
        let b = &batches[i % batches.len()];
        let p = model
            .predict_values(std::slice::from_ref(b))
            .expect("predict");
        assert_eq!(p[0].to_bits(), pred[i % batches.len()].to_bits());
        p[0]
    });
    let row = latency_us(n, |i| {
        let p = model.predict_row(&rows[i]).expect("predict_row");
        assert_eq!(p[0].to_bits(), pred[i].to_bits());
        p[0]
    });
    assert!(cols.iter().all(|c| c.null_count() == 0));
    [batch, row]
}

fn main() -> lakeforge_ml::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rows = arg(&args, "--rows", 200_000);
    let test_rows = arg(&args, "--test-rows", (rows / 4).max(1000));
    let features = arg(&args, "--features", 50);
    let trees = arg(&args, "--trees", 200);
    let leaves = arg(&args, "--leaves", 31);
    let bins = arg(&args, "--bins", 255);
    let threads = arg(&args, "--threads", 2);
    let seed = arg(&args, "--seed", 42);

    let train = generate(seed, 0, rows, features);
    let test = generate(seed, rows, rows + test_rows, features);
    let spec = FitSpec::new(Task::Binary, Some("label"))
        .with_param("num_iterations", &trees.to_string())
        .with_param("num_leaves", &leaves.to_string())
        .with_param("max_bin", &bins.to_string())
        .with_param("num_threads", &threads.to_string())
        .with_param("learning_rate", "0.1");

    let t = Instant::now();
    let model = fit(std::slice::from_ref(&train), None, &spec)?;
    let fit_s = t.elapsed().as_secs_f64();

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads as usize)
        .build()
        .expect("thread pool");
    let t = Instant::now();
    let pred = pool.install(|| model.predict_values(std::slice::from_ref(&test)))?;
    let predict_s = t.elapsed().as_secs_f64();
    let report = model.evaluate(std::slice::from_ref(&test))?;
    let labels: Vec<f64> = test
        .column_by_name("label")
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        .map(|a| a.values().iter().map(|&v| v as f64).collect())
        .unwrap_or_default();
    let auc = metrics::auc(&labels, &pred);
    // Single-row latency runs on the calling thread (one row has nothing to
    // parallelise).
    let [(batch_p50, batch_p99), (row_p50, row_p99)] = single_row_latency(&model, &test, &pred);
    println!(
        "{{\"engine\":\"lakeforge\",\"rows\":{rows},\"test_rows\":{test_rows},\"fit_s\":{fit_s:.4},\"predict_s\":{predict_s:.4},\"predict_rows_per_s\":{:.1},\"auc\":{auc:.6},\"eval_auc\":{:.6},\"row_batch_us_p50\":{batch_p50:.2},\"row_batch_us_p99\":{batch_p99:.2},\"predict_row_us_p50\":{row_p50:.2},\"predict_row_us_p99\":{row_p99:.2}}}",
        test_rows as f64 / predict_s,
        report.get("auc").unwrap_or(f64::NAN)
    );
    Ok(())
}
