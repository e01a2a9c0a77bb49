//! Kubernetes RBAC authorization over Role, ClusterRole, RoleBinding and ClusterRoleBinding,
//! with the real API server's refusal messages.

use std::sync::Arc;

use serde_json::Value;

use crate::error::ApiError;

/// Who is asking (after authentication and impersonation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserInfo {
    pub(crate) username: String,
    pub(crate) uid: String,
    pub(crate) groups: Vec<String>,
}

/// What is asked: the authorizer attributes of a request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attributes {
    pub(crate) verb: String,
    pub(crate) api_group: String,
    pub(crate) resource: String,
    pub(crate) subresource: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    /// For non-resource requests (`/version`, `/apis`): the path.
    pub(crate) path: Option<String>,
}

/// The answer, with the binding that allowed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) allowed: bool,
    pub(crate) reason: String,
}

/// The RBAC objects in force, as stored.
#[derive(Debug)]
pub(crate) struct RbacSnapshot<'a> {
    pub(crate) roles: &'a [Arc<Value>],
    pub(crate) cluster_roles: &'a [Arc<Value>],
    pub(crate) role_bindings: &'a [Arc<Value>],
    pub(crate) cluster_role_bindings: &'a [Arc<Value>],
}

/// Decides a request as the RBAC authorizer does (with `system:masters` allowed everything).
pub(crate) fn authorize(rbac: &RbacSnapshot<'_>, user: &UserInfo, attrs: &Attributes) -> Decision {
    if user.groups.iter().any(|g| g == "system:masters") {
        return Decision { allowed: true, reason: "system:masters".to_owned() };
    }
    for binding in rbac.cluster_role_bindings {
        if let Some(subject) = matching_subject(binding, user, "")
            && role_allows(role_of(rbac, binding, ""), attrs)
        {
            return allowed("ClusterRoleBinding", binding, &subject);
        }
    }
    if attrs.path.is_none() && !attrs.namespace.is_empty() {
        for binding in rbac.role_bindings.iter().filter(|b| b["metadata"]["namespace"] == attrs.namespace.as_str()) {
            if let Some(subject) = matching_subject(binding, user, &attrs.namespace)
                && role_allows(role_of(rbac, binding, &attrs.namespace), attrs)
            {
                return allowed("RoleBinding", binding, &subject);
            }
        }
    }
    Decision { allowed: false, reason: String::new() }
}

/// The RBAC authorizer's reason: `RBAC: allowed by RoleBinding "name/namespace" of Role "r" to
/// User "u"` (a ClusterRoleBinding by its name alone), as its binding describers word it.
fn allowed(binding_kind: &str, binding: &Value, subject: &str) -> Decision {
    let name = binding["metadata"]["name"].as_str().unwrap_or_default();
    let name = match binding["metadata"]["namespace"].as_str() {
        Some(namespace) => format!("{name}/{namespace}"),
        None => name.to_owned(),
    };
    let role_kind = binding["roleRef"]["kind"].as_str().unwrap_or_default();
    let role = binding["roleRef"]["name"].as_str().unwrap_or_default();
    Decision {
        allowed: true,
        reason: format!("RBAC: allowed by {binding_kind} {name:?} of {role_kind} {role:?} to {subject}"),
    }
}

/// The first subject of the binding that is the user, described as in RBAC reasons.
fn matching_subject(binding: &Value, user: &UserInfo, binding_namespace: &str) -> Option<String> {
    binding["subjects"].as_array()?.iter().find_map(|s| {
        let name = s["name"].as_str().unwrap_or_default();
        match s["kind"].as_str()? {
            "User" if name == user.username => Some(format!("User {name:?}")),
            "Group" if user.groups.iter().any(|g| g == name) => Some(format!("Group {name:?}")),
            "ServiceAccount" => {
                let namespace = s["namespace"].as_str().filter(|n| !n.is_empty()).unwrap_or(binding_namespace);
                (user.username == format!("system:serviceaccount:{namespace}:{name}"))
                    .then(|| format!("ServiceAccount \"{name}/{namespace}\""))
            }
            _ => None,
        }
    })
}

