//! Request plumbing shared by every route: the connections (`conn`), the error body (`error`),
//! which Host values the server answers (DNS-rebinding
//! protection), the same-origin rule for state-changing requests, the JSON content type, and the
//! headers every response carries (`Cache-Control: no-store` and `Vary: Cookie` on API and auth
//! answers, HSTS when cookies are secure).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub mod conn;
pub(crate) mod error;

use crate::http::error::{ApiError, Reason};
use crate::state::AppState;

/// The largest request body any route accepts.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// The Host values this server answers and the origins it trusts, from `externalUrl` and
/// `allowedHosts`. Empty: any Host is answered and an Origin must name the request's own Host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hosts {
    /// `host[:port]`, lower case.
    hosts: Vec<String>,
    /// `scheme://host[:port]`, lower case (the external URL's origin).
    origins: Vec<String>,
}

/// Why `externalUrl` or `allowedHosts` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostsError {
    /// `externalUrl` is not an http(s) URL.
    #[error("externalUrl must be an http(s) URL: {0:?}")]
    ExternalUrl(String),
    /// An `allowedHosts` entry is empty or more than `host[:port]`.
    #[error("allowedHosts entries are host[:port]: {0:?}")]
    AllowedHosts(Vec<String>),
}

impl Hosts {
    /// From the configured external URL (`https://fluxboard.example.com/flux`) and extra hosts.
    pub fn new(external_url: Option<&str>, allowed: &[String]) -> Result<Hosts, HostsError> {
        let mut hosts: Vec<String> = allowed.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
        let mut origins = Vec::new();
        if let Some(url) = external_url {
            let origin = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
            let (scheme, authority) = parse_origin(&origin).ok_or_else(|| HostsError::ExternalUrl(url.to_owned()))?;
            origins.push(format!("{scheme}://{authority}"));
            hosts.push(authority);
        }
        if !hosts.iter().all(|h| !h.is_empty() && !h.contains(['/', ' ', '@'])) {
            return Err(HostsError::AllowedHosts(allowed.to_vec()));
        }
        Ok(Hosts { hosts, origins })
    }

    /// Whether a request with this Host header is answered.
    pub fn allows_host(&self, host: Option<&str>) -> bool {
        self.hosts.is_empty() || host.is_some_and(|h| self.hosts.iter().any(|allowed| h.eq_ignore_ascii_case(allowed)))
    }

    /// Whether `origin` (`scheme://host[:port]`) is this server, for a request to `host`.
    fn allows_origin(&self, scheme: &str, authority: &str, host: &str) -> bool {
        let origin = format!("{scheme}://{authority}");
        if self.origins.contains(&origin) {
            return true;
        }
        // The request's own Host, by http or https, when it is an allowedHosts entry (or nothing
        // is configured); the external URL's host only by the external URL's scheme.
        let external = self.origins.iter().any(|o| o.split_once("://").is_some_and(|(_, a)| a == authority));
        let named = self.hosts.is_empty() || self.hosts.iter().any(|h| h == authority);
        named && !external && authority == host.to_ascii_lowercase()
    }
}

/// `(scheme, authority)` of an `http(s)://host[:port]` origin, lower case; None otherwise.
fn parse_origin(text: &str) -> Option<(String, String)> {
    let (scheme, authority) = text.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = authority.to_ascii_lowercase();
    let valid = matches!(scheme.as_str(), "http" | "https")
        && !authority.is_empty()
        && authority.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    valid.then_some((scheme, authority))
}

/// Why a request was refused before its handler looked at what it asks: the origin, content
/// type and body checks every state-changing route makes first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A browser sent it from another site; the text names the header that says so.
    #[error("cross-site request refused ({0})")]
    CrossSite(String),
    /// The body is not declared as `application/json`.
    #[error("send the request as application/json")]
    NotJson,
    /// The body is larger than [`BODY_LIMIT`].
    #[error("the request body is larger than {BODY_LIMIT} bytes")]
    TooLarge,
    /// The body could not be read (cut off, too slow, broken), with the status to answer.
    #[error("cannot read the request body: {why}")]
    Unreadable {
        /// The status to answer (400 unless the body layer said otherwise).
        status: StatusCode,
        /// What went wrong.
        why: String,
    },
}

