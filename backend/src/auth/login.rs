//! Logging in and out: `/auth/methods`, `/auth/login` (local users), `/auth/token` (Kubernetes
//! tokens, checked with TokenReview), `/auth/logout`.
//!
//! Passwords are checked with argon2id; an unknown user costs the same as a known one (a dummy
//! hash is checked). Attempts are rate limited per client address and per username. The session
//! id is cycled at login; the session holds the user and groups, never a password or token.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use sha2::Digest as _;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::http::error::ApiError;
use crate::state::AppState;

/// The session key of the logged-in user.
pub const SESSION_USER: &str = "user";
/// The session key of the last activity (seconds since the epoch).
pub const SESSION_SEEN: &str = "seen";
/// The most attempts per client address per window.
const PER_ADDRESS: usize = 20;
/// The most failed attempts per (username, client address) per window.
const PER_USERNAME: usize = 5;
/// The longest password checked (argon2 hashes whatever it is given).
const MAX_PASSWORD: usize = 1024;

/// Who is logged in, as the session stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub user: String,
    pub groups: Vec<String>,
    /// `local`, `token` or `oidc`.
    pub method: String,
    /// Seconds since the epoch; the absolute expiry counts from here.
    pub login_at: i64,
    /// Local users: a fingerprint of the password hash logged in with; the session ends when
    /// the user is removed from the configuration or their password changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Token logins: the cluster that reviewed the token; the grants apply to it alone (another
    /// cluster never vouched for this identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed_by: Option<String>,
}

/// A short fingerprint of a local user's password hash (not the hash itself).
pub fn fingerprint(password_hash: &str) -> String {
    let digest = sha2::Sha256::digest(format!("fluxboard-session:{password_hash}").as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

pub use fluxboard_model::auth::Methods;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LocalLogin {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenLogin {
    token: String,
}

/// Hashes a password with argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(HashError)?;
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt).map_err(HashError)?.to_string())
}

/// Why a password could not be hashed (argon2's own error; it is not `std::error::Error`).
#[derive(Debug, thiserror::Error)]
#[error("Failed to hash the password: {0}")]
pub struct HashError(argon2::password_hash::Error);

/// Checks a password against a PHC hash (constant time in the password).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash no password matches, checked for unknown users so they cost the same time.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_password("fluxboard: no such user").unwrap_or_default());

pub use crate::auth::limiter::{Limits, RateLimiter};

pub(crate) async fn methods(State(state): State<Arc<AppState>>) -> Json<Methods> {
    let auth = &state.config.auth;
    Json(Methods {
        local: !auth.local.users.is_empty(),
        token: auth.kubernetes_token,
        anonymous: auth.anonymous.enabled,
        oidc: auth.oidc.as_ref().map(|o| o.name.clone()),
    })
}

/// A login whose identity would impersonate a `system:` user or group it may not.
pub(crate) fn system_refusal(address: &str, why: crate::auth::config::SystemIdentity) -> Response {
    tracing::warn!(target: "audit", address, %why, "login refused (system identity)");
    ApiError::from(why).into_response()
}

fn too_many(limited: crate::auth::limiter::Limited) -> Response {
    let secs = limited.retry_after_secs();
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many login attempts; try again in {secs} s"),
    )
    .into_response();
    if let Ok(v) = secs.to_string().parse() {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// What every login request passes first (a readable body, same origin, JSON, the form `T`;
/// `usage` says what to send otherwise): the client's address and the form.
async fn login_form<T: serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    request: axum::extract::Request,
    usage: &'static str,
) -> Result<(String, T), ApiError> {
    let addr = request.extensions().get::<ConnectInfo<SocketAddr>>().cloned();
    let body = crate::http::read_body(request.into_body()).await?;
    let body = crate::http::json_body(&state.hosts, headers, Ok(body))?;
    let form = serde_json::from_slice(&body).map_err(|_| ApiError::bad_request(usage))?;
    Ok((client(state, addr.as_ref(), headers), form))
}

/// The client's address for rate limiting: the socket's peer, or, when the peer is a trusted
/// proxy, the right-most `X-Forwarded-For` entry that is not a trusted proxy itself (entries to
/// its left can be forged by the client).
pub(crate) fn client(state: &AppState, addr: Option<&ConnectInfo<SocketAddr>>, headers: &HeaderMap) -> String {
    let Some(peer) = addr.map(|c| c.0.ip()) else { return "unknown".to_owned() };
    let trusted = state.config.trusted_proxies().unwrap_or_default();
    rate_key(client_address(peer, headers, &trusted))
}

