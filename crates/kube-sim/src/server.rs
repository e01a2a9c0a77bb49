//! The HTTP front: authentication, impersonation, RBAC, then the REST verbs over the store.

use std::{borrow::Cow, sync::Arc, time::Duration};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Query, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::{
    auth::{self, Authenticator},
    error::{ApiError, Result},
    object, patch,
    rbac::{self, Attributes, RbacSnapshot, UserInfo},
    resources::{Registry, ResourceType, Storage},
    review,
    route::{self, ResourcePath, Route},
    selector::{FieldSelector, LabelSelector},
    store::{Part, Preconditions, Store, parse_rv},
    table::{self, IncludeObject},
    watch,
};

/// The largest request body accepted, as on a real API server.
pub(crate) const MAX_BODY: usize = 3 * 1024 * 1024;

/// Fault switches shared by the server and its watches.
#[derive(Debug)]
pub(crate) struct FaultState {
    /// While true, requests and watch deliveries wait.
    pub(crate) stalled: tokio::sync::watch::Sender<bool>,
}

/// What every request handler shares.
#[derive(Debug)]
pub(crate) struct ServerState {
    pub(crate) registry: Arc<Registry>,
    pub(crate) store: Arc<Store>,
    pub(crate) authn: Authenticator,
    pub(crate) bookmark_interval: Duration,
    pub(crate) faults: FaultState,
    /// Every authorized PATCH as it arrived (bounded), for tests that assert the exact body.
    pub(crate) patches: std::sync::Mutex<std::collections::VecDeque<crate::RecordedPatch>>,
    /// Open watches by (group, resource), as `apiserver_longrunning_requests` reports them.
    pub(crate) watches: Arc<crate::watch::WatchGauge>,
    /// The OpenAPI documents, built at the first request for one.
    pub(crate) openapi: std::sync::OnceLock<crate::openapi::OpenApi>,
}

/// How many patches the journal keeps.
const PATCH_JOURNAL: usize = 10_000;

/// The API server's router.
pub(crate) fn router(state: Arc<ServerState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let mut stalled = state.faults.stalled.subscribe();
    // A closed channel means the sim is shutting down: go on.
    let _ = stalled.wait_for(|s| !s).await;
    match serve(&state, request).await {
        Ok(response) => response,
        Err(err) => error_response(&err),
    }
}

/// A `Status` response for an error.
pub(crate) fn error_response(err: &ApiError) -> Response {
    json_response(StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &err.to_status())
}

fn json_response(code: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            (code, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], bytes).into_response()
        }
        Err(err) => error_response(&ApiError::internal(err.to_string())),
    }
}

/// One request, after the stall gate.
struct Call<'a> {
    state: &'a ServerState,
    user: UserInfo,
    method: Method,
    headers: HeaderMap,
    query: Vec<(String, String)>,
    body: Body,
}

impl Call<'_> {
    fn param(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    async fn body_json(self) -> Result<(Value, Self)> {
        let mut call = self;
        let body = std::mem::take(&mut call.body);
        let bytes = read_body(body).await?;
        if self_content_type(&call.headers) == crate::proto::CONTENT_TYPE {
            return Err(ApiError::unsupported_body(crate::proto::CONTENT_TYPE));
        }
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(ApiError::bad_request("the request body must be a JSON object"));
        }
        Ok((value, call))
    }
}

async fn read_body(body: Body) -> Result<Bytes> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| ApiError::too_large())
}

