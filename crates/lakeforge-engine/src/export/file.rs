//! Exports to files: a local file written beside the destination and renamed over it, or an
//! object in S3/Azure written beside the destination and copied over it server-side.

use std::path::Path;

use arrow::array::{Array, RecordBatch};
use datafusion::dataframe::{DataFrame, DataFrameWriteOptions};
use datafusion::error::Result as DfResult;

use super::FileKind;
use crate::error::{Cause, EngineError, Result};
use crate::lake::storage;
use crate::session::Engine;

/// Write `df` to the file `path`: to a temporary file beside it, then renamed over it.
pub(super) async fn to_file(
    context: &str,
    df: DataFrame,
    path: &Path,
    format: FileKind,
) -> Result<u64> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::Lake {
            path: dir.to_path_buf(),
            source: e,
        })?;
    }
    // Beside the destination, so the final rename stays on one file system.
    let tmp = path.with_file_name(format!(
        ".{}.lakeforge-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("export"),
        std::process::id()
    ));
    let batches = match write(df, &tmp.display().to_string(), format).await {
        Ok(b) => b,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(EngineError::sql(context, e));
        }
    };
    std::fs::rename(&tmp, path).map_err(|e| EngineError::Lake {
        path: path.to_path_buf(),
        source: e,
    })?;
    Ok(count_of(&batches))
}

/// Write `df` to the object `url`: to a temporary object beside it, then one server-side copy
/// over the destination, then the temporary object deleted. A failure before the copy leaves
/// the destination as it was.
pub(super) async fn to_object(
    engine: &Engine,
    context: &str,
    df: DataFrame,
    url: &str,
    format: FileKind,
    connection: Option<&str>,
) -> Result<u64> {
    use object_store::ObjectStoreExt;
    let fail = |cause: Cause| {
        let hint = storage::hint(&cause.to_string(), url, connection);
        EngineError::Export {
            context: context.to_string(),
            cause,
            hint,
        }
    };
    let message = |text: String| fail(Cause::Message(storage::redact(&text)));
    let store = engine
        .storage_connections()
        .register(&engine.context().runtime_env(), url, connection)
        .map_err(|e| fail(Cause::Storage(Box::new(e))))?;
    let parsed = url::Url::parse(url).map_err(|e| message(format!("`{url}` is not a URL: {e}")))?;
    let key = object_store::path::Path::from_url_path(parsed.path())
        .map_err(|e| message(format!("`{url}` is not an object key: {e}")))?;
    let name = key.filename().unwrap_or("export").to_string();
    let tmp_name = format!(
        ".{name}.lakeforge-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let mut tmp_url = parsed.clone();
    tmp_url
        .path_segments_mut()
        .map_err(|_| message(format!("`{url}` has no path")))?
        .pop()
        .push(&tmp_name);
    let tmp_key = object_store::path::Path::from_url_path(tmp_url.path())
        .map_err(|e| message(format!("`{url}` is not an object key: {e}")))?;
    // A refused credential or a missing bucket shows here with the store's own words (a
    // failed write only says that it failed).
    match store.head(&key).await {
        Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(fail(Cause::Store(Box::new(e)))),
    }
    let batches = match write(df, tmp_url.as_str(), format).await {
        Ok(b) => b,
        Err(e) => {
            let _ = store.delete(&tmp_key).await;
            return Err(fail(Cause::DataFusion(Box::new(e))));
        }
    };
    let copied = store.copy(&tmp_key, &key).await;
    let _ = store.delete(&tmp_key).await;
    copied.map_err(|e| fail(Cause::Store(Box::new(e))))?;
    Ok(count_of(&batches))
}

/// Write `df` as one file at `path` (a path or a URL), returning DataFusion's count batch.
async fn write(df: DataFrame, path: &str, format: FileKind) -> DfResult<Vec<RecordBatch>> {
    let options = DataFrameWriteOptions::new().with_single_file_output(true);
    match format {
        FileKind::Parquet => df.write_parquet(path, options, None).await,
        FileKind::Csv => df.write_csv(path, options, None).await,
    }
}

fn count_of(batches: &[RecordBatch]) -> u64 {
    // DataFusion's write returns one row holding the count.
    batches
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<arrow::array::UInt64Array>()
                .map(|a| a.value(0))
        })
        .unwrap_or(0)
}
