//! The pages and their static files, all compiled into the binary from `assets/` (hand-written
//! HTML, CSS and JavaScript: no build step, nothing fetched from elsewhere, so the UI works
//! offline). A page is `assets/layout.html` around the page's own fragment; the scripts then
//! fetch the JSON API and build the page's content with `textContent`, never with markup.
//!
//! The little the server writes into a page itself (the project's title, a run id, a login
//! message) goes through [`Html::text`], which escapes it; markup that is not escaped can only
//! be a `&'static str` of this crate ([`Html::trusted`]). Every response carries a
//! Content-Security-Policy allowing scripts and styles of this origin only.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::UiState;
use crate::api::find_run;
use crate::error::UiError;
use crate::quality::is_test_id;

const LAYOUT: &str = include_str!("../assets/layout.html");

/// The static files under `/assets/`: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/style.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../assets/favicon.svg"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/common.js"),
    ),
    (
        "overview.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/overview.js"),
    ),
    (
        "runs.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/runs.js"),
    ),
    (
        "run.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/run.js"),
    ),
    (
        "models.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/models.js"),
    ),
    (
        "model.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/model.js"),
    ),
    (
        "lineage.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/lineage.js"),
    ),
    (
        "quality.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/quality.js"),
    ),
    (
        "quality_test.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/quality_test.js"),
    ),
    (
        "tables.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/tables.js"),
    ),
    (
        "table.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/table.js"),
    ),
];

/// What every response carries: scripts, styles, images and fetches of this origin only, no
/// framing, no sniffing content types, no referrer sent elsewhere (`same-origin`, not
/// `no-referrer`: under `no-referrer` a browser sends `Origin: null` with the UI's own form
/// posts, and `auth` then refuses the login and logout forms as cross-site).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// HTML that is safe to put in a page: escaped text, or markup written in this crate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Html(String);

impl Html {
    /// Text (user input included) escaped for an element's content or a quoted attribute,
    /// as the model report escapes it.
    pub fn text(s: &str) -> Html {
        Html(lakeforge_report::escape_html(s))
    }

