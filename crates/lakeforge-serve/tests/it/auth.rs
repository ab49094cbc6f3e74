//! Authentication under abuse: thousands of random bearer tokens leave every cache within its
//! bound and cost one store lookup each at most (none for a repeated one); a client that keeps
//! failing is answered 429 with `Retry-After` without lookups, over a real socket; valid
//! tokens keep working and a revoked one stops within the TTL. Loaded model versions are
//! bounded too, and a damaged model file is an error naming it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use lakeforge_meta::ModelStatus;
use lakeforge_ml::rng::Rng;
use lakeforge_serve::{AuthLimits, ServeLimits, ServeOptions, ServeState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Fixture, call, new_version};

const ROWS: &str = r#"{"rows": [{"x": 1.5, "plan": "pro"}]}"#;

fn random_token(rng: &mut Rng) -> String {
    format!("lf_{:016x}{:016x}", rng.next_u64(), rng.next_u64())
}

async fn guarded(f: &Fixture, limits: ServeLimits) -> Arc<ServeState> {
    let state = ServeState::with_limits(
        f.store.clone(),
        f.lake.clone(),
        ServeOptions {
            require_tokens: true,
            ..Default::default()
        },
        limits,
    );
    state.refresh().await.unwrap();
    state
}

/// The value of `lakeforge_cache_entries{cache="<cache>"}` in `/metrics`.
fn cache_gauge(metrics: &str, cache: &str) -> usize {
    let prefix = format!("lakeforge_cache_entries{{cache=\"{cache}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{prefix} missing from\n{metrics}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn random_tokens_stay_within_the_cache_bounds() {
    let f = Fixture::new().await;
    let ttl = Duration::from_millis(600);
    let state = guarded(
        &f,
        ServeLimits {
            auth: AuthLimits {
                valid_ttl: ttl,
                valid_entries: 8,
                invalid_entries: 64,
                // In-process calls are one client; this test is about the caches.
                failure_burst: u32::MAX,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    let mut valid = Vec::new();
    for i in 0..20 {
        let (_, token) = f
            .store
            .create_token(&format!("t{i}"), &["predict".into()])
            .await
            .unwrap();
        valid.push(token);
    }
    let mut rng = Rng::new(3);
    let mut recent_bad = Vec::new();
    let random = 10_000;
    for i in 0..random {
        let token = random_token(&mut rng);
        let (status, body, _) = call(&state, "GET", "/v1/models", None, Some(&token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        if i % 400 == 0 {
            let v = &valid[(i / 400) % valid.len()];
            let (status, _, text) =
                call(&state, "POST", "/v1/models/m/predict", Some(ROWS), Some(v)).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "a valid token after {i} random ones: {text}"
            );
        }
        let s = state.auth_stats();
        assert!(s.valid_entries <= 8, "{s:?}");
        assert!(s.invalid_entries <= 64, "{s:?}");
        if i >= random - 30 {
            recent_bad.push(token);
        }
    }
    let s = state.auth_stats();
    assert!(s.invalid_entries > 32, "the negative cache is used: {s:?}");
    // Every new string cost one lookup, each valid token at most one per TTL.
    assert!(s.store_lookups >= random as u64, "{s:?}");
    assert!(s.store_lookups <= random as u64 + 25 + 20, "{s:?}");
    // A repeated bad token is answered from memory.
    for _ in 0..10 {
        for token in &recent_bad {
            let status = call(&state, "GET", "/v1/models", None, Some(token)).await.0;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
    assert_eq!(state.auth_stats().store_lookups, s.store_lookups);
    // Strings of any length and content are refused without being kept.
    for token in ["x".repeat(100_000), "é token".into(), "Bearer".into()] {
        let status = call(&state, "GET", "/v1/models", None, Some(&token))
            .await
            .0;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert!(state.auth_stats().invalid_entries <= 64);

    // /metrics shows the same sizes.
    let (status, _, metrics) = call(&state, "GET", "/metrics", None, Some(&valid[0])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(cache_gauge(&metrics, "valid_tokens") <= 8, "{metrics}");
    let invalid = cache_gauge(&metrics, "invalid_tokens");
    assert!((1..=64).contains(&invalid), "{metrics}");
    assert_eq!(cache_gauge(&metrics, "loaded_model_versions"), 1);

    // A revoked token stops working within the TTL (it was cached as valid just now).
    assert_eq!(f.store.revoke_token("t0").await.unwrap(), 1);
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    let (status, _, _) = call(&state, "GET", "/v1/models", None, Some(&valid[0])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call(&state, "GET", "/v1/models", None, Some(&valid[1])).await;
    assert_eq!(status, StatusCode::OK);
}

struct Reply {
    status: u16,
    retry_after: Option<String>,
}

/// One request over a fresh connection to the server.
async fn get(addr: SocketAddr, path: &str, token: &str) -> Reply {
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).await.unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"));
    let retry_after = response.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("retry-after: ")
            .map(str::to_string)
    });
    Reply {
        status,
        retry_after,
    }
}

#[tokio::test]
async fn a_client_that_keeps_failing_gets_429_without_lookups() {
    let f = Fixture::new().await;
    let state = guarded(
        &f,
        ServeLimits {
            auth: AuthLimits {
                valid_ttl: Duration::from_millis(300),
                failure_burst: 5,
                failures_per_second: 0.5,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    let (_, known) = f
        .store
        .create_token("known", &["predict".into()])
        .await
        .unwrap();
    let (_, fresh) = f
        .store
        .create_token("fresh", &["predict".into()])
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(lakeforge_serve::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));

    assert_eq!(get(addr, "/v1/models", &known).await.status, 200);
    let mut rng = Rng::new(9);
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let reply = get(addr, "/v1/models", &random_token(&mut rng)).await;
        if reply.status == 429 {
            let wait: u64 = reply
                .retry_after
                .expect("Retry-After")
                .trim()
                .parse()
                .unwrap();
            assert!((1..=2).contains(&wait), "Retry-After {wait}");
        }
        statuses.push(reply.status);
    }
    let refused = statuses.iter().filter(|s| **s == 401).count();
    assert!((5..=7).contains(&refused), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429));
    let s = state.auth_stats();
    assert_eq!(s.store_lookups as usize, 1 + refused, "{s:?}");
    assert!(s.rate_limited >= 30, "{s:?}");
    // A token that resolved before still works from this client, from the cache and, once
    // its entry expired, from the store without the spent budget...
    assert_eq!(get(addr, "/v1/models", &known).await.status, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(get(addr, "/v1/models", &known).await.status, 200);
    assert_eq!(state.auth_stats().store_lookups as usize, 2 + refused);
    // ...one not seen yet waits for the budget, then works and gives the unit back.
    assert_eq!(get(addr, "/v1/models", &fresh).await.status, 429);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(get(addr, "/v1/models", &fresh).await.status, 200);
    assert_eq!(get(addr, "/v1/models", &fresh).await.status, 200);
    assert!(state.auth_stats().client_buckets <= 2);
    // Revoked, a cached token is refused after its TTL and then costs the budget again.
    assert_eq!(f.store.revoke_token("known").await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(get(addr, "/v1/models", &known).await.status, 401);
    let before = state.auth_stats().store_lookups;
    let again = get(addr, "/v1/models", &known).await.status;
    assert!(again == 401 || again == 429, "{again}");
    assert_eq!(state.auth_stats().store_lookups, before);

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn loaded_versions_are_bounded_and_aliased_ones_kept() {
    let f = Fixture::new().await;
    for trees in 21..=25 {
        f.register("m", trees, None).await;
    }
    let state = ServeState::with_limits(
        f.store.clone(),
        f.lake.clone(),
        ServeOptions::default(),
        ServeLimits {
            loaded_versions: 2,
            ..Default::default()
        },
    );
    state.refresh().await.unwrap();
    assert_eq!(state.models.loaded_count(), 1);
    for round in 0..2 {
        for version in 1..=6 {
            let uri = format!("/v1/models/m/versions/{version}/predict");
            let (status, body, text) = call(&state, "POST", &uri, Some(ROWS), None).await;
            assert_eq!(status, StatusCode::OK, "round {round} v{version}: {text}");
            assert_eq!(body["version"], version);
            assert!(state.models.loaded_count() <= 3, "production + 2 others");
        }
    }
    // The production version was never dropped: resolving it reads no file.
    std::fs::remove_file(f.lake.join("_models/m/20/model.lfm")).unwrap();
    let (status, body, text) = call(&state, "POST", "/v1/models/m/predict", Some(ROWS), None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(body["version"], 1);
}

#[tokio::test]
async fn a_damaged_model_file_is_an_error_naming_it() {
    let f = Fixture::new().await;
    let state = f.state(ServeOptions::default()).await;
    let good = std::fs::read(f.lake.join("_models/m/20/model.lfm")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", good[..good.len() / 2].to_vec(), "truncated"),
        (
            "junk",
            b"PAR1 not a model".to_vec(),
            "not a Lakeforge model file",
        ),
        (
            // A valid frame around a payload that decodes to something else entirely.
            "hostile",
            lakeforge_ml::model_file::to_bytes(&serde_json::json!({"meta": 1})).unwrap(),
            "unexpected model structure",
        ),
    ];
    for (name, bytes, want) in cases {
        let rel = format!("_models/m/{name}/model.lfm");
        std::fs::create_dir_all(f.lake.join(format!("_models/m/{name}"))).unwrap();
        std::fs::write(f.lake.join(&rel), bytes).unwrap();
        let mut new = new_version("m", rel.clone(), ModelStatus::Passed);
        new.trained.feature_schema_json = "not json".into();
        new.trained.artifact_sha256 = "0".repeat(64);
        let version = f.store.register_model_version(&new).await.unwrap();
        state.refresh().await.unwrap();
        let uri = format!("/v1/models/m/versions/{version}/predict");
        let (status, body, text) = call(&state, "POST", &uri, Some(ROWS), None).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{name}: {text}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&rel) && message.contains(want),
            "{name}: {message}"
        );
    }
    // The others still answer.
    let (status, _, _) = call(&state, "POST", "/v1/models/m/predict", Some(ROWS), None).await;
    assert_eq!(status, StatusCode::OK);
}
