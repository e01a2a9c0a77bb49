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

/// Applies `Impersonate-User` / `Impersonate-Group`: the caller must be allowed to
/// `impersonate` that user and each group, else 403 with the RBAC message.
pub(crate) fn impersonate(rbac: &RbacSnapshot<'_>, caller: UserInfo, headers: &HeaderMap) -> Result<UserInfo> {
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
    let mut checks = vec![("users", user.clone())];
    checks.extend(groups.iter().map(|g| ("groups", g.clone())));
    for (resource, name) in checks {
        let attrs = Attributes { verb: "impersonate".into(), resource: resource.into(), name, ..Attributes::default() };
        if !rbac::authorize(rbac, &caller, &attrs).allowed {
            return Err(ApiError::forbidden(rbac::forbidden_message(&caller, &attrs)));
        }
    }
    let mut groups = groups;
    if !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".to_owned());
    }
    Ok(UserInfo { username: user, uid: String::new(), groups })
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
