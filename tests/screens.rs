//! Issue 18's last screens in headless Chromium, read as a person reads them: the detail page's
//! "next run" counting down (an estimate), an action in flight (a spinner, `aria-busy`) until the
//! controller handles it, and the audit log in pages with the reason each person gave.

use fantoccini::Locator;
use fluxboard::Options;
use fluxboard_e2e::{Browser, Served};
use fluxboard_model::action::{Action, AuditEntry, ResultStatus, Target};

const APPS: &str = "/resources/production/kustomize.toolkit.fluxcd.io/Kustomization/flux-system/apps";

fn admin() -> Options {
    Options { identity: Some(fluxboard::demo::demo_identity()), ..Options::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_run_counts_down_and_an_action_in_flight_shows_busy() -> anyhow::Result<()> {
    let served = Served::start_clusters(&["production"], admin()).await;
    served.ready().await;
    let browser = Browser::start().await?;
    let c = &browser.client;
    c.goto(&format!("{}{APPS}", served.url)).await?;

    // "Next run: in 9m 58s (estimate)", one second less a moment later, with how it is reckoned.
    let first = browser
        .wait_text("[data-testid=next-run]", "the estimate", |t| t.starts_with("in ") && t.ends_with("(estimate)"))
        .await?;
    browser
        .wait_text("[data-testid=next-run]", "the countdown ticking", |t| t != first && t.ends_with("(estimate)"))
        .await?;
    let title: String =
        browser.eval("return document.querySelector('[data-testid=next-run] span').getAttribute('title');").await?;
    assert!(title.starts_with("An estimate: every ") && title.contains("jitter"), "{title}");

    // With kustomize-controller stopped, a reconcile is accepted and waits: the bar is busy and
    // the Reconcile button spins, until the controller is back and handles it.
    let edit = |replicas: i64| {
        let cluster = served.demo.sims[0].cluster();
        let mut d = (*cluster.get("apps", "Deployment", "flux-system", "kustomize-controller").unwrap()).clone();
        d["spec"]["replicas"] = serde_json::json!(replicas);
        cluster.apply(&d).map(|_| ())
    };
    edit(0)?;
    browser
        .wait_script(
            "kustomize-controller stopped",
            "return fetch('api/v1/controllers/production').then(r => r.json()) \
               .then(l => l.some(c => c.name === 'kustomize-controller' && c.readyReplicas === 0));",
        )
        .await?;
    browser.wait_element("button[data-action=Reconcile]").await?.click().await?;
    browser.wait_element("[data-testid=action-bar][aria-busy=true]").await?;
    browser.wait_element("button[data-action=Reconcile][aria-busy=true] [data-testid=spinner]").await?;
    let status = browser.wait_text("[data-testid=action-status]", "the waiting line", |t| !t.is_empty()).await?;
    assert!(status.contains("requested") || status.contains("sending"), "{status}");
    browser.screenshot("action-in-flight").await;
    edit(1)?;
    browser.wait_text("[data-testid=action-status]", "the outcome", |t| t.starts_with("handled: Ready")).await?;
    browser.wait_element("[data-testid=action-bar][aria-busy=false]").await?;
    let spinners = c.find_all(Locator::Css("[data-testid=action-bar] [data-testid=spinner]")).await?;
    assert!(spinners.is_empty(), "no spinner once handled");
    Ok(())
}

/// An audit entry `n` minutes into the day (newer with `n`).
fn entry(n: usize, status: ResultStatus, reason: &str) -> AuditEntry {
    AuditEntry {
        time: format!("2026-12-01T{:02}:{:02}:00Z", n / 60, n % 60),
        user: "demo-admin".into(),
        groups: Vec::new(),
        action: Some(Action::Reconcile),
        target: Some(Target {
            cluster: "production".into(),
            group: Some("kustomize.toolkit.fluxcd.io".into()),
            kind: "Kustomization".into(),
            namespace: "flux-system".into(),
            name: "apps".into(),
        }),
        token: None,
        status,
        message: format!("attempt {n}"),
        reason: Some(reason.to_owned()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_pages_through_entries_with_their_reasons() -> anyhow::Result<()> {
    let served = Served::start_clusters(&["production"], admin()).await;
    served.ready().await;
    // 110 accepted requests and 10 refused ones, the refused ones the newest.
    for n in 0..110 {
        served.app.state.audit.record(entry(n, ResultStatus::Accepted, &format!("change {n}"))).await;
    }
    for n in 110..120 {
        served.app.state.audit.record(entry(n, ResultStatus::Refused, "probe")).await;
    }
    let browser = Browser::start().await?;
    let c = &browser.client;
    c.goto(&format!("{}/audit", served.url)).await?;
    let range = "[data-testid=audit-range]";
    browser.wait_text(range, "the first page", |t| t == "1–50 of 110").await?;
    let reasons = || async {
        browser.eval::<Vec<String>>("return [...document.querySelectorAll('td.reason')].map(t => t.textContent);").await
    };
    let first = reasons().await?;
    assert_eq!(first.len(), 50);
    assert_eq!((first[0].as_str(), first[49].as_str()), ("change 109", "change 60"), "newest first, refused hidden");
    let violations = browser.axe().await?;
    assert!(violations.is_empty(), "axe-core on the audit page: {violations:?}");
    browser.screenshot("audit-paged").await;

    c.find(Locator::Css("[data-testid=audit-older]")).await?.click().await?;
    browser.wait_text(range, "the second page", |t| t == "51–100 of 110").await?;
    assert_eq!(reasons().await?.first().map(String::as_str), Some("change 59"));
    c.find(Locator::Css("[data-testid=audit-older]")).await?.click().await?;
    browser.wait_text(range, "the last page", |t| t == "101–110 of 110").await?;
    assert_eq!(reasons().await?.last().map(String::as_str), Some("change 0"));
    let older_disabled: bool =
        browser.eval("return document.querySelector('[data-testid=audit-older]').disabled;").await?;
    assert!(older_disabled, "nothing older than the last page");
    c.find(Locator::Css("[data-testid=audit-newer]")).await?.click().await?;
    browser.wait_text(range, "back a page", |t| t == "51–100 of 110").await?;

    // Refused requests shown: from the first page, the newest first.
    c.find(Locator::Css("[data-testid=audit-refused]")).await?.click().await?;
    browser.wait_text(range, "with the refused", |t| t == "1–50 of 120").await?;
    assert_eq!(reasons().await?.first().map(String::as_str), Some("probe"));
    Ok(())
}
