//! OpenID Connect login: the authorization code flow with PKCE, state and nonce; discovery from
//! the issuer; ID token verification (signature by the issuer's JWKS, issuer, audience, expiry,
//! nonce); username and groups from configurable claims.
//!
//! `GET /auth/oidc/login` remembers state, nonce and the PKCE verifier in the (server-side)
//! session and redirects to the provider; `GET /auth/oidc/callback` checks them, exchanges the
//! code, verifies the ID token and starts the session. Failures show a page that says what went
//! wrong and links back to the login page.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;
use tower_sessions::Session;

use crate::auth::config::OidcConfig;
use crate::auth::login::{SessionUser, start_session};
use crate::state::AppState;

/// The session key of a login in progress.
const SESSION_FLOW: &str = "oidc_flow";
/// How long discovery and keys are cached.
const CACHE_FOR: Duration = Duration::from_secs(300);
/// How long a login at the provider may take.
const FLOW_TTL_SECS: i64 = 600;

/// What discovery tells about the provider.
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// A login in progress, kept in the session.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
    started: i64,
}

/// The OIDC client: configuration, an HTTP client, cached discovery and keys.
#[derive(Debug)]
pub struct Oidc {
    config: OidcConfig,
    secret: Option<String>,
    http: reqwest::Client,
    /// Discovery and keys with when they were fetched. Never held across a fetch: concurrent
    /// logins may fetch twice, none waits behind a slow provider.
    cache: std::sync::Mutex<Option<(Discovery, JwkSet, Instant)>>,
}

/// Why an ID token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenError {
    /// No key of the provider's JWKS matches the token's key id (the provider may have rotated
    /// its keys: fetch them again once).
    #[error("no key of the provider matches the token")]
    UnknownKey,
    /// The token's header cannot be read.
    #[error("unreadable token: {0}")]
    Unreadable(#[source] jsonwebtoken::errors::Error),
    /// Signed with an algorithm other than RS, PS or ES (`none` and HMAC included).
    #[error("the token is signed with {0:?}, which is not accepted")]
    Algorithm(jsonwebtoken::Algorithm),
    /// The provider's key cannot be used.
    #[error("unusable provider key: {0}")]
    UnusableKey(#[source] jsonwebtoken::errors::Error),
    /// The signature, issuer or audience is wrong, or a required claim is missing.
    #[error(transparent)]
    Rejected(jsonwebtoken::errors::Error),
    /// No `exp` claim.
    #[error("the token has no expiry")]
    NoExpiry,
    /// `exp` has passed (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` has not come yet.
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    /// `iat` lies in the future.
    #[error("the token was issued in the future (iat)")]
    IssuedInFuture,
    /// No `iat` claim.
    #[error("the token has no issue time (iat)")]
    NoIssueTime,
    /// `azp` names another client.
    #[error("the token was issued to {0:?} (azp)")]
    OtherParty(String),
    /// Several audiences and no `azp`.
    #[error("the token has several audiences but no azp")]
    NoAuthorizedParty,
    /// The nonce is not this login's.
    #[error("the token's nonce does not match this login")]
    WrongNonce,
}

/// Why the provider's discovery document or keys could not be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProviderError {
    /// The request did not get an answer.
    #[error("cannot reach {url}: {source}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: reqwest::Error,
    },
    /// The provider answered with a status other than success.
    #[error("{url} answered {status}")]
    Status {
        /// The URL asked.
        url: String,
        /// Its answer's status.
        status: reqwest::StatusCode,
    },
    /// The answer is not the JSON expected.
    #[error("{url} sent something unreadable: {source}")]
    Unreadable {
        /// The URL asked.
        url: String,
        /// Why it could not be read.
        #[source]
        source: reqwest::Error,
    },
    /// The discovery document names another issuer than the one configured.
    #[error("the provider says its issuer is {said}, not {configured}")]
    WrongIssuer {
        /// The issuer the document names.
        said: String,
        /// The configured issuer.
        configured: String,
    },
}

