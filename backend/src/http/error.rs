//! API errors: a status code, a machine-readable code and a sentence, sent as
//! `{"error": {"code", "message"}}`.
//!
//! This is the one place that makes the error body. Each module keeps its own error enum
//! (thiserror, a doc line per variant) and implements [`Reason`] for it: its status and code,
//! with its `Display` as the message; `ApiError::from` turns any of them into the body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fluxboard_model::api::{ErrorBody, ErrorDetail};

/// The longest error message, in characters.
pub(crate) const MAX_MESSAGE: usize = 1024;

/// An error an API handler returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// An error whose message is cut to [`MAX_MESSAGE`] characters (messages name what was
    /// asked for, and a 10 KB name must not come back as a 10 KB error; the API server's own
    /// messages, RBAC and admission denials, stay whole).
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        let mut message = message.into();
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE) {
            message.truncate(cut);
            message.push('…');
        }
        ApiError { status, code, message }
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
        let text = crate::fleet::cluster::kube_error(err);
        match err {
            kube::Error::Api(status) if status.code == 404 => ApiError::not_found(format!("{what} not found")),
            kube::Error::Api(status) if status.code == 403 => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("forbidden by cluster RBAC: {text}"))
            }
            _ => ApiError::new(StatusCode::BAD_GATEWAY, "cluster_error", format!("reading {what} failed: {text}")),
        }
    }
}

/// An error a module answers a request with: the status and the machine-readable code; the
/// message is its `Display`.
pub trait Reason: std::error::Error {
    /// The HTTP status of the answer.
    fn status(&self) -> StatusCode;
    /// The machine-readable `error.code` of the answer.
    fn code(&self) -> &'static str;
}

impl<E: Reason> From<E> for ApiError {
    fn from(err: E) -> ApiError {
        ApiError::new(err.status(), err.code(), err.to_string())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for ApiError {}

/// `Path<T>` whose rejection (a segment that is not UTF-8, for example) is an [`ApiError`].
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(ApiError::bad_request(format!("bad path: {}", rejection.body_text()))),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message } };
        (self.status, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut() {
        let long = ApiError::not_found(format!("Kustomization ns/{} not found", "ä".repeat(5000)));
        assert_eq!(long.message.chars().count(), MAX_MESSAGE + 1);
        assert!(long.message.ends_with('…'));
        assert_eq!(ApiError::bad_request("short").message, "short");
    }
}
