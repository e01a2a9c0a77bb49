//! The OpenAPI documents the API server publishes, built from what kube-sim serves: v3 (an
//! index at `/openapi/v3` and one document per group version at `/openapi/v3/<api|apis/g>/<v>`)
//! and v2 (`/openapi/v2`, one document, JSON only).
//!
//! Schemas: the built-in kinds' come from Kubernetes' published specs (`openapi/*.schemas.json`,
//! extracted by `openapi/extract.py`); a Flux kind's is its CRD's `openAPIV3Schema` with
//! `metadata` referring to `ObjectMeta` and the `x-kubernetes-group-version-kind` extension, as
//! apiextensions-apiserver's builder writes it. Paths are built here for both, with the verbs and
//! query parameters the server takes (kubectl reads `fieldValidation` on the PATCH operation to
//! decide whether the server validates fields, and it does: `server` answers `Strict`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use sha2::Digest as _;

use crate::resources::{Registry, ResourceType, Storage};

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";

/// The built-in kinds' schemas by the group version path they are served under.
const BUILTIN_SCHEMAS: [(&str, &str); 7] = [
    ("api/v1", include_str!("../openapi/api__v1.schemas.json")),
    ("apis/apps/v1", include_str!("../openapi/apis__apps__v1.schemas.json")),
    ("apis/batch/v1", include_str!("../openapi/apis__batch__v1.schemas.json")),
    ("apis/rbac.authorization.k8s.io/v1", include_str!("../openapi/apis__rbac.authorization.k8s.io__v1.schemas.json")),
    ("apis/apiextensions.k8s.io/v1", include_str!("../openapi/apis__apiextensions.k8s.io__v1.schemas.json")),
    ("apis/authentication.k8s.io/v1", include_str!("../openapi/apis__authentication.k8s.io__v1.schemas.json")),
    ("apis/authorization.k8s.io/v1", include_str!("../openapi/apis__authorization.k8s.io__v1.schemas.json")),
];

/// Every document, built once per server.
#[derive(Debug)]
pub(crate) struct OpenApi {
    /// `api/v1`, `apis/<group>/<version>` -> (document bytes, hash).
    v3: BTreeMap<String, (Vec<u8>, String)>,
    index: Vec<u8>,
    v2: Vec<u8>,
}

