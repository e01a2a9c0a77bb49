//! API errors: a status code, a machine-readable code and a sentence, sent as
//! `{"error": {"code", "message"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fluxboard_model::api::{ErrorBody, ErrorDetail};

/// An error an API handler returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// Maps an error from the API server: its 403 and 404 keep their meaning, the rest is a 502.
    pub fn from_kube(what: &str, err: &kube::Error) -> ApiError {
        let text = crate::cluster::kube_error(err);
        match err {
            kube::Error::Api(status) if status.code == 404 => ApiError::not_found(format!("{what} not found")),
            kube::Error::Api(status) if status.code == 403 => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("forbidden by cluster RBAC: {text}"))
            }
            _ => ApiError::new(StatusCode::BAD_GATEWAY, "cluster_error", format!("reading {what} failed: {text}")),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message } };
        (self.status, axum::Json(body)).into_response()
    }
}
