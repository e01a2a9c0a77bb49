//! Authentication: static bearer tokens, impersonation headers, and the review kinds.

use std::collections::HashMap;

use axum::http::HeaderMap;

use crate::{
    error::{ApiError, Result},
    rbac::{self, Attributes, RbacSnapshot, UserInfo},
};

/// A static token and the identity it authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticToken {
    pub token: String,
    pub username: String,
    pub groups: Vec<String>,
}

impl StaticToken {
    pub fn new(token: &str, username: &str, groups: &[&str]) -> Self {
        Self {
            token: token.to_owned(),
            username: username.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }
}

impl std::str::FromStr for StaticToken {
    type Err = String;

    /// `token=user` or `token=user:group1,group2`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (token, rest) = s.split_once('=').ok_or_else(|| format!("expected token=user[:groups], got {s:?}"))?;
        let (user, groups) = rest.split_once(':').map_or((rest, ""), |(u, g)| (u, g));
        if token.is_empty() || user.is_empty() {
            return Err(format!("expected token=user[:groups], got {s:?}"));
        }
        let groups: Vec<&str> = groups.split(',').filter(|g| !g.is_empty()).collect();
        Ok(Self::new(token, user, &groups))
    }
}

/// The token authenticator.
#[derive(Debug, Default)]
pub(crate) struct Authenticator {
    tokens: HashMap<String, StaticToken>,
}

impl Authenticator {
    pub(crate) fn new(tokens: &[StaticToken]) -> Self {
        Self { tokens: tokens.iter().map(|t| (t.token.clone(), t.clone())).collect() }
    }

    /// The user a token authenticates, with `system:authenticated` added.
    pub(crate) fn review(&self, token: &str) -> Option<UserInfo> {
        let found = self.tokens.get(token)?;
        let mut groups = found.groups.clone();
        if !groups.iter().any(|g| g == "system:authenticated") {
            groups.push("system:authenticated".to_owned());
        }
        Some(UserInfo { username: found.username.clone(), uid: String::new(), groups })
    }

    /// Authenticates a request by its bearer token.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Result<UserInfo> {
        let header = headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or_else(ApiError::unauthorized)?;
        let token = header.strip_prefix("Bearer ").map(str::trim).ok_or_else(ApiError::unauthorized)?;
        self.review(token).ok_or_else(ApiError::unauthorized)
    }
}

/// Applies `Impersonate-User` / `Impersonate-Group` as Kubernetes 1.36 does: allowed when the
/// caller may (legacy) `impersonate` that user and each group, or else (constrained
/// impersonation) may `impersonate-on:<mode>:<verb>` the request `asked` and
/// `impersonate:<mode>` each identity; refused with the constrained check that failed first.
pub(crate) fn impersonate(
    rbac: &RbacSnapshot<'_>,
    caller: UserInfo,
    headers: &HeaderMap,
    asked: &Attributes,
) -> Result<UserInfo> {
    let user = headers.get("impersonate-user").map(|v| v.to_str().map(str::to_owned));
    let groups: Vec<String> = headers
        .get_all("impersonate-group")
        .iter()
        .map(|v| v.to_str().map(str::to_owned))
        .collect::<Result<_, _>>()
        .map_err(|_| ApiError::bad_request("invalid Impersonate-Group header"))?;
    let Some(user) = user else {
        if groups.is_empty() {
            return Ok(caller);
        }
        return Err(ApiError::bad_request("requested impersonation of groups without impersonating a user"));
    };
    let user = user.map_err(|_| ApiError::bad_request("invalid Impersonate-User header"))?;
    let legacy = std::iter::once(("users", user.clone())).chain(groups.iter().map(|g| ("groups", g.clone())));
    let legacy_allowed = legacy.into_iter().all(|(resource, name)| {
        let attrs = Attributes { verb: "impersonate".into(), resource: resource.into(), name, ..Attributes::default() };
        rbac::authorize(rbac, &caller, &attrs).allowed
    });
    if !legacy_allowed {
        for attrs in constrained_checks(&user, &groups, asked) {
            if !rbac::authorize(rbac, &caller, &attrs).allowed {
                return Err(rbac::refusal(&caller, &attrs));
            }
        }
    }
    let mut groups = groups;
    if !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".to_owned());
    }
    Ok(UserInfo { username: user, uid: String::new(), groups })
}

