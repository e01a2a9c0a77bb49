//! Actions in the browser: who may act (from `/api/v1/me`), sending requests (never twice for
//! one click), following each request to its outcome on the live stream, confirmation for the
//! risky ones, toasts, and the controllers and audit pages.

use std::collections::HashMap;
use std::time::Duration;

use fluxboard_model::action::{
    Action, ActionResponse, AuditEntry, ControllerStatus, HANDLE_DEADLINE_SECS, Outcome, ResultStatus, Target, outcome,
};
use fluxboard_model::api::ObjectRef;
use fluxboard_model::auth::{Identity, Role};
use fluxboard_model::{Summary, kind_info};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::live::Live;
use crate::route::{Link, detail_href};
use crate::ui::Table;

/// One request being followed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pending {
    pub(crate) action: Action,
    pub(crate) token: String,
    /// `Date.now()` when it was accepted, in milliseconds.
    pub(crate) started: f64,
    /// Whether the final outcome was already announced.
    pub(crate) announced: bool,
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
    format!("{}/{}/{}/{}/{}", t.cluster, group.unwrap_or_default(), t.kind, t.namespace, t.name)
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
        let role = if action == Action::Restart { Role::Admin } else { Role::Operator };
        self.me.with(|me| me.as_ref().is_some_and(|me| me.may(role, cluster, namespace)))
    }

    pub(crate) fn is_admin(&self) -> bool {
        self.me.with(|me| me.as_ref().is_some_and(|me| me.has_role_somewhere(Role::Admin)))
    }

    pub(crate) fn toast(&self, kind: &'static str, text: String) {
        let id = self.next_toast.get_untracked() + 1;
        self.next_toast.set(id);
        self.toasts.update(|t| {
            t.push(Toast { id, kind, text });
            if t.len() > 5 {
                t.remove(0);
            }
        });
        let toasts = self.toasts;
        set_timeout(move || toasts.update(|t| t.retain(|x| x.id != id)), Duration::from_secs(10));
    }

    /// Asks first when the action (or a bulk request) deserves it, then sends.
    pub(crate) fn request(&self, action: Action, targets: Vec<Target>, title: String) {
        if action.needs_confirmation() || targets.len() > 1 {
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
            let mut body = serde_json::json!({"action": action, "reason": reason});
            if targets.len() == 1 {
                let t = &targets[0];
                body["cluster"] = t.cluster.clone().into();
                body["group"] = t.group.clone().into();
                body["kind"] = t.kind.clone().into();
                body["namespace"] = t.namespace.clone().into();
                body["name"] = t.name.clone().into();
            } else {
                body["targets"] = serde_json::to_value(&targets).unwrap_or_default();
            }
            let result = crate::http::post_json::<ActionResponse>("api/v1/actions", &body)
                .await
                .and_then(|r| r.ok_or_else(|| "fluxboard sent no answer".to_owned()));
            actions.sending.update(|s| s.retain(|k| !keys.contains(k)));
            match result {
                Ok(response) => {
                    let now = js_sys::Date::now();
                    let mut refused = Vec::new();
                    actions.pending.update(|p| {
                        for r in &response.results {
                            match (&r.status, &r.token) {
                                (ResultStatus::Accepted, Some(token)) => {
                                    p.insert(
                                        key_of(&r.target),
                                        Pending { action, token: token.clone(), started: now, announced: false },
                                    );
                                }
                                _ => refused.push(format!("{}/{}: {}", r.target.namespace, r.target.name, r.message)),
                            }
                        }
                    });
                    let accepted = response.results.len() - refused.len();
                    if response.results.len() > 1 {
                        actions.toast(
                            "info",
                            format!(
                                "{} requested for {accepted} of {} objects",
                                action.label(),
                                response.results.len()
                            ),
                        );
                    }
                    for r in refused {
                        actions.toast("error", r);
                    }
                }
                Err(message) => actions.toast("error", message),
            }
        });
    }
}