    /// Markup of this crate's own: only a literal can be trusted.
    pub fn trusted(markup: &'static str) -> Html {
        Html(markup.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `template` with each `{{name}}` replaced by its slot (empty when it has none), in one pass:
/// what a slot holds is never scanned for slots again.
fn fill(template: &str, slots: &[(&str, &Html)]) -> String {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = &after[..end];
                if let Some((_, value)) = slots.iter().find(|(n, _)| *n == name) {
                    out.push_str(value.as_str());
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// One page of the UI.
struct Page<'a> {
    /// The `<title>`, before the project's.
    title: Html,
    /// The page's own markup (`assets/<page>.html`).
    main: Html,
    /// Its script, a file under `/assets/`.
    script: Option<&'static str>,
    /// Attributes of `<body>`, already escaped.
    body: Html,
    /// Whether the header offers to log out (in token mode, but on the login form).
    logout: bool,
    state: &'a UiState,
}

impl Page<'_> {
    fn render(self, status: StatusCode) -> Response {
        let scripts = match self.script {
            Some(file) => Html(format!(
                "<script src=\"/assets/common.js\" defer></script>\n\
                 <script src=\"/assets/{file}\" defer></script>"
            )),
            None => Html::default(),
        };
        let logout = if self.logout && self.state.options.require_tokens {
            Html::trusted(
                "<form method=\"post\" action=\"/logout\" class=\"logout\">\
                 <button type=\"submit\">Log out</button></form>",
            )
        } else {
            Html::default()
        };
        let project = Html::text(&self.state.options.title);
        let page = fill(
            LAYOUT,
            &[
                ("title", &self.title),
                ("project", &project),
                ("scripts", &scripts),
                ("body", &self.body),
                ("logout", &logout),
                ("main", &self.main),
            ],
        );
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page,
        )
            .into_response()
    }
}

pub async fn overview(State(state): State<Arc<UiState>>) -> Response {
    Page {
        title: Html::trusted("Overview"),
        main: Html::trusted(include_str!("../assets/overview.html")),
        script: Some("overview.js"),
        body: Html::default(),
        logout: true,
        state: &state,
    }
    .render(StatusCode::OK)
}

pub async fn runs(State(state): State<Arc<UiState>>) -> Response {
    Page {
        title: Html::trusted("Runs"),
        main: Html::trusted(include_str!("../assets/runs.html")),
        script: Some("runs.js"),
        body: Html::default(),
        logout: true,
        state: &state,
    }
    .render(StatusCode::OK)
}

/// One run's page; an unknown run is a 404 page saying so.
pub async fn run(
    State(state): State<Arc<UiState>>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let run = match path {
        Ok(Path(run_id)) => find_run(&state, &run_id).await,
        Err(_) => Err(UiError::NotFound {
            what: "run with that id".into(),
        }),
    };
    match run {
        Ok(run) => {
            let id = Html::text(&run.run_id);
            Page {
                title: Html(format!("Run {}", id.as_str())),
                main: Html::trusted(include_str!("../assets/run.html")),
                script: Some("run.js"),
                body: Html(format!(" data-run-id=\"{}\"", id.as_str())),
                logout: true,
                state: &state,
            }
            .render(StatusCode::OK)
        }
        Err(UiError::NotFound { what }) => not_found(&state, &what),
        Err(e) => e.into_response(),
    }
}

pub async fn models(State(state): State<Arc<UiState>>) -> Response {
    Page {
        title: Html::trusted("Models"),
        main: Html::trusted(include_str!("../assets/models.html")),
        script: Some("models.js"),
        body: Html::default(),
        logout: true,
        state: &state,
    }
    .render(StatusCode::OK)
}

/// The project's graph (drawn by `lineage.js` from `GET /api/lineage`, which says why when the
/// project did not load).
pub async fn lineage(State(state): State<Arc<UiState>>) -> Response {
    Page {
        title: Html::trusted("Lineage"),
        main: Html::trusted(include_str!("../assets/lineage.html")),
        script: Some("lineage.js"),
        body: Html::default(),
        logout: true,
        state: &state,
    }
    .render(StatusCode::OK)
}

/// Data quality: the tests over runs, quarantine counts, source freshness (drawn by
/// `quality.js` from `GET /api/quality`).
pub async fn quality(State(state): State<Arc<UiState>>) -> Response {
    Page {
        title: Html::trusted("Data quality"),
        main: Html::trusted(include_str!("../assets/quality.html")),
        script: Some("quality.js"),
        body: Html::default(),
        logout: true,
        state: &state,
    }
    .render(StatusCode::OK)
}

/// One test's page: its history and failing rows; a test neither the project nor the store
/// knows is a 404 page saying so.
pub async fn quality_test(
    State(state): State<Arc<UiState>>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let unique_id = match path {
        Ok(Path(id)) if is_test_id(&id) => id,
        _ => return not_found(&state, "test with that id"),
    };
    let in_project = state
        .project
        .shared()
        .is_ok_and(|p| p.nodes.contains_key(&unique_id));
    let known = in_project
        || match state.store.node_history(&unique_id, 1).await {
            Ok(results) => !results.is_empty(),
            Err(e) => return UiError::from(e).into_response(),
        };
    if !known {
        return not_found(&state, &format!("test `{unique_id}`"));
    }
    let id = Html::text(&unique_id);
    Page {
        title: Html(format!("Test {}", id.as_str())),
        main: Html::trusted(include_str!("../assets/quality_test.html")),
        script: Some("quality_test.js"),
        body: Html(format!(" data-test-id=\"{}\"", id.as_str())),
        logout: true,
        state: &state,
    }
    .render(StatusCode::OK)
}

/// The lake's tables (filled by `tables.js` from `GET /api/tables`, which says why when the
/// lake or the project is unavailable).
pub async fn tables(State(state): State<Arc<UiState>>) -> Response {
    Page {
        title: Html::trusted("Tables"),
        main: Html::trusted(include_str!("../assets/tables.html")),
        script: Some("tables.js"),
        body: Html::default(),
        logout: true,
        state: &state,
    }
    .render(StatusCode::OK)
}

/// One table's page; a name the loaded project does not have is a 404 page saying so (with
/// no project loaded, the page's script shows the API's reason).
pub async fn table(
    State(state): State<Arc<UiState>>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(wanted)) = path else {
        return not_found(&state, "table with that name");
    };
    if let crate::ProjectGraph::Loaded(project) = &state.project
        && crate::tables::find(project, &wanted).is_none()
    {
        return not_found(&state, &format!("table `{wanted}` in this project"));
    }
    let wanted = Html::text(&wanted);
    Page {
        title: Html(format!("Table {}", wanted.as_str())),
        main: Html::trusted(include_str!("../assets/table.html")),
        script: Some("table.js"),
        body: Html(format!(" data-relation=\"{}\"", wanted.as_str())),
        logout: true,
        state: &state,
    }
    .render(StatusCode::OK)
}

/// One registered model's page; an unknown model is a 404 page saying so.
pub async fn model(
    State(state): State<Arc<UiState>>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let name = match path {
        Ok(Path(name)) => name,
        Err(_) => return not_found(&state, "model with that name"),
    };
    match state.store.model_versions(&name).await {
        Ok(versions) if versions.is_empty() => not_found(&state, &format!("model `{name}`")),
        Ok(_) => {
            let name = Html::text(&name);
            Page {
                title: Html(format!("Model {}", name.as_str())),
                main: Html::trusted(include_str!("../assets/model.html")),
                script: Some("model.js"),
                body: Html(format!(" data-model=\"{}\"", name.as_str())),
                logout: true,
                state: &state,
            }
            .render(StatusCode::OK)
        }
        Err(e) => UiError::from(e).into_response(),
    }
}

/// The page for what does not exist (`what`: "run `x`", "page").
fn not_found(state: &UiState, what: &str) -> Response {
    let message = Html::text(&format!("No {what} here."));
    Page {
        title: Html::trusted("Not found"),
        main: Html(format!(
            "<h1>Not found</h1><p class=\"empty\">{}</p><p><a href=\"/runs\">All runs</a></p>",
            message.as_str()
        )),
        script: None,
        body: Html::default(),
        logout: true,
        state,
    }
    .render(StatusCode::NOT_FOUND)
}

/// Anything unrouted: JSON under `/api/`, a page elsewhere.
pub async fn fallback(State(state): State<Arc<UiState>>, request: Request) -> Response {
    if request.uri().path().starts_with("/api/") {
        UiError::NotFound {
            what: "API route".into(),
        }
        .into_response()
    } else {
        not_found(&state, "page")
    }
}

/// The login form, with where to go after it and why the last try failed.
pub fn login(state: &UiState, next: &str, message: Option<&str>, status: StatusCode) -> Response {
    let message = match message {
        Some(m) => Html(format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            Html::text(m).as_str()
        )),
        None => Html::default(),
    };
    let main = fill(
        include_str!("../assets/login.html"),
        &[("next", &Html::text(next)), ("message", &message)],
    );
    Page {
        title: Html::trusted("Log in"),
        main: Html(main),
        script: None,
        body: Html::default(),
        logout: false,
        state,
    }
    .render(status)
}

