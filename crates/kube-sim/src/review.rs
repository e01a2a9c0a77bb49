//! The review kinds: TokenReview, SelfSubjectReview, (Local/Self)SubjectAccessReview.
//! They are answered, never stored.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::{
    error::{ApiError, Result},
    rbac::{self, Attributes, UserInfo},
    resources::ResourceType,
    server::{self, ServerState},
};

/// Answers a create of a review kind.
pub(crate) fn create(
    state: &ServerState,
    user: &UserInfo,
    rt: &ResourceType,
    namespace: Option<&str>,
    mut body: Value,
) -> Result<Response> {
    let status = match rt.kind.as_str() {
        "SelfSubjectReview" => json!({"userInfo": user_json(user)}),
        "SelfSubjectAccessReview" => access_review(state, user, &body["spec"])?,
        kind => {
            check_create(state, user, rt, namespace)?;
            match kind {
                "TokenReview" => token_review(state, &body["spec"]),
                "LocalSubjectAccessReview" => {
                    let ns = namespace.unwrap_or_default();
                    if body["spec"]["resourceAttributes"]["namespace"].as_str().unwrap_or(ns) != ns {
                        return Err(ApiError::bad_request(
                            "spec.resourceAttributes.namespace must match the namespace of the request",
                        ));
                    }
                    body["spec"]["resourceAttributes"]["namespace"] = json!(ns);
                    subject_access_review(state, &body["spec"])?
                }
                _ => subject_access_review(state, &body["spec"])?,
            }
        }
    };
    body["apiVersion"] = json!(rt.api_version());
    body["kind"] = json!(rt.kind);
    body["status"] = status;
    if body.get("metadata").is_none() {
        body["metadata"] = json!({});
    }
    let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((StatusCode::CREATED, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], bytes)
        .into_response())
}

fn check_create(state: &ServerState, user: &UserInfo, rt: &ResourceType, namespace: Option<&str>) -> Result<()> {
    let attrs = Attributes {
        verb: "create".into(),
        api_group: rt.group.clone(),
        resource: rt.plural.clone(),
        namespace: namespace.unwrap_or_default().to_owned(),
        ..Attributes::default()
    };
    let allowed = server::with_rbac(state, |r| rbac::authorize(r, user, &attrs)).allowed;
    if allowed { Ok(()) } else { Err(rbac::refusal(user, &attrs)) }
}

fn user_json(user: &UserInfo) -> Value {
    json!({"username": user.username, "uid": user.uid, "groups": user.groups})
}

fn token_review(state: &ServerState, spec: &Value) -> Value {
    let token = spec["token"].as_str().unwrap_or_default();
    match state.authn.review(token) {
        Some(user) => {
            json!({"authenticated": true, "user": user_json(&user), "audiences": spec["audiences"].as_array().cloned().unwrap_or_default()})
        }
        // `authenticated: false` is the zero value the real server leaves out.
        None => json!({"error": "invalid bearer token", "user": {}}),
    }
}

fn subject_access_review(state: &ServerState, spec: &Value) -> Result<Value> {
    let user = spec["user"].as_str().unwrap_or_default();
    if user.is_empty() && spec["groups"].as_array().is_none_or(Vec::is_empty) {
        return Err(ApiError::invalid(
            "SubjectAccessReview",
            "authorization.k8s.io",
            "",
            "spec.user: Invalid value: \"\": at least one of user or group must be specified",
        ));
    }
    let groups = spec["groups"]
        .as_array()
        .map(|a| a.iter().filter_map(|g| g.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let subject =
        UserInfo { username: user.to_owned(), uid: spec["uid"].as_str().unwrap_or_default().to_owned(), groups };
    access_review(state, &subject, spec)
}

fn access_review(state: &ServerState, user: &UserInfo, spec: &Value) -> Result<Value> {
    let attrs = if let Some(ra) = spec.get("resourceAttributes").filter(|v| v.is_object()) {
        let field = |k: &str| ra[k].as_str().unwrap_or_default().to_owned();
        Attributes {
            verb: field("verb"),
            api_group: field("group"),
            resource: field("resource"),
            subresource: field("subresource"),
            namespace: field("namespace"),
            name: field("name"),
            path: None,
        }
    } else if let Some(nra) = spec.get("nonResourceAttributes").filter(|v| v.is_object()) {
        Attributes {
            verb: nra["verb"].as_str().unwrap_or_default().to_owned(),
            path: Some(nra["path"].as_str().unwrap_or_default().to_owned()),
            ..Attributes::default()
        }
    } else {
        return Err(ApiError::invalid(
            "SubjectAccessReview",
            "authorization.k8s.io",
            "",
            "spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ));
    };
    let decision = server::with_rbac(state, |r| rbac::authorize(r, user, &attrs));
    let mut status = json!({"allowed": decision.allowed});
    if !decision.reason.is_empty() {
        status["reason"] = json!(decision.reason);
    }
    Ok(status)
}
