//! The toasts in the corner: errors stay until dismissed, the rest go after a while (and also
//! show in the page).

use leptos::prelude::*;

use super::Actions;

/// Every toast, newest last, each with a dismiss button.
#[component]
pub(crate) fn Toasts() -> impl IntoView {
    let actions = expect_context::<Actions>();
    view! {
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
