//! The confirmation dialog: it takes the focus (the reason field, else Cancel), traps Tab, closes
//! on Escape or a click on the backdrop, and gives the focus back to what opened it.

use fluxboard_model::action::{Action, Target};
use fluxboard_model::order::capitalize;
use leptos::prelude::*;
use wasm_bindgen::JsCast as _;

use super::{Actions, Confirm};

thread_local! {
    /// The element that opened the dialog, to give the focus back to.
    static OPENER: std::cell::RefCell<Option<web_sys::Element>> = const { std::cell::RefCell::new(None) };
}

/// Remembers the focused element (the button that opens the dialog).
pub(super) fn remember_opener() {
    OPENER.with(|o| *o.borrow_mut() = document().active_element());
}

/// Closes the dialog and gives the focus back to what opened it (once the page is interactive
/// again).
fn close_dialog(actions: Actions) {
    actions.confirm.set(None);
    set_timeout(
        || {
            let opener = OPENER.with(|o| o.borrow_mut().take());
            let target = opener
                .filter(|el| el.is_connected())
                .or_else(|| document().get_element_by_id("main"))
                .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok());
            if let Some(el) = target {
                let _ = el.focus();
            }
        },
        std::time::Duration::from_millis(0),
    );
}

/// The focusable elements of `root`, in order.
fn focusables(root: &web_sys::Element) -> Vec<web_sys::HtmlElement> {
    let Ok(list) = root.query_selector_all("button:not([disabled]), input, select, textarea, a[href]") else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|i| list.item(i)?.dyn_into::<web_sys::HtmlElement>().ok()).collect()
}

/// Keeps Tab inside `dialog`: from the last element to the first and back.
fn trap_tab(ev: &web_sys::KeyboardEvent, dialog: &web_sys::Element) {
    let items = focusables(dialog);
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
}

/// The dialog of the request waiting for a yes, when there is one.
#[component]
pub(crate) fn ConfirmDialog() -> impl IntoView {
    let actions = expect_context::<Actions>();
    move || actions.confirm.get().map(|c| view! { <Dialog confirm=c /> })
}

#[component]
fn Dialog(confirm: Confirm) -> impl IntoView {
    let actions = expect_context::<Actions>();
    let reason = RwSignal::new(String::new());
    let count = confirm.targets.len();
    let heading = if count > 1 {
        format!("{} {count} objects?", capitalize(confirm.action.label()))
    } else {
        format!("{} {}?", capitalize(confirm.action.label()), confirm.title)
    };
    let dialog = NodeRef::<leptos::html::Div>::new();
    // Focus the reason field, or Cancel (the safe choice), once shown.
    Effect::new(move |_| {
        let Some(el) = dialog.get() else { return };
        let first = el.query_selector("#confirm-reason, [data-testid=cancel]").ok().flatten();
        if let Some(first) = first.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = first.focus();
        }
    });
    let on_keydown = move |ev: web_sys::KeyboardEvent| match ev.key().as_str() {
        "Escape" => {
            ev.prevent_default();
            close_dialog(actions);
        }
        "Tab" => {
            if let Some(el) = dialog.get_untracked() {
                trap_tab(&ev, &el);
            }
        }
        _ => {}
    };
    let (action, targets) = (confirm.action, confirm.targets.clone());
    let go = move |_| {
        let why = reason.get_untracked();
        close_dialog(actions);
        actions.send(action, targets.clone(), (!why.is_empty()).then_some(why));
    };
    view! {
        <div
            class="modal-backdrop"
            on:click=move |ev: web_sys::MouseEvent| {
                if ev.target() == ev.current_target() {
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
                <p id="confirm-explanation">{confirm.explanation.clone()}</p>
                {(count > 1).then(|| view! { <TargetList targets=confirm.targets.clone() /> })}
                {(confirm.action == Action::Suspend).then(|| view! { <ReasonField reason /> })}
                <div class="modal-buttons">
                    <button class="btn" data-testid="cancel" on:click=move |_| close_dialog(actions)>
                        "Cancel"
                    </button>
                    <button class="btn primary" data-testid="confirm" on:click=go>
                        {capitalize(confirm.action.label())}
                    </button>
                </div>
            </div>
        </div>
    }
}

/// The first ten objects of a bulk request, and how many more.
#[component]
fn TargetList(targets: Vec<Target>) -> impl IntoView {
    let count = targets.len();
    let items = targets
        .iter()
        .take(10)
        .map(|t| view! { <li>{format!("{} {}/{} in {}", t.kind, t.namespace, t.name, t.cluster)}</li> })
        .collect_view();
    view! {
        <ul class="confirm-list">
            {items}
            {(count > 10).then(|| view! { <li>{format!("and {} more", count - 10)}</li> })}
        </ul>
    }
}

/// Why (recorded on the object with a suspension).
#[component]
fn ReasonField(reason: RwSignal<String>) -> impl IntoView {
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
}
