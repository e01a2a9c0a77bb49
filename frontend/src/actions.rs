//! Actions in the browser: who may act (from `/api/v1/me`), sending requests (never twice for
//! one click), following each request to its outcome on the live stream, and asking first for
//! the risky ones. The pieces on screen are the submodules: the detail page's buttons (`bar`),
//! the confirmation dialog (`dialog`) and the toasts (`toasts`).

mod bar;
mod dialog;
mod toasts;

use std::collections::HashMap;
use std::time::Duration;

use fluxboard_model::Summary;
use fluxboard_model::action::{Action, ActionResponse, HANDLE_DEADLINE_SECS, Outcome, ResultStatus, Target, outcome};
use fluxboard_model::auth::{Identity, Role};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::live::Live;

pub(crate) use bar::ActionBar;
pub(crate) use dialog::ConfirmDialog;
pub(crate) use toasts::Toasts;

/// One request being followed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pending {
    pub(crate) action: Action,
    pub(crate) token: String,
    /// `Date.now()` when it was accepted, in milliseconds.
    pub(crate) started: f64,
    /// Whether the final outcome was already announced.
    pub(crate) announced: bool,
    /// The final outcome, kept: the line tells what became of this request, not the object's
    /// later states.
    pub(crate) settled: Option<Outcome>,
}

/// A message in the corner.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Toast {
    pub(crate) id: u64,
    pub(crate) kind: &'static str,
    pub(crate) text: String,
}

/// The action state shared by every page.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Actions {
    pub(crate) me: RwSignal<Option<Identity>>,
    /// Followed requests by object key.
    pub(crate) pending: RwSignal<HashMap<String, Pending>>,
    /// Keys with a request on the wire (buttons are disabled meanwhile).
    pub(crate) sending: RwSignal<Vec<String>>,
    pub(crate) toasts: RwSignal<Vec<Toast>>,
    /// The request waiting for confirmation.
    pub(crate) confirm: RwSignal<Option<Confirm>>,
    /// Milliseconds since the epoch, ticking every second (for deadlines).
    pub(crate) now: RwSignal<f64>,
    next_toast: RwSignal<u64>,
}

/// A request that needs a yes first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Confirm {
    pub(crate) action: Action,
    pub(crate) targets: Vec<Target>,
    pub(crate) title: String,
    pub(crate) explanation: String,
}

fn key_of(t: &Target) -> String {
    let group = t
        .group
        .clone()
        .or_else(|| fluxboard_model::KINDS.iter().find(|k| k.kind == t.kind).map(|k| k.group.to_owned()));
    fluxboard_model::api::key(&t.cluster, &group.unwrap_or_default(), &t.kind, &t.namespace, &t.name)
}

/// The target of a summary.
pub(crate) fn target_of(s: &Summary) -> Target {
    Target {
        cluster: s.cluster.clone(),
        group: Some(s.group.clone()),
        kind: s.kind.clone(),
        namespace: s.namespace.clone(),
        name: s.name.clone(),
    }
}

/// What each action does, in one line (shown next to the risky ones).
pub(crate) fn explanation(action: Action) -> &'static str {
    match action {
        Action::Reconcile => "Ask the controller to reconcile now (sets reconcile.fluxcd.io/requestedAt).",
        Action::ReconcileWithSource => "Fetch the source first, wait until it is handled, then reconcile this object.",
        Action::Force => "Run a one-off Helm upgrade even if nothing changed (reconcile.fluxcd.io/forceAt).",
        Action::Reset => "Clear the failure counters so remediation starts over (reconcile.fluxcd.io/resetAt).",
        Action::Suspend => "Stop reconciling this object until it is resumed. Drift will not be corrected meanwhile.",
        Action::Resume => "Reconcile this object again, starting now.",
        Action::Restart => "Rolling restart of the controller Deployment (kubectl.kubernetes.io/restartedAt).",
    }
}

impl Actions {
    pub(crate) fn start(me: Identity) -> Actions {
        let actions = Actions {
            me: RwSignal::new(Some(me)),
            pending: RwSignal::new(HashMap::new()),
            sending: RwSignal::new(Vec::new()),
            toasts: RwSignal::new(Vec::new()),
            confirm: RwSignal::new(None),
            now: RwSignal::new(js_sys::Date::now()),
            next_toast: RwSignal::new(0),
        };
        set_interval(move || actions.now.set(js_sys::Date::now()), Duration::from_secs(1));
        actions
    }

    /// Whether the current user may do `action` to objects in `namespace` of `cluster`.
    pub(crate) fn may(&self, action: Action, cluster: &str, namespace: &str) -> bool {
        self.me.with(|me| me.as_ref().is_some_and(|me| me.may(action.role(), cluster, namespace)))
    }

    pub(crate) fn is_admin(&self) -> bool {
        self.me.with(|me| me.as_ref().is_some_and(|me| me.has_role_somewhere(Role::Admin)))
    }

    pub(crate) fn toast(&self, kind: &'static str, text: String) {
        // Toasts carry cluster text (messages, names): bidirectional controls shown, not obeyed.
        let text = fluxboard_model::view::plain(&text);
        let id = self.next_toast.get_untracked() + 1;
        self.next_toast.set(id);
        self.toasts.update(|t| {
            t.push(Toast { id, kind, text });
            if t.len() > 5
                && let Some(oldest) = t.iter().position(|x| x.kind != "error").or(Some(0))
            {
                t.remove(oldest);
            }
        });
        // Errors stay until dismissed (they must be read); the rest also show in the page.
        if kind != "error" {
            let toasts = self.toasts;
            set_timeout(move || toasts.update(|t| t.retain(|x| x.id != id)), Duration::from_secs(12));
        }
    }

