//! Measures the choice `lake/files.rs` makes for a lake on local disk: the pass-through
//! ingest (`write/passthrough.rs`) copies Parquet files into a table's folder with
//! `std::fs::copy`; were the local lake one more object store (object_store's
//! `LocalFileSystem`), the same copy would be a `put` of each file read into memory, or a
//! streamed `put_multipart`. (Its own `copy` hard-links, which fails across file systems and
//! would tie the lake's file to the user's.) Run by `bench/local_copy.sh`, which says how.
//!
//!   cargo run --example local_copy -p lakeforge-engine -- SRC_DIR DST_DIR ROUNDS

#![allow(clippy::unwrap_used, clippy::expect_used)] // a measurement: a panic is a failed run

use std::path::{Path, PathBuf};
use std::time::Instant;

use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStoreExt, PutPayload};
use tokio::io::AsyncReadExt;

const PART: usize = 8 << 20;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, src, dst, rounds] = &args[..] else {
        eprintln!("usage: local_copy SRC_DIR DST_DIR ROUNDS");
        std::process::exit(2);
    };
    let (src, dst) = (PathBuf::from(src), PathBuf::from(dst));
    let rounds: usize = rounds.parse().expect("ROUNDS is a number");
    let files: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let bytes: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    println!(
        "mode\tround\tseconds\tMB_per_s\t# {} files, {:.1} MB",
        files.len(),
        bytes as f64 / 1e6
    );
    for round in 0..rounds {
        for mode in [
            "std_fs_copy",
            "object_store_put",
            "object_store_put_multipart",
        ] {
            let _ = std::fs::remove_dir_all(&dst);
            std::fs::create_dir_all(&dst).unwrap();
            let store = LocalFileSystem::new_with_prefix(&dst).unwrap();
            let clock = Instant::now();
            for f in &files {
                let name = f.file_name().unwrap().to_string_lossy().into_owned();
                match mode {
                    "std_fs_copy" => {
                        std::fs::copy(f, dst.join(&name)).unwrap();
                    }
                    "object_store_put" => {
                        let b = tokio::fs::read(f).await.unwrap();
                        store
                            .put(&ObjPath::from(name.as_str()), b.into())
                            .await
                            .unwrap();
                    }
                    _ => put_multipart(&store, f, &name).await,
                }
            }
            let s = clock.elapsed().as_secs_f64();
            println!("{mode}\t{round}\t{s:.3}\t{:.0}", bytes as f64 / 1e6 / s);
        }
    }
    let _ = std::fs::remove_dir_all(&dst);
}

async fn put_multipart(store: &LocalFileSystem, file: &Path, name: &str) {
    let mut upload = store.put_multipart(&ObjPath::from(name)).await.unwrap();
    let mut f = tokio::fs::File::open(file).await.unwrap();
    loop {
        let mut buf = vec![0u8; PART];
        let mut n = 0;
        while n < PART {
            let k = f.read(&mut buf[n..]).await.unwrap();
            if k == 0 {
                break;
            }
            n += k;
        }
        if n == 0 {
            break;
        }
        buf.truncate(n);
        upload.put_part(PutPayload::from(buf)).await.unwrap();
    }
    upload.complete().await.unwrap();
}
