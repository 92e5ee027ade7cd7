//! The API's own documentation, served without a token: `GET /openapi.yaml`
//! (the document the tests check the API against) and `GET /docs` (that
//! document rendered at build time into one self-contained page).

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// The OpenAPI document, as written.
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");
/// `openapi.yaml` as HTML, built by `build.rs`.
pub const DOCS_HTML: &str = include_str!(concat!(env!("OUT_DIR"), "/docs.html"));

/// The documentation routes: outside `/v1`, outside the OpenAPI document's
/// paths, and without the JWT authorizer (also in `template.yaml`).
pub const DOC_ROUTES: &[(&str, &str)] = &[("GET", "/openapi.yaml"), ("GET", "/docs")];

// The page loads nothing from elsewhere: no scripts at all, styles inline.
const DOCS_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";
const CACHE: &str = "public, max-age=300";

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/openapi.yaml", get(openapi))
        .route("/docs", get(docs))
}

async fn openapi() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/yaml; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        OPENAPI_YAML,
    )
}

async fn docs() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
            (header::CONTENT_SECURITY_POLICY, DOCS_CSP),
        ],
        DOCS_HTML,
    )
}