    /// Asks first when the action (or a bulk request) deserves it, then sends.
    pub(crate) fn request(&self, action: Action, targets: Vec<Target>, title: String) {
        if action.needs_confirmation() || targets.len() > 1 {
            dialog::remember_opener();
            self.confirm.set(Some(Confirm { action, targets, title, explanation: explanation(action).to_owned() }));
        } else {
            self.send(action, targets, None);
        }
    }

    /// Sends an action request (once: targets already on the wire are skipped).
    pub(crate) fn send(&self, action: Action, targets: Vec<Target>, reason: Option<String>) {
        let keys: Vec<String> = targets.iter().map(key_of).collect();
        if self.sending.with_untracked(|s| keys.iter().any(|k| s.contains(k))) {
            return;
        }
        self.sending.update(|s| s.extend(keys.iter().cloned()));
        let actions = *self;
        spawn_local(async move {
            let result = crate::api::act(action, &targets, reason).await;
            actions.sending.update(|s| s.retain(|k| !keys.contains(k)));
            match result {
                Ok(response) => actions.follow(action, &response),
                Err(error) => actions.toast("error", error.to_string()),
            }
        });
    }

    /// Follows every accepted target of an answer on the stream; says which were refused.
    fn follow(&self, action: Action, response: &ActionResponse) {
        let now = js_sys::Date::now();
        let mut refused = Vec::new();
        self.pending.update(|p| {
            for r in &response.results {
                match (&r.status, &r.token) {
                    (ResultStatus::Accepted, Some(token)) => {
                        let pending =
                            Pending { action, token: token.clone(), started: now, announced: false, settled: None };
                        p.insert(key_of(&r.target), pending);
                    }
                    _ => refused.push(format!("{}: {}", describe_target(&r.target), r.message)),
                }
            }
        });
        let accepted = response.results.len() - refused.len();
        if response.results.len() > 1 {
            let text = format!("{} requested for {accepted} of {} objects", action.label(), response.results.len());
            self.toast("info", text);
        }
        for r in refused {
            self.toast("error", r);
        }
    }
}

/// "Kustomization team-a/podinfo in production".
fn describe_target(t: &Target) -> String {
    format!("{} {}/{} in {}", t.kind, t.namespace, t.name, t.cluster)
}

/// The outcome of the request followed for `key`, if any.
pub(crate) fn followed(actions: Actions, live: Live, key: &str) -> Option<(Pending, Outcome)> {
    let pending = actions.pending.with(|p| p.get(key).cloned())?;
    if let Some(settled) = pending.settled.clone() {
        return Some((pending, settled));
    }
    let summary = live.with_object(key, Summary::clone)?;
    let elapsed = (actions.now.get() - pending.started) / 1000.0;
    let outcome = outcome(pending.action, &pending.token, &summary, elapsed);
    Some((pending, outcome))
}

/// Announces final outcomes with a toast, once each.
pub(crate) fn announce_outcomes(actions: Actions, live: Live) {
    Effect::new(move |_| {
        let keys: Vec<String> =
            actions.pending.with(|p| p.iter().filter(|(_, v)| !v.announced).map(|(k, _)| k.clone()).collect());
        for key in keys {
            let Some((pending, outcome)) = followed(actions, live, &key) else { continue };
            if !outcome.is_final() {
                continue;
            }
            let name = match key.splitn(5, '/').collect::<Vec<_>>().as_slice() {
                [cluster, _, kind, ns, name] => format!("{kind} {ns}/{name} in {cluster}"),
                _ => key.clone(),
            };
            let (kind, text) = describe(pending.action, &outcome);
            actions.toast(kind, format!("{name}: {text}"));
            actions.pending.update(|p| {
                if let Some(v) = p.get_mut(&key) {
                    v.announced = true;
                    v.settled = Some(outcome.clone());
                }
            });
        }
    });
}

/// A message with every long hex digest cut to 7 characters ("main@sha1:474be93"): the full one
/// is on the detail page.
fn short_digests(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            fluxboard_model::view::short_revision(word.trim_end_matches(['.', ',']))
                + &word[word.trim_end_matches(['.', ',']).len()..]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How an outcome reads, and its toast style.
pub(crate) fn describe(action: Action, outcome: &Outcome) -> (&'static str, String) {
    match outcome {
        Outcome::Pending => ("info", format!("{} requested, waiting for the controller…", action.label())),
        Outcome::Progressing => ("info", "handled, reconciling…".to_owned()),
        Outcome::Succeeded(_) if action == Action::Suspend => ("ok", "suspended".to_owned()),
        Outcome::Succeeded(m) => ("ok", format!("handled: Ready. {}", fluxboard_model::view::plain(&short_digests(m)))),
        Outcome::FailingRetrying(m) => {
            ("error", format!("handled: failing, retrying. {}", fluxboard_model::view::plain(&short_digests(m))))
        }
        Outcome::Failed(m) => {
            ("error", format!("handled: failed. {}", fluxboard_model::view::plain(&short_digests(m))))
        }
        Outcome::NotHandled => {
            ("error", format!("not handled after {} s: is the controller running?", HANDLE_DEADLINE_SECS as u64))
        }
    }
}