async fn serve(state: &ServerState, request: Request) -> Result<Response> {
    let (parts, body) = request.into_parts();
    let route = route::parse(&state.registry, parts.uri.path())?;
    if matches!(route, Route::Health) {
        return Ok((StatusCode::OK, "ok").into_response());
    }
    let caller = state.authn.authenticate(&parts.headers)?;
    let query = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?
        .0;
    let asked = request_attributes(&route, &parts.method, &query, parts.uri.path());
    let user = with_rbac(state, |rbac| auth::impersonate(rbac, caller, &parts.headers, &asked))?;
    let call = Call { state, user, method: parts.method, headers: parts.headers, query, body };
    match route {
        Route::Version => Ok(json_response(StatusCode::OK, &version())),
        Route::CoreVersions => Ok(json_response(StatusCode::OK, &core_versions())),
        Route::Groups => Ok(json_response(StatusCode::OK, &group_list(&state.registry))),
        Route::Group(group) => Ok(group_list(&state.registry)["groups"]
            .as_array()
            .and_then(|groups| groups.iter().find(|g| g["name"] == group.as_str()).cloned())
            .map_or_else(page_not_found, |mut g| {
                g["kind"] = json!("APIGroup");
                g["apiVersion"] = json!("v1");
                json_response(StatusCode::OK, &g)
            })),
        Route::ResourceList { group, version } => Ok(state
            .registry
            .resource_list(&group, &version)
            .map_or_else(page_not_found, |list| json_response(StatusCode::OK, &list))),
        Route::PageNotFound => Ok(page_not_found()),
        Route::Health => Ok((StatusCode::OK, "ok").into_response()),
        Route::Metrics => metrics(&call),
        Route::OpenApiV2 | Route::OpenApiV3Index | Route::OpenApiV3(_) => openapi(state, &route, &call.headers),
        Route::Resource(path) => resource(call, path).await,
    }
}

/// What the API server's mux answers for a path no handler serves (Go's `http.NotFound`).
fn page_not_found() -> Response {
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "404 page not found\n")
        .into_response()
}

/// `GET /metrics`, for callers RBAC allows `get` on that non-resource URL (as the real one).
fn metrics(call: &Call<'_>) -> Result<Response> {
    let attrs = Attributes { verb: "get".to_owned(), path: Some("/metrics".to_owned()), ..Attributes::default() };
    let decision = with_rbac(call.state, |rbac| rbac::authorize(rbac, &call.user, &attrs));
    if !decision.allowed {
        return Err(rbac::refusal(&call.user, &attrs));
    }
    let body = call.state.watches.render();
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}

/// `/openapi/v2` and `/openapi/v3[/<gv>]`, as JSON (kube-sim writes no protobuf: a client that
/// accepts only protobuf, as kubectl's v2 download does, gets 406 and falls back).
fn openapi(state: &ServerState, route: &Route, headers: &HeaderMap) -> Result<Response> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let json_ok = accept.is_empty()
        || accept.split(',').any(|a| {
            let media = a.split(';').next().unwrap_or_default().trim();
            media == "application/json" || media == "*/*" || media == "application/*"
        });
    if !json_ok {
        return Err(ApiError::not_acceptable(accept));
    }
    let api = state.openapi.get_or_init(|| crate::openapi::OpenApi::build(&state.registry));
    let (body, cache) = match route {
        Route::OpenApiV2 => (api.v2(), "no-cache, private"),
        Route::OpenApiV3Index => (api.index(), "no-cache, private"),
        Route::OpenApiV3(gv) => {
            let (body, _hash) = api.group_version(gv).ok_or_else(ApiError::no_route)?;
            (body, "no-cache, private")
        }
        _ => return Err(ApiError::no_route()),
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        body.to_vec(),
    )
        .into_response())
}

/// Runs `f` over the RBAC objects in force.
pub(crate) fn with_rbac<T>(state: &ServerState, f: impl FnOnce(&RbacSnapshot<'_>) -> T) -> T {
    let roles = state.store.all("rbac.authorization.k8s.io/roles");
    let cluster_roles = state.store.all("rbac.authorization.k8s.io/clusterroles");
    let role_bindings = state.store.all("rbac.authorization.k8s.io/rolebindings");
    let cluster_role_bindings = state.store.all("rbac.authorization.k8s.io/clusterrolebindings");
    f(&RbacSnapshot {
        roles: &roles,
        cluster_roles: &cluster_roles,
        role_bindings: &role_bindings,
        cluster_role_bindings: &cluster_role_bindings,
    })
}

/// The Kubernetes release whose API server kube-sim answers as (the differential's, and the
/// built-in schemas' in `openapi/`).
fn version() -> Value {
    json!({
        "major": "1", "minor": "36", "gitVersion": "v1.36.3+kube-sim", "gitCommit": "kube-sim",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.26.0",
        "compiler": "gc", "platform": "linux/amd64",
    })
}

fn core_versions() -> Value {
    json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    })
}

fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry
        .groups()
        .into_iter()
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, versions)| {
            let versions: Vec<Value> =
                versions.iter().map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v})).collect();
            json!({"name": name, "preferredVersion": versions[0].clone(), "versions": versions})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// The verb a resource request is, as RBAC names it.
fn verb(method: &Method, watching: bool, named: bool) -> Result<&'static str> {
    Ok(match (method, named) {
        (&Method::GET, _) if watching => "watch",
        (&Method::GET, true) => "get",
        (&Method::GET, false) => "list",
        (&Method::POST, false) => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        (method, _) => {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({method})"
            )));
        }
    })
}

/// Whether the query asks for a watch (`watch=true` or `watch=1`).
fn watch_param(query: &[(String, String)]) -> bool {
    query.iter().any(|(k, v)| k == "watch" && matches!(v.as_str(), "true" | "1"))
}

/// The authorizer attributes of a resource request.
fn resource_attributes(path: &ResourcePath, verb: &str) -> Attributes {
    Attributes {
        verb: verb.to_owned(),
        api_group: path.rt.group.clone(),
        resource: path.rt.plural.clone(),
        subresource: path.subresource.clone().unwrap_or_default(),
        namespace: path.namespace.clone().unwrap_or_default(),
        name: path.name.clone().unwrap_or_default(),
        path: None,
    }
}

/// The authorizer attributes of any request, as the API server's request info builds them
/// (a non-resource request's verb is its lower-cased method); impersonation is checked on them.
fn request_attributes(route: &Route, method: &Method, query: &[(String, String)], uri_path: &str) -> Attributes {
    match route {
        Route::Resource(path) => {
            let watching = path.legacy_watch || watch_param(query);
            let verb = verb(method, watching, path.name.is_some()).unwrap_or("unknown");
            resource_attributes(path, verb)
        }
        _ => Attributes {
            verb: method.as_str().to_ascii_lowercase(),
            path: Some(uri_path.to_owned()),
            ..Attributes::default()
        },
    }
}

/// `fieldValidation`: what a write with fields its schema lacks gets (the API server's default
/// is `Warn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

impl FieldValidation {
    /// The request's `fieldValidation`; another value makes its `options` invalid.
    fn of(call: &Call<'_>, options: &str) -> Result<Self> {
        match call.param("fieldValidation") {
            None | Some("" | "Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(invalid_options(
                options,
                &format!(
                    "fieldValidation: Unsupported value: \"{other}\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
                ),
            )),
        }
    }

    /// Checks `obj` (as it will be written) against the schema: the fields to warn about, or
    /// the strict decoding error.
    fn check(self, rt: &ResourceType, obj: &Value) -> Result<Vec<String>> {
        if self == Self::Ignore {
            return Ok(Vec::new());
        }
        let unknown = rt.pruning.unknown_fields(obj);
        if self == Self::Strict && !unknown.is_empty() {
            return Err(ApiError::strict_decoding(&rt.kind, &rt.version, &unknown));
        }
        Ok(unknown)
    }
}

/// `dryRun`: `All` runs every check and returns the result without storing it. Another value
/// makes the verb's options (`options`: `CreateOptions`, ...) invalid, as their validation says.
fn dry_run(call: &Call<'_>, options: &str) -> Result<bool> {
    match call.param("dryRun") {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(unsupported_dry_run(options, &[other])),
    }
}

/// The validation error of a `dryRun` list with another value than `All` (Go's `%q` of the list).
fn unsupported_dry_run(options: &str, values: &[&str]) -> ApiError {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    invalid_options(options, &format!("dryRun: Unsupported value: [{}]: supported values: \"All\"", quoted.join(" ")))
}

/// 422 for query options that do not validate: `CreateOptions.meta.k8s.io "" is invalid: …`.
fn invalid_options(options: &str, causes: &str) -> ApiError {
    ApiError::invalid(options, "meta.k8s.io", "", causes)
}