impl Reason for RequestError {
    fn status(&self) -> StatusCode {
        match self {
            RequestError::CrossSite(_) => StatusCode::FORBIDDEN,
            RequestError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RequestError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::Unreadable { status, .. } => *status,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            RequestError::CrossSite(_) => "cross_site",
            RequestError::NotJson => "unsupported_media_type",
            RequestError::TooLarge | RequestError::Unreadable { .. } => "bad_body",
        }
    }
}

/// Refuses a state-changing request that a browser sent from another site: `Sec-Fetch-Site`
/// other than `same-origin`/`none`, or an `Origin` that is not this server (scheme included).
/// Headers that cannot be read, or several `Origin` headers, are refused too. Clients that are
/// not browsers send neither header and pass.
pub(crate) fn same_origin(headers: &HeaderMap, hosts: &Hosts) -> Result<(), RequestError> {
    let refused = |why: &str| Err(RequestError::CrossSite(why.to_owned()));
    let mut sites = headers.get_all("sec-fetch-site").iter();
    match (sites.next(), sites.next()) {
        (None, _) => {}
        (Some(site), None) => match site.to_str() {
            Ok("same-origin" | "none") => {}
            Ok(site) => return refused(&format!("Sec-Fetch-Site: {site}")),
            Err(_) => return refused("unreadable Sec-Fetch-Site"),
        },
        _ => return refused("several Sec-Fetch-Site headers"),
    }
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let origin = match (origins.next(), origins.next()) {
        (None, _) => return Ok(()),
        (Some(origin), None) => match origin.to_str() {
            Ok(origin) => origin,
            Err(_) => return refused("unreadable Origin"),
        },
        _ => return refused("several Origin headers"),
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    match parse_origin(origin) {
        Some((scheme, authority)) if hosts.allows_origin(&scheme, &authority, host) => Ok(()),
        _ => refused(&format!("Origin {} is not this server", origin.chars().take(100).collect::<String>())),
    }
}

/// Whether the request says its body is JSON.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")))
}

/// The checks every JSON route makes first, in order: same origin, a JSON content type, a body
/// that could be read whole (within [`BODY_LIMIT`]).
pub(crate) fn json_body(
    hosts: &Hosts,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, RequestError> {
    same_origin(headers, hosts)?;
    if !is_json(headers) {
        return Err(RequestError::NotJson);
    }
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => RequestError::TooLarge,
        status => RequestError::Unreadable { status, why: rejection.to_string() },
    })
}

/// Reads a whole request body within [`BODY_LIMIT`]: too large is [`RequestError::TooLarge`],
/// cut off, too slow or broken is a 400.
pub(crate) async fn read_body(body: axum::body::Body) -> Result<Bytes, RequestError> {
    axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|err| body_error(&err))
}

/// A body that could not be read: too large, or cut off, too slow or broken.
fn body_error(err: &axum::Error) -> RequestError {
    // axum wraps http-body-util's LengthLimitError, whose only public face is its message.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.to_string().contains("length limit exceeded") {
            return RequestError::TooLarge;
        }
        source = e.source();
    }
    RequestError::Unreadable { status: StatusCode::BAD_REQUEST, why: err.to_string() }
}

/// Gives a request's body one total deadline (`Options::body_timeout`, 30 s by default, from
/// the request's start): a client trickling a byte now and then cannot hold a handler (a timer
/// between frames, as tower-http's body timeout has, would let it).
pub(crate) async fn body_deadline(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let deadline = tokio::time::Instant::now() + state.body_timeout;
    let frames = futures::stream::unfold((body.into_data_stream(), false), move |(mut data, done)| async move {
        if done {
            return None;
        }
        match tokio::time::timeout_at(deadline, futures::StreamExt::next(&mut data)).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), (data, false))),
            Ok(Some(Err(err))) => Some((Err(std::io::Error::other(err.to_string())), (data, true))),
            Ok(None) => None,
            Err(_) => Some((
                Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the request body took too long")),
                (data, true),
            )),
        }
    });
    next.run(Request::from_parts(parts, axum::body::Body::from_stream(frames))).await
}