impl Oidc {
    pub fn new(config: OidcConfig) -> Result<Oidc, reqwest::Error> {
        let secret = config.client_secret.clone().or_else(|| std::env::var("FLUXBOARD_OIDC_CLIENT_SECRET").ok());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Oidc { config, secret, http, cache: std::sync::Mutex::new(None) })
    }

    /// Discovery and keys, from the cache or fetched (again, with `refresh`).
    async fn provider(&self, refresh: bool) -> Result<(Discovery, JwkSet), ProviderError> {
        if let Some((d, k, at)) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && !refresh
            && at.elapsed() < CACHE_FOR
        {
            return Ok((d.clone(), k.clone()));
        }
        let issuer = self.config.issuer.trim_end_matches('/');
        let url = format!("{issuer}/.well-known/openid-configuration");
        let discovery: Discovery = self.get_json(&url).await?;
        if discovery.issuer.trim_end_matches('/') != issuer {
            return Err(ProviderError::WrongIssuer { said: discovery.issuer, configured: issuer.to_owned() });
        }
        let keys: JwkSet = self.get_json(&discovery.jwks_uri).await?;
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((discovery.clone(), keys.clone(), Instant::now()));
        Ok((discovery, keys))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, ProviderError> {
        let res = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|source| ProviderError::Unreachable { url: url.to_owned(), source })?;
        if !res.status().is_success() {
            return Err(ProviderError::Status { url: url.to_owned(), status: res.status() });
        }
        res.json().await.map_err(|source| ProviderError::Unreadable { url: url.to_owned(), source })
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// Why an SSO login failed: the page's headline is the `Display`, [`SsoFailure::detail`] the
/// line below it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SsoFailure {
    /// This address started too many logins in the last minute.
    #[error("Too many logins were started.")]
    TooManyStarts,
    /// Discovery or the keys could not be fetched.
    #[error("The identity provider is unreachable.")]
    Provider(#[source] ProviderError),
    /// The session store did not keep the flow or the session.
    #[error("The session store is unavailable.")]
    SessionStore,
    /// Discovery named an authorization endpoint that is not a URL.
    #[error("The identity provider's authorization endpoint is invalid.")]
    BadEndpoint(String),
    /// The provider answered the authorization request with an error.
    #[error("The identity provider refused the login ({error}).")]
    Refused {
        /// Its `error` parameter.
        error: String,
        /// Its `error_description` parameter.
        description: String,
    },
    /// No flow in this session, or an expired one.
    #[error("No login was in progress, or it took too long.")]
    NoFlow,
    /// The `state` parameter is not this session's.
    #[error("The login answer does not match this browser's login (wrong state).")]
    WrongState,
    /// The callback carries no `code`.
    #[error("The identity provider sent no authorization code.")]
    NoCode,
    /// The token endpoint refused the code.
    #[error("The identity provider refused the code ({status}).")]
    CodeRefused {
        /// Its answer's status.
        status: reqwest::StatusCode,
        /// Its answer's body.
        body: String,
    },
    /// The token endpoint did not answer.
    #[error("The identity provider is unreachable.")]
    TokenEndpoint(#[source] reqwest::Error),
    /// The token endpoint's answer holds no ID token.
    #[error("The identity provider sent no ID token.")]
    NoIdToken,
    /// The ID token was not accepted.
    #[error("The ID token is not valid.")]
    InvalidToken(#[source] TokenError),
    /// The ID token lacks the configured username claim.
    #[error("The ID token has no {0} claim.")]
    NoUsername(String),
    /// The identity would impersonate a `system:` name.
    #[error("This identity may not log in.")]
    SystemIdentity(#[source] crate::auth::config::SystemIdentity),
}

impl SsoFailure {
    /// The status of the failure page.
    fn status(&self) -> StatusCode {
        match self {
            SsoFailure::TooManyStarts => StatusCode::TOO_MANY_REQUESTS,
            SsoFailure::SessionStore => StatusCode::SERVICE_UNAVAILABLE,
            SsoFailure::Provider(_)
            | SsoFailure::BadEndpoint(_)
            | SsoFailure::CodeRefused { .. }
            | SsoFailure::TokenEndpoint(_)
            | SsoFailure::NoIdToken => StatusCode::BAD_GATEWAY,
            SsoFailure::NoFlow | SsoFailure::WrongState | SsoFailure::NoCode => StatusCode::BAD_REQUEST,
            SsoFailure::Refused { .. } | SsoFailure::InvalidToken(_) | SsoFailure::NoUsername(_) => {
                StatusCode::UNAUTHORIZED
            }
            SsoFailure::SystemIdentity(_) => StatusCode::FORBIDDEN,
        }
    }

    /// The line under the headline: what to do, or what the provider or check said.
    fn detail(&self) -> String {
        match self {
            SsoFailure::TooManyStarts => "Wait a minute and try again.".to_owned(),
            SsoFailure::SessionStore => "Try again.".to_owned(),
            SsoFailure::NoFlow | SsoFailure::WrongState => "Start again from the login page.".to_owned(),
            SsoFailure::Provider(err) => err.to_string(),
            SsoFailure::TokenEndpoint(err) => err.to_string(),
            SsoFailure::InvalidToken(err) => err.to_string(),
            SsoFailure::SystemIdentity(err) => err.to_string(),
            SsoFailure::BadEndpoint(why) => why.clone(),
            SsoFailure::Refused { description, .. } => description.clone(),
            SsoFailure::CodeRefused { body, .. } => body.clone(),
            SsoFailure::NoCode | SsoFailure::NoIdToken | SsoFailure::NoUsername(_) => String::new(),
        }
    }
}

/// An HTML page about a failed login (every value escaped).
fn failure(state: &AppState, failed: &SsoFailure) -> Response {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let home = format!("{}/", state.base_path);
    let (what, detail) = (failed.to_string(), failed.detail());
    tracing::warn!(target: "audit", what, detail, "SSO login failed");
    state.metrics.login("oidc", "failure");
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Login failed · fluxboard</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem\">\
         <h1>Login failed</h1><p><strong>{}</strong></p><p>{}</p><p><a href=\"{}\">Back to the login page</a></p></body></html>",
        escape(&what),
        escape(&detail),
        escape(&home)
    );
    let mut response = (failed.status(), Html(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, "no-store".parse().expect("a header value"));
    response
}

/// How many SSO logins one client address may start per minute (each keeps a flow in a
/// session until it ends or expires).
const STARTS_PER_ADDRESS: usize = 30;

pub(crate) async fn login(
    State(state): State<Arc<AppState>>,
    session: Session,
    addr: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let Some(oidc) = &state.oidc else {
        return crate::http::error::ApiError::not_found("SSO is not configured").into_response();
    };
    let address = crate::auth::login::client(&state, addr.as_ref().map(|a| &a.0), &headers);
    match begin(&state, oidc, &session, &address).await {
        Ok(redirect) => redirect.into_response(),
        Err(failed) => failure(&state, &failed),
    }
}

/// Starts a login: a new flow in the session, and the redirect to the provider.
async fn begin(state: &AppState, oidc: &Oidc, session: &Session, address: &str) -> Result<Redirect, SsoFailure> {
    if state.limiter.hit(&format!("sso:{address}"), STARTS_PER_ADDRESS).await.is_err() {
        return Err(SsoFailure::TooManyStarts);
    }
    let (discovery, _) = oidc.provider(false).await.map_err(SsoFailure::Provider)?;
    let flow = Flow {
        state: random_token(),
        nonce: random_token(),
        verifier: random_token(),
        started: jiff::Timestamp::now().as_second(),
    };
    session.insert(SESSION_FLOW, &flow).await.map_err(|_| SsoFailure::SessionStore)?;
    let scopes = oidc.config.scopes.join(" ");
    let mut url =
        reqwest::Url::parse(&discovery.authorization_endpoint).map_err(|e| SsoFailure::BadEndpoint(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &oidc.config.client_id)
        .append_pair("redirect_uri", &oidc.config.redirect_url)
        .append_pair("scope", &scopes)
        .append_pair("state", &flow.state)
        .append_pair("nonce", &flow.nonce)
        .append_pair("code_challenge", &challenge(&flow.verifier))
        .append_pair("code_challenge_method", "S256");
    Ok(Redirect::to(url.as_str()))
}

#[derive(Debug, Deserialize)]
pub(crate) struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub(crate) async fn callback(
    State(state): State<Arc<AppState>>,
    session: Session,
    Query(params): Query<Callback>,
) -> Response {
    let Some(oidc) = &state.oidc else {
        return crate::http::error::ApiError::not_found("SSO is not configured").into_response();
    };
    match finish(&state, oidc, &session, params).await {
        Ok(redirect) => redirect.into_response(),
        Err(failed) => failure(&state, &failed),
    }
}

/// Ends a login: the flow checked, the code exchanged, the ID token verified, the session started.
async fn finish(state: &AppState, oidc: &Oidc, session: &Session, params: Callback) -> Result<Redirect, SsoFailure> {
    let flow: Option<Flow> = session.remove(SESSION_FLOW).await.ok().flatten();
    if let Some(error) = params.error {
        return Err(SsoFailure::Refused { error, description: params.error_description.unwrap_or_default() });
    }
    let flow =
        flow.filter(|f| jiff::Timestamp::now().as_second() - f.started < FLOW_TTL_SECS).ok_or(SsoFailure::NoFlow)?;
    if params.state.as_deref() != Some(flow.state.as_str()) {
        return Err(SsoFailure::WrongState);
    }
    let code = params.code.ok_or(SsoFailure::NoCode)?;
    let (discovery, keys) = oidc.provider(false).await.map_err(SsoFailure::Provider)?;
    let tokens = exchange(oidc, &discovery, code, &flow).await?;
    let id_token = tokens["id_token"].as_str().ok_or(SsoFailure::NoIdToken)?;
    let now = jiff::Timestamp::now().as_second();
    let mut verified = verify_id_token(id_token, &keys, &discovery.issuer, &oidc.config.client_id, &flow.nonce, now);
    if verified == Err(TokenError::UnknownKey) {
        // The provider may have rotated its keys.
        if let Ok((_, fresh)) = oidc.provider(true).await {
            verified = verify_id_token(id_token, &fresh, &discovery.issuer, &oidc.config.client_id, &flow.nonce, now);
        }
    }
    let claims = verified.map_err(SsoFailure::InvalidToken)?;
    let (user, groups) = names(&oidc.config, &claims)?;
    state.config.check_system_names(&user, &groups, "oidc").map_err(SsoFailure::SystemIdentity)?;
    let who = SessionUser { user, groups, method: "oidc".into(), login_at: now, fingerprint: None, reviewed_by: None };
    start_session(session, who.clone()).await.map_err(|_| SsoFailure::SessionStore)?;
    tracing::info!(target: "audit", user = who.user, groups = ?who.groups, "login (oidc)");
    state.metrics.login("oidc", "success");
    Ok(Redirect::to(&format!("{}/", state.base_path)))
}

/// Exchanges the authorization code (with the PKCE verifier) for the provider's tokens.
async fn exchange(oidc: &Oidc, discovery: &Discovery, code: String, flow: &Flow) -> Result<Value, SsoFailure> {
    let form = [
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("redirect_uri", oidc.config.redirect_url.clone()),
        ("code_verifier", flow.verifier.clone()),
        ("client_id", oidc.config.client_id.clone()),
    ];
    let mut req = oidc.http.post(&discovery.token_endpoint);
    if let Some(secret) = &oidc.secret {
        req = req.basic_auth(&oidc.config.client_id, Some(secret));
    }
    let body =
        form.iter().map(|(k, v)| format!("{k}={}", fluxboard_model::view::encode(v))).collect::<Vec<_>>().join("&");
    let res = req
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(SsoFailure::TokenEndpoint)?;
    if !res.status().is_success() {
        let status = res.status();
        return Err(SsoFailure::CodeRefused { status, body: res.text().await.unwrap_or_default() });
    }
    Ok(res.json().await.unwrap_or_default())
}

/// The user and groups of verified claims, prefixed as kube-apiserver's `--oidc-*-prefix` would.
fn names(config: &OidcConfig, claims: &Value) -> Result<(String, Vec<String>), SsoFailure> {
    let user = claims[&config.username_claim]
        .as_str()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| SsoFailure::NoUsername(config.username_claim.clone()))?;
    let groups: Vec<String> = match &claims[&config.groups_claim] {
        Value::Array(list) => {
            list.iter().filter_map(Value::as_str).map(|g| format!("{}{g}", config.groups_prefix)).collect()
        }
        Value::String(one) => vec![format!("{}{one}", config.groups_prefix)],
        _ => Vec::new(),
    };
    Ok((format!("{}{user}", config.username_prefix), groups))
}

/// Verifies an ID token: a key of the issuer's JWKS signed it (RS/PS/ES algorithms only), for
/// this client (`aud`, and `azp` when present or when there are several audiences), from this
/// issuer, issued in the past and valid now (`iat`, `nbf`, `exp`, with 30 s of leeway), with this
/// login's nonce. Returns its claims.
pub(crate) fn verify_id_token(
    token: &str,
    keys: &JwkSet,
    issuer: &str,
    client_id: &str,
    nonce: &str,
    now: i64,
) -> Result<Value, TokenError> {
    use jsonwebtoken::Algorithm;
    const LEEWAY: i64 = 30;
    let header = jsonwebtoken::decode_header(token).map_err(TokenError::Unreadable)?;
    if !matches!(
        header.alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
            | Algorithm::ES256
            | Algorithm::ES384
    ) {
        return Err(TokenError::Algorithm(header.alg));
    }
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None => keys.keys.first(),
    }
    .ok_or(TokenError::UnknownKey)?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(TokenError::UnusableKey)?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = LEEWAY as u64;
    // Times are checked below against `now`, so tests can pin the time.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(TokenError::Rejected)?;
    let claims = data.claims;
    let exp = claims["exp"].as_i64().ok_or(TokenError::NoExpiry)?;
    if exp + LEEWAY < now {
        return Err(TokenError::Expired);
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| nbf - LEEWAY > now) {
        return Err(TokenError::NotYetValid);
    }
    match claims["iat"].as_i64() {
        Some(iat) if iat - LEEWAY > now => return Err(TokenError::IssuedInFuture),
        Some(_) => {}
        None => return Err(TokenError::NoIssueTime),
    }
    // OpenID Connect Core 3.1.3.7: with several audiences azp must be present, and when present
    // it must be this client.
    let several = claims["aud"].as_array().is_some_and(|a| a.len() > 1);
    match claims["azp"].as_str() {
        Some(azp) if azp != client_id => return Err(TokenError::OtherParty(azp.to_owned())),
        None if several => return Err(TokenError::NoAuthorizedParty),
        _ => {}
    }
    if claims["nonce"].as_str() != Some(nonce) {
        return Err(TokenError::WrongNonce);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    /// A P-256 key pair: the signing key and the JWKS that publishes it.
    fn keys() -> (EncodingKey, JwkSet) {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let signing = EncodingKey::from_ec_der(&pair.serialize_der());
        let public = pair.public_key_raw();
        let (x, y) = public[1..].split_at(32);
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwks: JwkSet =
            serde_json::from_value(json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
            "alg": "ES256", "x": b64(x), "y": b64(y)}]}))
            .unwrap();
        (signing, jwks)
    }

    fn token(key: &EncodingKey, claims: Value) -> String {
        let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("k1".into());
        encode(&header, &claims, key).unwrap()
    }

    #[test]
    fn id_tokens_are_checked_for_signature_issuer_audience_expiry_and_nonce() {
        let (key, jwks) = keys();
        let now = 1_800_000_000;
        let good = json!({"iss": "https://idp", "aud": "fluxboard", "sub": "alice", "exp": now + 300, "iat": now,
            "nonce": "n1", "preferred_username": "alice", "groups": ["platform"]});
        let claims = verify_id_token(&token(&key, good.clone()), &jwks, "https://idp", "fluxboard", "n1", now).unwrap();
        assert_eq!(claims["groups"][0], "platform");
        let check = |claims: Value, nonce: &str| {
            verify_id_token(&token(&key, claims), &jwks, "https://idp", "fluxboard", nonce, now)
        };
        let why = |claims: Value| check(claims, "n1").unwrap_err().to_string();
        assert!(check(good.clone(), "other").unwrap_err().to_string().contains("nonce"));
        let mut expired = good.clone();
        expired["exp"] = json!(now - 600);
        assert!(why(expired).contains("expired"));
        assert_eq!(check(good.clone(), "other"), Err(TokenError::WrongNonce));
        let mut early = good.clone();
        early["nbf"] = json!(now + 600);
        assert!(why(early).contains("nbf"));
        let mut future = good.clone();
        future["iat"] = json!(now + 600);
        assert!(why(future).contains("iat"));
        let mut no_iat = good.clone();
        no_iat.as_object_mut().unwrap().remove("iat");
        assert!(why(no_iat).contains("iat"));
        let mut other_party = good.clone();
        other_party["azp"] = json!("another-client");
        assert!(why(other_party).contains("azp"));
        let mut two_audiences = good.clone();
        two_audiences["aud"] = json!(["fluxboard", "another-client"]);
        assert!(why(two_audiences.clone()).contains("azp"));
        two_audiences["azp"] = json!("fluxboard");
        assert!(check(two_audiences, "n1").is_ok());
        // An unknown key id is its own error (it triggers one JWKS refresh), whatever the text.
        let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("rotated".into());
        let rotated = encode(&header, &good, &key).unwrap();
        assert_eq!(
            verify_id_token(&rotated, &jwks, "https://idp", "fluxboard", "n1", now),
            Err(TokenError::UnknownKey)
        );
        let mut wrong_aud = good.clone();
        wrong_aud["aud"] = json!("someone-else");
        assert!(check(wrong_aud, "n1").is_err());
        let mut wrong_iss = good.clone();
        wrong_iss["iss"] = json!("https://evil");
        assert!(check(wrong_iss, "n1").is_err());
        // Signed by another key.
        let (other, _) = keys();
        assert!(verify_id_token(&token(&other, good.clone()), &jwks, "https://idp", "fluxboard", "n1", now).is_err());
        // Tampered payload.
        let t = token(&key, good);
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            json!({"iss": "https://idp", "aud": "fluxboard",
            "sub": "mallory", "exp": now + 300, "nonce": "n1"})
            .to_string(),
        );
        parts[1] = &forged;
        assert!(verify_id_token(&parts.join("."), &jwks, "https://idp", "fluxboard", "n1", now).is_err());
        // An unsigned token.
        assert!(verify_id_token("eyJhbGciOiJub25lIn0.e30.", &jwks, "https://idp", "fluxboard", "n1", now).is_err());
    }

    #[test]
    fn pkce_challenges_are_the_s256_of_the_verifier() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
