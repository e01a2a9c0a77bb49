//! Small shared pieces: health badges, the clock for ages, the error view, the theme switch.

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

/// Resolves after `duration` (a browser timer).
pub(crate) async fn sleep(duration: std::time::Duration) {
    let ms = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
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
    view! { <span class=format!("badge {}", health_class(health))>{badge_label(health, retrying)}</span> }
}

/// The text of a health pill.
pub(crate) fn badge_label(health: Health, retrying: bool) -> &'static str {
    if retrying && health == Health::Failing { "Failing, retrying" } else { health_label(health) }
}

/// A moment as every page shows it: "5m ago", the exact time on hover (and to screen readers
/// through `datetime`); text that is not a timestamp is shown as it is.
#[component]
pub(crate) fn Time(#[prop(into)] at: Option<String>) -> impl IntoView {
    let clock = expect_context::<Clock>();
    let Some(at) = at.filter(|t| !t.is_empty()) else { return view! { <span>"—"</span> }.into_any() };
    if parse_rfc3339(&at).is_none() {
        return view! { <span class="mono">{at}</span> }.into_any();
    }
    let title = at.clone();
    let text = move || format!("{} ago", clock.age_of(Some(&at)));
    view! { <time datetime=title.clone() title=title>{text}</time> }.into_any()
}

/// How a failed read is shown: the error's sentence, announced.
#[component]
pub(crate) fn ErrorView(error: crate::api::ApiError) -> impl IntoView {
    view! { <p class="error" role="alert">{error.to_string()}</p> }
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
    /// What the table is, for the scrolling region around it (phones scroll wide tables
    /// sideways inside the page, never the page itself).
    #[prop(optional, into)]
    label: Option<String>,
    /// Keep the columns on phones (a narrow table of numbers); others stack each row's cells.
    #[prop(optional)]
    keep_columns: bool,
    children: Children,
) -> impl IntoView {
    let label = label.unwrap_or_else(|| columns.join(", "));
    let class = format!("{}{}", class.unwrap_or_default(), if keep_columns { "" } else { " stack" });
    view! {
        <div class="table-wrap" role="region" aria-label=label tabindex="0">
        <table class=class>
            <thead>
                <tr>
                    {columns.iter().map(|c| view! { <th scope="col">{*c}</th> }).collect_view()}
                    {hidden.map(|h| view! { <th scope="col"><span class="sr-only">{h}</span></th> })}
                </tr>
            </thead>
            <tbody>{children()}</tbody>
        </table>
        </div>
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

/// `n` with thousands separated by commas: 65,000.
pub(crate) fn grouped_digits(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        for (n, text) in [(0, "0"), (999, "999"), (1000, "1,000"), (65000, "65,000"), (1234567, "1,234,567")] {
            assert_eq!(grouped_digits(n), text);
        }
    }
}
