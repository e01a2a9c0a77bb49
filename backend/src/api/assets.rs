//! The web app, embedded in the binary at build time (see build.rs): `index.html` for every
//! page route (with the base path filled in), hashed assets with long cache lifetimes.

use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::http::error::ApiError;

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Whether the real web app is embedded (false when the frontend was not built).
pub fn frontend_built() -> bool {
    FRONTEND_BUILT
}

/// Serves `path` (relative to the base path) from the embedded assets; every other path that is
/// not an API route gets `index.html`, so the app's own routes load.
pub fn serve(path: &str, base_path: &str) -> Response {
    if path.starts_with("/api/") || path.starts_with("/auth/") || path == "/api" {
        return ApiError::not_found(format!("no route {path}")).into_response();
    }
    if let Some(rest) = path.strip_prefix("/assets/") {
        return match ASSETS.iter().find(|(name, _, _)| *name == rest) {
            Some((_, bytes, content_type)) => (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                    (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
                ],
                *bytes,
            )
                .into_response(),
            None => {
                ApiError::not_found("no such asset (the app may have been updated: reload the page)").into_response()
            }
        };
    }
    index(base_path)
}

/// `index.html` with `<base href>` pointing at the base path.
pub fn index(base_path: &str) -> Response {
    let html = INDEX_HTML.replacen("<base href=\"/\">", &format!("<base href=\"{base_path}/\">"), 1);
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
                     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'",
                ),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
        ],
        html,
    )
        .into_response()
}

pub(crate) async fn fallback(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<crate::state::AppState>>,
    uri: Uri,
) -> Response {
    serve(uri.path(), &state.base_path)
}
