//! Sources that are files: a source table with `external:` (the keys of the
//! dbt-external-tables package) is read in place from CSV/TSV, JSON lines or Parquet files —
//! one file, a glob, or a folder, hive-partitioned or not, gzip/zstd/bzip2/xz compressed — and
//! a model selects from `{{ source('raw', 'events') }}` as from any table.

use std::path::Path;

use serde::Serialize;

use crate::error::{ProjectError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Csv,
    Parquet,
    /// Newline-delimited JSON: one object per line.
    Json,
}

/// Where and how a file source is read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExternalLocation {
    /// An absolute path (with a glob, or a folder), or a URL.
    pub location: String,
    pub format: FileFormat,
    /// CSV: the field delimiter (`,`; `\t` for TSV).
    pub delimiter: u8,
    /// CSV: whether the first line names the columns.
    pub header: bool,
    /// `gzip`, `zstd`, `bzip2`, `xz`, or None.
    pub compression: Option<String>,
    /// Hive partition columns (`ds=2024-01-01/` folders) and their SQL types.
    pub partitions: Vec<(String, String)>,
    /// Only files ending so are read; by default the format's extension (with the
    /// compression's) when `location` is a folder, anything the path or glob names otherwise.
    pub file_extension: Option<String>,
    /// For `s3://` and `az://` locations: the object-storage connection of lakeforge.yml
    /// whose settings are used (None: the store is configured from AWS_* / AZURE_* variables).
    pub connection: Option<String>,
}

/// Read `external:` of a source table; `root` resolves relative locations.
pub fn parse(
    value: &serde_json::Value,
    root: &Path,
    file: &str,
    what: &str,
) -> Result<ExternalLocation> {
    let bad = |m: String| ProjectError::Config {
        path: file.into(),
        message: format!("{what}: `external:` {m}"),
    };
    let obj = value
        .as_object()
        .ok_or_else(|| bad("must be a mapping with `location:` and `file_format:`".into()))?;
    for k in obj.keys() {
        if !matches!(
            k.as_str(),
            "location" | "file_format" | "options" | "partitions" | "file_extension" | "connection"
        ) {
            return Err(bad(format!(
                "has an unknown key `{k}`\nhint: use location, file_format, options (delimiter, header, compression), partitions, file_extension, connection"
            )));
        }
    }
    let location = obj
        .get("location")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("needs `location:` (a file, a glob or a folder)".into()))?;
    let location = if location.contains("://") || Path::new(location).is_absolute() {
        location.to_string()
    } else {
        root.join(location).display().to_string()
    };
    let format_text = obj
        .get("file_format")
        .and_then(|v| v.as_str())
        .map(str::to_ascii_lowercase)
        .or_else(|| guess_format(&location))
        .ok_or_else(|| bad("needs `file_format:` (csv, tsv, json, ndjson or parquet)".into()))?;
    let options = obj.get("options").cloned().unwrap_or_default();
    let mut delimiter = b',';
    let format = match format_text.as_str() {
        "csv" | "text" => FileFormat::Csv,
        "tsv" => {
            delimiter = b'\t';
            FileFormat::Csv
        }
        "json" | "ndjson" | "jsonl" => FileFormat::Json,
        "parquet" => FileFormat::Parquet,
        other => {
            return Err(bad(format!(
                "file_format `{other}` is not supported\nhint: use csv, tsv, json (one object per line) or parquet"
            )));
        }
    };
    if let Some(d) = options.get("delimiter").and_then(|v| v.as_str()) {
        delimiter = match d {
            "\\t" | "\t" | "tab" => b'\t',
            d if d.len() == 1 => d.as_bytes()[0],
            d => return Err(bad(format!("delimiter `{d}` must be one character"))),
        };
    }
    let header = match options.get("header") {
        None => true,
        Some(v) => v
            .as_bool()
            .or_else(|| v.as_str().map(|s| s.eq_ignore_ascii_case("true")))
            .ok_or_else(|| bad(format!("header must be true or false, not {v}")))?,
    };
    let compression = match options.get("compression").and_then(|v| v.as_str()) {
        None | Some("none") | Some("uncompressed") => None,
        Some(c @ ("gzip" | "zstd" | "bzip2" | "xz")) => Some(c.to_string()),
        Some("gz") => Some("gzip".into()),
        Some(other) => {
            return Err(bad(format!(
                "compression `{other}` is not supported\nhint: use gzip, zstd, bzip2 or xz"
            )));
        }
    };
    if compression.is_some() && format == FileFormat::Parquet {
        return Err(bad(
            "compression applies to CSV and JSON files; Parquet compresses inside the file".into(),
        ));
    }
    let mut partitions = Vec::new();
    for p in obj
        .get("partitions")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        let name = p
            .get("name")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad("each partition needs `name:`".into()))?;
        let data_type = p
            .get("data_type")
            .and_then(|v| v.as_str())
            .unwrap_or("varchar");
        partitions.push((name.to_string(), data_type.to_string()));
    }
    Ok(ExternalLocation {
        location,
        format,
        delimiter,
        header,
        compression,
        partitions,
        file_extension: obj
            .get("file_extension")
            .and_then(|v| v.as_str())
            .map(String::from),
        connection: obj
            .get("connection")
            .and_then(|v| v.as_str())
            .map(String::from),
    })
}

fn guess_format(location: &str) -> Option<String> {
    let l = location.to_ascii_lowercase();
    let l = l
        .trim_end_matches(".gz")
        .trim_end_matches(".zst")
        .trim_end_matches(".bz2")
        .trim_end_matches(".xz");
    ["csv", "tsv", "parquet", "json", "ndjson", "jsonl"]
        .into_iter()
        .find(|ext| l.ends_with(&format!(".{ext}")))
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_yaml(s: &str) -> Result<ExternalLocation> {
        let v: serde_yaml::Value = serde_yaml::from_str(s).unwrap();
        parse(
            &crate::config::yaml_to_json(&v),
            Path::new("/p"),
            "models/src.yml",
            "source `raw.events`",
        )
    }

    #[test]
    fn locations_formats_and_options() {
        let e =
            parse_yaml("{location: data/*.csv.gz, options: {compression: gzip, delimiter: ';'}}")
                .unwrap();
        assert_eq!(e.location, "/p/data/*.csv.gz");
        assert_eq!(e.format, FileFormat::Csv);
        assert_eq!((e.delimiter, e.header), (b';', true));
        assert_eq!(e.compression.as_deref(), Some("gzip"));
        let e = parse_yaml(
            "{location: s3://b/events/, file_format: parquet, partitions: [{name: ds, data_type: date}]}",
        )
        .unwrap();
        assert_eq!(e.location, "s3://b/events/");
        assert_eq!(e.partitions, vec![("ds".to_string(), "date".to_string())]);
        assert_eq!(parse_yaml("{location: x.tsv}").unwrap().delimiter, b'\t');
    }

    #[test]
    fn mistakes_name_the_source_and_the_key() {
        let e = parse_yaml("{location: data/x, file_format: avro}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("models/src.yml: source `raw.events`: `external:` file_format `avro` is not supported"), "{e}");
        let e = parse_yaml("{location: data/x}").unwrap_err().to_string();
        assert!(e.contains("needs `file_format:`"), "{e}");
        let e = parse_yaml("{path: data/x.csv}").unwrap_err().to_string();
        assert!(e.contains("unknown key `path`"), "{e}");
    }
}
