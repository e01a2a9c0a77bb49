//! Identities, roles scoped to clusters and namespaces (globs), and what they allow. Shared by
//! the server (which enforces) and the browser (which offers only what is allowed).

use serde::{Deserialize, Serialize};

/// A role, from least to most powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// Reads.
    Viewer,
    /// Also reconcile, suspend, resume, force, reset.
    Operator,
    /// Also restart controllers and read the audit log.
    Admin,
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}: use viewer, operator or admin")),
        }
    }
}

/// A role limited to clusters and namespaces (globs with `*` and `?`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub role: Role,
    pub clusters: Vec<String>,
    pub namespaces: Vec<String>,
}

impl Grant {
    /// `role` on every cluster and namespace.
    pub fn everywhere(role: Role) -> Grant {
        Grant { role, clusters: vec!["*".into()], namespaces: vec!["*".into()] }
    }

    fn covers(&self, cluster: &str, namespace: &str) -> bool {
        self.clusters.iter().any(|g| glob(g, cluster)) && self.namespaces.iter().any(|g| glob(g, namespace))
    }
}

/// The person (or anonymous client) behind a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
    pub grants: Vec<Grant>,
}

impl Identity {
    /// An anonymous identity with `role` everywhere.
    pub fn open(role: Role) -> Identity {
        Identity { user: "anonymous".into(), groups: Vec::new(), grants: vec![Grant::everywhere(role)] }
    }

    /// Whether the identity holds at least `role` for objects in `namespace` of `cluster`.
    pub fn may(&self, role: Role, cluster: &str, namespace: &str) -> bool {
        self.grants.iter().any(|g| g.role >= role && g.covers(cluster, namespace))
    }

    /// Whether the identity holds at least `role` anywhere.
    pub fn has_role_somewhere(&self, role: Role) -> bool {
        self.grants.iter().any(|g| g.role >= role)
    }
}

/// Glob match with `*` (any run) and `?` (one character).
///
/// It runs for every change on every event stream and for every object of a scoped snapshot,
/// so it allocates nothing: it compares bytes (UTF-8 is prefix-free, so a run of pattern bytes
/// equal to the text's ends on a character boundary) and moves by whole characters where the
/// pattern matches one (`?`) or a star takes one more.
pub fn glob(pattern: &str, text: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if !pattern.contains(['*', '?']) {
        return pattern == text;
    }
    // The length of the UTF-8 character that starts with `lead`.
    let width = |lead: u8| match lead {
        0..0xe0 => 1 + usize::from(lead >= 0xc0),
        0xe0..0xf0 => 3,
        _ => 4,
    };
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'?' {
            pi += 1;
            ti += width(t[ti]);
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += width(t[mark]);
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

/// The login methods a server offers (`GET /auth/methods`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Methods {
    pub local: bool,
    pub token: bool,
    /// Read-only access without login is on (the login page offers to go back to it).
    pub anonymous: bool,
    /// The SSO button's name, when OIDC is configured.
    pub oidc: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_shell_patterns() {
        for (p, t, want) in [
            ("*", "anything", true),
            ("team-*", "team-a", true),
            ("team-*", "platform", false),
            ("team-?", "team-ab", false),
            ("prod*-eu", "prod-1-eu", true),
            ("", "", true),
            ("", "x", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("team-a", "team-a", true),
            ("team-a", "team-ab", false),
            ("*-eu", "prod-eu", true),
            ("**", "", true),
            ("a*", "a", true),
            ("*a", "ba", true),
            ("*a", "ab", false),
            // `?` and a star's backtracking take whole characters, not bytes.
            ("?", "é", true),
            ("??", "é", false),
            ("t?am", "tëam", true),
            ("*ö", "äöö", true),
            ("*ö?", "äöü", true),
            ("ä*", "äb", true),
            ("*é", "ée", false),
        ] {
            assert_eq!(glob(p, t), want, "{p} {t}");
        }
    }

    #[test]
    fn roles_are_scoped_and_ordered() {
        let id = Identity {
            user: "ann".into(),
            groups: vec![],
            grants: vec![
                Grant { role: Role::Operator, clusters: vec!["prod".into()], namespaces: vec!["team-a".into()] },
                Grant { role: Role::Viewer, clusters: vec!["*".into()], namespaces: vec!["team-*".into()] },
            ],
        };
        assert!(id.may(Role::Operator, "prod", "team-a"));
        assert!(id.may(Role::Viewer, "prod", "team-a"));
        assert!(!id.may(Role::Operator, "prod", "team-b"));
        assert!(id.may(Role::Viewer, "staging", "team-b"));
        assert!(!id.may(Role::Admin, "prod", "team-a"));
        assert!(!id.may(Role::Viewer, "prod", "flux-system"));
    }
}
