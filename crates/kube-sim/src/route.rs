//! Request paths of the Kubernetes REST API, parsed.

use std::sync::Arc;

use crate::{
    error::{ApiError, Result},
    resources::{Registry, ResourceType},
};

/// What a path names.
#[derive(Debug)]
pub(crate) enum Route {
    /// `/version`.
    Version,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/<group>`.
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`.
    ResourceList { group: String, version: String },
    /// `/healthz`, `/livez`, `/readyz`.
    Health,
    /// `/metrics`: the API server's Prometheus metrics (here: the open watches).
    Metrics,
    /// `/openapi/v2`.
    OpenApiV2,
    /// `/openapi/v3`: the index of the group version documents.
    OpenApiV3Index,
    /// `/openapi/v3/<api/v1 | apis/group/version>`.
    OpenApiV3(String),
    /// A resource collection or object.
    Resource(ResourcePath),
    /// A path outside every served group version: the API server's mux answers it with a
    /// plain `404 page not found`, not a Status.
    PageNotFound,
}

/// A path to a resource collection, an object or an object's subresource.
#[derive(Debug, Clone)]
pub(crate) struct ResourcePath {
    pub(crate) rt: Arc<ResourceType>,
    /// The namespace in the path (None: all namespaces, or cluster-scoped).
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) subresource: Option<String>,
    /// The deprecated `/watch/` path prefix was used.
    pub(crate) legacy_watch: bool,
}

/// Parses a request path.
pub(crate) fn parse(registry: &Registry, path: &str) -> Result<Route> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["version"] => Ok(Route::Version),
        ["healthz" | "livez" | "readyz", ..] => Ok(Route::Health),
        ["metrics"] => Ok(Route::Metrics),
        ["openapi", "v2"] => Ok(Route::OpenApiV2),
        ["openapi", "v3"] => Ok(Route::OpenApiV3Index),
        ["openapi", "v3", rest @ ..] => Ok(Route::OpenApiV3(rest.join("/"))),
        ["api"] => Ok(Route::CoreVersions),
        ["apis"] => Ok(Route::Groups),
        ["api", "v1"] => Ok(Route::ResourceList { group: String::new(), version: "v1".into() }),
        ["apis", group] => Ok(Route::Group((*group).to_owned())),
        ["apis", group, version] => {
            Ok(Route::ResourceList { group: (*group).to_owned(), version: (*version).to_owned() })
        }
        ["api", "v1", rest @ ..] => resource(registry, "", "v1", rest).map(Route::Resource),
        ["apis", group, version, ..] if registry.resource_list(group, version).is_none() => Ok(Route::PageNotFound),
        ["apis", group, version, rest @ ..] => resource(registry, group, version, rest).map(Route::Resource),
        _ => Ok(Route::PageNotFound),
    }
}

fn resource(registry: &Registry, group: &str, version: &str, rest: &[&str]) -> Result<ResourcePath> {
    let (legacy_watch, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    let (namespace, rest) = match rest {
        ["namespaces", _, "status" | "finalize"] | ["namespaces"] | ["namespaces", _] => (None, rest),
        ["namespaces", ns, rest @ ..] => (Some((*ns).to_owned()), rest),
        _ => (None, rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some((*name).to_owned()), None),
        [plural, name, sub] => (*plural, Some((*name).to_owned()), Some((*sub).to_owned())),
        _ => return Err(ApiError::no_route()),
    };
    let rt = registry.by_plural(group, version, plural).ok_or_else(ApiError::no_route)?;
    if namespace.is_some() && !rt.namespaced {
        return Err(ApiError::no_route());
    }
    if let Some(sub) = &subresource
        && (sub != "status" || !rt.has_status)
    {
        return Err(ApiError::no_route());
    }
    Ok(ResourcePath { rt: rt.clone(), namespace, name, subresource, legacy_watch })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::FluxRelease;

    fn registry() -> Registry {
        Registry::new(&FluxRelease::Latest)
    }

    #[test]
    fn namespaced_object_paths_parse() {
        let Route::Resource(p) =
            parse(&registry(), "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/apps/kustomizations/podinfo/status")
                .unwrap()
        else {
            panic!("a resource")
        };
        assert_eq!(p.rt.kind, "Kustomization");
        assert_eq!(p.namespace.as_deref(), Some("apps"));
        assert_eq!(p.name.as_deref(), Some("podinfo"));
        assert_eq!(p.subresource.as_deref(), Some("status"));
    }

    #[test]
    fn namespaces_themselves_are_cluster_scoped_objects() {
        let Route::Resource(p) = parse(&registry(), "/api/v1/namespaces/apps").unwrap() else { panic!("a resource") };
        assert_eq!((p.rt.kind.as_str(), p.namespace, p.name.as_deref()), ("Namespace", None, Some("apps")));
        let Route::Resource(p) = parse(&registry(), "/api/v1/namespaces/apps/status").unwrap() else {
            panic!("a resource")
        };
        assert_eq!(p.subresource.as_deref(), Some("status"));
        let Route::Resource(p) = parse(&registry(), "/api/v1/namespaces/apps/pods").unwrap() else {
            panic!("a resource")
        };
        assert_eq!((p.rt.kind.as_str(), p.namespace.as_deref()), ("Pod", Some("apps")));
    }

    #[test]
    fn unknown_resources_and_subresources_are_not_found() {
        let registry = registry();
        for path in [
            "/api/v1/namespaces/a/configmaps/x/status",
            "/api/v1/namespaces/a/clusterroles",
            "/apis/notification.toolkit.fluxcd.io/v1beta3/namespaces/a/alerts/x/status",
            "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/a/widgets",
        ] {
            assert_eq!(parse(&registry, path).unwrap_err().code, 404, "{path}");
        }
    }

    /// Outside every served group version the mux answers, not a resource handler.
    #[test]
    fn paths_outside_the_served_group_versions_are_no_page() {
        let registry = registry();
        for path in
            ["/apis/kustomize.toolkit.fluxcd.io/v1beta2/kustomizations", "/apis/example.com/v1/widgets", "/nope"]
        {
            assert!(matches!(parse(&registry, path), Ok(Route::PageNotFound)), "{path}");
        }
    }

    #[test]
    fn the_legacy_watch_prefix_is_understood() {
        let Route::Resource(p) = parse(&registry(), "/api/v1/watch/namespaces/a/pods").unwrap() else {
            panic!("a resource")
        };
        assert!(p.legacy_watch);
        assert_eq!(p.namespace.as_deref(), Some("a"));
    }
}
