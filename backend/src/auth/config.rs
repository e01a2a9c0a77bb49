//! The configuration file (`--config`, YAML): login methods, local users, role bindings,
//! sessions. Flags and environment variables cover the rest (see main.rs and the README).
//!
//! ```yaml
//! auth:
//!   local:
//!     users:
//!       - username: alice
//!         passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$..."   # fluxboard hash-password
//!         groups: [platform]
//!   kubernetesToken: true          # log in with a Kubernetes bearer token (TokenReview)
//!   anonymous:                     # read-only access without login, for wall screens
//!     enabled: false
//!     clusters: ["*"]
//!     namespaces: ["*"]
//! rbac:
//!   - role: admin                  # viewer, operator or admin
//!     groups: [platform]
//!     users: []
//!     clusters: ["*"]
//!     namespaces: ["*"]
//! sessions:
//!   store: memory                  # or redis
//!   redisUrl: redis://127.0.0.1:6379
//!   idleMinutes: 480
//!   absoluteHours: 24
//!   secureCookie: true             # false only for plain-http development
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::auth::{Grant, Identity, Role, glob};

/// An address range: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr.parse().ok()?, Some(prefix.parse::<u8>().ok()?)),
            None => (text.trim().parse().ok()?, None),
        };
        let bits = if matches!(addr, std::net::IpAddr::V4(_)) { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(Cidr { addr, prefix })
    }

    /// Whether `ip` is in the range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        let mask = |bits: u32| if self.prefix == 0 { 0 } else { u128::MAX << (bits - u32::from(self.prefix)) };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask(32) as u32;
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask(128);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub rbac: Vec<Binding>,
    #[serde(default)]
    pub sessions: SessionConfig,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client, for
    /// login rate limits behind an ingress. Empty: the socket's peer is the client.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// The URL people open fluxboard at (`https://fluxboard.example.com/flux`): its host is
    /// answered and its origin is the one state-changing requests must come from.
    #[serde(default)]
    pub external_url: Option<String>,
    /// More `host[:port]` values to answer (besides externalUrl's). Set one of the two: a
    /// server that answers any Host name can be reached by DNS rebinding from any web page.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}

/// The login methods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default)]
    pub local: LocalConfig,
    #[serde(default)]
    pub kubernetes_token: bool,
    #[serde(default)]
    pub anonymous: AnonymousConfig,
    #[serde(default)]
    pub oidc: Option<OidcConfig>,
    /// `system:` usernames and groups (globs) a login may carry. Every other `system:` name is
    /// refused at login, whatever the method, because fluxboard impersonates what it is given.
    /// Kubernetes token logins may always carry what every ServiceAccount token reviews as
    /// (`system:serviceaccount:*`, `system:serviceaccounts`, `system:serviceaccounts:*`,
    /// `system:authenticated`): the cluster vouched for those.
    #[serde(default)]
    pub allowed_system_names: Vec<String>,
}

/// Single sign-on with an OpenID Connect provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer URL (discovery is read from `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    /// The client secret; better given as the environment variable FLUXBOARD_OIDC_CLIENT_SECRET.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The callback URL registered at the provider: `https://<host><base path>/auth/oidc/callback`.
    pub redirect_url: String,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// What the login button says ("Log in with <name>").
    #[serde(default = "default_oidc_name")]
    pub name: String,
    /// Put before every username from the provider, as kube-apiserver's `--oidc-username-prefix`
    /// does, so an IdP user cannot pass for a cluster user ("" turns it off).
    #[serde(default = "default_oidc_prefix")]
    pub username_prefix: String,
    /// Put before every group from the provider (`--oidc-groups-prefix`; "" turns it off).
    #[serde(default = "default_oidc_prefix")]
    pub groups_prefix: String,
}

fn default_oidc_prefix() -> String {
    "oidc:".to_owned()
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email", "groups"].map(str::to_owned).to_vec()
}

fn default_username_claim() -> String {
    "preferred_username".to_owned()
}

fn default_groups_claim() -> String {
    "groups".to_owned()
}

fn default_oidc_name() -> String {
    "SSO".to_owned()
}

/// Local users.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalConfig {
    #[serde(default)]
    pub users: Vec<LocalUser>,
}

/// One local user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalUser {
    pub username: String,
    /// An argon2id PHC string.
    pub password_hash: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Read-only access without login.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnonymousConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "everything")]
    pub clusters: Vec<String>,
    #[serde(default = "everything")]
    pub namespaces: Vec<String>,
}