/// Adds a `Warning` header per unknown field, as the API server does under `fieldValidation=Warn`.
fn with_warnings(mut response: Response, unknown: &[String]) -> Response {
    for field in unknown {
        if let Ok(value) = HeaderValue::from_str(&format!("299 - \"unknown field \\\"{field}\\\"\"")) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

/// The request's content type without parameters.
fn self_content_type(headers: &HeaderMap) -> &str {
    let value = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    value.split(';').next().unwrap_or_default().trim()
}

async fn resource(mut call: Call<'_>, path: ResourcePath) -> Result<Response> {
    let verb = verb(&call.method, path.legacy_watch || watch_param(&call.query), path.name.is_some())?;
    let rt = path.rt.clone();
    if rt.storage == Storage::Review {
        if verb != "create" {
            return Err(ApiError::method_not_allowed(format!("{} only supports create", rt.plural)));
        }
        let (body, call) = if self_content_type(&call.headers) == crate::proto::CONTENT_TYPE {
            let bytes = read_body(std::mem::take(&mut call.body)).await?;
            (crate::proto::decode_review(&rt.kind, &bytes)?, call)
        } else {
            call.body_json().await?
        };
        return review::create(call.state, &call.user, &rt, path.namespace.as_deref(), body);
    }
    authorize(&call, &path, verb)?;
    let namespace = path.namespace.clone().unwrap_or_default();
    let part = if path.subresource.is_some() { Part::Status } else { Part::Main };
    match verb {
        "get" => get(&call, &path),
        "list" => list(&call, &path),
        "watch" => watch::serve(call.state, &path, &call.query, &call.headers),
        "create" => create(call, &rt, &namespace).await,
        "update" => {
            let validation = FieldValidation::of(&call, "UpdateOptions")?;
            let dry = dry_run(&call, "UpdateOptions")?;
            let (body, call) = call.body_json().await?;
            let name = path.name.as_deref().unwrap_or_default();
            let body = convert_in(body, &rt);
            let unknown = validation.check(&rt, &body)?;
            let updated = call.state.store.update_as(&rt, &namespace, name, body, part, dry)?;
            Ok(with_warnings(object_response(&call, &rt, &updated, StatusCode::OK), &unknown))
        }
        "patch" => patch(call, &path, part).await,
        "delete" => {
            let dry = dry_run(&call, "DeleteOptions")?;
            let body = read_body(call.body).await?;
            let preconditions = delete_preconditions(&body)?;
            // kubectl sends DeleteOptions.dryRun in the body.
            let dry = dry || delete_dry_run(&body)?;
            let name = path.name.as_deref().unwrap_or_default();
            let deleted = if dry {
                call.state.store.get(&rt, &namespace, name)?
            } else {
                call.state.store.delete_checked(&rt, &namespace, name, &preconditions)?
            };
            Ok(json_response(StatusCode::OK, &converted(&deleted, &rt)))
        }
        _ => delete_collection(call, &path).await,
    }
}

fn authorize(call: &Call<'_>, path: &ResourcePath, verb: &str) -> Result<()> {
    let attrs = resource_attributes(path, verb);
    let decision = with_rbac(call.state, |rbac| rbac::authorize(rbac, &call.user, &attrs));
    if decision.allowed { Ok(()) } else { Err(rbac::refusal(&call.user, &attrs)) }
}

/// How the client wants objects rendered (`Accept`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rendering {
    Full,
    Table,
    Metadata,
}

/// Reads the `Accept` header: server-side printing, metadata only, or full objects.
pub(crate) fn rendering(headers: &HeaderMap) -> Rendering {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let first_json = accept.split(',').find(|part| part.contains("json")).unwrap_or_default();
    if first_json.contains("as=Table") {
        Rendering::Table
    } else if first_json.contains("as=PartialObjectMetadata") {
        Rendering::Metadata
    } else {
        Rendering::Full
    }
}

/// The `includeObject` parameter of a Table request.
pub(crate) fn include_object(query: &[(String, String)]) -> IncludeObject {
    match query.iter().find(|(k, _)| k == "includeObject").map(|(_, v)| v.as_str()) {
        Some("None") => IncludeObject::None,
        Some("Object") => IncludeObject::Object,
        _ => IncludeObject::Metadata,
    }
}

/// An object at the version the client asked for (stored objects keep their version; the
/// Flux CRDs convert with strategy None, so only `apiVersion` changes).
pub(crate) fn converted<'a>(obj: &'a Value, rt: &ResourceType) -> Cow<'a, Value> {
    let api_version = rt.api_version();
    if obj["apiVersion"] == api_version.as_str() {
        Cow::Borrowed(obj)
    } else {
        let mut owned = obj.clone();
        owned["apiVersion"] = json!(api_version);
        Cow::Owned(owned)
    }
}

