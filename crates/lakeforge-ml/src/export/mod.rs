//! Native models written in other frameworks' formats, so a model trained here can be loaded
//! where its users already work: GBDT models as LightGBM text models (`lightgbm.rs`). The
//! reverse direction is `import/`.

mod lightgbm;

pub use lightgbm::{LightGbmText, write_lightgbm};