impl Default for AnonymousConfig {
    fn default() -> Self {
        AnonymousConfig { enabled: false, clusters: everything(), namespaces: everything() }
    }
}

fn everything() -> Vec<String> {
    vec!["*".to_owned()]
}

/// A role for users and groups, limited to clusters and namespaces (globs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Binding {
    pub role: Role,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default = "everything")]
    pub clusters: Vec<String>,
    #[serde(default = "everything")]
    pub namespaces: Vec<String>,
}

/// Where sessions live and how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionConfig {
    #[serde(default)]
    pub store: SessionStoreKind,
    #[serde(default)]
    pub redis_url: Option<String>,
    #[serde(default = "default_idle")]
    pub idle_minutes: u64,
    #[serde(default = "default_absolute")]
    pub absolute_hours: u64,
    #[serde(default = "default_true")]
    pub secure_cookie: bool,
    /// A browser-session cookie (no Max-Age): closing the browser ends the login. The idle and
    /// absolute limits apply either way.
    #[serde(default)]
    pub browser_session: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            store: SessionStoreKind::Memory,
            redis_url: None,
            idle_minutes: default_idle(),
            absolute_hours: default_absolute(),
            secure_cookie: true,
            browser_session: false,
        }
    }
}

fn default_idle() -> u64 {
    8 * 60
}

fn default_absolute() -> u64 {
    24
}

fn default_true() -> bool {
    true
}

/// The session store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SessionStoreKind {
    #[default]
    Memory,
    Redis,
}

/// Why a configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("Failed to read {}", .path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not YAML of this shape.
    #[error("Failed to parse {}", .path.display())]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// Where and why.
        #[source]
        source: serde_yaml::Error,
    },
    /// A `trustedProxies` entry is neither an address nor a CIDR range.
    #[error("trustedProxies: {0:?} is not an address or CIDR range (10.0.0.0/8, fd00::/8)")]
    TrustedProxy(String),
    /// `externalUrl` or `allowedHosts` is unusable.
    #[error(transparent)]
    Hosts(#[from] crate::http::HostsError),
    /// A local user has no name.
    #[error("a local user has an empty username")]
    EmptyUsername,
    /// Two local users have the same name.
    #[error("local user {0:?} is listed twice")]
    DuplicateUser(String),
    /// A local user's password hash is not a PHC string.
    #[error("the password hash of {user:?} is not a PHC string: {why}")]
    NotPhc {
        /// The user.
        user: String,
        /// What the parser said.
        why: String,
    },
    /// A local user's password hash is not argon2id.
    #[error("the password hash of {0:?} is not argon2id (use fluxboard hash-password)")]
    NotArgon2id(String),
    /// An OIDC URL field is not an http(s) URL.
    #[error("auth.oidc.{field} must be an http(s) URL: {value:?}")]
    OidcUrl {
        /// `issuer` or `redirectUrl`.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// `auth.oidc.clientId` is empty.
    #[error("auth.oidc.clientId is empty")]
    OidcClientId,
    /// `auth.oidc.scopes` lacks `openid`.
    #[error("auth.oidc.scopes must include openid")]
    OidcScopes,
    /// The Redis session store has no URL.
    #[error("sessions.store is redis but sessions.redisUrl is missing")]
    RedisUrl,
    /// A session lifetime is zero.
    #[error("session lifetimes must be positive")]
    Lifetimes,
}

/// A login refused because its identity would impersonate a `system:` user or group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SystemIdentity {
    /// The user name is a system identity.
    #[error("the user {0:?} is a system identity; fluxboard does not impersonate it")]
    User(String),
    /// One of the groups is a system group.
    #[error("the group {0:?} is a system group; fluxboard does not impersonate it (auth.allowedSystemNames)")]
    Group(String),
}

impl crate::http::error::Reason for SystemIdentity {
    fn status(&self) -> axum::http::StatusCode {
        axum::http::StatusCode::FORBIDDEN
    }

