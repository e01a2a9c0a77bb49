//! The login page: exactly the methods the server offers (`/auth/methods`). After a login the
//! page reloads, so the stream and every view start fresh with the new session.

use fluxboard_model::auth::Methods;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::Credentials;

/// Ends the session and shows the login page.
pub(crate) fn logout() {
    spawn_local(async move {
        let _ = crate::api::logout().await;
        let _ = window().location().reload();
    });
}

#[component]
pub(crate) fn Login() -> impl IntoView {
    document().set_title("Log in · fluxboard");
    let methods: RwSignal<Option<Methods>> = RwSignal::new(None);
    let error = RwSignal::new(None::<String>);
    spawn_local(async move {
        match crate::api::login_methods().await {
            Ok(m) => methods.set(Some(m)),
            // Not "Loading…" forever: say why, and offer what every server has.
            Err(e) => {
                error.set(Some(format!("The login methods could not be loaded ({e}). Reload the page to try again.")));
                methods.set(Some(Methods { local: true, ..Methods::default() }));
            }
        }
    });
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let token = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let submit = move |credentials: Credentials| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match crate::api::log_in(&credentials).await {
                Ok(()) => {
                    let _ = window().location().reload();
                }
                Err(e) => {
                    error.set(Some(e.to_string()));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <main class="login-page" id="main">
            <section class="login-card" aria-labelledby="login-title">
                <h1 id="login-title">
                    <span class="logo" aria-hidden="true">"◆"</span>
                    " fluxboard"
                </h1>
                <p class="muted">"Log in to see your Flux fleet."</p>
                {move || error.get().map(|e| view! { <p class="error" role="alert" data-testid="login-error">{e}</p> })}
                {move || match methods.get() {
                    None => view! { <p class="loading">"Loading…"</p> }.into_any(),
                    Some(m) => {
                        let sso = m.oidc.clone().map(|name| {
                            view! {
                                <a class="btn primary sso" href=crate::api::OIDC_LOGIN data-testid="sso">
                                    {format!("Log in with {name}")}
                                </a>
                            }
                        });
                        view! {
                            {sso}
                            {m
                                .local
                                .then(|| {
                                    view! {
                                        <form
                                            class="login-form"
                                            on:submit=move |ev| {
                                                ev.prevent_default();
                                                submit(Credentials::Password {
                                                    username: username.get_untracked(),
                                                    password: password.get_untracked(),
                                                });
                                            }
                                        >
                                            <label class="filter" for="username">
                                                <span>"Username"</span>
                                                <input id="username" autocomplete="username" required autofocus
                                                    prop:value=move || username.get()
                                                    on:input=move |ev| username.set(event_target_value(&ev)) />
                                            </label>
                                            <label class="filter" for="password">
                                                <span>"Password"</span>
                                                <input id="password" type="password" autocomplete="current-password" required
                                                    prop:value=move || password.get()
                                                    on:input=move |ev| password.set(event_target_value(&ev)) />
                                            </label>
                                            <button class="btn primary" type="submit" disabled=move || busy.get()>"Log in"</button>
                                        </form>
                                    }
                                })}
                            {m
                                .token
                                .then(|| {
                                    view! {
                                        <details class="token-login">
                                            <summary>"Log in with a Kubernetes token"</summary>
                                            <form
                                                class="login-form"
                                                on:submit=move |ev| {
                                                    ev.prevent_default();
                                                    submit(Credentials::Token(token.get_untracked()));
                                                }
                                            >
                                                <label class="filter" for="token">
                                                    <span>"Bearer token (checked by the cluster, not stored)"</span>
                                                    <input id="token" type="password" autocomplete="off" required
                                                        prop:value=move || token.get()
                                                        on:input=move |ev| token.set(event_target_value(&ev)) />
                                                </label>
                                                <button class="btn" type="submit" disabled=move || busy.get()>"Log in with token"</button>
                                            </form>
                                        </details>
                                    }
                                })}
                            {(!m.local && !m.token && m.oidc.is_none()).then(|| view! { <p class="error">"No login method is configured."</p> })}
                        }
                            .into_any()
                    }
                }}
            </section>
        </main>
    }
}