impl OpenApi {
    pub(crate) fn build(registry: &Registry) -> Self {
        let builtin: BTreeMap<&str, Map<String, Value>> = BUILTIN_SCHEMAS
            .iter()
            .map(|(gv, text)| (*gv, serde_json::from_str(text).expect("vendored OpenAPI schemas parse")))
            .collect();
        // The meta types CRD documents refer to (ObjectMeta, ListMeta, Status...), from core/v1.
        let meta: Map<String, Value> = builtin["api/v1"]
            .iter()
            .filter(|(k, _)| k.starts_with("io.k8s.apimachinery."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut docs: BTreeMap<String, Value> = BTreeMap::new();
        for rt in registry.all() {
            let gv = gv_path(rt);
            let crd = is_crd(rt);
            let doc = docs.entry(gv.clone()).or_insert_with(|| {
                let (title, version) =
                    if crd { ("Kubernetes CRD Swagger", "v0.1.0") } else { ("Kubernetes", "v1.33.0") };
                let schemas = if crd { meta.clone() } else { builtin.get(gv.as_str()).cloned().unwrap_or_default() };
                json!({"openapi": "3.0.0", "info": {"title": title, "version": version}, "paths": {},
                       "components": {"schemas": schemas}})
            });
            if crd {
                let (kind_schema, list_schema) = crd_schemas(rt);
                let schemas = &mut doc["components"]["schemas"];
                schemas[schema_name(rt, &rt.kind)] = kind_schema;
                schemas[schema_name(rt, &format!("{}List", rt.kind))] = list_schema;
            }
            let paths = &mut doc["paths"];
            for (path, item) in resource_paths(rt, &builtin_name(rt, &builtin)) {
                paths[path] = item;
            }
        }
        for (gv, doc) in &mut docs {
            doc["paths"][format!("/{gv}/")] = resource_list_path(gv);
        }
        let v2 = to_v2(&docs);
        let mut v3 = BTreeMap::new();
        let mut index = Map::new();
        for (gv, doc) in docs {
            let bytes = serde_json::to_vec(&doc).unwrap_or_default();
            let hash = hex_upper(&sha2::Sha512::digest(&bytes));
            index.insert(gv.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={hash}")}));
            v3.insert(gv, (bytes, hash));
        }
        let index = serde_json::to_vec(&json!({"paths": index})).unwrap_or_default();
        Self { v3, index, v2: serde_json::to_vec(&v2).unwrap_or_default() }
    }

    /// `/openapi/v3`.
    pub(crate) fn index(&self) -> &[u8] {
        &self.index
    }

    /// `/openapi/v3/<gv>`: the document and its hash.
    pub(crate) fn group_version(&self, gv: &str) -> Option<(&[u8], &str)> {
        self.v3.get(gv).map(|(bytes, hash)| (bytes.as_slice(), hash.as_str()))
    }

    /// `/openapi/v2`.
    pub(crate) fn v2(&self) -> &[u8] {
        &self.v2
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A Flux kind (served from a CRD), not a built-in.
fn is_crd(rt: &ResourceType) -> bool {
    rt.group.contains('.') && !rt.group.ends_with(".k8s.io")
}

/// `api/v1` or `apis/<group>/<version>`.
fn gv_path(rt: &ResourceType) -> String {
    if rt.group.is_empty() { format!("api/{}", rt.version) } else { format!("apis/{}/{}", rt.group, rt.version) }
}

/// A CRD's schema name: the group reversed, the version, the kind
/// (`io.fluxcd.toolkit.kustomize.v1.Kustomization`).
fn schema_name(rt: &ResourceType, kind: &str) -> String {
    let group: Vec<&str> = rt.group.split('.').rev().collect();
    format!("{}.{}.{kind}", group.join("."), rt.version)
}

/// Names of a built-in kind's schema and its list's, found by their group-version-kind.
struct Names {
    kind: String,
    list: Option<String>,
}

fn builtin_name(rt: &ResourceType, builtin: &BTreeMap<&str, Map<String, Value>>) -> Names {
    if is_crd(rt) {
        return Names { kind: schema_name(rt, &rt.kind), list: Some(schema_name(rt, &format!("{}List", rt.kind))) };
    }
    let find = |kind: &str| -> Option<String> {
        builtin.get(gv_path(rt).as_str())?.iter().find_map(|(name, schema)| {
            schema["x-kubernetes-group-version-kind"]
                .as_array()?
                .iter()
                .any(|g| g["group"] == rt.group.as_str() && g["version"] == rt.version.as_str() && g["kind"] == kind)
                .then(|| name.clone())
        })
    };
    Names { kind: find(&rt.kind).unwrap_or_default(), list: find(&format!("{}List", rt.kind)) }
}

fn crd_schemas(rt: &ResourceType) -> (Value, Value) {
    let gvk = |kind: &str| json!([{"group": rt.group, "kind": kind, "version": rt.version}]);
    // Only the latest version's schema ships (`crds/`): older served versions show it too.
    let mut schema = rt.openapi_schema.as_deref().cloned().unwrap_or_else(|| json!({"type": "object"}));
    schema["properties"]["metadata"] = json!({
        "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
        "allOf": [{"$ref": format!("#/components/schemas/{META}.ObjectMeta")}],
    });
    schema["x-kubernetes-group-version-kind"] = gvk(&rt.kind);
    let list = json!({
        "description": format!("{}List is a list of {}", rt.kind, rt.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": schema["properties"]["apiVersion"].clone(),
            "items": {
                "description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md", rt.plural),
                "type": "array",
                "items": {"$ref": format!("#/components/schemas/{}", schema_name(rt, &rt.kind))},
            },
            "kind": schema["properties"]["kind"].clone(),
            "metadata": {
                "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "allOf": [{"$ref": format!("#/components/schemas/{META}.ListMeta")}],
            },
        },
        "x-kubernetes-group-version-kind": gvk(&format!("{}List", rt.kind)),
    });
    (schema, list)
}

fn param(name: &str, location: &str, kind: &str, description: &str) -> Value {
    let mut p = json!({"name": name, "in": location, "description": description, "schema": {"type": kind, "uniqueItems": true}});
    if location == "path" {
        p["required"] = json!(true);
    }
    p
}

fn list_params() -> Vec<Value> {
    vec![
        param(
            "allowWatchBookmarks",
            "query",
            "boolean",
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
        ),
        param(
            "continue",
            "query",
            "string",
            "The continue option should be set when retrieving more results from the server.",
        ),
        param(
            "fieldSelector",
            "query",
            "string",
            "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
        ),
        param(
            "labelSelector",
            "query",
            "string",
            "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
        ),
        param("limit", "query", "integer", "limit is a maximum number of responses to return for a list call."),
        param(
            "resourceVersion",
            "query",
            "string",
            "resourceVersion sets a constraint on what resource versions a request may be served from.",
        ),
        param(
            "resourceVersionMatch",
            "query",
            "string",
            "resourceVersionMatch determines how resourceVersion is applied to list calls.",
        ),
        param(
            "sendInitialEvents",
            "query",
            "boolean",
            "`sendInitialEvents=true` may be set together with `watch=true`.",
        ),
        param("timeoutSeconds", "query", "integer", "Timeout for the list/watch call."),
        param(
            "watch",
            "query",
            "boolean",
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
        ),
    ]
}

fn write_params(patch: bool) -> Vec<Value> {
    let mut params = vec![
        param("dryRun", "query", "string", "When present, indicates that modifications should not be persisted."),
        param(
            "fieldManager",
            "query",
            "string",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        param(
            "fieldValidation",
            "query",
            "string",
            "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict.",
        ),
    ];
    if patch {
        params.push(param("force", "query", "boolean", "Force is going to \"force\" Apply requests."));
    }
    params
}

fn delete_params() -> Vec<Value> {
    vec![
        param("dryRun", "query", "string", "When present, indicates that modifications should not be persisted."),
        param("gracePeriodSeconds", "query", "integer", "The duration in seconds before the object should be deleted."),
        param("orphanDependents", "query", "boolean", "Deprecated: please use the PropagationPolicy."),
        param("propagationPolicy", "query", "string", "Whether and how garbage collection will be performed."),
    ]
}

fn content(schema_ref: &str) -> Value {
    let schema = json!({"$ref": format!("#/components/schemas/{schema_ref}")});
    json!({"application/json": {"schema": schema}, "application/yaml": {"schema": schema}})
}

fn responses(codes: &[(&str, &str)], schema_ref: &str) -> Value {
    let mut out = Map::new();
    for (code, description) in codes {
        out.insert((*code).to_owned(), json!({"description": description, "content": content(schema_ref)}));
    }
    out.insert("401".to_owned(), json!({"description": "Unauthorized"}));
    Value::Object(out)
}

/// The operation id's stem: `KustomizeToolkitFluxcdIoV1`, `CoreV1`, `AppsV1`,
/// `RbacAuthorizationV1`.
fn op_stem(rt: &ResourceType) -> String {
    let group = if rt.group.is_empty() { "core" } else { rt.group.trim_end_matches(".k8s.io") };
    let mut out = String::new();
    for part in group.split('.') {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    let mut version = rt.version.chars();
    if let Some(first) = version.next() {
        out.push(first.to_ascii_uppercase());
        out.extend(version);
    }
    out
}

fn tag(rt: &ResourceType) -> String {
    let stem = op_stem(rt);
    let version_len = rt.version.len();
    let (group, _) = stem.split_at(stem.len() - version_len);
    let mut group = group.to_owned();
    if let Some(first) = group.get(0..1) {
        group.replace_range(0..1, &first.to_ascii_lowercase());
    }
    format!("{group}_{}", rt.version)
}

/// The paths of one resource, with its operations (apiextensions-apiserver's builder shape).
fn resource_paths(rt: &ResourceType, names: &Names) -> Vec<(String, Value)> {
    let base = format!("/{}", gv_path(rt));
    let stem = op_stem(rt);
    let kind = &rt.kind;
    let scope = if rt.namespaced { "Namespaced" } else { "" };
    let collection = if rt.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", rt.plural)
    } else {
        format!("{base}/{}", rt.plural)
    };
    let gvk = json!({"group": rt.group, "version": rt.version, "kind": kind});
    let mut common = Vec::new();
    if rt.namespaced {
        common.push(param("namespace", "path", "string", "object name and auth scope, such as for teams and projects"));
    }
    common.push(param("pretty", "query", "string", "If 'true', then the output is pretty printed."));
    let op = |verb: &str, action: &str, description: String, params: Vec<Value>, body: bool, resp: Value| {
        let mut o = json!({"tags": [tag(rt)], "description": description,
            "operationId": format!("{verb}{stem}{}", action), "responses": resp,
            "x-kubernetes-action": verb_action(verb), "x-kubernetes-group-version-kind": gvk});
        if !params.is_empty() {
            o["parameters"] = Value::Array(params);
        }
        if body {
            o["requestBody"] = json!({"content": content(&names.kind), "required": true});
        }
        o
    };
    let mut out = Vec::new();
    if rt.storage == Storage::Review {
        let item = json!({
            "post": op("create", &format!("{scope}{kind}"), format!("create a {kind}"), write_params(false), true,
                responses(&[("200", "OK"), ("201", "Created"), ("202", "Accepted")], &names.kind)),
            "parameters": common,
        });
        out.push((collection, item));
        return out;
    }
    let list_ref = names.list.clone().unwrap_or_else(|| names.kind.clone());
    let delete_collection_params = [delete_params(), list_params()].concat();
    let mut coll = json!({
        "get": op("list", &format!("{scope}{kind}"), format!("list or watch objects of kind {kind}"), list_params(), false,
            responses(&[("200", "OK")], &list_ref)),
        "post": op("create", &format!("{scope}{kind}"), format!("create a {kind}"), write_params(false), true,
            responses(&[("200", "OK"), ("201", "Created"), ("202", "Accepted")], &names.kind)),
        "delete": op("delete", &format!("Collection{scope}{kind}"), format!("delete collection of {kind}"),
            delete_collection_params, false, responses(&[("200", "OK")], &format!("{META}.Status"))),
        "parameters": common.clone(),
    });
    if let Some(o) = coll["delete"].as_object_mut() {
        o.insert("requestBody".into(), json!({"content": content(&format!("{META}.DeleteOptions"))}));
    }
    out.push((collection.clone(), coll));
    let mut named_params = vec![param("name", "path", "string", &format!("name of the {kind}"))];
    named_params.extend(common.iter().cloned());
    // Strategic merge patches only for built-ins (kubectl apply reads this to choose its patch).
    let patch_schema = json!({"schema": {"$ref": format!("#/components/schemas/{META}.Patch")}});
    let mut patch_types = json!({"application/apply-patch+yaml": patch_schema, "application/json-patch+json": patch_schema,
        "application/merge-patch+json": patch_schema});
    if !is_crd(rt) {
        patch_types["application/strategic-merge-patch+json"] = patch_schema.clone();
    }
    let patch_body = json!({"content": patch_types, "required": true});
    let named = |suffix: &str, what: &str| {
        let mut patch = op(
            "patch",
            &format!("{scope}{kind}{suffix}"),
            format!("partially update {what} of the specified {kind}"),
            write_params(true),
            false,
            responses(&[("200", "OK"), ("201", "Created")], &names.kind),
        );
        patch["requestBody"] = patch_body.clone();
        json!({
            "get": op("read", &format!("{scope}{kind}{suffix}"), format!("read {what} of the specified {kind}"),
                vec![param("resourceVersion", "query", "string", "resourceVersion sets a constraint on what resource versions a request may be served from.")],
                false, responses(&[("200", "OK")], &names.kind)),
            "put": op("replace", &format!("{scope}{kind}{suffix}"), format!("replace {what} of the specified {kind}"),
                write_params(false), true, responses(&[("200", "OK"), ("201", "Created")], &names.kind)),
            "patch": patch,
            "parameters": named_params.clone(),
        })
    };
    let mut item = named("", "the object");
    item["delete"] = op(
        "delete",
        &format!("{scope}{kind}"),
        format!("delete a {kind}"),
        delete_params(),
        false,
        responses(&[("200", "OK"), ("202", "Accepted")], &format!("{META}.Status")),
    );
    item["delete"]["requestBody"] = json!({"content": content(&format!("{META}.DeleteOptions"))});
    out.push((format!("{collection}/{{name}}"), item));
    if rt.has_status {
        out.push((format!("{collection}/{{name}}/status"), named("Status", "status")));
    }
    if rt.namespaced {
        let mut all_params = list_params();
        all_params.push(param("pretty", "query", "string", "If 'true', then the output is pretty printed."));
        let all = json!({
            "get": op("list", &format!("{kind}ForAllNamespaces"), format!("list or watch objects of kind {kind}"), Vec::new(), false,
                responses(&[("200", "OK")], &list_ref)),
            "parameters": all_params,
        });
        out.push((format!("{base}/{}", rt.plural), all));
    }
    out
}

fn verb_action(verb: &str) -> &'static str {
    match verb {
        "list" => "list",
        "create" => "post",
        "read" => "get",
        "replace" => "put",
        "patch" => "patch",
        _ => "delete",
    }
}

fn resource_list_path(gv: &str) -> Value {
    json!({"get": {"description": "get available resources", "operationId": format!("get{}APIResources", gv.replace(['/', '.'], "_")),
        "responses": {"200": {"description": "OK", "content": content(&format!("{META}.APIResourceList"))}, "401": {"description": "Unauthorized"}}}})
}

/// The v2 document: every v3 document's paths and schemas, in Swagger 2.0's shape.
fn to_v2(docs: &BTreeMap<String, Value>) -> Value {
    let mut definitions = Map::new();
    let mut paths = Map::new();
    for doc in docs.values() {
        for (name, schema) in doc["components"]["schemas"].as_object().into_iter().flatten() {
            definitions.entry(name.clone()).or_insert_with(|| v2_schema(schema));
        }
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            paths.insert(path.clone(), v2_path_item(item));
        }
    }
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.33.0"}, "paths": paths,
           "definitions": definitions,
           "securityDefinitions": {"BearerToken": {"description": "Bearer Token authentication", "type": "apiKey", "name": "authorization", "in": "header"}},
           "security": [{"BearerToken": []}]})
}

/// A v3 schema as v2: `#/definitions/` references, a described reference without `allOf`,
/// and nothing Swagger 2.0 lacks (`nullable`, `oneOf`, `anyOf`, `not`).
fn v2_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (k, v) in fields {
                match k.as_str() {
                    "nullable" | "oneOf" | "anyOf" | "not" => {}
                    "$ref" => {
                        let r = v.as_str().unwrap_or_default().replace("#/components/schemas/", "#/definitions/");
                        out.insert(k.clone(), json!(r));
                    }
                    "allOf" if v.as_array().is_some_and(|a| a.len() == 1 && a[0].get("$ref").is_some()) => {
                        out.insert("$ref".into(), v2_schema(&v[0])["$ref"].clone());
                    }
                    _ => {
                        out.insert(k.clone(), v2_schema(v));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(v2_schema).collect()),
        other => other.clone(),
    }
}

fn v2_param(p: &Value) -> Value {
    let mut out = p.clone();
    if let Some(o) = out.as_object_mut()
        && let Some(Value::Object(schema)) = o.remove("schema")
    {
        for (k, v) in schema {
            o.insert(k, v);
        }
    }
    out
}

fn v2_path_item(item: &Value) -> Value {
    let mut out = Map::new();
    for (method, op) in item.as_object().into_iter().flatten() {
        if method == "parameters" {
            out.insert(method.clone(), Value::Array(op.as_array().into_iter().flatten().map(v2_param).collect()));
            continue;
        }
        let mut o = Map::new();
        let mut params: Vec<Value> = op["parameters"].as_array().into_iter().flatten().map(v2_param).collect();
        if let Some(body) = op.get("requestBody") {
            let schema = body["content"].as_object().and_then(|c| c.values().next()).map(|c| v2_schema(&c["schema"]));
            params.insert(
                0,
                json!({"name": "body", "in": "body", "required": body["required"] == true, "schema": schema}),
            );
        }
        for (k, v) in op.as_object().into_iter().flatten() {
            match k.as_str() {
                "parameters" | "requestBody" => {}
                "responses" => {
                    let mut responses = Map::new();
                    for (code, r) in v.as_object().into_iter().flatten() {
                        let mut response = json!({"description": r["description"]});
                        if let Some(schema) = r["content"].as_object().and_then(|c| c.values().next()) {
                            response["schema"] = v2_schema(&schema["schema"]);
                        }
                        responses.insert(code.clone(), response);
                    }
                    o.insert(k.clone(), Value::Object(responses));
                }
                _ => {
                    o.insert(k.clone(), v.clone());
                }
            }
        }
        if !params.is_empty() {
            o.insert("parameters".into(), Value::Array(params));
        }
        o.insert("consumes".into(), json!(["application/json", "application/yaml"]));
        o.insert("produces".into(), json!(["application/json", "application/yaml"]));
        o.insert("schemes".into(), json!(["https"]));
        out.insert(method.clone(), Value::Object(o));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::FluxRelease;

    fn doc(api: &OpenApi, gv: &str) -> Value {
        serde_json::from_slice(api.group_version(gv).unwrap_or_else(|| panic!("{gv} served")).0).unwrap()
    }

    #[test]
    fn every_served_resource_has_paths_and_a_schema_with_its_kind() {
        let registry = Registry::new(&FluxRelease::Latest);
        let api = OpenApi::build(&registry);
        for rt in registry.all() {
            let d = doc(&api, &gv_path(rt));
            let schemas = d["components"]["schemas"].as_object().unwrap();
            let found = schemas.values().any(|s| {
                s["x-kubernetes-group-version-kind"].as_array().is_some_and(|g| {
                    g.iter().any(|g| g["kind"] == rt.kind.as_str() && g["version"] == rt.version.as_str())
                })
            });
            assert!(found, "{} {} has a schema", rt.api_version(), rt.kind);
            let mut refs = Vec::new();
            collect_refs(&d, &mut refs);
            for r in refs {
                let name = r.trim_start_matches("#/components/schemas/");
                assert!(schemas.contains_key(name), "{}: {r} resolves", rt.api_version());
            }
            let paths = d["paths"].as_object().unwrap();
            let patch_ok = paths.values().any(|p| {
                p["patch"]["x-kubernetes-group-version-kind"]["kind"] == rt.kind.as_str()
                    && p["patch"]["parameters"]
                        .as_array()
                        .is_some_and(|ps| ps.iter().any(|p| p["name"] == "fieldValidation"))
            });
            assert!(patch_ok || rt.storage == Storage::Review, "{} PATCH with fieldValidation", rt.kind);
        }
    }

    fn collect_refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                for (k, v) in o {
                    if let (true, Some(r)) = (k == "$ref", v.as_str()) {
                        out.push(r.to_owned());
                    } else {
                        collect_refs(v, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn a_flux_kind_is_named_by_its_reversed_group_with_metadata_as_object_meta() {
        let registry = Registry::new(&FluxRelease::Latest);
        let api = OpenApi::build(&registry);
        let d = doc(&api, "apis/kustomize.toolkit.fluxcd.io/v1");
        let ks = &d["components"]["schemas"]["io.fluxcd.toolkit.kustomize.v1.Kustomization"];
        assert_eq!(ks["properties"]["metadata"]["allOf"][0]["$ref"], format!("#/components/schemas/{META}.ObjectMeta"));
        assert!(ks["properties"]["spec"]["properties"]["sourceRef"].is_object());
        assert_eq!(d["info"]["title"], "Kubernetes CRD Swagger");
        let index: Value = serde_json::from_slice(api.index()).unwrap();
        let url = index["paths"]["apis/kustomize.toolkit.fluxcd.io/v1"]["serverRelativeURL"].as_str().unwrap();
        assert!(url.starts_with("/openapi/v3/apis/kustomize.toolkit.fluxcd.io/v1?hash="), "{url}");
        let v2: Value = serde_json::from_slice(api.v2()).unwrap();
        let v2_ks = &v2["definitions"]["io.fluxcd.toolkit.kustomize.v1.Kustomization"];
        assert_eq!(v2_ks["properties"]["metadata"]["$ref"], format!("#/definitions/{META}.ObjectMeta"));
        assert!(v2["definitions"]["io.k8s.api.core.v1.ConfigMap"].is_object());
    }
}
