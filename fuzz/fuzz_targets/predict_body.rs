//! Fuzz target: the body of `POST /models/{name}/predict`, parsed and checked against a model's
//! input columns of every kind the server knows (number, text, boolean, date, timestamp). A bad
//! body must be a 400 naming the field; a panic is a finding.
#![no_main]

use lakeforge_serve::input::parse_body;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let features = [
        ("tenure".to_string(), "Int64".to_string()),
        ("spend".to_string(), "Float64".to_string()),
        ("plan".to_string(), "Utf8".to_string()),
        ("active".to_string(), "Boolean".to_string()),
        ("signup".to_string(), "Date32".to_string()),
        ("seen".to_string(), "Timestamp(Microsecond, None)".to_string()),
    ];
    let _ = parse_body(body, &features, 1000);
});