pub async fn asset(path: Result<Path<String>, PathRejection>) -> Response {
    let found = path
        .ok()
        .and_then(|Path(name)| ASSETS.iter().find(|(n, _, _)| *n == name));
    match found {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                // Compiled in, so they change only with the binary: ask again each time
                // (cheap on loopback) rather than keep a stale copy after an upgrade.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *bytes,
        )
            .into_response(),
        None => UiError::NotFound {
            what: "asset".into(),
        }
        .into_response(),
    }
}

/// The headers every response carries (see the module's documentation); responses that say
/// nothing of caching are not stored, as they show the store's current state.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(
            Html::text(r#"<script>alert("x")</script> & 'y'"#).as_str(),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn slots_are_filled_once_and_never_rescanned() {
        let sneaky = Html::text("{{main}}");
        let main = Html::trusted("<p>m</p>");
        assert_eq!(
            fill(
                "<t>{{title}}</t>{{main}}{{unknown}}{{",
                &[("title", &sneaky), ("main", &main)]
            ),
            "<t>{{main}}</t><p>m</p>{{"
        );
    }

    #[test]
    fn every_asset_the_pages_name_is_served() {
        let names: Vec<&str> = ASSETS.iter().map(|(n, _, _)| *n).collect();
        for page in [
            LAYOUT,
            include_str!("../assets/overview.html"),
            include_str!("../assets/runs.html"),
            include_str!("../assets/run.html"),
            include_str!("../assets/models.html"),
            include_str!("../assets/model.html"),
            include_str!("../assets/lineage.html"),
            include_str!("../assets/quality.html"),
            include_str!("../assets/quality_test.html"),
            include_str!("../assets/tables.html"),
            include_str!("../assets/table.html"),
            include_str!("../assets/login.html"),
        ] {
            for (i, _) in page.match_indices("/assets/") {
                let name: String = page[i + 8..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                    .collect();
                assert!(names.contains(&name.as_str()), "{name} is not an asset");
            }
        }
    }

    /// The scripts build the DOM from text only: no markup parsing of anything they fetched.
    #[test]
    fn scripts_never_parse_markup() {
        for (name, _, bytes) in ASSETS.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            let source = std::str::from_utf8(bytes).unwrap();
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                "setTimeout(\"",
            ] {
                assert!(!source.contains(sink), "{name} uses {sink}");
            }
        }
    }
}
