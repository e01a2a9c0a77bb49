//! Kubernetes API errors, answered as `Status` objects with the right code and reason.

use serde_json::{Value, json};

/// An error the API server answers with, rendered as a `meta.k8s.io/v1 Status`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason} ({code}): {message}")]
pub struct ApiError {
    /// The HTTP status code.
    pub code: u16,
    /// The machine-readable reason (`NotFound`, `Conflict`, `Invalid`, ...).
    pub reason: &'static str,
    /// The human-readable message, worded as the real API server words it.
    pub message: String,
    /// `details` of the Status (name, group, kind), when there is an object in question.
    pub details: Option<Value>,
}

/// `Result` with [`ApiError`].
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into(), details: None }
    }

    /// With `details` naming the object in question (`kind` is the resource's plural, as the
    /// API server writes it).
    pub(crate) fn with_details(mut self, name: &str, group: &str, kind: &str) -> Self {
        let mut details = serde_json::Map::new();
        if !name.is_empty() {
            details.insert("name".into(), name.into());
        }
        if !group.is_empty() {
            details.insert("group".into(), group.into());
        }
        details.insert("kind".into(), kind.into());
        self.details = Some(Value::Object(details));
        self
    }

    /// 404 for an object: `kustomizations.kustomize.toolkit.fluxcd.io "x" not found`.
    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{} \"{name}\" not found", qualified(group, plural)))
            .with_details(name, group, plural)
    }

    /// 404 for a path the server does not serve.
    pub fn no_route() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource")
    }

    /// 409 when creating an object that exists.
    pub fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        Self::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", qualified(group, plural)))
            .with_details(name, group, plural)
    }

    /// 409 when the resourceVersion precondition fails.
    pub fn conflict(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                qualified(group, plural)
            ),
        )
        .with_details(name, group, plural)
    }

    /// 409 for a delete whose preconditions do not hold: `Operation cannot be fulfilled on
    /// ConfigMap "x": <why>` (the registry names the Kind, qualified by its group).
    pub fn precondition_failed(group: &str, kind: &str, name: &str, why: &str) -> Self {
        let qualified_kind = if group.is_empty() { kind.to_owned() } else { format!("{kind}.{group}") };
        Self::new(409, "Conflict", format!("Operation cannot be fulfilled on {qualified_kind} \"{name}\": {why}"))
            .with_details(name, group, kind)
    }

    /// 422 with the field causes: `Kustomization.kustomize.toolkit.fluxcd.io "x" is invalid: <causes>`.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: &str) -> Self {
        let qualified_kind = if group.is_empty() { kind.to_owned() } else { format!("{kind}.{group}") };
        Self::new(422, "Invalid", format!("{qualified_kind} \"{name}\" is invalid: {causes}"))
            .with_details(name, group, kind)
    }

    /// 422 for a JSON patch that cannot be applied, as the API server answers it (a generic
    /// message; what failed is the one cause).
    pub fn patch_failed(cause: &str) -> Self {
        let mut err = Self::new(422, "Invalid", "the server rejected our request due to an error in our request");
        err.details = Some(json!({"causes": [{"reason": "UnexpectedServerResponse", "message": cause}]}));
        err
    }

    /// 400 for a malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 401 for a request without valid credentials.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 with the RBAC message.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// 405 for a verb the resource does not support.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// 410 when a watch or continue token asks for history that was compacted.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 413 for an oversized body.
    pub fn too_large() -> Self {
        Self::new(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
    }

    /// 415 for a patch with an unknown content type, worded as the API server's content
    /// negotiation words it (the status code and its text).
    pub fn unsupported_media_type() -> Self {
        Self::new(415, "UnsupportedMediaType", "415: Unsupported Media Type")
    }

    /// 415 for a patch type the resource does not take (strategic merge on a custom resource),
    /// listing the ones it does.
    pub fn unsupported_patch_type(accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
    }

    /// 415 for a create or update body that is not JSON.
    pub fn unsupported_body(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: \
                 application/json (kube-sim does not speak protobuf)"
            ),
        )
    }

    /// 406 for a document asked for in a format kube-sim does not write (OpenAPI as protobuf).
    pub fn not_acceptable(accept: &str) -> Self {
        Self::new(
            406,
            "NotAcceptable",
            format!("only the following media types are accepted: application/json (asked for {accept})"),
        )
    }

    /// 400 for a write with fields its schema lacks, under `fieldValidation=Strict`:
    /// `Kustomization in version "v1" cannot be handled as a Kustomization: strict decoding
    /// error: unknown field "spec.x"`.
    pub fn strict_decoding(kind: &str, version: &str, fields: &[String]) -> Self {
        let unknown: Vec<String> = fields.iter().map(|f| format!("unknown field \"{f}\"")).collect();
        Self::new(
            400,
            "BadRequest",
            format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
                unknown.join(", ")
            ),
        )
    }

    /// 500 without a reason, as the API server answers a server-side apply it cannot type
    /// against the schema.
    pub fn typed_patch(message: impl Into<String>) -> Self {
        Self::new(500, "", message)
    }

    /// 500 for what should not happen.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

/// `plural.group`, or `plural` for the core group.
pub(crate) fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() { plural.to_owned() } else { format!("{plural}.{group}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_the_qualified_resource_and_carries_details() {
        let status = ApiError::not_found("kustomize.toolkit.fluxcd.io", "kustomizations", "apps").to_status();
        assert_eq!(status["code"], 404);
        assert_eq!(status["reason"], "NotFound");
        assert_eq!(status["message"], "kustomizations.kustomize.toolkit.fluxcd.io \"apps\" not found");
        assert_eq!(status["details"]["name"], "apps");
        assert_eq!(status["details"]["kind"], "kustomizations");
    }

    #[test]
    fn core_resources_are_not_qualified() {
        assert_eq!(ApiError::not_found("", "pods", "p").message, "pods \"p\" not found");
    }
}