/// As metadata only (`PartialObjectMetadata`).
pub(crate) fn metadata_only(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

fn convert_in(mut obj: Value, rt: &ResourceType) -> Value {
    obj["apiVersion"] = json!(rt.api_version());
    obj
}

fn object_response(call: &Call<'_>, rt: &ResourceType, obj: &Value, code: StatusCode) -> Response {
    match rendering(&call.headers) {
        Rendering::Full => json_response(code, &converted(obj, rt)),
        Rendering::Metadata => json_response(code, &metadata_only(obj)),
        Rendering::Table => {
            let meta = json!({"resourceVersion": object::resource_version(obj)});
            let table = table::build_table(
                &rt.kind,
                rt.printer_columns.as_deref(),
                &[obj],
                include_object(&call.query),
                true,
                meta,
            );
            json_response(code, &table)
        }
    }
}

fn get(call: &Call<'_>, path: &ResourcePath) -> Result<Response> {
    if let Some(rv) = call.param("resourceVersion") {
        parse_rv(rv)?;
    }
    let namespace = path.namespace.as_deref().unwrap_or_default();
    let obj = call.state.store.get(&path.rt, namespace, path.name.as_deref().unwrap_or_default())?;
    Ok(object_response(call, &path.rt, &obj, StatusCode::OK))
}

/// The label and field selectors of a list or watch, validated.
pub(crate) fn selectors(query: &[(String, String)], rt: &ResourceType) -> Result<(LabelSelector, FieldSelector)> {
    let param = |key: &str| query.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str());
    let labels = LabelSelector::parse(param("labelSelector")).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let fields = FieldSelector::parse(param("fieldSelector")).map_err(|e| ApiError::bad_request(e.to_string()))?;
    fields.validate_for(&rt.kind).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok((labels, fields))
}

fn list(call: &Call<'_>, path: &ResourcePath) -> Result<Response> {
    let rt = &path.rt;
    let (labels, fields) = selectors(&call.query, rt)?;
    let mut exact = None;
    if let Some(rv) = call.param("resourceVersion") {
        let rv = parse_rv(rv)?;
        if call.param("resourceVersionMatch") == Some("Exact") {
            call.state.store.check_exact(rv)?;
            exact = Some(rv);
        }
    }
    let limit = match call.param("limit") {
        None | Some("0") => None,
        Some(l) => Some(l.parse::<usize>().map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?),
    };
    let filter = |obj: &Value| labels.matches_object(obj) && fields.matches_object(obj);
    let page = call.state.store.list(rt, path.namespace.as_deref(), &filter, limit, call.param("continue"), exact)?;
    let mut metadata = json!({"resourceVersion": page.resource_version.to_string()});
    if let Some(token) = &page.continue_token {
        metadata["continue"] = json!(token);
        // Counted only when nothing is filtered, as etcd's store counts what is left by key range.
        let selected = ["labelSelector", "fieldSelector"].iter().any(|k| call.param(k).is_some_and(|v| !v.is_empty()));
        if !selected {
            metadata["remainingItemCount"] = json!(page.remaining);
        }
    }
    let items: Vec<&Value> = page.items.iter().map(|o| o.as_ref()).collect();
    match rendering(&call.headers) {
        Rendering::Table => {
            let table = table::build_table(
                &rt.kind,
                rt.printer_columns.as_deref(),
                &items,
                include_object(&call.query),
                true,
                metadata,
            );
            Ok(json_response(StatusCode::OK, &table))
        }
        Rendering::Metadata => {
            let items: Vec<Value> = items.iter().map(|o| metadata_only(o)).collect();
            let list = json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "items": items});
            Ok(json_response(StatusCode::OK, &list))
        }
        Rendering::Full => {
            #[derive(serde::Serialize)]
            #[serde(rename_all = "camelCase")]
            struct List<'a> {
                kind: String,
                api_version: String,
                metadata: Value,
                items: Vec<Cow<'a, Value>>,
            }
            let items = items.into_iter().map(|o| converted(o, rt)).collect();
            let list = List { kind: format!("{}List", rt.kind), api_version: rt.api_version(), metadata, items };
            Ok(json_response(StatusCode::OK, &list))
        }
    }
}

