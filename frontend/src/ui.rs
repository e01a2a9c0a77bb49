//! Small shared pieces: health badges, the clock for ages, the theme switch.

use fluxboard_model::Health;
use fluxboard_model::api::ItemHealth;
use fluxboard_model::view::{age, health_label, parse_rfc3339};
use leptos::prelude::*;

/// Seconds since the epoch, ticking every 15 seconds so ages stay true.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock(pub RwSignal<i64>);

impl Clock {
    pub(crate) fn start() -> Clock {
        let clock = Clock(RwSignal::new(now()));
        set_interval(move || clock.0.set(now()), std::time::Duration::from_secs(15));
        clock
    }

    /// The age of an RFC 3339 timestamp, or "" without one.
    pub(crate) fn age_of(&self, time: Option<&str>) -> String {
        match time.and_then(parse_rfc3339) {
            Some(t) => age(self.0.get(), t),
            None => String::new(),
        }
    }
}

pub(crate) fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// The CSS class of a health.
pub(crate) fn health_class(health: Health) -> &'static str {
    match health {
        Health::Ready => "h-ready",
        Health::Progressing => "h-progressing",
        Health::Failing => "h-failing",
        Health::Stalled => "h-stalled",
        Health::Suspended => "h-suspended",
        Health::Terminating => "h-progressing",
        Health::Unknown => "h-unknown",
    }
}

/// A health pill; `retrying` adds "retrying" to a failing one.
#[component]
pub(crate) fn HealthBadge(health: Health, #[prop(optional)] retrying: bool) -> impl IntoView {
    let label = if retrying && health == Health::Failing { "Failing, retrying" } else { health_label(health) };
    view! { <span class=format!("badge {}", health_class(health))>{label}</span> }
}

/// A pill for the live health of an inventory item.
#[component]
pub(crate) fn ItemBadge(health: ItemHealth) -> impl IntoView {
    let (class, label) = match health {
        ItemHealth::Current => ("h-ready", "Current"),
        ItemHealth::InProgress => ("h-progressing", "In progress"),
        ItemHealth::Failed => ("h-failing", "Failed"),
        ItemHealth::NotFound => ("h-stalled", "Not found"),
        ItemHealth::Unknown => ("h-unknown", "Unknown"),
        ItemHealth::Terminating => ("h-progressing", "Terminating"),
    };
    view! { <span class=format!("badge {class}")>{label}</span> }
}

/// A table whose header row names `columns`; `hidden` adds a last column named only for screen
/// readers (a column of buttons).
#[component]
pub(crate) fn Table(
    columns: &'static [&'static str],
    #[prop(optional)] class: Option<&'static str>,
    #[prop(optional)] hidden: Option<&'static str>,
    children: Children,
) -> impl IntoView {
    view! {
        <table class=class>
            <thead>
                <tr>
                    {columns.iter().map(|c| view! { <th scope="col">{*c}</th> }).collect_view()}
                    {hidden.map(|h| view! { <th scope="col"><span class="sr-only">{h}</span></th> })}
                </tr>
            </thead>
            <tbody>{children()}</tbody>
        </table>
    }
}

/// The light/dark switch; the choice is remembered in localStorage.
#[component]
pub(crate) fn ThemeToggle() -> impl IntoView {
    let storage = window().local_storage().ok().flatten();
    let initial = storage.as_ref().and_then(|s| s.get_item("fluxboard-theme").ok().flatten()).unwrap_or_else(|| {
        let dark = window().match_media("(prefers-color-scheme: dark)").ok().flatten().is_some_and(|m| m.matches());
        if dark { "dark".into() } else { "light".into() }
    });
    let theme = RwSignal::new(initial);
    Effect::new(move |_| {
        let t = theme.get();
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-theme", &t);
        }
        if let Some(s) = window().local_storage().ok().flatten() {
            let _ = s.set_item("fluxboard-theme", &t);
        }
    });
    view! {
        <button
            class="icon-button"
            aria-label=move || if theme.get() == "dark" { "Switch to the light theme" } else { "Switch to the dark theme" }
            on:click=move |_| theme.update(|t| *t = if t == "dark" { "light".into() } else { "dark".into() })
        >
            {move || if theme.get() == "dark" { "☀" } else { "☾" }}
        </button>
    }
}
