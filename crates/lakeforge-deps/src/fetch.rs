//! HTTP GETs of the hub's index and of package archives. A request that fails in transit (no
//! connection, a timeout, a 5xx or 429 answer) is tried again twice, shortly after, as dbt
//! retries; other answers are final. Callers turn the failure into an error naming what was
//! fetched and why.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use url::Url;

const ATTEMPTS: u32 = 3;

pub(crate) enum FetchError {
    /// No answer: connection refused, DNS, TLS, timeout.
    Unreachable(reqwest::Error),
    /// An answer other than 2xx.
    Status(u16),
    /// The answer broke off while its body was read.
    Body(reqwest::Error),
    Io(std::io::Error),
}

impl FetchError {
    fn retryable(&self) -> bool {
        match self {
            FetchError::Unreachable(_) | FetchError::Body(_) => true,
            FetchError::Status(s) => *s >= 500 || *s == 429,
            FetchError::Io(_) => false,
        }
    }
}

/// The HTTP client every download of a run shares. Only a TLS backend that cannot start makes
/// building it fail.
pub(crate) fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(concat!("lakeforge/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(300))
        .build()
}

/// The body of `url`.
pub(crate) async fn get(client: &reqwest::Client, url: &Url) -> Result<Vec<u8>, FetchError> {
    retry(|| async {
        let resp = send(client, url).await?;
        let bytes = resp.bytes().await.map_err(FetchError::Body)?;
        Ok(bytes.to_vec())
    })
    .await
}

/// Stream the body of `url` into the file `dest` (created or truncated).
pub(crate) async fn download(
    client: &reqwest::Client,
    url: &Url,
    dest: &Path,
) -> Result<(), FetchError> {
    retry(|| async {
        let mut resp = send(client, url).await?;
        let mut file = std::fs::File::create(dest).map_err(FetchError::Io)?;
        while let Some(chunk) = resp.chunk().await.map_err(FetchError::Body)? {
            file.write_all(&chunk).map_err(FetchError::Io)?;
        }
        file.sync_all().map_err(FetchError::Io)
    })
    .await
}

async fn send(client: &reqwest::Client, url: &Url) -> Result<reqwest::Response, FetchError> {
    let resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(FetchError::Unreachable)?;
    if !resp.status().is_success() {
        return Err(FetchError::Status(resp.status().as_u16()));
    }
    Ok(resp)
}

async fn retry<T, F, Fut>(mut attempt: F) -> Result<T, FetchError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, FetchError>>,
{
    let mut n = 1;
    loop {
        match attempt().await {
            Err(e) if e.retryable() && n < ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(250 * 3u64.pow(n - 1))).await;
                n += 1;
            }
            other => return other,
        }
    }
}