async fn create(call: Call<'_>, rt: &ResourceType, namespace: &str) -> Result<Response> {
    let dry = dry_run(&call, "CreateOptions")?;
    let validation = FieldValidation::of(&call, "CreateOptions")?;
    let (body, call) = call.body_json().await?;
    let obj = prepare_create(rt, namespace, body, call.state.store.resource_version())?;
    let unknown = validation.check(rt, &obj)?;
    let created = call.state.store.create_as(rt, obj, dry)?;
    Ok(with_warnings(object_response(&call, rt, &created, StatusCode::CREATED), &unknown))
}

/// Checks and completes an object for creation: apiVersion/kind, name (or generateName), namespace.
pub(crate) fn prepare_create(rt: &ResourceType, namespace: &str, mut obj: Value, salt: u64) -> Result<Value> {
    let api_version = rt.api_version();
    if let Some(given) = obj["apiVersion"].as_str()
        && given != api_version
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({given}) does not match the expected API version ({api_version})"
        )));
    }
    if let Some(kind) = obj["kind"].as_str()
        && kind != rt.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            rt.kind
        )));
    }
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(rt.kind);
    let meta = object::meta_mut(&mut obj);
    let given_ns = meta.get("namespace").and_then(Value::as_str).unwrap_or_default().to_owned();
    if rt.namespaced {
        if !given_ns.is_empty() && given_ns != namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        if namespace.is_empty() {
            return Err(ApiError::bad_request("a namespaced object must be created in a namespace"));
        }
        meta.insert("namespace".into(), json!(namespace));
    } else {
        meta.remove("namespace");
    }
    let name = match (meta.get("name").and_then(Value::as_str), meta.get("generateName").and_then(Value::as_str)) {
        (Some(name), _) if !name.is_empty() => name.to_owned(),
        (_, Some(prefix)) if !prefix.is_empty() => format!("{prefix}{}", generated_suffix(salt)),
        _ => {
            return Err(ApiError::invalid(
                &rt.kind,
                &rt.group,
                "",
                "metadata.name: Required value: name or generateName is required",
            ));
        }
    };
    if let Some(problem) = name_problem(rt, &name) {
        return Err(ApiError::invalid(
            &rt.kind,
            &rt.group,
            &name,
            &format!("metadata.name: Invalid value: {name:?}: {problem}"),
        ));
    }
    meta.insert("name".into(), json!(name));
    meta.remove("resourceVersion");
    Ok(obj)
}

