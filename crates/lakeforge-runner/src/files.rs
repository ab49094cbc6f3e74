//! Files a run leaves in target/ (compiled SQL, manifest.json, run_results.json). Two runs of
//! one project at once write the same paths: each file is written under a name of its own and
//! renamed over the old one, so a reader (or the other run) sees one whole version, never two
//! interleaved.

use std::path::Path;

use crate::{Result, RunnerError};

/// Write `bytes` to `path` through a temporary file beside it and one rename.
pub(crate) fn write_atomic(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    let io = |source| RunnerError::Io {
        path: path.into(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_writers_leave_one_whole_file_and_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run_results.json");
        let writers: Vec<_> = (0..4)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    // Different lengths, so an interleaving would show.
                    let text =
                        format!("{{\"writer\": {i}, \"pad\": \"{}\"}}", "x".repeat(i * 1000));
                    for _ in 0..50 {
                        write_atomic(&path, &text).unwrap();
                    }
                    text
                })
            })
            .collect();
        let texts: Vec<String> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(texts.contains(&last), "a mixed file: {last:.80}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "temporary files left behind");

        let err = write_atomic(&dir.path().join("no/such/folder/x.json"), "{}").unwrap_err();
        assert!(err.to_string().contains("no/such/folder/x.json"), "{err}");
    }
}
