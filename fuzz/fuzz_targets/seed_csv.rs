//! Fuzz target: a seed CSV with its config, read and typed as `lakeforge seed` reads it
//! (lakeforge_seed: header, quoting, dbt's type inference, `column_types`, Arrow batches). The
//! input is split at the first NUL byte: before it, the config as text — the first line is the
//! seed's `delimiter:` (empty: unset), each further `column=type` line one `column_types`
//! entry; after it, the CSV's bytes. Errors are fine; a panic is a finding.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (config, csv) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let config = String::from_utf8_lossy(config);
    let mut lines = config.lines();
    let delimiter = lines.next().filter(|d| !d.is_empty());
    let column_types: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once('='))
        .map(|(c, t)| (c.to_string(), t.to_string()))
        .collect();
    let Ok(delimiter) = lakeforge_seed::delimiter("seeds/fuzz.csv", delimiter) else {
        return;
    };
    if let Ok((schema, batches)) =
        lakeforge_seed::parse_csv(csv, "seeds/fuzz.csv", delimiter, &column_types)
    {
        for batch in &batches {
            assert_eq!(batch.schema(), schema, "every batch has the seed's schema");
        }
    }
});
