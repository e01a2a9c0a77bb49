//! fluxboard's web app: Leptos, client-side rendered. It speaks only `fluxboard-model` types:
//! the live store is fed by the server's event stream, pages derive from it, details are read
//! from the API on demand.
//!
//! Architecture Invariant: no kube or axum types here; everything shown is rendered as text
//! (no `inner_html`), so names and messages from the cluster cannot inject HTML.

// reason: #[component] generates `pub` props structs for crate-private components.
#![allow(unreachable_pub)]

mod actions;
mod api;
mod audit;
mod controllers;
mod detail;
mod fleet;
mod graph;
mod list;
mod live;
mod load;
mod login;
mod overview;
mod releases;
mod route;
mod ui;
mod wall;
mod why;

use fluxboard_model::auth::Identity;
use leptos::prelude::*;
use wasm_bindgen::prelude::wasm_bindgen;

use crate::live::Live;
use crate::route::{Link, Page, Router};
use crate::ui::{Clock, ThemeToggle};

/// The entry point, called when the module loads: asks who is here, then shows the app or the
/// login page.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    wasm_bindgen_futures::spawn_local(async {
        match api::me().await {
            Ok(Some(me)) => leptos::mount::mount_to_body(move || view! { <App me=me /> }),
            Ok(None) => leptos::mount::mount_to_body(login::Login),
            Err(message) => leptos::mount::mount_to_body(move || {
                view! {
                    <main class="login-page">
                        <ui::ErrorView error=message.clone() />
                    </main>
                }
            }),
        }
    });
}

#[component]
fn App(me: Identity) -> impl IntoView {
    let router = Router::new();
    let live = live::connect();
    let clock = Clock::start();
    provide_context(router);
    provide_context(live);
    provide_context(why::Causes::new(live, me.clone()));
    provide_context(clock);
    let actions = actions::Actions::start(me);
    provide_context(actions);
    actions::announce_outcomes(actions, live);
    // "/" focuses the search box (on the list page; elsewhere it opens the list).
    let _ = window_event_listener(leptos::ev::keydown, move |ev: web_sys::KeyboardEvent| {
        if ev.key() != "/" || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        let typing = document()
            .active_element()
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"));
        if typing {
            return;
        }
        ev.prevent_default();
        if !matches!(router.page(), Page::List(_)) {
            router.navigate("/resources");
        }
        focus_search();
    });

    // The page to render: list filters are not part of it, so typing a filter does not rebuild
    // the list (the list follows the URL's query itself).
    let page = Memo::new(move |_| match router.page() {
        Page::List(_) => Page::List(Default::default()),
        other => other,
    });
    let is_wall = Memo::new(move |_| page.get() == Page::Wall);
    // The document title follows the page.
    Effect::new(move |_| document().set_title(&page.get().title()));
    // The phone header's menu, closed again by every navigation.
    let menu = RwSignal::new(false);
    Effect::new(move |_| {
        router.location.track();
        menu.set(false);
    });
    let dialog_open = move || actions.confirm.with(Option::is_some);
    let access = move || actions.me.with(|m| m.as_ref().map(fluxboard_model::view::access_summary));

    let chrome = move || {
        view! {
            // A plain `#main` would resolve against `<base href>` and leave the page.
            <a class="skip" href="#main" on:click=move |ev: web_sys::MouseEvent| {
                ev.prevent_default();
                focus_main();
            }>"Skip to content"</a>
            <header class="top" inert=dialog_open>
                <Link href="/" class="brand">
                    <span class="logo" aria-hidden="true">"◆"</span>
                    " fluxboard"
                </Link>
                <ConnectionBadge live=live />
                <button
                    class="icon-button menu-toggle"
                    aria-expanded=move || if menu.get() { "true" } else { "false" }
                    aria-controls="site-menu"
                    aria-label="Menu"
                    data-testid="menu-toggle"
                    on:click=move |_| menu.update(|m| *m = !*m)
                >
                    "☰"
                </button>
                <div id="site-menu" class="site-menu" class:open=move || menu.get()>
                    <nav aria-label="Main">
                        <Link href="/" class="nav" nav=true>"Overview"</Link>
                        <Link href="/resources" class="nav" nav=true>"Resources"</Link>
                        <Link href="/graph" class="nav" nav=true>"Graph"</Link>
                        <Link href="/matrix" class="nav" nav=true>"Releases"</Link>
                        <Link href="/controllers" class="nav" nav=true>"Controllers"</Link>
                        {move || actions.is_admin().then(|| view! { <Link href="/audit" class="nav" nav=true>"Audit"</Link> })}
                        <Link href="/wall" class="nav" nav=true>"Wall"</Link>
                    </nav>
                    <div class="spacer"></div>
                    <span class="who">
                        <span class="user" data-testid="user">{move || actions.me.get().map(|m| m.user)}</span>
                        " "
                        <span
                            class="access"
                            data-testid="access"
                            title=move || {
                                actions.me.with(|m| {
                                    m.as_ref()
                                        .map(|m| {
                                            if m.groups.is_empty() { "No groups".to_owned() } else { format!("Groups: {}", m.groups.join(", ")) }
                                        })
                                        .unwrap_or_default()
                                })
                            }
                        >
                            {access}
                        </span>
                    </span>
                    {move || {
                        (actions.me.get().is_some_and(|m| m.user != "anonymous"))
                            .then(|| view! { <button class="btn small logout" on:click=move |_| login::logout()>"Log out"</button> })
                    }}
                    <ThemeToggle />
                </div>
            </header>
            <main id="main" tabindex="-1" inert=dialog_open>
                {move || match page.get() {
                    Page::Overview => view! { <overview::Overview /> }.into_any(),
                    Page::List(_) => view! { <list::ResourceList /> }.into_any(),
                    Page::Detail(r) => view! { <detail::Detail target=r /> }.into_any(),
                    Page::Controllers => view! { <controllers::ControllersPage /> }.into_any(),
                    Page::Audit => view! { <audit::AuditPage /> }.into_any(),
                    Page::Wall => ().into_any(),
                    Page::Graph(q) => view! { <graph::GraphPage query=q /> }.into_any(),
                    Page::Revisions(q) => view! { <releases::RevisionsPage query=q /> }.into_any(),
                    Page::Matrix => view! { <releases::MatrixPage /> }.into_any(),
                    Page::NotFound => {
                        view! {
                            <section class="page">
                                <h1>"Not found"</h1>
                                <p>"There is no such page. " <Link href="/">"Go to the overview"</Link></p>
                            </section>
                        }
                            .into_any()
                    }
                }}
            </main>
            <actions::ConfirmDialog />
            <actions::Toasts />
        }
    };

    view! {
        {move || {
            if is_wall.get() {
                view! {
                    <main id="main" class="wall-main" tabindex="-1">
                        <wall::Wall />
                    </main>
                }
                    .into_any()
            } else {
                chrome().into_any()
            }
        }}
    }
}