/// The outcome of the request followed for `key`, if any.
pub(crate) fn followed(actions: Actions, live: Live, key: &str) -> Option<(Pending, Outcome)> {
    let pending = actions.pending.with(|p| p.get(key).cloned())?;
    let summary = live.fleet.with(|f| f.objects.get(key).map(|r| r.summary.clone()))?;
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
            let name = key.splitn(4, '/').nth(3).unwrap_or(&key).to_owned();
            let (kind, text) = describe(pending.action, &outcome);
            actions.toast(kind, format!("{name}: {text}"));
            actions.pending.update(|p| {
                if let Some(v) = p.get_mut(&key) {
                    v.announced = true;
                }
            });
        }
    });
}

/// How an outcome reads, and its toast style.
pub(crate) fn describe(action: Action, outcome: &Outcome) -> (&'static str, String) {
    match outcome {
        Outcome::Pending => ("info", format!("{} requested, waiting for the controller…", action.label())),
        Outcome::Progressing => ("info", "handled, reconciling…".to_owned()),
        Outcome::Succeeded(_) if action == Action::Suspend => ("ok", "suspended".to_owned()),
        Outcome::Succeeded(m) => ("ok", format!("handled: Ready. {m}")),
        Outcome::FailingRetrying(m) => ("error", format!("handled: failing, retrying. {m}")),
        Outcome::Failed(m) => ("error", format!("handled: failed. {m}")),
        Outcome::NotHandled => {
            ("error", format!("not handled after {} s: is the controller running?", HANDLE_DEADLINE_SECS as u64))
        }
    }
}

/// The buttons of the detail page.
#[component]
pub(crate) fn ActionBar(summary: Signal<Option<Summary>>) -> impl IntoView {
    let actions = expect_context::<Actions>();
    let live = expect_context::<Live>();
    move || {
        let s = summary.get()?;
        kind_info(&s.group, &s.kind)?;
        if !actions.may(Action::Reconcile, &s.cluster, &s.namespace) {
            return None;
        }
        let key = fluxboard_model::view::key(&s);
        let served = live.served_version(&s.cluster, &s.group, &s.kind);
        let offered = fluxboard_model::action::offered(&s, served.as_deref());
        let title = format!("{} {}/{}", s.kind, s.namespace, s.name);
        let target = target_of(&s);
        let key_for_status = key.clone();
        let buttons = offered
            .into_iter()
            .map(|action| {
                let (target, title, key) = (target.clone(), title.clone(), key.clone());
                let busy_key = key.clone();
                let label = match action {
                    Action::Reconcile => "Reconcile",
                    Action::ReconcileWithSource => "Reconcile with source",
                    Action::Force => "Force upgrade",
                    Action::Reset => "Reset failures",
                    Action::Suspend => "Suspend",
                    Action::Resume => "Resume",
                    Action::Restart => "Restart",
                };
                let primary = matches!(action, Action::Reconcile | Action::Resume);
                view! {
                    <button
                        class=if primary { "btn primary" } else { "btn" }
                        title=explanation(action)
                        data-action=format!("{action:?}")
                        disabled=move || actions.sending.with(|s| s.contains(&busy_key))
                        on:click=move |_| actions.request(action, vec![target.clone()], title.clone())
                    >
                        {label}
                    </button>
                }
            })
            .collect_view();
        Some(view! {
            <div class="action-bar" role="group" aria-label="Actions">
                {buttons}
                <span class="action-status" role="status" aria-live="polite" data-testid="action-status">
                    {
                        let key = key_for_status.clone();
                        move || {
                            if actions.sending.with(|s| s.contains(&key)) {
                                return "sending…".to_owned();
                            }
                            followed(actions, live, &key).map(|(p, o)| describe(p.action, &o).1).unwrap_or_default()
                        }
                    }
                </span>
                {move || {
                    matches!(followed(actions, live, &key_for_status), Some((_, Outcome::NotHandled)))
                        .then(|| view! { <Link href="/controllers" class="controllers-link">"Check the controllers"</Link> })
                }}
            </div>
        })
    }
}

