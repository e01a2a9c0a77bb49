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
use fluxboard_model::{Health, Summary, kind_info};
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
            OPENER.with(|o| *o.borrow_mut() = document().active_element());
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
                                        Pending {
                                            action,
                                            token: token.clone(),
                                            started: now,
                                            announced: false,
                                            settled: None,
                                        },
                                    );
                                }
                                _ => refused.push(format!("{}: {}", describe_target(&r.target), r.message)),
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

/// What the detail page's buttons depend on; the bar is rebuilt only when this changes, not at
/// every live update of the object (which would take the focus off a button).
#[derive(Debug, Clone, PartialEq)]
struct BarShape {
    key: String,
    title: String,
    target: Target,
    primary: Option<Action>,
    rest: Vec<Action>,
    /// A line under the buttons when the object needs a particular one.
    hint: Option<&'static str>,
}

fn button_label(action: Action) -> &'static str {
    match action {
        Action::Reconcile => "Reconcile",
        Action::ReconcileWithSource => "Reconcile with source",
        Action::Force => "Force upgrade",
        Action::Reset => "Reset failures",
        Action::Suspend => "Suspend",
        Action::Resume => "Resume",
        Action::Restart => "Restart",
    }
}

fn shape_of(s: &Summary, served: Option<&str>) -> BarShape {
    let offered = fluxboard_model::action::offered(s, served);
    let stalled_release = s.health == Health::Stalled && offered.contains(&Action::Reset);
    // A stalled HelmRelease ran out of remediation attempts: only a reset makes helm-controller
    // try again, so that is the first button.
    let primary = if stalled_release {
        Some(Action::Reset)
    } else if offered.contains(&Action::Resume) {
        Some(Action::Resume)
    } else if offered.contains(&Action::Reconcile) {
        Some(Action::Reconcile)
    } else {
        offered.first().copied()
    };
    let rest = offered.iter().copied().filter(|a| Some(*a) != primary).collect();
    let hint = if stalled_release {
        Some(
            "Stalled: helm-controller has used up its retries and will not try again by itself. Reset failures \
             clears the failure count so it installs or upgrades again; Force upgrade also runs a Helm upgrade \
             when nothing changed.",
        )
    } else if s.health == Health::Stalled {
        Some("Stalled: the controller will not retry by itself. Fix the cause, then Reconcile.")
    } else {
        None
    };
    BarShape {
        key: fluxboard_model::view::key(s),
        title: format!("{} {}/{} in {}", s.kind, s.namespace, s.name, s.cluster),
        target: target_of(s),
        primary,
        rest,
        hint,
    }
}

/// The buttons of the detail page: the one that helps most first, the others beside it (in a
/// menu on phones), the request's outcome after them.
#[component]
pub(crate) fn ActionBar(summary: Signal<Option<Summary>>) -> impl IntoView {
    let actions = expect_context::<Actions>();
    let live = expect_context::<Live>();
    let menu = RwSignal::new(false);
    // None: nothing to offer; Some(Err): shown read-only, with why.
    let shape = Memo::new(move |_| {
        let s = summary.get()?;
        kind_info(&s.group, &s.kind)?;
        if !actions.may(Action::Reconcile, &s.cluster, &s.namespace) {
            let access = actions.me.with(|m| m.as_ref().map(fluxboard_model::view::access_summary)).unwrap_or_default();
            return Some(Err(format!(
                "Read-only here: actions on {} in {} need the operator role; your access is {access}.",
                s.namespace, s.cluster
            )));
        }
        let served = live.served_version(&s.cluster, &s.group, &s.kind);
        Some(Ok(shape_of(&s, served.as_deref())))
    });
    move || {
        let shape = match shape.get()? {
            Err(note) => return Some(view! { <p class="scope-note" data-testid="read-only">{note}</p> }.into_any()),
            Ok(shape) => shape,
        };
        let button = move |action: Action, primary: bool, shape: &BarShape| {
            let (target, title, busy_key) = (shape.target.clone(), shape.title.clone(), shape.key.clone());
            view! {
                <button
                    class=if primary { "btn primary" } else { "btn" }
                    title=explanation(action)
                    data-action=format!("{action:?}")
                    disabled=move || actions.sending.with(|s| s.contains(&busy_key))
                    on:click=move |_| actions.request(action, vec![target.clone()], title.clone())
                >
                    {button_label(action)}
                </button>
            }
        };
        let primary = shape.primary.map(|a| button(a, true, &shape));
        let rest: Vec<_> = shape.rest.iter().map(|a| button(*a, false, &shape)).collect();
        let has_rest = !rest.is_empty();
        let key = shape.key.clone();
        let key_for_link = shape.key.clone();
        Some(
            view! {
                <div class="action-bar" role="group" aria-label="Actions">
                    {primary}
                    {has_rest
                        .then(|| {
                            view! {
                                <button
                                    class="btn menu-more"
                                    aria-expanded=move || if menu.get() { "true" } else { "false" }
                                    aria-controls="more-actions"
                                    data-testid="more-actions"
                                    on:click=move |_| menu.update(|m| *m = !*m)
                                >
                                    "More actions"
                                    <span aria-hidden="true">" ▾"</span>
                                </button>
                            }
                        })}
                    <div id="more-actions" class="more-actions" class:open=move || menu.get()>{rest}</div>
                    <span class="action-status" role="status" aria-live="polite" data-testid="action-status">
                        {move || {
                            if actions.sending.with(|s| s.contains(&key)) {
                                return "sending…".to_owned();
                            }
                            followed(actions, live, &key)
                                .map(|(p, o)| {
                                    let working = live.fleet.with(|f| {
                                        f.objects.get(&key).is_some_and(|r| r.summary.health == Health::Progressing)
                                    });
                                    if o == Outcome::Pending && working {
                                        format!("{} requested; the controller is working on the object…", p.action.label())
                                    } else {
                                        describe(p.action, &o).1
                                    }
                                })
                                .unwrap_or_default()
                        }}
                    </span>
                    {move || {
                        matches!(followed(actions, live, &key_for_link), Some((_, Outcome::NotHandled)))
                            .then(|| view! { <Link href="/controllers" class="controllers-link">"Check the controllers"</Link> })
                    }}
                </div>
                {shape.hint.map(|h| view! { <p class="action-hint" data-testid="action-hint">{h}</p> })}
            }
            .into_any(),
        )
    }
}