/// The checks of constrained impersonation, in order: the action on the request (`asked` with
/// its verb as `impersonate-on:<mode>:<verb>`), then each identity (`impersonate:<mode>` in
/// `authentication.k8s.io`): a ServiceAccount, a node, or user info (user and groups).
fn constrained_checks(user: &str, groups: &[String], asked: &Attributes) -> Vec<Attributes> {
    let identity = |verb: &str, resource: &str, namespace: &str, name: &str| Attributes {
        verb: verb.to_owned(),
        api_group: "authentication.k8s.io".to_owned(),
        resource: resource.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        ..Attributes::default()
    };
    let (mode, who) = if let Some(sa) = user.strip_prefix("system:serviceaccount:")
        && let Some((namespace, name)) = sa.split_once(':')
    {
        ("serviceaccount", identity("impersonate:serviceaccount", "serviceaccounts", namespace, name))
    } else if let Some(node) = user.strip_prefix("system:node:") {
        ("arbitrary-node", identity("impersonate:arbitrary-node", "nodes", "", node))
    } else {
        ("user-info", identity("impersonate:user-info", "users", "", user))
    };
    let action = Attributes { verb: format!("impersonate-on:{mode}:{}", asked.verb), ..asked.clone() };
    let mut checks = vec![action, who];
    checks.extend(groups.iter().map(|g| identity("impersonate:user-info", "groups", "", g)));
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_from_the_command_line_form() {
        let t: StaticToken = "abc=alice:team-a,ops".parse().unwrap();
        assert_eq!(t, StaticToken::new("abc", "alice", &["team-a", "ops"]));
        let t: StaticToken = "abc=bob".parse().unwrap();
        assert!(t.groups.is_empty());
        assert!("abc".parse::<StaticToken>().is_err());
        assert!("=bob".parse::<StaticToken>().is_err());
    }

    fn headers(user: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("impersonate-user", user.parse().unwrap());
        headers
    }

    #[test]
    fn constrained_impersonation_needs_the_action_and_the_identity() {
        use std::sync::Arc;

        use serde_json::json;
        let role = |rules: serde_json::Value| Arc::new(json!({"metadata": {"name": "imp"}, "rules": rules}));
        let binding = Arc::new(json!({"metadata": {"name": "imp"}, "roleRef": {"kind": "ClusterRole", "name": "imp"},
            "subjects": [{"kind": "User", "name": "alice"}]}));
        let alice = UserInfo { username: "alice".into(), uid: String::new(), groups: vec![] };
        let asked = Attributes {
            verb: "get".into(),
            resource: "configmaps".into(),
            namespace: "apps".into(),
            name: "one".into(),
            ..Attributes::default()
        };
        let decide = |rules: serde_json::Value| {
            let (cluster_roles, bindings) = (vec![role(rules)], vec![binding.clone()]);
            let snapshot = RbacSnapshot {
                roles: &[],
                cluster_roles: &cluster_roles,
                role_bindings: &[],
                cluster_role_bindings: &bindings,
            };
            impersonate(&snapshot, alice.clone(), &headers("bob"), &asked)
        };
        let action = json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["impersonate-on:user-info:get"]});
        let identity =
            json!({"apiGroups": ["authentication.k8s.io"], "resources": ["users"], "verbs": ["impersonate:user-info"]});
        let legacy = json!({"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]});
        assert_eq!(decide(json!([action, identity])).unwrap().username, "bob");
        assert_eq!(decide(json!([legacy])).unwrap().username, "bob");
        let refused = decide(json!([identity])).unwrap_err();
        assert!(refused.message.contains("cannot impersonate-on:user-info:get resource \"configmaps\""), "{refused}");
        assert_eq!(refused.details.unwrap()["name"], "one");
        let refused = decide(json!([action])).unwrap_err();
        assert!(refused.message.starts_with("users.authentication.k8s.io \"bob\" is forbidden"), "{refused}");
    }

    #[test]
    fn a_known_token_authenticates_with_the_authenticated_group() {
        let authn = Authenticator::new(&[StaticToken::new("t", "alice", &["team-a"])]);
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer t".parse().unwrap());
        let user = authn.authenticate(&headers).unwrap();
        assert_eq!(user.username, "alice");
        assert_eq!(user.groups, vec!["team-a", "system:authenticated"]);
        headers.insert("authorization", "Bearer nope".parse().unwrap());
        assert_eq!(authn.authenticate(&headers).unwrap_err().code, 401);
        assert_eq!(authn.authenticate(&HeaderMap::new()).unwrap_err().code, 401);
    }
}
