//! Fuzz target: model files as `lakeforge serve` and `predict()` read them. The input is the
//! payload; the target seals it with a valid header and checksum, so the fuzzer explores the
//! decoder and the model's own validation rather than the checksum. A model that loads is then
//! asked to predict one row, since a hostile file (a tree whose child index points nowhere) must
//! fail to load, not panic while predicting.
#![no_main]

use lakeforge_ml::model::Model;
use lakeforge_ml::model_file::{FORMAT_VERSION, MAGIC};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fuzz_target!(|payload: &[u8]| {
    let mut file = Vec::with_capacity(48 + payload.len());
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    file.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    file.extend_from_slice(&Sha256::digest(payload));
    file.extend_from_slice(payload);
    let Ok(model) = Model::from_bytes(&file) else {
        return;
    };
    let width = model.meta.feature_names.len();
    if width <= 4096 {
        let _ = model.predict_features(&vec![0.5; width]);
    }
});