/// The rate-limit key of an address: IPv4 addresses as they are, IPv6 ones by their /64 (one
/// host usually holds a whole /64 and could otherwise rotate through it).
fn rate_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let net = std::net::Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64));
            format!("{net}/64")
        }
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        std::net::IpAddr::V4(v4) => v4.to_string(),
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`) or in brackets.
fn forwarded_ip(entry: &str) -> Option<std::net::IpAddr> {
    entry
        .parse()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

fn client_address(
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    trusted: &[crate::auth::config::Cidr],
) -> std::net::IpAddr {
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        let Some(ip) = forwarded_ip(entry) else {
            tracing::warn!(entry, "unreadable X-Forwarded-For entry from a trusted proxy");
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

pub(crate) async fn start_session(session: &Session, user: SessionUser) -> Result<(), ApiError> {
    let failed = |e: tower_sessions::session::Error| {
        tracing::error!(%e, "session store failed");
        ApiError::unavailable("the session store is unavailable; try again")
    };
    session.cycle_id().await.map_err(failed)?;
    session.insert(SESSION_SEEN, user.login_at).await.map_err(failed)?;
    session.insert(SESSION_USER, user).await.map_err(failed)?;
    Ok(())
}

pub(crate) async fn login(
    State(state): State<Arc<AppState>>,
    session: Session,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Response {
    let usage = "send {\"username\": ..., \"password\": ...}";
    let (address, form) = match login_form::<LocalLogin>(&state, &headers, request, usage).await {
        Ok(found) => found,
        Err(err) => return err.into_response(),
    };
    // Bounded before anything is kept: a long name never becomes a limiter key.
    if form.username.is_empty() || form.username.len() > crate::auth::limiter::MAX_USERNAME {
        return ApiError::bad_request(format!(
            "the username must be 1 to {} bytes",
            crate::auth::limiter::MAX_USERNAME
        ))
        .into_response();
    }
    if form.password.len() > MAX_PASSWORD {
        return ApiError::bad_request(format!("the password is longer than {MAX_PASSWORD} bytes")).into_response();
    }
    if let Err(wait) = state.limiter.hit(&format!("addr:{address}"), PER_ADDRESS).await {
        tracing::warn!(target: "audit", address, username = form.username, "login rate limited (address)");
        return too_many(wait);
    }
    // Blocking is per (username, address); elsewhere, failures only slow this username down.
    let pair_key = format!("pair:{}|{address}", form.username);
    if let Err(wait) = state.limiter.check(&pair_key, PER_USERNAME).await {
        tracing::warn!(target: "audit", address, username = form.username, "login rate limited (username)");
        return too_many(wait);
    }
    let user_key = format!("user:{}", form.username);
    let pause = crate::auth::limiter::slow_down(state.limiter.count(&user_key).await, PER_USERNAME);
    if !pause.is_zero() {
        tokio::time::sleep(pause).await;
    }
    let found = state.config.auth.local.users.iter().find(|u| u.username == form.username);
    let password = form.password.clone();
    let hash = found.map(|u| u.password_hash.clone());
    // argon2 is deliberately slow: keep it (and the dummy hash's first computation) off the
    // async workers.
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, hash.as_deref().unwrap_or(&DUMMY_HASH)))
        .await
        .unwrap_or(false);
    let Some(user) = found.filter(|_| ok) else {
        // Only failures count against the username.
        state.limiter.record(&pair_key, PER_USERNAME).await;
        state.limiter.record(&user_key, 64).await;
        tracing::warn!(target: "audit", address, username = form.username, "login failed");
        state.metrics.login("local", "failure");
        return ApiError::new(StatusCode::UNAUTHORIZED, "bad_credentials", "wrong username or password")
            .into_response();
    };
    state.limiter.forget(&pair_key).await;
    if let Err(why) = state.config.check_system_names(&user.username, &user.groups, "local") {
        return system_refusal(&address, why);
    }
    let who = SessionUser {
        user: user.username.clone(),
        groups: user.groups.clone(),
        method: "local".into(),
        login_at: jiff::Timestamp::now().as_second(),
        fingerprint: Some(fingerprint(&user.password_hash)),
        reviewed_by: None,
    };
    if let Err(r) = start_session(&session, who.clone()).await {
        return r.into_response();
    }
    tracing::info!(target: "audit", address, user = who.user, "login (local)");
    state.metrics.login("local", "success");
    Json(state.config.session_identity(&who)).into_response()
}

pub(crate) async fn token(
    State(state): State<Arc<AppState>>,
    session: Session,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Response {
    if !state.config.auth.kubernetes_token {
        return ApiError::not_found("Kubernetes token login is not enabled").into_response();
    }
    let (address, form) = match login_form::<TokenLogin>(&state, &headers, request, "send {\"token\": ...}").await {
        Ok(found) => found,
        Err(err) => return err.into_response(),
    };
    if let Err(wait) = state.limiter.hit(&format!("addr:{address}"), PER_ADDRESS).await {
        return too_many(wait);
    }
    let Some(cluster) = state.clusters.first() else {
        return ApiError::unavailable("no cluster to review the token").into_response();
    };
    let review = match crate::fleet::cluster::review_token(cluster, form.token.trim()).await {
        Ok(review) => review,
        Err(err) => {
            // The details stay in the log: they describe the cluster, not the caller's token.
            tracing::warn!(%err, cluster = cluster.name, "TokenReview failed");
            return ApiError::new(
                StatusCode::BAD_GATEWAY,
                "token_review_failed",
                format!("the cluster {} could not check the token; try again later", cluster.name),
            )
            .into_response();
        }
    };
    let Some((user, groups)) = review else {
        tracing::warn!(target: "audit", address, "login failed (token)");
        state.metrics.login("token", "failure");
        return ApiError::new(StatusCode::UNAUTHORIZED, "bad_credentials", "the cluster did not accept this token")
            .into_response();
    };
    if let Err(why) = state.config.check_system_names(&user, &groups, "token") {
        return system_refusal(&address, why);
    }
    let who = SessionUser {
        user,
        groups,
        method: "token".into(),
        login_at: jiff::Timestamp::now().as_second(),
        fingerprint: None,
        reviewed_by: Some(cluster.name.clone()),
    };
    if let Err(r) = start_session(&session, who.clone()).await {
        return r.into_response();
    }
    tracing::info!(target: "audit", address, user = who.user, cluster = cluster.name, "login (token)");
    state.metrics.login("token", "success");
    Json(state.config.session_identity(&who)).into_response()
}

pub(crate) async fn logout(State(state): State<Arc<AppState>>, session: Session, headers: HeaderMap) -> Response {
    if let Err(why) = crate::http::same_origin(&headers, &state.hosts) {
        return ApiError::from(why).into_response();
    }
    if let Err(e) = session.flush().await {
        tracing::error!(%e, "session store failed");
        return ApiError::unavailable("the session store is unavailable; try again").into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_behind_trusted_proxies_is_the_right_most_untrusted_forwarded_address() {
        let trusted: Vec<_> =
            ["10.0.0.0/8", "fd00::/8"].iter().map(|c| crate::auth::config::Cidr::parse(c).unwrap()).collect();
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let with = |xff: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in xff {
                headers.append("x-forwarded-for", value.parse().unwrap());
            }
            headers
        };
        // Not from a proxy: the header is ignored.
        assert_eq!(client_address(ip("198.51.100.1"), &with(&["203.0.113.9"]), &trusted), ip("198.51.100.1"));
        // From a proxy: the last hop the proxies did not add.
        assert_eq!(client_address(ip("10.1.2.3"), &with(&["203.0.113.9"]), &trusted), ip("203.0.113.9"));
        assert_eq!(
            client_address(ip("10.1.2.3"), &with(&["6.6.6.6, 203.0.113.9, 10.9.9.9"]), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(client_address(ip("fd00::1"), &with(&["2001:db8::7", "10.0.0.2"]), &trusted), ip("2001:db8::7"));
        // Ports and brackets, as some proxies write them.
        assert_eq!(client_address(ip("10.1.2.3"), &with(&["203.0.113.9:5123"]), &trusted), ip("203.0.113.9"));
        assert_eq!(client_address(ip("10.1.2.3"), &with(&["[2001:db8::7]:443"]), &trusted), ip("2001:db8::7"));
        assert_eq!(client_address(ip("10.1.2.3"), &with(&["[2001:db8::7]"]), &trusted), ip("2001:db8::7"));
        // IPv6 clients are limited by their /64.
        assert_eq!(rate_key(ip("2001:db8:1:2:aaaa::1")), rate_key(ip("2001:db8:1:2:bbbb::9")));
        assert_eq!(rate_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_ne!(rate_key(ip("2001:db8:1:3::1")), rate_key(ip("2001:db8:1:2::1")));
        assert_eq!(rate_key(ip("::ffff:192.0.2.1")), "192.0.2.1");
        // No header, or garbage where the proxy's entry should be: the proxy's own address.
        assert_eq!(client_address(ip("10.1.2.3"), &HeaderMap::new(), &trusted), ip("10.1.2.3"));
        assert_eq!(client_address(ip("10.1.2.3"), &with(&["not-an-ip"]), &trusted), ip("10.1.2.3"));
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        assert_ne!(hash, hash_password("correct horse").unwrap(), "salted");
    }
}
