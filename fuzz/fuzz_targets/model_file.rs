//! Fuzz target: model files as `lakeforge serve` and `predict()` read them. The input is the
//! payload; `model_file::frame` seals it with a valid header and checksum, so the fuzzer
//! explores the decoder and the model's consistency checks rather than the checksum. A model
//! that loads is then asked to predict one row: a hostile file (a tree whose child points
//! nowhere) must fail to load, never panic while predicting.
#![no_main]

use lakeforge_ml::model::Model;
use lakeforge_ml::model_file::frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    let Ok(model) = Model::from_bytes(&frame(payload)) else {
        return;
    };
    let width = model.meta.feature_names.len();
    if width <= 4096 {
        let _ = model.predict_features(&vec![0.5; width]);
    }
});
