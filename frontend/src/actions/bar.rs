//! The detail page's action buttons: the one that helps most first, the others beside it (in a
//! menu on phones), the followed request's outcome after them. While a request is in flight
//! (on the wire, or accepted and not yet handled or progressing) the bar is `aria-busy` and a
//! spinner shows beside the status and on the button of the action followed.

use fluxboard_model::action::{Action, Outcome, Target};
use fluxboard_model::{Health, Summary, kind_info};
use leptos::prelude::*;

use super::{Actions, describe, explanation, followed, target_of};
use crate::live::Live;
use crate::route::Link;

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

/// The buttons of the detail page, or why there are none for this person.
#[component]
pub(crate) fn ActionBar(summary: Signal<Option<Summary>>) -> impl IntoView {
    let actions = expect_context::<Actions>();
    let live = expect_context::<Live>();
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
    move || match shape.get()? {
        Err(note) => Some(view! { <p class="scope-note" data-testid="read-only">{note}</p> }.into_any()),
        Ok(shape) => Some(view! { <Buttons shape=shape /> }.into_any()),
    }
}

/// The bar itself, for one shape.
#[component]
fn Buttons(shape: BarShape) -> impl IntoView {
    let menu = RwSignal::new(false);
    let button = |action: Action, primary: bool| {
        view! { <ActionButton action primary target=shape.target.clone() title=shape.title.clone() busy_key=shape.key.clone() /> }
    };
    let primary = shape.primary.map(|a| button(a, true));
    let rest: Vec<_> = shape.rest.iter().map(|a| button(*a, false)).collect();
    let more = (!rest.is_empty()).then(|| {
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
    });
    let actions = expect_context::<Actions>();
    let live = expect_context::<Live>();
    let key = shape.key.clone();
    let busy = move || if in_flight(actions, live, &key).is_some() { "true" } else { "false" };
    view! {
        <div class="action-bar" role="group" aria-label="Actions" aria-busy=busy data-testid="action-bar">
            {primary}
            {more}
            <div id="more-actions" class="more-actions" class:open=move || menu.get()>{rest}</div>
            <ActionStatus key=shape.key.clone() />
        </div>
        {shape.hint.map(|h| view! { <p class="action-hint" data-testid="action-hint">{h}</p> })}
    }
}

/// Whether a request for the object `key` is in flight: on the wire (None: its action is not
/// known yet), or accepted and not handled, or handled and still progressing (its action).
fn in_flight(actions: Actions, live: Live, key: &str) -> Option<Option<Action>> {
    if actions.sending.with(|s| s.iter().any(|k| k == key)) {
        return Some(None);
    }
    match followed(actions, live, key)? {
        (p, Outcome::Pending | Outcome::Progressing) => Some(Some(p.action)),
        _ => None,
    }
}

/// A spinner (the text beside it says what is going on).
#[component]
fn Spinner() -> impl IntoView {
    view! { <span class="spinner" aria-hidden="true" data-testid="spinner"></span> }
}

/// One action's button (disabled while a request for the object is on the wire; busy, with a
/// spinner, while its request is followed).
#[component]
fn ActionButton(action: Action, primary: bool, target: Target, title: String, busy_key: String) -> impl IntoView {
    let actions = expect_context::<Actions>();
    let live = expect_context::<Live>();
    let key = StoredValue::new(busy_key.clone());
    let mine = move || key.with_value(|k| in_flight(actions, live, k)) == Some(Some(action));
    view! {
        <button
            class=if primary { "btn primary" } else { "btn" }
            title=explanation(action)
            data-action=format!("{action:?}")
            aria-busy=move || if mine() { "true" } else { "false" }
            disabled=move || actions.sending.with(|s| s.contains(&busy_key))
            on:click=move |_| actions.request(action, vec![target.clone()], title.clone())
        >
            {move || mine().then(|| view! { <Spinner /> })}
            {button_label(action)}
        </button>
    }
}

/// What became of the request followed for the object `key`, and the way on when the
/// controller did not handle it.
#[component]
fn ActionStatus(key: String) -> impl IntoView {
    let actions = expect_context::<Actions>();
    let live = expect_context::<Live>();
    let key_for_link = key.clone();
    let key_for_spinner = key.clone();
    let text = move || {
        if actions.sending.with(|s| s.contains(&key)) {
            return "sending…".to_owned();
        }
        let Some((p, o)) = followed(actions, live, &key) else { return String::new() };
        let working = live.with_object(&key, |s| s.health == Health::Progressing).unwrap_or(false);
        if o == Outcome::Pending && working {
            format!("{} requested; the controller is working on the object…", p.action.label())
        } else {
            describe(p.action, &o).1
        }
    };
    let spinning = move || in_flight(actions, live, &key_for_spinner).is_some();
    view! {
        {move || spinning().then(|| view! { <Spinner /> })}
        <span class="action-status" role="status" aria-live="polite" data-testid="action-status">{text}</span>
        {move || {
            matches!(followed(actions, live, &key_for_link), Some((_, Outcome::NotHandled)))
                .then(|| view! { <Link href="/controllers" class="controllers-link">"Check the controllers"</Link> })
        }}
    }
}