thread_local! {
    /// The element that opened the dialog, to give the focus back to.
    static OPENER: std::cell::RefCell<Option<web_sys::Element>> = const { std::cell::RefCell::new(None) };
}

/// Closes the dialog and gives the focus back to what opened it (once the page is interactive
/// again).
fn close_dialog(actions: Actions) {
    actions.confirm.set(None);
    set_timeout(
        || {
            use wasm_bindgen::JsCast as _;
            let opener = OPENER.with(|o| o.borrow_mut().take());
            let target = opener
                .filter(|el| el.is_connected())
                .or_else(|| document().get_element_by_id("main"))
                .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok());
            if let Some(el) = target {
                let _ = el.focus();
            }
        },
        Duration::from_millis(0),
    );
}

/// The focusable elements of `root`, in order.
fn focusables(root: &web_sys::Element) -> Vec<web_sys::HtmlElement> {
    use wasm_bindgen::JsCast as _;
    let Ok(list) = root.query_selector_all("button:not([disabled]), input, select, textarea, a[href]") else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|i| list.item(i)?.dyn_into::<web_sys::HtmlElement>().ok()).collect()
}

/// The confirmation dialog (focus inside it, trapped, Escape closes, focus back to its button
/// after) and the toasts.
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
                    let dialog = NodeRef::<leptos::html::Div>::new();
                    // Focus the reason field, or Cancel (the safe choice), once shown.
                    Effect::new(move |_| {
                        use wasm_bindgen::JsCast as _;
                        let Some(el) = dialog.get() else { return };
                        let first = el
                            .query_selector("#confirm-reason, [data-testid=cancel]")
                            .ok()
                            .flatten()
                            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
                        if let Some(first) = first {
                            let _ = first.focus();
                        }
                    });
                    let on_keydown = move |ev: web_sys::KeyboardEvent| {
                        use wasm_bindgen::JsCast as _;
                        if ev.key() == "Escape" {
                            ev.prevent_default();
                            reason.set(String::new());
                            close_dialog(actions);
                            return;
                        }
                        if ev.key() != "Tab" {
                            return;
                        }
                        let Some(el) = dialog.get_untracked() else { return };
                        let items = focusables(&el);
                        let (Some(first), Some(last)) = (items.first(), items.last()) else { return };
                        let active = document().active_element();
                        let at = |e: &web_sys::HtmlElement| active.as_ref().is_some_and(|a| a == e.unchecked_ref::<web_sys::Element>());
                        if ev.shift_key() && (at(first) || active.is_none()) {
                            ev.prevent_default();
                            let _ = last.focus();
                        } else if !ev.shift_key() && at(last) {
                            ev.prevent_default();
                            let _ = first.focus();
                        }
                    };
                    view! {
                        <div
                            class="modal-backdrop"
                            on:click=move |ev: web_sys::MouseEvent| {
                                if ev.target() == ev.current_target() {
                                    reason.set(String::new());
                                    close_dialog(actions);
                                }
                            }
                        >
                            <div
                                class="modal"
                                role="dialog"
                                aria-modal="true"
                                aria-labelledby="confirm-title"
                                aria-describedby="confirm-explanation"
                                node_ref=dialog
                                on:keydown=on_keydown
                            >
                                <h2 id="confirm-title">{heading}</h2>
                                <p id="confirm-explanation">{c.explanation.clone()}</p>
                                {(count > 1)
                                    .then(|| {
                                        view! {
                                            <ul class="confirm-list">
                                                {c
                                                    .targets
                                                    .iter()
                                                    .take(10)
                                                    .map(|t| view! { <li>{format!("{} {}/{} in {}", t.kind, t.namespace, t.name, t.cluster)}</li> })
                                                    .collect_view()}
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
                                    <button
                                        class="btn"
                                        data-testid="cancel"
                                        on:click=move |_| {
                                            reason.set(String::new());
                                            close_dialog(actions);
                                        }
                                    >
                                        "Cancel"
                                    </button>
                                    <button
                                        class="btn primary"
                                        data-testid="confirm"
                                        on:click=move |_| {
                                            let why = reason.get_untracked();
                                            reason.set(String::new());
                                            close_dialog(actions);
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
                <div class=format!("toast toast-{}", toast.kind) data-testid="toast" role=(toast.kind == "error").then_some("alert")>
                    <span class="toast-text">{toast.text.clone()}</span>
                    <button
                        class="toast-close"
                        aria-label="Dismiss"
                        data-testid="toast-close"
                        on:click=move |_| actions.toasts.update(|t| t.retain(|x| x.id != toast.id))
                    >
                        "×"
                    </button>
                </div>
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
    let data: RwSignal<Option<Vec<ClusterControllers>>> = RwSignal::new(None);
    let load = move || {
        let clusters: Vec<String> = live.fleet.with_untracked(|f| f.clusters.iter().map(|c| c.name.clone()).collect());
        spawn_local(async move {
            let mut out = Vec::new();
            for c in clusters {
                let url = format!("api/v1/controllers/{}", fluxboard_model::view::encode(&c));
                let res = crate::http::get_json::<Vec<ControllerStatus>>(&url).await;
                out.push((c, res));
            }
            data.set(Some(out));
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
                let Some(data) = data.get() else { return view! { <p class="loading">"Loading…"</p> }.into_any() };
                data.into_iter()
                    .map(|(cluster, res)| {
                        let body = match res {
                            Err(e) => view! { <p class="error">{e}</p> }.into_any(),
                            Ok(list) => {
                                let ready = list.iter().filter(|c| c.ready).count();
                                let summary = format!("{ready} of {} ready", list.len());
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
                                                <td class="message">{fluxboard_model::view::plain(&c.message)}</td>
                                                <td class="mono">{c.image.clone()}</td>
                                                <td><crate::ui::Time at=c.restarted_at.clone() /></td>
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
                                    <p class="muted" data-testid="controllers-summary">{summary}</p>
                                    <Table columns=&["State", "Controller", "Ready", "Status", "Image", "Restarted"] hidden="Actions" label="Controllers">{rows}</Table>
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
                    .into_any()
            }}
        </section>
    }
}

/// The audit log (admins).
#[component]
pub(crate) fn AuditPage() -> impl IntoView {
    let entries: RwSignal<Option<Result<Vec<AuditEntry>, String>>> = RwSignal::new(None);
    // Refused requests (often probes and cross-site posts) are hidden unless asked for, so the
    // actions people took are not buried.
    let show_refused = RwSignal::new(false);
    let load = move || {
        spawn_local(async move {
            let res = crate::http::get_json::<Vec<AuditEntry>>("api/v1/audit").await;
            entries.set(Some(res));
        });
    };
    load();
    view! {
        <section class="page" aria-labelledby="audit-title">
            <div class="list-head">
                <h1 id="audit-title">"Audit log"</h1>
                <label class="inline-check">
                    <input type="checkbox" prop:checked=move || show_refused.get() on:change=move |ev| show_refused.set(event_target_checked(&ev)) />
                    " Show refused requests"
                </label>
                <button class="btn small" on:click=move |_| load()>"Refresh"</button>
            </div>
            {move || match entries.get() {
                None => view! { <p class="loading">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"No actions yet."</p> }.into_any(),
                Some(Ok(list)) => {
                    let all = list.len();
                    let list: Vec<AuditEntry> = list
                        .into_iter()
                        .filter(|e| show_refused.get() || e.status != ResultStatus::Refused)
                        .collect();
                    let hidden = all - list.len();
                    let note = (hidden > 0).then(|| view! { <p class="muted">{format!("{hidden} refused requests hidden.")}</p> });
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
                                    <td><crate::ui::Time at=Some(e.time.clone()) /></td>
                                    <td>{e.user.clone()}</td>
                                    <td>{e.action.map(|a| a.label()).unwrap_or("—")}</td>
                                    <td>{target}</td>
                                    <td><span class=status.0>{status.1}</span></td>
                                    <td class="message">{fluxboard_model::view::plain(&e.message)}</td>
                                </tr>
                            }
                        })
                        .collect_view();
                    view! {
                        {note}
                        <section class="panel">
                            <Table columns=&["When", "User", "Action", "Target", "Result", "Message"] label="Audit log">{rows}</Table>
                        </section>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}