/// The rules of the role a binding refers to (a RoleBinding may refer to a ClusterRole).
fn role_of<'a>(rbac: &RbacSnapshot<'a>, binding: &Value, namespace: &str) -> Option<&'a Value> {
    let name = binding["roleRef"]["name"].as_str()?;
    match binding["roleRef"]["kind"].as_str()? {
        "ClusterRole" => rbac.cluster_roles.iter().find(|r| r["metadata"]["name"] == name).map(|r| r.as_ref()),
        "Role" => rbac
            .roles
            .iter()
            .find(|r| r["metadata"]["name"] == name && r["metadata"]["namespace"] == namespace)
            .map(|r| r.as_ref()),
        _ => None,
    }
}

fn role_allows(role: Option<&Value>, attrs: &Attributes) -> bool {
    role.and_then(|r| r["rules"].as_array()).is_some_and(|rules| rules.iter().any(|rule| rule_allows(rule, attrs)))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

fn rule_allows(rule: &Value, attrs: &Attributes) -> bool {
    let verbs = strings(&rule["verbs"]);
    if !verbs.iter().any(|v| *v == "*" || *v == attrs.verb) {
        return false;
    }
    if let Some(path) = &attrs.path {
        return strings(&rule["nonResourceURLs"]).iter().any(|url| match url.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => url == path,
        });
    }
    let groups = strings(&rule["apiGroups"]);
    if !groups.iter().any(|g| *g == "*" || *g == attrs.api_group) {
        return false;
    }
    let resources = strings(&rule["resources"]);
    let resource_ok = resources.iter().any(|r| resource_matches(r, &attrs.resource, &attrs.subresource));
    let names = strings(&rule["resourceNames"]);
    resource_ok && (names.is_empty() || (!attrs.name.is_empty() && names.contains(&attrs.name.as_str())))
}

fn resource_matches(rule: &str, resource: &str, subresource: &str) -> bool {
    if rule == "*" {
        return true;
    }
    if subresource.is_empty() {
        return rule == resource;
    }
    let combined = format!("{resource}/{subresource}");
    rule == combined || rule == format!("*/{subresource}") || rule == format!("{resource}/*")
}

/// The API server's refusal of a request: 403 with [`forbidden_message`] and, for a resource,
/// `details` naming it (its group, its plural as the kind, the object's name).
pub(crate) fn refusal(user: &UserInfo, attrs: &Attributes) -> ApiError {
    let refused = ApiError::forbidden(forbidden_message(user, attrs));
    if attrs.path.is_some() { refused } else { refused.with_details(&attrs.name, &attrs.api_group, &attrs.resource) }
}