fn generated_suffix(salt: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5851_F42D_4C95_7F2D;
    (0..5)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

fn name_problem(rt: &ResourceType, name: &str) -> Option<&'static str> {
    if rt.group == "rbac.authorization.k8s.io" {
        let bad = name.contains('/') || name.contains('%') || name == "." || name == "..";
        return bad.then_some("may not contain '/' or '%'");
    }
    let is_label = rt.kind == "Namespace" || rt.kind == "Service";
    let max = if is_label { 63 } else { 253 };
    let ok_chars =
        name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (c == '.' && !is_label));
    let ok_ends = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if name.len() <= max && ok_chars && ok_ends {
        None
    } else if is_label {
        Some(concat!(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            " (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ))
    } else {
        Some(concat!(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            " (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ))
    }
}

async fn patch(call: Call<'_>, path: &ResourcePath, part: Part) -> Result<Response> {
    let rt = path.rt.clone();
    let content_type = call.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let content_type = content_type.split(';').next().unwrap_or_default().trim().to_owned();
    let is_builtin = !rt.group.contains('.') || rt.group.ends_with(".k8s.io");
    match content_type.as_str() {
        "application/merge-patch+json" | "application/json-patch+json" => {}
        "application/strategic-merge-patch+json" if is_builtin => {}
        "application/strategic-merge-patch+json" => {
            return Err(ApiError::unsupported_patch_type(&[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
            ]));
        }
        "application/apply-patch+yaml" => {
            if call.param("fieldManager").is_none_or(str::is_empty) {
                return Err(ApiError::invalid(
                    "PatchOptions",
                    "meta.k8s.io",
                    "",
                    "fieldManager: Required value: is required for apply patch",
                ));
            }
        }
        _ => return Err(ApiError::unsupported_media_type()),
    }
    let dry = dry_run(&call, "PatchOptions")?;
    let field_manager = call.param("fieldManager").map(str::to_owned);
    let validation = FieldValidation::of(&call, "PatchOptions")?;
    let bytes = read_body(call.body).await?;
    let body: Value = if content_type == "application/apply-patch+yaml" {
        serde_yaml::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("the patch is not valid JSON: {e}")))?
    };
    let namespace = path.namespace.clone().unwrap_or_default();
    let name = path.name.clone().unwrap_or_default();
    {
        let mut journal = call.state.patches.lock().unwrap_or_else(|e| e.into_inner());
        if journal.len() == PATCH_JOURNAL {
            journal.pop_front();
        }
        journal.push_back(crate::RecordedPatch {
            group: rt.group.clone(),
            kind: rt.kind.clone(),
            namespace: namespace.clone(),
            name: name.clone(),
            subresource: matches!(part, Part::Status).then(|| "status".to_owned()),
            content_type: content_type.clone(),
            field_manager,
            user: call.user.username.clone(),
            groups: call.user.groups.clone(),
            body: body.clone(),
        });
    }
    let store = &call.state.store;
    if content_type == "application/apply-patch+yaml"
        && let Some(field) = rt.pruning.unknown_fields(&body).first()
    {
        // Server-side apply builds a typed patch from the schema, whatever fieldValidation says.
        return Err(ApiError::typed_patch(format!(
            "failed to create typed patch object ({namespace}/{name}; {}, Kind={}): .{field}: field not declared in schema",
            rt.api_version(),
            rt.kind
        )));
    }
    if content_type == "application/apply-patch+yaml" && store.get(&rt, &namespace, &name).is_err() {
        let obj = prepare_create(&rt, &namespace, body, store.resource_version())?;
        let created = store.create_as(&rt, obj, dry)?;
        return Ok(json_response(StatusCode::CREATED, &converted(&created, &rt)));
    }
    let mut unknown = Vec::new();
    let patched = store.update_with_as(&rt, &namespace, &name, part, dry, |current| {
        let before_rv = object::resource_version(current).map(str::to_owned);
        let result = match content_type.as_str() {
            "application/json-patch+json" => patch::json_patch(current, &body),
            "application/strategic-merge-patch+json" => patch::strategic_merge_patch(current, &body),
            _ if !body.is_object() => Err(patch::PatchError::NotAnObject),
            _ => {
                patch::merge_patch(current, &body);
                Ok(())
            }
        };
        result.map_err(|e| match e {
            patch::PatchError::Failed(cause) => ApiError::patch_failed(&cause),
            other => ApiError::bad_request(other.to_string()),
        })?;
        if !current.is_object() {
            return Err(ApiError::bad_request("the patch must leave a JSON object"));
        }
        unknown = validation.check(&rt, current)?;
        if object::resource_version(current).map(str::to_owned) != before_rv {
            if let Some(rv) = object::resource_version(current) {
                parse_rv(rv)?;
            }
            return Err(ApiError::conflict(&rt.group, &rt.plural, &name));
        }
        Ok(())
    })?;
    Ok(with_warnings(json_response(StatusCode::OK, &converted(&patched, &rt)), &unknown))
}

/// `DeleteOptions.preconditions`: the resourceVersion and the uid the object must have.
fn delete_preconditions(body: &[u8]) -> Result<Preconditions> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Preconditions::default());
    }
    let options: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?;
    let field = |k: &str| options["preconditions"][k].as_str().map(str::to_owned);
    Ok(Preconditions { resource_version: field("resourceVersion"), uid: field("uid") })
}

