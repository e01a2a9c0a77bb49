//! The audit trail (`GET /api/v1/audit`): every action attempt, accepted or refused, kept in
//! memory or in Redis, and written as a structured log line. The endpoint answers a page
//! (`fluxboard_model::audit::AuditQuery`: `offset`, `limit`, `refused`; everything without
//! them) with the number of entries that match in its `X-Total-Count` header.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use fluxboard_model::action::{Action, AuditEntry, MAX_REASON, ResultStatus, Target};
use fluxboard_model::audit::{AuditQuery, TOTAL_HEADER};

use crate::auth::Caller;
use crate::auth::{Identity, Role};
use crate::http::error::ApiError;
use crate::state::AppState;

/// How many audit entries each ring keeps.
const AUDIT_CAPACITY: usize = 1000;

/// The audit trail. Accepted (and failed) actions and refusals are kept in rings of their own,
/// so refusals, however many, never push an accepted action out; a request's refused targets
/// make one entry; each user's refusals are recorded at most [`REFUSALS_PER_USER`] a minute
/// (the log line is written anyway). With Redis the rings are Redis lists
/// (`fluxboard:audit:acted`, `fluxboard:audit:refused`) shared by every replica; without it,
/// or when Redis cannot answer, this replica's memory.
#[derive(Debug, Default)]
pub struct Audit {
    acted: Mutex<VecDeque<AuditEntry>>,
    refused: Mutex<VecDeque<AuditEntry>>,
    refusals: crate::auth::limiter::Limits,
    redis: Option<crate::auth::limiter::RedisConn>,
}

/// How many refusals of one user the audit list keeps per minute.
pub const REFUSALS_PER_USER: usize = 30;

const AUDIT_RINGS: [&str; 2] = ["fluxboard:audit:acted", "fluxboard:audit:refused"];

impl Audit {
    /// An audit trail in this replica's memory, or in Redis.
    pub fn new(redis: Option<crate::auth::limiter::RedisConn>) -> Audit {
        let refusals = match &redis {
            Some(conn) => crate::auth::limiter::Limits::Redis { conn: conn.clone(), local: Arc::default() },
            None => crate::auth::limiter::Limits::default(),
        };
        Audit { refusals, redis, ..Audit::default() }
    }

    pub async fn record(&self, entry: AuditEntry) {
        let target = entry.target.as_ref();
        tracing::info!(
            target: "audit",
            action = entry.action.map(Action::label),
            cluster = target.map(|t| t.cluster.as_str()),
            kind = target.map(|t| t.kind.as_str()),
            namespace = target.map(|t| t.namespace.as_str()),
            name = target.map(|t| t.name.as_str()),
            user = entry.user,
            groups = entry.groups.join(","),
            result = match entry.status {
                ResultStatus::Accepted => "accepted",
                ResultStatus::Refused => "refused",
                ResultStatus::Failed => "failed",
            },
            token = entry.token.as_deref(),
            message = entry.message,
            "action"
        );
        let refused = entry.status == ResultStatus::Refused;
        if refused && self.refusals.hit(&format!("refusals:{}", entry.user), REFUSALS_PER_USER).await.is_err() {
            return;
        }
        if let Some(conn) = &self.redis {
            let ring = AUDIT_RINGS[usize::from(refused)];
            let mut conn = conn.0.clone();
            let json = serde_json::to_string(&entry).unwrap_or_default();
            let stored: redis::RedisResult<()> = redis::pipe()
                .cmd("LPUSH")
                .arg(ring)
                .arg(json)
                .ignore()
                .cmd("LTRIM")
                .arg(ring)
                .arg(0)
                .arg(AUDIT_CAPACITY as i64 - 1)
                .ignore()
                .query_async(&mut conn)
                .await;
            match stored {
                Ok(()) => return,
                Err(err) => tracing::warn!(%err, "Redis audit unavailable: kept in this replica"),
            }
        }
        let ring = if refused { &self.refused } else { &self.acted };
        let mut entries = ring.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() == AUDIT_CAPACITY {
            entries.pop_back();
        }
        entries.push_front(entry);
    }

    /// Every entry, newest first.
    pub async fn entries(&self) -> Vec<AuditEntry> {
        let mut all: Vec<AuditEntry> = [&self.acted, &self.refused]
            .iter()
            .flat_map(|ring| ring.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect::<Vec<_>>())
            .collect();
        if let Some(conn) = &self.redis {
            for ring in AUDIT_RINGS {
                let mut conn = conn.0.clone();
                let stored: redis::RedisResult<Vec<String>> =
                    redis::cmd("LRANGE").arg(ring).arg(0).arg(-1).query_async(&mut conn).await;
                match stored {
                    Ok(list) => all.extend(list.iter().filter_map(|j| serde_json::from_str::<AuditEntry>(j).ok())),
                    Err(err) => tracing::warn!(%err, "Redis audit unavailable: showing this replica's"),
                }
            }
        }
        all.sort_by(|a, b| b.time.cmp(&a.time));
        all
    }
}

/// An audit entry for `identity` now (`reason`: what the user gave, if the request was read,
/// clipped to [`MAX_REASON`] characters: a refused request's reason may be longer).
pub(crate) fn entry(
    identity: &Identity,
    (action, reason): (Option<Action>, Option<&str>),
    target: Option<Target>,
    token: Option<String>,
    status: ResultStatus,
    message: &str,
) -> AuditEntry {
    AuditEntry {
        reason: reason.filter(|r| !r.is_empty()).map(|r| r.chars().take(MAX_REASON).collect()),
        time: jiff::Timestamp::now().to_string(),
        user: identity.user.clone(),
        groups: identity.groups.clone(),
        action,
        target,
        token,
        status,
        message: message.to_owned(),
    }
}

pub(crate) async fn get_audit(
    State(state): State<Arc<AppState>>,
    Caller(identity): Caller,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    if !identity.has_role_somewhere(Role::Admin) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "the audit log is for admins"));
    }
    let page = AuditQuery::parse(query.as_deref().unwrap_or_default()).map_err(ApiError::bad_request)?;
    // An admin of some places sees what happened there; entries without a target (malformed
    // requests) only admins of everything see.
    let everywhere = identity
        .grants
        .iter()
        .any(|g| g.role == Role::Admin && g.clusters.iter().any(|c| c == "*") && g.namespaces.iter().any(|n| n == "*"));
    let entries = state.audit.entries().await.into_iter().filter(|e| match &e.target {
        Some(t) => identity.may(Role::Admin, &t.cluster, &t.namespace),
        None => everywhere,
    });
    let (entries, total) = page.page(entries);
    Ok(([(HeaderName::from_static(TOTAL_HEADER), total.to_string())], Json(entries)))
}