/// The outer guard of every request: two Host headers get 400 and a Host this server does not
/// answer 421, before any handler (probes are excepted from the 421); answers from `/api/` and
/// `/auth/` are never cached and vary by cookie; HSTS goes out when cookies are marked secure
/// (the server is meant to be reached over HTTPS).
pub(crate) async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let probe = matches!(path.as_str(), "/healthz" | "/readyz");
    // RFC 9112 3.2: a request with more than one Host is answered 400 (a proxy and this server
    // could each read another one).
    if req.headers().get_all(header::HOST).iter().nth(1).is_some() {
        return ApiError::bad_request("a request must have exactly one Host header").into_response();
    }
    let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok());
    if !probe && !state.hosts.allows_host(host) {
        return ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "unknown_host",
            "this server does not answer for that host name (allowedHosts, externalUrl)",
        )
        .into_response();
    }
    let mut response = next.run(req).await;
    // A layer that failed without a body of ours (the session store on save): JSON too.
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        tracing::error!(path, "a request failed inside a layer (the session store?)");
        response = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not finish the request; try again",
        )
        .into_response();
    }
    let headers = response.headers_mut();
    let rest = path.strip_prefix(state.base_path.as_str()).unwrap_or(&path);
    let private = rest.starts_with("/api/") || rest.starts_with("/auth/");
    if private {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.append(header::VARY, HeaderValue::from_static("cookie"));
    }
    if state.config.sessions.secure_cookie {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn the_same_origin_rule_compares_the_whole_origin() {
        let open = Hosts::default();
        assert!(same_origin(&headers(&[]), &open).is_ok(), "non-browser clients send neither header");
        let ok = headers(&[("sec-fetch-site", b"same-origin"), ("origin", b"http://h:1"), ("host", b"h:1")]);
        assert!(same_origin(&ok, &open).is_ok());
        for bad in [
            headers(&[("sec-fetch-site", b"cross-site")]),
            headers(&[("sec-fetch-site", b"same-site")]),
            headers(&[("sec-fetch-site", b"\xff")]),
            headers(&[("origin", b"http://evil.example"), ("host", b"h:1")]),
            headers(&[("origin", b"null"), ("host", b"h:1")]),
            headers(&[("origin", b"ftp://h:1"), ("host", b"h:1")]),
            headers(&[("origin", b"http://\xff"), ("host", b"h:1")]),
            headers(&[("origin", b"http://h:1"), ("origin", b"http://evil"), ("host", b"h:1")]),
        ] {
            assert!(same_origin(&bad, &open).is_err(), "{bad:?}");
        }
        // With an external URL, only its origin (scheme included) is this server.
        let hosts = Hosts::new(Some("https://flux.example.com/board/"), &[]).unwrap();
        let to = |origin: &[u8]| headers(&[("origin", origin), ("host", b"flux.example.com")]);
        assert!(same_origin(&to(b"https://flux.example.com"), &hosts).is_ok());
        assert!(same_origin(&to(b"http://flux.example.com"), &hosts).is_err(), "the scheme counts");
        assert!(same_origin(&to(b"https://rebind.attacker.example"), &hosts).is_err());
    }

    #[test]
    fn only_configured_hosts_are_answered() {
        assert!(Hosts::default().allows_host(Some("anything:1")));
        let hosts = Hosts::new(None, &["127.0.0.1:8080".into(), "localhost:8080".into()]).unwrap();
        assert!(hosts.allows_host(Some("127.0.0.1:8080")) && hosts.allows_host(Some("LOCALHOST:8080")));
        assert!(!hosts.allows_host(Some("rebind.attacker.example:8080")));
        assert!(!hosts.allows_host(None));
        // A rebinding page sends matching Host and Origin: the Host check stops it first, and
        // its Origin is not trusted either.
        let rebind =
            headers(&[("origin", b"http://rebind.attacker.example:8080"), ("host", b"rebind.attacker.example:8080")]);
        assert!(same_origin(&rebind, &hosts).is_err());
        assert!(Hosts::new(Some("ftp://x"), &[]).is_err());
        assert!(Hosts::new(None, &["a/b".into()]).is_err());
    }
}