/// `DeleteOptions.dryRun` (`["All"]`).
fn delete_dry_run(body: &[u8]) -> Result<bool> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(false);
    }
    let options: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?;
    match options["dryRun"].as_array() {
        None => Ok(false),
        Some(values) if values.iter().all(|v| v == "All") => Ok(!values.is_empty()),
        Some(values) => {
            let values: Vec<&str> = values.iter().map(|v| v.as_str().unwrap_or_default()).collect();
            Err(unsupported_dry_run("DeleteOptions", &values))
        }
    }
}

async fn delete_collection(mut call: Call<'_>, path: &ResourcePath) -> Result<Response> {
    let body = read_body(std::mem::take(&mut call.body)).await?;
    let dry = dry_run(&call, "DeleteOptions")? || delete_dry_run(&body)?;
    let call = &call;
    let rt = &path.rt;
    let (labels, fields) = selectors(&call.query, rt)?;
    let filter = |obj: &Value| labels.matches_object(obj) && fields.matches_object(obj);
    let page = call.state.store.list(rt, path.namespace.as_deref(), &filter, None, None, None)?;
    let mut deleted = Vec::new();
    for obj in page.items {
        if dry {
            deleted.push(converted(&obj, rt).into_owned());
        } else if let Ok(gone) = call.state.store.delete(rt, object::namespace(&obj), object::name(&obj), None) {
            deleted.push(converted(&gone, rt).into_owned());
        }
    }
    let list = json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(),
                      "metadata": {"resourceVersion": call.state.store.resource_version().to_string()}, "items": deleted});
    Ok(json_response(StatusCode::OK, &list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::FluxRelease;

    #[test]
    fn names_are_validated_as_the_api_server_does() {
        let registry = Registry::new(&FluxRelease::Latest);
        let ks = registry.by_kind("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        let obj = json!({"metadata": {"name": "Bad_Name"}});
        let err = prepare_create(ks, "apps", obj, 1).unwrap_err();
        assert_eq!(err.code, 422);
        assert!(
            err.message.starts_with(
                "Kustomization.kustomize.toolkit.fluxcd.io \"Bad_Name\" is invalid: metadata.name: Invalid value"
            ),
            "{}",
            err.message
        );
        let err = prepare_create(ks, "apps", json!({"metadata": {}}), 1).unwrap_err();
        assert!(err.message.contains("name or generateName is required"));
        let role = registry.by_kind("rbac.authorization.k8s.io", "ClusterRole").unwrap();
        assert!(prepare_create(role, "", json!({"metadata": {"name": "system:flux:view"}}), 1).is_ok());
        let generated = prepare_create(ks, "apps", json!({"metadata": {"generateName": "x-"}}), 7).unwrap();
        assert!(object::name(&generated).starts_with("x-") && object::name(&generated).len() == 7);
    }

    #[test]
    fn a_body_for_another_kind_or_namespace_is_refused() {
        let registry = Registry::new(&FluxRelease::Latest);
        let ks = registry.by_kind("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        let wrong_kind =
            json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "HelmRelease", "metadata": {"name": "a"}});
        assert_eq!(prepare_create(ks, "apps", wrong_kind, 1).unwrap_err().code, 400);
        let wrong_ns = json!({"metadata": {"name": "a", "namespace": "other"}});
        assert_eq!(prepare_create(ks, "apps", wrong_ns, 1).unwrap_err().code, 400);
    }

    #[test]
    fn table_and_metadata_renderings_are_read_from_accept() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json".parse().unwrap());
        assert_eq!(rendering(&headers), Rendering::Table);
        headers.insert(
            header::ACCEPT,
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1".parse().unwrap(),
        );
        assert_eq!(rendering(&headers), Rendering::Metadata);
        headers.insert(header::ACCEPT, "application/json, */*".parse().unwrap());
        assert_eq!(rendering(&headers), Rendering::Full);
    }
}
