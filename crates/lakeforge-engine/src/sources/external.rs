//! File sources read in place: a source with `external:` becomes a DataFusion listing table
//! over its files (CSV/TSV, JSON lines, Parquet; a file, a glob or a folder; hive partitions;
//! compressed text), built the first time a query names it. Files may be on local disk or in
//! object storage (`s3://`, `az://`, `abfs[s]://`): the store is registered in the session's
//! runtime env then (`storage.rs`). Errors name the source, so a missing or corrupt file says
//! which declaration points at it; credentials never appear in them.

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::FileFormat as DfFileFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::context::SessionState;
use lakeforge_project::external::{ExternalLocation, FileFormat};

/// The listing table of source `name` (e.g. `source('raw', 'events')`).
pub(crate) async fn listing_table(
    state: &SessionState,
    name: &str,
    ext: &ExternalLocation,
    storage: &crate::lake::storage::Connections,
) -> DfResult<Arc<dyn TableProvider>> {
    let at = |e: DataFusionError| {
        let text = crate::lake::storage::redact(&e.to_string());
        let hint = crate::lake::storage::hint(&text, &ext.location, ext.connection.as_deref())
            .map(|h| format!("\nhint: {h}"))
            .unwrap_or_default();
        DataFusionError::Plan(format!("{name} at {}: {text}{hint}", ext.location))
    };
    if lakeforge_project::storage::StorageKind::of_url(&ext.location).is_some() {
        storage
            .register(
                state.runtime_env(),
                &ext.location,
                ext.connection.as_deref(),
            )
            .map_err(|e| {
                let at = if e.names_connection() {
                    String::new()
                } else {
                    format!(" at {}", ext.location)
                };
                DataFusionError::Plan(format!("{name}{at}: {e}"))
            })?;
    }
    let compression = match ext.compression.as_deref() {
        Some("gzip") => FileCompressionType::GZIP,
        Some("zstd") => FileCompressionType::ZSTD,
        Some("bzip2") => FileCompressionType::BZIP2,
        Some("xz") => FileCompressionType::XZ,
        _ => FileCompressionType::UNCOMPRESSED,
    };
    let format: Arc<dyn DfFileFormat> = match ext.format {
        FileFormat::Csv => Arc::new(
            CsvFormat::default()
                .with_has_header(ext.header)
                .with_delimiter(ext.delimiter)
                .with_file_compression_type(compression),
        ),
        FileFormat::Json => Arc::new(JsonFormat::default().with_file_compression_type(compression)),
        FileFormat::Parquet => Arc::new(ParquetFormat::default()),
    };
    let is_folder = ext.location.ends_with('/') || std::path::Path::new(&ext.location).is_dir();
    let extension = match &ext.file_extension {
        Some(e) => e.clone(),
        None if is_folder => format.get_ext_with_compression(&compression).map_err(at)?,
        None => String::new(),
    };
    let mut partitions = Vec::new();
    for (col, sql_type) in &ext.partitions {
        let dt = crate::write::seed::sql_type(sql_type).map_err(|why| {
            DataFusionError::Plan(format!("{name}: partition `{col}`: data_type {why}"))
        })?;
        partitions.push((col.clone(), dt));
    }
    let url = listing_url(&ext.location).map_err(at)?;
    let options = ListingOptions::new(format)
        .with_file_extension(extension)
        .with_table_partition_cols(partitions);
    let schema = options.infer_schema(state, &url).await.map_err(|e| {
        let text = e.to_string();
        let missing_store = text.contains("NoSuchBucket") || text.contains("ContainerNotFound");
        if !missing_store
            && (text.contains("No files found")
                || text.contains("not found")
                || text.contains("No such file"))
        {
            DataFusionError::Plan(format!(
                "{name}: no files at {}\nhint: check `external.location` (a file, a glob such as data/*.csv, or a folder)",
                ext.location
            ))
        } else {
            at(e)
        }
    })?;
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config).map_err(at)?))
}

/// The listing URL of `location`. DataFusion splits a glob off local paths only; a URL's
/// (`s3://bucket/events/*.parquet`) is split here: the folder before the first segment with a
/// glob character is listed, and the rest filters what it holds.
fn listing_url(location: &str) -> DfResult<ListingTableUrl> {
    if !location.contains("://") || location.starts_with("file://") {
        return ListingTableUrl::parse(location);
    }
    let Some(first) = location.find(['*', '?', '[']) else {
        return ListingTableUrl::parse(location);
    };
    let cut = location[..first].rfind('/').map(|i| i + 1).unwrap_or(first);
    let (prefix, pattern) = location.split_at(cut);
    let url = url::Url::parse(prefix).map_err(|e| DataFusionError::External(Box::new(e)))?;
    let glob = glob::Pattern::new(pattern).map_err(|e| DataFusionError::External(Box::new(e)))?;
    ListingTableUrl::try_new(url, Some(glob))
}