    fn code(&self) -> &'static str {
        "system_identity"
    }
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let config: Config =
            serde_yaml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.to_owned(), source })?;
        config.check()?;
        Ok(config)
    }

    /// The trusted proxies, parsed.
    pub fn trusted_proxies(&self) -> Result<Vec<Cidr>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|text| Cidr::parse(text).ok_or_else(|| ConfigError::TrustedProxy(text.clone())))
            .collect()
    }

    /// The Host values answered and the origins trusted.
    pub fn hosts(&self) -> Result<crate::http::Hosts, ConfigError> {
        Ok(crate::http::Hosts::new(self.external_url.as_deref(), &self.allowed_hosts)?)
    }

    /// Checks what serde cannot: hashes parse, names are unique, Redis has a URL.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.trusted_proxies()?;
        self.hosts()?;
        self.check_users()?;
        if let Some(oidc) = &self.auth.oidc {
            for (field, value) in [("issuer", &oidc.issuer), ("redirectUrl", &oidc.redirect_url)] {
                if !(value.starts_with("https://") || value.starts_with("http://")) {
                    return Err(ConfigError::OidcUrl { field, value: value.clone() });
                }
            }
            if oidc.client_id.is_empty() {
                return Err(ConfigError::OidcClientId);
            }
            if !oidc.scopes.iter().any(|s| s == "openid") {
                return Err(ConfigError::OidcScopes);
            }
        }
        if self.sessions.store == SessionStoreKind::Redis && self.sessions.redis_url.is_none() {
            return Err(ConfigError::RedisUrl);
        }
        if self.sessions.idle_minutes == 0 || self.sessions.absolute_hours == 0 {
            return Err(ConfigError::Lifetimes);
        }
        Ok(())
    }

    /// Local users have unique names and argon2id PHC hashes.
    fn check_users(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for user in &self.auth.local.users {
            if user.username.is_empty() {
                return Err(ConfigError::EmptyUsername);
            }
            if !seen.insert(&user.username) {
                return Err(ConfigError::DuplicateUser(user.username.clone()));
            }
            argon2::password_hash::PasswordHash::new(&user.password_hash)
                .map_err(|e| ConfigError::NotPhc { user: user.username.clone(), why: e.to_string() })?;
            if !user.password_hash.starts_with("$argon2id$") {
                return Err(ConfigError::NotArgon2id(user.username.clone()));
            }
        }
        Ok(())
    }

    /// Refuses a login whose user or groups start with `system:` unless allowed (see
    /// [`AuthConfig::allowed_system_names`]); `method` is `local`, `token` or `oidc`.
    pub fn check_system_names(&self, user: &str, groups: &[String], method: &str) -> Result<(), SystemIdentity> {
        const REVIEWED: [&str; 4] =
            ["system:serviceaccount:*", "system:serviceaccounts", "system:serviceaccounts:*", "system:authenticated"];
        let allowed = |name: &str| {
            !name.starts_with("system:")
                || self.auth.allowed_system_names.iter().any(|g| glob(g, name))
                || (method == "token" && REVIEWED.iter().any(|g| glob(g, name)))
        };
        if !allowed(user) {
            return Err(SystemIdentity::User(user.to_owned()));
        }
        match groups.iter().find(|g| !allowed(g)) {
            Some(group) => Err(SystemIdentity::Group(group.clone())),
            None => Ok(()),
        }
    }

    /// Whether any login method is configured.
    pub fn has_login(&self) -> bool {
        !self.auth.local.users.is_empty() || self.auth.kubernetes_token || self.auth.oidc.is_some()
    }

    /// The identity a session stands for now: its user's grants, limited to the reviewing cluster
    /// for token logins; None when a local user no longer exists or their password changed.
    pub fn current_identity(&self, who: &crate::auth::login::SessionUser) -> Option<Identity> {
        if who.method == "local" {
            let user = self.auth.local.users.iter().find(|u| u.username == who.user)?;
            if who.fingerprint.as_deref() != Some(crate::auth::login::fingerprint(&user.password_hash).as_str()) {
                return None;
            }
        }
        Some(self.session_identity(who))
    }

    /// The identity of a session's user, token logins limited to the cluster that reviewed them.
    pub fn session_identity(&self, who: &crate::auth::login::SessionUser) -> Identity {
        let mut identity = self.identity(&who.user, &who.groups);
        if let Some(cluster) = &who.reviewed_by {
            identity.grants.retain(|g| g.clusters.iter().any(|c| glob(c, cluster)));
            for grant in &mut identity.grants {
                grant.clusters = vec![cluster.clone()];
            }
        }
        identity
    }

    /// The identity of `user` in `groups`, with the grants the role bindings give them.
    pub fn identity(&self, user: &str, groups: &[String]) -> Identity {
        let grants = self
            .rbac
            .iter()
            .filter(|b| {
                b.users.iter().any(|u| glob(u, user))
                    || b.groups.iter().any(|g| groups.iter().any(|mine| glob(g, mine)))
            })
            .map(|b| Grant { role: b.role, clusters: b.clusters.clone(), namespaces: b.namespaces.clone() })
            .collect();
        Identity { user: user.to_owned(), groups: groups.to_vec(), grants }
    }

    /// The identity of visitors who have not logged in, when anonymous access is on.
    pub fn anonymous(&self) -> Option<Identity> {
        let a = &self.auth.anonymous;
        a.enabled.then(|| Identity {
            user: "anonymous".to_owned(),
            groups: vec!["system:unauthenticated".to_owned()],
            grants: vec![Grant { role: Role::Viewer, clusters: a.clusters.clone(), namespaces: a.namespaces.clone() }],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_names_are_refused_unless_allowed() {
        let mut config = Config::default();
        let groups = |g: &[&str]| g.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(config.check_system_names("alice", &groups(&["platform"]), "local").is_ok());
        assert!(config.check_system_names("system:admin", &[], "local").is_err());
        assert!(config.check_system_names("alice", &groups(&["system:masters"]), "oidc").is_err());
        // What every ServiceAccount token reviews as is fine for token logins only.
        let sa = groups(&["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"]);
        assert!(config.check_system_names("system:serviceaccount:ci:deployer", &sa, "token").is_ok());
        assert!(config.check_system_names("system:serviceaccount:ci:deployer", &sa, "local").is_err());
        assert!(config.check_system_names("x", &groups(&["system:masters"]), "token").is_err());
        config.auth.allowed_system_names = vec!["system:masters".into()];
        assert!(config.check_system_names("x", &groups(&["system:masters"]), "token").is_ok());
        // A prefixed provider name is no system name.
        assert!(config.check_system_names("oidc:system:admin", &groups(&["oidc:system:masters"]), "oidc").is_ok());
    }

    #[test]
    fn address_ranges_parse_and_match() {
        use std::net::IpAddr;
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains(ip("10.255.1.2")) && !net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.1.1.1")), "IPv4-mapped IPv6");
        assert!(Cidr::parse("192.168.1.7").unwrap().contains(ip("192.168.1.7")));
        assert!(!Cidr::parse("192.168.1.7").unwrap().contains(ip("192.168.1.8")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(
            Cidr::parse("fd00::/8").unwrap().contains(ip("fd12::1"))
                && !Cidr::parse("fd00::/8").unwrap().contains(ip("fe80::1"))
        );
        for bad in ["", "10.0.0.0/33", "fd00::/129", "10.0.0/8", "example.com", "10.0.0.0/x"] {
            assert_eq!(Cidr::parse(bad), None, "{bad:?}");
        }
        let config = Config { trusted_proxies: vec!["10.0.0.0/40".into()], ..Config::default() };
        assert!(config.check().unwrap_err().to_string().contains("trustedProxies"));
    }

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$Gc6n6Hd1QmJpbl8kz8PI8b8YQnOe3c1n9dcE3S2Hh3k";

    #[test]
    fn a_full_config_parses_and_maps_users_and_groups_to_roles() {
        let yaml = format!(
            r#"
auth:
  local:
    users:
      - username: alice
        passwordHash: "{HASH}"
        groups: [platform]
  kubernetesToken: true
rbac:
  - role: admin
    groups: [platform]
  - role: operator
    users: [bob]
    clusters: [prod]
    namespaces: ["team-*"]
sessions:
  store: redis
  redisUrl: redis://127.0.0.1:6379
  secureCookie: false
trustedProxies: [10.0.0.0/8, "fd00::/8"]
"#
        );
        let config: Config = serde_yaml::from_str(&yaml).unwrap();
        config.check().unwrap();
        assert!(config.identity("alice", &["platform".into()]).may(Role::Admin, "any", "ns"));
        let bob = config.identity("bob", &[]);
        assert!(bob.may(Role::Operator, "prod", "team-a") && !bob.may(Role::Operator, "staging", "team-a"));
        assert!(config.identity("carol", &[]).grants.is_empty(), "no binding, no access");
        assert_eq!(config.sessions.idle_minutes, 480);
        assert_eq!(config.trusted_proxies().unwrap().len(), 2);
        assert!(config.anonymous().is_none(), "anonymous access is off by default");
    }

    #[test]
    fn mistakes_are_caught_at_start() {
        for bad in [
            "auth: {local: {users: [{username: a, passwordHash: nothash}]}}",
            "auth: {local: {users: [{username: a, passwordHash: '$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA'}]}}",
            "sessions: {store: redis}",
            "rbac: [{role: superuser}]",
            "unknown: 1",
        ] {
            let parsed: Result<Config, _> = serde_yaml::from_str(bad);
            assert!(parsed.is_err() || parsed.is_ok_and(|c| c.check().is_err()), "{bad}");
        }
    }
}