/// The API server's message for a refused request.
pub(crate) fn forbidden_message(user: &UserInfo, attrs: &Attributes) -> String {
    let who = &user.username;
    if let Some(path) = &attrs.path {
        return format!("forbidden: User {who:?} cannot {} path {path:?}", attrs.verb);
    }
    let qualified = if attrs.api_group.is_empty() {
        attrs.resource.clone()
    } else {
        format!("{}.{}", attrs.resource, attrs.api_group)
    };
    let object = if attrs.name.is_empty() { qualified } else { format!("{qualified} {:?}", attrs.name) };
    let resource = if attrs.subresource.is_empty() {
        attrs.resource.clone()
    } else {
        format!("{}/{}", attrs.resource, attrs.subresource)
    };
    let scope = if attrs.namespace.is_empty() {
        "at the cluster scope".to_owned()
    } else {
        format!("in the namespace {:?}", attrs.namespace)
    };
    format!(
        "{object} is forbidden: User {who:?} cannot {} resource {resource:?} in API group {:?} {scope}",
        attrs.verb, attrs.api_group
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo { username: name.into(), uid: String::new(), groups: groups.iter().map(|g| (*g).to_owned()).collect() }
    }

    fn attrs(verb: &str, group: &str, resource: &str, namespace: &str, name: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            api_group: group.into(),
            resource: resource.into(),
            namespace: namespace.into(),
            name: name.into(),
            ..Attributes::default()
        }
    }

    struct Fixture {
        roles: Vec<Arc<Value>>,
        cluster_roles: Vec<Arc<Value>>,
        role_bindings: Vec<Arc<Value>>,
        cluster_role_bindings: Vec<Arc<Value>>,
    }

    impl Fixture {
        fn snapshot(&self) -> RbacSnapshot<'_> {
            RbacSnapshot {
                roles: &self.roles,
                cluster_roles: &self.cluster_roles,
                role_bindings: &self.role_bindings,
                cluster_role_bindings: &self.cluster_role_bindings,
            }
        }
    }

    fn fixture() -> Fixture {
        let ks_rule = json!({"apiGroups": ["kustomize.toolkit.fluxcd.io"], "resources": ["kustomizations"], "verbs": ["get", "list", "patch"]});
        Fixture {
            roles: vec![Arc::new(json!({"metadata": {"name": "status-writer", "namespace": "apps"},
                "rules": [{"apiGroups": ["apps"], "resources": ["deployments/status"], "verbs": ["patch"]},
                          {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"], "verbs": ["get"]}]}))],
            cluster_roles: vec![
                Arc::new(json!({"metadata": {"name": "flux-edit"}, "rules": [ks_rule]})),
                Arc::new(
                    json!({"metadata": {"name": "everything"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
                ),
                Arc::new(
                    json!({"metadata": {"name": "discovery"}, "rules": [{"nonResourceURLs": ["/version", "/apis/*"], "verbs": ["get"]}]}),
                ),
            ],
            role_bindings: vec![
                Arc::new(json!({"metadata": {"name": "alice-edit", "namespace": "apps"},
                    "roleRef": {"kind": "ClusterRole", "name": "flux-edit"}, "subjects": [{"kind": "User", "name": "alice"}]})),
                Arc::new(json!({"metadata": {"name": "sa-status", "namespace": "apps"},
                    "roleRef": {"kind": "Role", "name": "status-writer"}, "subjects": [{"kind": "ServiceAccount", "name": "bot"}]})),
            ],
            cluster_role_bindings: vec![
                Arc::new(
                    json!({"metadata": {"name": "ops-all"}, "roleRef": {"kind": "ClusterRole", "name": "everything"},
                    "subjects": [{"kind": "Group", "name": "ops"}]}),
                ),
                Arc::new(
                    json!({"metadata": {"name": "discovery"}, "roleRef": {"kind": "ClusterRole", "name": "discovery"},
                    "subjects": [{"kind": "Group", "name": "system:authenticated"}]}),
                ),
            ],
        }
    }

    #[test]
    fn a_rolebinding_grants_only_in_its_namespace() {
        let f = fixture();
        let alice = user("alice", &[]);
        let decision = authorize(
            &f.snapshot(),
            &alice,
            &attrs("patch", "kustomize.toolkit.fluxcd.io", "kustomizations", "apps", "x"),
        );
        assert!(decision.allowed);
        assert_eq!(
            decision.reason,
            "RBAC: allowed by RoleBinding \"alice-edit/apps\" of ClusterRole \"flux-edit\" to User \"alice\""
        );
        assert!(
            !authorize(
                &f.snapshot(),
                &alice,
                &attrs("patch", "kustomize.toolkit.fluxcd.io", "kustomizations", "other", "x")
            )
            .allowed
        );
        assert!(
            !authorize(&f.snapshot(), &alice, &attrs("list", "kustomize.toolkit.fluxcd.io", "kustomizations", "", ""))
                .allowed
        );
        assert!(
            !authorize(
                &f.snapshot(),
                &alice,
                &attrs("delete", "kustomize.toolkit.fluxcd.io", "kustomizations", "apps", "x")
            )
            .allowed
        );
    }

    #[test]
    fn groups_and_wildcards_grant_everywhere_through_cluster_role_bindings() {
        let f = fixture();
        let op = user("bob", &["ops"]);
        assert!(authorize(&f.snapshot(), &op, &attrs("delete", "apps", "deployments", "x", "y")).allowed);
        let mut status = attrs("update", "apps", "deployments", "x", "y");
        status.subresource = "status".into();
        assert!(authorize(&f.snapshot(), &op, &status).allowed);
        assert!(
            authorize(&f.snapshot(), &user("root", &["system:masters"]), &attrs("impersonate", "", "users", "", "x"))
                .allowed
        );
    }

    #[test]
    fn subresources_need_their_own_rule() {
        let f = fixture();
        let bot = user("system:serviceaccount:apps:bot", &[]);
        let mut status = attrs("patch", "apps", "deployments", "apps", "web");
        status.subresource = "status".into();
        assert!(authorize(&f.snapshot(), &bot, &status).allowed);
        assert!(!authorize(&f.snapshot(), &bot, &attrs("patch", "apps", "deployments", "apps", "web")).allowed);
        assert!(!authorize(&f.snapshot(), &user("system:serviceaccount:other:bot", &[]), &status).allowed);
    }

    #[test]
    fn resource_names_restrict_to_named_objects_and_never_match_lists() {
        let f = fixture();
        let bot = user("system:serviceaccount:apps:bot", &[]);
        assert!(authorize(&f.snapshot(), &bot, &attrs("get", "", "configmaps", "apps", "settings")).allowed);
        assert!(!authorize(&f.snapshot(), &bot, &attrs("get", "", "configmaps", "apps", "other")).allowed);
        assert!(!authorize(&f.snapshot(), &bot, &attrs("get", "", "configmaps", "apps", "")).allowed);
    }

    #[test]
    fn non_resource_urls_match_paths_only() {
        let f = fixture();
        let anyone = user("carol", &["system:authenticated"]);
        let path = |p: &str| Attributes { verb: "get".into(), path: Some(p.into()), ..Attributes::default() };
        assert!(authorize(&f.snapshot(), &anyone, &path("/version")).allowed);
        assert!(authorize(&f.snapshot(), &anyone, &path("/apis/apps/v1")).allowed);
        assert!(!authorize(&f.snapshot(), &anyone, &path("/metrics")).allowed);
        assert!(!authorize(&f.snapshot(), &anyone, &attrs("get", "", "pods", "x", "y")).allowed);
    }

    #[test]
    fn refusals_are_worded_as_the_api_server_words_them() {
        let alice = user("alice", &[]);
        let bob = user("bob", &[]);
        assert_eq!(
            forbidden_message(
                &alice,
                &attrs("patch", "kustomize.toolkit.fluxcd.io", "kustomizations", "apps", "podinfo")
            ),
            "kustomizations.kustomize.toolkit.fluxcd.io \"podinfo\" is forbidden: User \"alice\" cannot patch resource \"kustomizations\" in API group \"kustomize.toolkit.fluxcd.io\" in the namespace \"apps\""
        );
        assert_eq!(
            forbidden_message(&alice, &attrs("list", "kustomize.toolkit.fluxcd.io", "kustomizations", "", "")),
            "kustomizations.kustomize.toolkit.fluxcd.io is forbidden: User \"alice\" cannot list resource \"kustomizations\" in API group \"kustomize.toolkit.fluxcd.io\" at the cluster scope"
        );
        assert_eq!(
            forbidden_message(&bob, &attrs("list", "", "pods", "default", "")),
            "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        );
        let mut status = attrs("patch", "apps", "deployments", "flux-system", "x");
        status.subresource = "status".into();
        assert_eq!(
            forbidden_message(&bob, &status),
            "deployments.apps \"x\" is forbidden: User \"bob\" cannot patch resource \"deployments/status\" in API group \"apps\" in the namespace \"flux-system\""
        );
        assert_eq!(
            forbidden_message(&alice, &attrs("impersonate", "", "users", "", "bob")),
            "users \"bob\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        );
        let path = Attributes { verb: "get".into(), path: Some("/version".into()), ..Attributes::default() };
        assert_eq!(forbidden_message(&bob, &path), "forbidden: User \"bob\" cannot get path \"/version\"");
    }
}
