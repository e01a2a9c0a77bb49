//! Who is asking: the identity on every request, and what it may see.
//!
//! Login (local users, OIDC, Kubernetes tokens, sessions) is a later issue; until then every
//! request gets the identity the server was started with (`--open-role`, viewer by default; the
//! demo runs as an admin). Handlers already read the identity from the request, so sessions
//! slot in by replacing [`identity_layer`].

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
pub use fluxboard_model::auth::{Grant, Identity, Role, glob};

use crate::store::Visibility;

/// What `identity` may see: objects in namespaces it holds any role for; the states of clusters
/// it holds any role in.
pub fn visibility(identity: &Identity) -> Visibility {
    let grants = identity.grants.clone();
    Arc::new(move |cluster, namespace| {
        grants.iter().any(|g| {
            g.clusters.iter().any(|c| glob(c, cluster))
                && (namespace.is_empty() || g.namespaces.iter().any(|n| glob(n, namespace)))
        })
    })
}

/// Puts `identity` on every request (the seam where sessions will go).
pub async fn identity_layer(identity: Arc<Identity>, mut req: Request, next: Next) -> Response {
    req.extensions_mut().insert(identity);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_follows_the_grants() {
        let id = Identity {
            user: "ann".into(),
            groups: vec![],
            grants: vec![Grant {
                role: Role::Viewer,
                clusters: vec!["prod".into()],
                namespaces: vec!["team-*".into()],
            }],
        };
        let visible = visibility(&id);
        assert!(visible("prod", "team-b") && visible("prod", ""));
        assert!(!visible("prod", "flux-system") && !visible("staging", "team-a"));
    }
}