/// Moves focus to the page's content (the skip link's target).
fn focus_main() {
    use wasm_bindgen::JsCast as _;
    if let Some(main) = document().get_element_by_id("main").and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = main.focus();
    }
}

/// For viewers and scoped operators: why they see what they see.
#[component]
pub(crate) fn ScopeNote() -> impl IntoView {
    let actions = expect_context::<actions::Actions>();
    move || {
        let me = actions.me.get()?;
        let access = fluxboard_model::view::access_summary(&me);
        let limited = !fluxboard_model::view::sees_everything(&me);
        let read_only = !me.has_role_somewhere(fluxboard_model::auth::Role::Operator);
        let text = match (limited, read_only) {
            (false, false) => return None,
            (true, _) => {
                format!("You see only what your access covers ({access}); other namespaces and clusters are not shown.")
            }
            (false, true) if me.user == "anonymous" => {
                "Read-only: this dashboard is open to viewers without login, so no actions are offered.".to_owned()
            }
            (false, true) => format!("Read-only: {} has the viewer role, so no actions are offered.", me.user),
        };
        Some(view! { <p class="scope-note" data-testid="scope-note">{text}</p> })
    }
}

fn focus_search() {
    // After the list renders.
    set_timeout(
        || {
            if let Some(el) = document().get_element_by_id("search") {
                use wasm_bindgen::JsCast as _;
                if let Ok(input) = el.dyn_into::<web_sys::HtmlElement>() {
                    let _ = input.focus();
                }
            }
        },
        std::time::Duration::from_millis(0),
    );
}

#[component]
fn ConnectionBadge(live: Live) -> impl IntoView {
    let badge = Memo::new(move |_| live.badge());
    view! {
        <span
            class=move || format!("conn-badge conn-{}", badge.get().state)
            role="status"
            aria-live="polite"
            data-testid="connection"
            title=move || badge.get().text
        >
            <span class="dot" aria-hidden="true"></span>
            {move || badge.get().text}
        </span>
    }
}