/// The confirmation dialog and the toasts.
#[component]
pub(crate) fn Overlays() -> impl IntoView {
    let actions = expect_context::<Actions>();
    let reason = RwSignal::new(String::new());
    view! {
        {move || {
            actions
                .confirm
                .get()
                .map(|c| {
                    let count = c.targets.len();
                    let heading = if count > 1 {
                        format!("{} {count} objects?", capitalize(c.action.label()))
                    } else {
                        format!("{} {}?", capitalize(c.action.label()), c.title)
                    };
                    let ask_reason = c.action == Action::Suspend;
                    let go = c.clone();
                    view! {
                        <div class="modal-backdrop">
                            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-title">
                                <h2 id="confirm-title">{heading}</h2>
                                <p>{c.explanation.clone()}</p>
                                {(count > 1)
                                    .then(|| {
                                        view! {
                                            <ul class="confirm-list">
                                                {c.targets.iter().take(10).map(|t| view! { <li>{format!("{} {}/{}", t.kind, t.namespace, t.name)}</li> }).collect_view()}
                                                {(count > 10).then(|| view! { <li>{format!("and {} more", count - 10)}</li> })}
                                            </ul>
                                        }
                                    })}
                                {ask_reason
                                    .then(|| {
                                        view! {
                                            <label class="filter" for="confirm-reason">
                                                <span>"Reason (recorded on the object)"</span>
                                                <input
                                                    id="confirm-reason"
                                                    type="text"
                                                    maxlength="500"
                                                    prop:value=move || reason.get()
                                                    on:input=move |ev| reason.set(event_target_value(&ev))
                                                />
                                            </label>
                                        }
                                    })}
                                <div class="modal-buttons">
                                    <button class="btn" on:click=move |_| actions.confirm.set(None)>"Cancel"</button>
                                    <button
                                        class="btn primary"
                                        data-testid="confirm"
                                        on:click=move |_| {
                                            let why = reason.get_untracked();
                                            actions.confirm.set(None);
                                            reason.set(String::new());
                                            actions.send(go.action, go.targets.clone(), (!why.is_empty()).then_some(why));
                                        }
                                    >
                                        {capitalize(c.action.label())}
                                    </button>
                                </div>
                            </div>
                        </div>
                    }
                })
        }}
        <div class="toasts" role="log" aria-live="polite" aria-label="Notifications">
            <For each=move || actions.toasts.get() key=|t| t.id let:toast>
                <div class=format!("toast toast-{}", toast.kind) data-testid="toast">{toast.text.clone()}</div>
            </For>
        </div>
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

/// One cluster's controllers, or why they could not be read.
type ClusterControllers = (String, Result<Vec<ControllerStatus>, String>);

/// The Flux controllers of every cluster, with their readiness, and a restart button for admins.
#[component]
pub(crate) fn ControllersPage() -> impl IntoView {
    let live = expect_context::<Live>();
    let actions = expect_context::<Actions>();
    let data: RwSignal<Vec<ClusterControllers>> = RwSignal::new(Vec::new());
    let load = move || {
        let clusters: Vec<String> = live.fleet.with_untracked(|f| f.clusters.iter().map(|c| c.name.clone()).collect());
        spawn_local(async move {
            let mut out = Vec::new();
            for c in clusters {
                let url = format!("api/v1/controllers/{}", fluxboard_model::view::encode(&c));
                let res = crate::http::get_json::<Vec<ControllerStatus>>(&url).await;
                out.push((c, res));
            }
            data.set(out);
        });
    };
    // Load once the clusters are known, and again every 5 seconds.
    Effect::new(move |_| {
        if live.loaded.get() {
            load();
        }
    });
    let interval = set_interval_with_handle(load, Duration::from_secs(5)).ok();
    on_cleanup(move || {
        if let Some(i) = interval {
            i.clear();
        }
    });
    view! {
        <section class="page" aria-labelledby="controllers-title">
            <h1 id="controllers-title">"Flux controllers"</h1>
            {move || {
                data.get()
                    .into_iter()
                    .map(|(cluster, res)| {
                        let body = match res {
                            Err(e) => view! { <p class="error">{e}</p> }.into_any(),
                            Ok(list) => {
                                let rows = list
                                    .into_iter()
                                    .map(|c| {
                                        let target = Target {
                                            cluster: cluster.clone(),
                                            group: Some("apps".into()),
                                            kind: "Deployment".into(),
                                            namespace: c.namespace.clone(),
                                            name: c.name.clone(),
                                        };
                                        let admin = actions.may(Action::Restart, &cluster, &c.namespace);
                                        let title = format!("{}/{}", c.namespace, c.name);
                                        view! {
                                            <tr data-testid="controller-row">
                                                <td>
                                                    <span class=if c.ready { "badge h-ready" } else { "badge h-failing" }>
                                                        {if c.ready { "Ready" } else { "Not ready" }}
                                                    </span>
                                                </td>
                                                <td>{c.name.clone()}</td>
                                                <td>{format!("{}/{}", c.ready_replicas, c.replicas)}</td>
                                                <td class="message">{c.message.clone()}</td>
                                                <td class="mono">{c.image.clone()}</td>
                                                <td class="mono">{c.restarted_at.clone().unwrap_or_default()}</td>
                                                <td>
                                                    {admin
                                                        .then(|| {
                                                            view! {
                                                                <button
                                                                    class="btn"
                                                                    aria-label=format!("Restart {}", c.name)
                                                                    on:click=move |_| actions.request(Action::Restart, vec![target.clone()], title.clone())
                                                                >
                                                                    "Restart"
                                                                </button>
                                                            }
                                                        })}
                                                </td>
                                            </tr>
                                        }
                                    })
                                    .collect_view();
                                view! {
                                    <Table columns=&["State", "Controller", "Ready", "Status", "Image", "Restarted"] hidden="Actions">{rows}</Table>
                                }
                                    .into_any()
                            }
                        };
                        view! {
                            <section class="panel">
                                <h2>{cluster.clone()}</h2>
                                {body}
                            </section>
                        }
                    })
                    .collect_view()
            }}
        </section>
    }
}

/// The audit log (admins).
#[component]
pub(crate) fn AuditPage() -> impl IntoView {
    let entries: RwSignal<Option<Result<Vec<AuditEntry>, String>>> = RwSignal::new(None);
    spawn_local(async move {
        let res = crate::http::get_json::<Vec<AuditEntry>>("api/v1/audit").await;
        entries.set(Some(res));
    });
    view! {
        <section class="page" aria-labelledby="audit-title">
            <h1 id="audit-title">"Audit log"</h1>
            {move || match entries.get() {
                None => view! { <p class="loading">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"No actions yet."</p> }.into_any(),
                Some(Ok(list)) => {
                    let rows = list
                        .into_iter()
                        .map(|e| {
                            let target = e.target.as_ref().map(|t| {
                                let r = ObjectRef {
                                    cluster: t.cluster.clone(),
                                    group: t.group.clone().unwrap_or_default(),
                                    kind: t.kind.clone(),
                                    namespace: t.namespace.clone(),
                                    name: t.name.clone(),
                                };
                                let label = format!("{} {}/{} ({})", t.kind, t.namespace, t.name, t.cluster);
                                if kind_info(&r.group, &r.kind).is_some() {
                                    view! { <Link href=detail_href(&r)>{label}</Link> }.into_any()
                                } else {
                                    view! { <span>{label}</span> }.into_any()
                                }
                            });
                            let status = match e.status {
                                ResultStatus::Accepted => ("badge h-ready", "accepted"),
                                ResultStatus::Refused => ("badge h-suspended", "refused"),
                                ResultStatus::Failed => ("badge h-failing", "failed"),
                            };
                            view! {
                                <tr>
                                    <td class="mono">{e.time.clone()}</td>
                                    <td>{e.user.clone()}</td>
                                    <td>{e.action.map(|a| a.label()).unwrap_or("—")}</td>
                                    <td>{target}</td>
                                    <td><span class=status.0>{status.1}</span></td>
                                    <td class="message">{e.message.clone()}</td>
                                </tr>
                            }
                        })
                        .collect_view();
                    view! {
                        <Table columns=&["When", "User", "Action", "Target", "Result", "Message"]>{rows}</Table>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}
