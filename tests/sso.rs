//! Single sign-on against a real OpenID provider no one here wrote (the npm package
//! `oidc-provider`), the whole flow in headless Chromium: the SSO button, the provider's login
//! and consent, back in fluxboard with the groups mapped to roles, logout; and a callback with a
//! wrong state refused with a clear page.

use fantoccini::Locator;
use fluxboard::Options;
use fluxboard::auth::Role;
use fluxboard::config::{Binding, OidcConfig};
use fluxboard_e2e::{Browser, OidcProvider, Served, free_port};

const SECRET: &str = "fluxboard-sso-test-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_logs_in_with_sso_and_their_groups_become_roles() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let app_url = format!("http://{}", listener.local_addr()?);
    let redirect = format!("{app_url}/auth/oidc/callback");
    let provider = OidcProvider::start(free_port()?, &redirect, SECRET).await?;
    let mut config = fluxboard::demo::demo_config("unused-local-password")?;
    config.auth.oidc = Some(OidcConfig {
        issuer: provider.issuer.clone(),
        client_id: "fluxboard".into(),
        client_secret: Some(SECRET.into()),
        redirect_url: redirect,
        scopes: ["openid", "profile", "email", "groups"].map(str::to_owned).to_vec(),
        username_claim: "preferred_username".into(),
        groups_claim: "groups".into(),
        name: "Acme SSO".into(),
        username_prefix: "oidc:".into(),
        groups_prefix: "oidc:".into(),
    });
    config.rbac.push(Binding {
        role: Role::Admin,
        users: vec![],
        // The provider's groups arrive prefixed, as kube-apiserver's --oidc-groups-prefix has them.
        groups: vec!["oidc:platform".into()],
        clusters: vec!["*".into()],
        namespaces: vec!["*".into()],
    });
    let served =
        Served::start_on(listener, &["production"], Options { identity: None, config, ..Options::default() }).await;
    served.ready().await;
    let browser = Browser::start().await?;
    let c = &browser.client;

    // A callback that does not belong to this browser's login is refused.
    c.goto(&format!("{app_url}/auth/oidc/login")).await?;
    browser.wait_element("input[name=login]").await?;
    c.goto(&format!("{app_url}/auth/oidc/callback?code=forged&state=forged")).await?;
    browser.wait_text("body", "the refusal", |t| t.contains("Login failed") && t.contains("wrong state")).await?;

    // The SSO button, the provider's own login and consent pages, back in fluxboard.
    c.goto(&format!("{app_url}/")).await?;
    browser.wait_text("[data-testid=sso]", "the SSO button", |t| t == "Log in with Acme SSO").await?;
    c.find(Locator::Css("[data-testid=sso]")).await?.click().await?;
    browser.wait_element("input[name=login]").await?.send_keys("alice").await?;
    c.find(Locator::Css("input[name=password]")).await?.send_keys("any password").await?;
    c.find(Locator::Css("button[type=submit]")).await?.click().await?;
    // Consent (a new page: wait until the login form has gone).
    browser.wait_text("body", "the consent page", |t| t.contains("Authorize") || t.contains("Continue")).await?;
    browser.wait_element("button[type=submit]").await?.click().await?;
    browser.wait_text("[data-testid=user]", "alice, logged in", |t| t == "oidc:alice").await?;
    assert!(c.current_url().await?.as_str().starts_with(&app_url), "back in fluxboard");
    // Her group `platform` makes her an admin: the audit page is offered.
    c.find(Locator::XPath("//header//a[normalize-space(.)='Audit']")).await?;
    let me = c.execute("return fetch('api/v1/me').then(r => r.json());", vec![]).await?;
    assert_eq!(me["groups"], serde_json::json!(["oidc:platform"]));
    browser.screenshot("sso-logged-in").await;

    // Logout ends the fluxboard session.
    c.find(Locator::XPath("//button[normalize-space(.)='Log out']")).await?.click().await?;
    browser.wait_element("[data-testid=sso]").await?;
    Ok(())
}
