//! The dashboard in headless Chromium, as a person uses it: the overview's counts and failing
//! objects, the list filtered by health (and the URL that says so), a Kustomization's inventory
//! with live health, and a change in the cluster appearing without a reload.

use fantoccini::Locator;
use fluxboard::Options;
use fluxboard_e2e::{Browser, Served};
use fluxboard_model::Health;
use serde_json::json;

fn count(served: &Served, health: Option<Health>) -> usize {
    served.app.state.store.summaries().iter().filter(|s| health.is_none_or(|h| s.health == h)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sees_the_fleet_filters_it_opens_an_inventory_and_sees_changes_live() -> anyhow::Result<()> {
    let served = Served::start_clusters(&["production", "staging"], Options::default()).await;
    served.ready().await;
    let browser = Browser::start().await?;
    let c = &browser.client;
    c.goto(&format!("{}/", served.url)).await?;

    // The overview: live, the counts of the fleet, and the failing objects with their messages.
    browser.wait_text("[data-testid=connection]", "the live badge", |t| t == "live").await?;
    let total = count(&served, None).to_string();
    browser.wait_text("[data-testid=count-total]", "the total count", |t| t == total).await?;
    let failing = count(&served, Some(Health::Failing));
    assert!(failing > 0, "the demo fleet has failing objects");
    browser.wait_text("[data-testid=count-failing]", "the failing count", |t| t == failing.to_string()).await?;
    browser
        .wait_text(".attention", "the failing GitRepository", |t| {
            t.contains("team-b-app") && t.contains("authentication required")
        })
        .await?;
    browser.wait_text(".clusters", "both clusters", |t| t.contains("production") && t.contains("staging")).await?;
    browser.screenshot("overview").await;
    c.execute("window.__sameDocument = 42; return null;", vec![]).await?;

    // The list, filtered by health through the select: the URL follows.
    c.find(Locator::Css("header nav a[href$='/resources']")).await?.click().await?;
    let select = browser.wait_element("#filter-health").await?;
    select.select_by_value("Failing").await?;
    browser
        .wait_text("[data-testid=result-count]", "the failing rows", |t| t == format!("{failing} of {total}"))
        .await?;
    assert!(c.current_url().await?.as_str().contains("health=Failing"), "the filter is in the URL");
    // Read in one script: live updates may re-render rows between two WebDriver calls.
    let badges = c
        .execute("return [...document.querySelectorAll('.tbody .col-health .badge')].map(b => b.textContent);", vec![])
        .await?;
    let badges: Vec<String> = serde_json::from_value(badges)?;
    assert!(!badges.is_empty() && badges.iter().all(|b| b.starts_with("Failing")), "{badges:?}");
    browser.screenshot("list-failing").await;

    // Search for the Kustomization that deploys default/my-nginx-deploy and open it.
    select.select_by_value("").await?;
    browser.wait_element("#filter-kind").await?.select_by_value("Kustomization").await?;
    browser.wait_element("#filter-cluster").await?.select_by_value("production").await?;
    browser.wait_element("#search").await?.send_keys("apps").await?;
    browser
        .wait_text("[data-testid=result-count]", "the search applied", |t| !t.starts_with(&format!("{total} of")))
        .await?;
    let url = c.current_url().await?;
    assert!(url.as_str().contains("q=apps") && url.as_str().contains("kind=Kustomization"), "{url}");
    let matches = browser.wait_text("[data-testid=result-count]", "the matches", |_| true).await?;
    c.find(Locator::XPath("//div[@role='row']//a[normalize-space(.)='apps']")).await?.click().await?;
    browser.wait_text("#detail-title", "the detail page", |t| t.contains("flux-system/apps")).await?;
    browser
        .wait_text(".inventory", "the Deployment's live health", |t| {
            t.lines().any(|l| l.contains("my-nginx-deploy"))
                && t.contains("Current")
                && t.contains("2/2 replicas available")
        })
        .await?;
    browser.wait_text(".detail-head .badge", "the health badge", |t| t == "Ready").await?;
    browser.screenshot("detail-apps").await;

    // A change in the cluster appears on the open page, without a reload.
    let cluster = served.demo.sims[0].cluster();
    let mut apps =
        (*cluster.get("kustomize.toolkit.fluxcd.io", "Kustomization", "flux-system", "apps").unwrap()).clone();
    apps["spec"]["suspend"] = json!(true);
    cluster.apply(&apps)?;
    browser.wait_text(".detail-head .badge", "the suspension", |t| t == "Suspended").await?;
    let marker = c.execute("return window.__sameDocument;", vec![]).await?;
    assert_eq!(marker, json!(42), "the page was not reloaded");

    // Back goes back to the filtered list.
    c.back().await?;
    browser.wait_text("[data-testid=result-count]", "the list again", |t| t == matches).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_and_names_are_shown_as_text_never_as_html() -> anyhow::Result<()> {
    let served = Served::start_clusters(&["production"], Options::default()).await;
    served.ready().await;
    let sim = &served.demo.sims[0];
    // The suspended HelmRelease team-b/api: the controller leaves its status alone.
    let rt = sim.cluster().type_of_kind("helm.toolkit.fluxcd.io", "HelmRelease")?.clone();
    let hostile = "<img src=x onerror=\"window.__injected=1\"><b>bold</b>";
    sim.cluster().write_status(
        &rt,
        "team-b",
        "api",
        json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "False", "reason": "InstallFailed",
            "message": hostile, "lastTransitionTime": "2026-01-01T00:00:00Z"}]}),
    )?;
    let browser = Browser::start().await?;
    let c = &browser.client;
    c.goto(&format!("{}/", served.url)).await?;
    browser.wait_text(".attention", "the hostile message as text", |t| t.contains(hostile)).await?;
    assert!(c.find_all(Locator::Css(".attention img, .attention b")).await?.is_empty(), "no element was injected");
    assert_eq!(c.execute("return window.__injected === undefined;", vec![]).await?, json!(true));
    // The list and the detail page (conditions, events, YAML) show it as text too, and a
    // hostile core Event about the object as well.
    let event_message = "<script>window.__injected=2</script><i>event</i>";
    sim.cluster().apply(&json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "api.hostile", "namespace": "team-b"},
        "involvedObject": {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "name": "api", "namespace": "team-b"},
        "type": "Warning", "reason": "<b>Reason</b>", "message": event_message,
        "source": {"component": "helm-controller"}, "count": 1,
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z"}))?;
    c.goto(&format!("{}/resources?ns=team-b&kind=HelmRelease", served.url)).await?;
    browser.wait_text(".list", "the hostile message in the list", |t| t.contains(hostile)).await?;
    c.goto(&format!("{}/resources/production/helm.toolkit.fluxcd.io/HelmRelease/team-b/api", served.url)).await?;
    browser
        .wait_page("the hostile message and event on the detail page", |t| {
            t.contains(hostile) && t.contains(event_message) && t.contains("<b>Reason</b>")
        })
        .await?;
    let injected = c
        .execute(
            "return document.querySelectorAll('main img[src=x], main b, main i, main script').length \
             + (window.__injected === undefined ? 0 : 100);",
            vec![],
        )
        .await?;
    assert_eq!(injected, json!(0), "an element or script was injected");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_works_under_a_base_path() -> anyhow::Result<()> {
    let served =
        Served::start_clusters(&["production"], Options { base_path: "/tools/flux".into(), ..Options::default() })
            .await;
    served.ready().await;
    let browser = Browser::start().await?;
    let c = &browser.client;
    c.goto(&format!("{}/", served.url)).await?;
    browser.wait_text("[data-testid=connection]", "the live badge", |t| t == "live").await?;
    let total = count(&served, None).to_string();
    browser.wait_text("[data-testid=count-total]", "the total count", |t| t == total).await?;
    // A health card opens the filtered list below the base path.
    c.find(Locator::Css("a.card.h-suspended")).await?.click().await?;
    browser
        .wait_text("[data-testid=result-count]", "the suspended objects", |t| !t.starts_with(&format!("{total} of")))
        .await?;
    let url = c.current_url().await?;
    assert!(url.path().starts_with("/tools/flux/resources"), "{url}");
    assert!(url.as_str().contains("health=Suspended"), "{url}");
    let health = browser.wait_element("#filter-health").await?;
    assert_eq!(health.prop("value").await?.as_deref(), Some("Suspended"), "the select shows the URL's filter");
    // A deep link with filters loads with them shown.
    c.goto(&format!("{}/resources?kind=Kustomization&ns=team-a", served.url)).await?;
    browser.wait_text("[data-testid=result-count]", "the deep-linked filter", |t| t.starts_with("1 of")).await?;
    let kind = browser.wait_element("#filter-kind").await?;
    fluxboard_e2e::poll_until("the kind select to show the URL's filter", fluxboard_e2e::DEADLINE, || async {
        (kind.prop("value").await.ok()??.as_str() == "Kustomization").then_some(())
    })
    .await?;
    // A deep link loads directly.
    c.goto(&format!("{}/resources/production/kustomize.toolkit.fluxcd.io/Kustomization/flux-system/apps", served.url))
        .await?;
    browser.wait_text(".inventory", "the inventory", |t| t.contains("my-nginx-deploy")).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_presses_reconcile_and_follows_it_to_the_outcome() -> anyhow::Result<()> {
    let options = Options { identity: Some(fluxboard::demo::demo_identity()), ..Options::default() };
    let served = Served::start_clusters(&["production"], options).await;
    served.ready().await;
    let cluster = served.demo.sims[0].cluster();
    let apps = || cluster.get("kustomize.toolkit.fluxcd.io", "Kustomization", "flux-system", "apps").unwrap();
    let before = apps();
    let browser = Browser::start().await?;
    let c = &browser.client;
    c.goto(&format!("{}/resources/production/kustomize.toolkit.fluxcd.io/Kustomization/flux-system/apps", served.url))
        .await?;
    browser
        .wait_text(".inventory", "the Deployment's live health", |t| {
            t.contains("my-nginx-deploy") && t.contains("Current")
        })
        .await?;

    // Two quick clicks send one request.
    let button = browser.wait_element("button[data-action=Reconcile]").await?;
    c.execute("const b = arguments[0]; b.click(); b.click(); return null;", vec![serde_json::to_value(&button)?])
        .await?;
    browser.wait_text("[data-testid=action-status]", "the outcome", |t| t.starts_with("handled: Ready")).await?;
    let after = apps();
    let token = after["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"]
        .as_str()
        .expect("requestedAt set")
        .to_owned();
    assert_eq!(after["status"]["lastHandledReconcileAt"], token.as_str());
    assert_eq!(after["spec"], before["spec"], "spec untouched: no spec.force");
    assert!(after["spec"].get("force").is_none());
    let wire: Vec<_> = served.demo.sims[0].patches().into_iter().filter(|p| p.name == "apps").collect();
    assert_eq!(wire.len(), 1, "one patch on the wire: {wire:?}");
    assert_eq!(wire[0].body, json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}));
    assert_eq!(wire[0].field_manager.as_deref(), Some("fluxboard"));
    let requests = served.app.state.audit.entries().await.into_iter().filter(|e| e.token.is_some()).count();
    assert_eq!(requests, 1, "one request for two clicks");
    browser
        .wait_text("[data-testid=toast]", "the toast", |t| {
            t.contains("Kustomization flux-system/apps in production: handled: Ready")
        })
        .await?;
    browser
        .wait_text(".inventory", "the inventory after the reconcile", |t| t.contains("2/2 replicas available"))
        .await?;
    browser.screenshot("reconciled").await;

    // A failing source: failing and retrying, with the controller's message, at once.
    c.goto(&format!("{}/resources/production/source.toolkit.fluxcd.io/GitRepository/team-b/team-b-app", served.url))
        .await?;
    browser.wait_element("button[data-action=Reconcile]").await?.click().await?;
    browser
        .wait_text("[data-testid=action-status]", "failing and retrying", |t| {
            t.contains("failing, retrying") && t.contains("authentication required")
        })
        .await?;

    // Suspend asks first, records the reason, and the page shows it.
    c.goto(&format!("{}/resources/production/kustomize.toolkit.fluxcd.io/Kustomization/team-a/podinfo", served.url))
        .await?;
    browser.wait_element("button[data-action=Suspend]").await?.click().await?;
    browser.wait_element("[role=dialog]").await?;
    browser.wait_element("#confirm-reason").await?.send_keys("release freeze").await?;
    browser.wait_element("[data-testid=confirm]").await?.click().await?;
    browser.wait_text(".detail-head .badge", "the suspension", |t| t == "Suspended").await?;
    let podinfo = cluster.get("kustomize.toolkit.fluxcd.io", "Kustomization", "team-a", "podinfo").unwrap();
    assert_eq!(podinfo["spec"]["suspend"], true);
    assert_eq!(podinfo["metadata"]["annotations"]["fluxboard.dev/suspend-reason"], "release freeze");
    browser.wait_element("button[data-action=Resume]").await?;
    browser.screenshot("suspended").await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_no_action_buttons() -> anyhow::Result<()> {
    let served = Served::start_clusters(&["production"], Options::default()).await;
    served.ready().await;
    let browser = Browser::start().await?;
    let c = &browser.client;
    c.goto(&format!("{}/resources/production/kustomize.toolkit.fluxcd.io/Kustomization/flux-system/apps", served.url))
        .await?;
    browser.wait_text("[data-testid=user]", "who is looking", |t| t == "anonymous").await?;
    browser.wait_text(".inventory", "the inventory", |t| t.contains("my-nginx-deploy")).await?;
    assert!(c.find_all(Locator::Css(".action-bar button")).await?.is_empty(), "no buttons for a viewer");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_reconcile_of_everything_failing_in_a_namespace() -> anyhow::Result<()> {
    let options = Options { identity: Some(fluxboard::demo::demo_identity()), ..Options::default() };
    let served = Served::start_clusters(&["production"], options).await;
    served.ready().await;
    let failing: Vec<_> = served
        .app
        .state
        .store
        .summaries()
        .into_iter()
        .filter(|s| s.namespace == "team-b" && s.health == Health::Failing)
        .collect();
    assert!(failing.len() >= 2, "{failing:?}");
    let browser = Browser::start().await?;
    let c = &browser.client;
    c.goto(&format!("{}/resources?ns=team-b&health=Failing", served.url)).await?;
    browser
        .wait_text("[data-testid=result-count]", "the failing objects of team-b", |t| {
            t.starts_with(&format!("{} of", failing.len()))
        })
        .await?;
    c.find(Locator::XPath("//button[starts-with(normalize-space(.), 'Select all')]")).await?.click().await?;
    browser
        .wait_text("[data-testid=selected-count]", "the selection", |t| t == format!("{} selected", failing.len()))
        .await?;
    c.find(Locator::XPath("//button[normalize-space(.)='Reconcile selected']")).await?.click().await?;
    browser
        .wait_text("[role=dialog]", "the confirmation", |t| t.contains(&format!("{} objects", failing.len())))
        .await?;
    browser.wait_element("[data-testid=confirm]").await?.click().await?;
    let n = failing.len();
    browser
        .wait_text("[data-testid=toast]", "the bulk result", |t| {
            t.contains(&format!("requested for {n} of {n} objects"))
        })
        .await?;
    for s in &failing {
        let info = fluxboard_model::kind_info(&s.group, &s.kind).unwrap();
        let obj = served.demo.sims[0].cluster().get(info.group, info.kind, &s.namespace, &s.name).unwrap();
        assert!(obj["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"].is_string(), "{} {}", s.kind, s.name);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_logs_in_sees_their_scope_and_logs_out() -> anyhow::Result<()> {
    let password = "correct-horse-battery";
    let options = Options { identity: None, config: fluxboard::demo::demo_config(password)?, ..Options::default() };
    let served = Served::start_clusters(&["production"], options).await;
    served.ready().await;
    let team_a = served.app.state.store.summaries().iter().filter(|s| s.namespace == "team-a").count();
    let browser = Browser::start().await?;
    let c = &browser.client;
    c.goto(&format!("{}/", served.url)).await?;

    // The login page offers exactly the configured methods, and passes axe-core.
    browser.wait_element("#username").await?;
    let violations = browser.axe().await?;
    assert!(violations.is_empty(), "axe-core on the login page: {violations:?}");
    assert_eq!(browser.eval::<String>("return document.title;").await?, "Log in · fluxboard");
    assert!(
        browser.eval::<bool>("return document.activeElement.id === 'username';").await?,
        "the username has the focus"
    );
    assert!(c.find(Locator::Css("#token")).await.is_ok(), "token login is configured");
    browser.wait_element("#username").await?.send_keys("operator").await?;
    browser.wait_element("#password").await?.send_keys("wrong").await?;
    c.find(Locator::Css(".login-form button[type=submit]")).await?.click().await?;
    browser.wait_text("[data-testid=login-error]", "the refusal", |t| t.contains("wrong username or password")).await?;
    let field = browser.wait_element("#password").await?;
    field.clear().await?;
    field.send_keys(password).await?;
    c.find(Locator::Css(".login-form button[type=submit]")).await?.click().await?;

    // The operator of team-a sees team-a only.
    browser.wait_text("[data-testid=user]", "the user", |t| t == "operator").await?;
    browser.wait_text("[data-testid=count-total]", "team-a's objects", |t| t == team_a.to_string()).await?;
    let cookies = c.get_all_cookies().await?;
    let session = cookies.iter().find(|k| k.name() == "fluxboard_session").expect("a session cookie");
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(format!("{:?}", session.same_site()), "Some(Lax)");
    browser.screenshot("operator-overview").await;

    // The header and the overview say what the operator's access covers.
    browser.wait_text("[data-testid=access]", "the role and scope", |t| t == "operator in team-a").await?;
    browser.wait_text("[data-testid=scope-note]", "why only team-a", |t| t.contains("operator in team-a")).await?;

    // Out of scope by URL: a calm explanation with the way on, no data.
    c.goto(&format!("{}/resources/production/kustomize.toolkit.fluxcd.io/Kustomization/flux-system/apps", served.url))
        .await?;
    browser
        .wait_text("[data-testid=out-of-scope]", "the explanation", |t| {
            t.contains("flux-system in production is outside your access (operator in team-a)")
                && t.contains("outside what operator may see")
        })
        .await?;
    assert!(c.find_all(Locator::Css(".detail .error")).await?.is_empty(), "no error box for a link out of scope");
    browser.screenshot("operator-out-of-scope").await;
    // In scope: the operator may act.
    c.goto(&format!("{}/resources/production/kustomize.toolkit.fluxcd.io/Kustomization/team-a/podinfo", served.url))
        .await?;
    browser.wait_element("button[data-action=Reconcile]").await?;

    // Logging out ends the session and shows the login page.
    c.find(Locator::XPath("//button[normalize-space(.)='Log out']")).await?.click().await?;
    browser.wait_element("#username").await?;
    c.goto(&format!("{}/resources", served.url)).await?;
    browser.wait_element("#username").await?;

    // A Kubernetes token logs in too (checked by the cluster, not kept).
    c.find(Locator::Css(".token-login summary")).await?.click().await?;
    browser.wait_element("#token").await?.send_keys(&served.demo.admin_token).await?;
    c.find(Locator::Css(".token-login button[type=submit]")).await?.click().await?;
    browser.wait_text("[data-testid=user]", "the token's user", |t| t == "kube-sim-admin").await?;
    Ok(())
}

/// The on-call Alert's page, opened through `network` and shown live; the document is marked
/// so that a reload would show.
async fn open_alert_through(browser: &Browser, network: &fluxboard_e2e::FlakyNetwork) -> anyhow::Result<()> {
    let c = &browser.client;
    c.goto(&format!("{}/resources/production/notification.toolkit.fluxcd.io/Alert/flux-system/on-call", network.url))
        .await?;
    browser.wait_text("[data-testid=connection]", "the live badge", |t| t == "live").await?;
    browser.wait_text(".detail-head .badge", "the alert", |t| t == "Ready").await?;
    c.execute("window.__sameDocument = 7; return null;", vec![]).await?;
    Ok(())
}

/// Cuts the network, waits for the page to notice, and suspends the Alert meanwhile.
async fn cut_and_change(
    browser: &Browser,
    network: &fluxboard_e2e::FlakyNetwork,
    served: &Served,
) -> anyhow::Result<()> {
    network.cut();
    browser.wait_text("[data-testid=connection]", "the reconnecting badge", |t| t.starts_with("reconnecting")).await?;
    let cluster = served.demo.sims[0].cluster();
    let mut alert =
        (*cluster.get("notification.toolkit.fluxcd.io", "Alert", "flux-system", "on-call").unwrap()).clone();
    alert["spec"]["suspend"] = json!(true);
    cluster.apply(&alert)?;
    Ok(())
}

/// The page is live again and shows the suspension made meanwhile, in the same document.
async fn shows_the_change_without_a_reload(browser: &Browser) -> anyhow::Result<()> {
    browser.wait_text("[data-testid=connection]", "live again", |t| t == "live").await?;
    browser.wait_text(".detail-head .badge", "the change made meanwhile", |t| t == "Suspended").await?;
    assert_eq!(browser.client.execute("return window.__sameDocument;", vec![]).await?, json!(7), "no reload");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_rides_out_a_network_drop_without_a_reload() -> anyhow::Result<()> {
    let served = Served::start_clusters(&["production"], Options::default()).await;
    served.ready().await;
    let network = fluxboard_e2e::FlakyNetwork::start(served.url.trim_start_matches("http://").to_owned()).await?;
    let browser = Browser::start().await?;
    open_alert_through(&browser, &network).await?;
    // The network drops; meanwhile the cluster changes. It returns: the page resumes.
    cut_and_change(&browser, &network, &served).await?;
    browser.screenshot("network-down").await;
    network.restore();
    shows_the_change_without_a_reload(&browser).await
}

/// The backend the page talks to is replaced (a restart, or a load balancer moving the browser
/// to another replica): the stream cannot resume there, so the page loads the snapshot again
/// and goes on live, with the change made meanwhile and without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_moves_to_another_replica_without_a_reload() -> anyhow::Result<()> {
    let served = Served::start_clusters(&["production"], Options::default()).await;
    served.ready().await;
    let network = fluxboard_e2e::FlakyNetwork::start(served.url.trim_start_matches("http://").to_owned()).await?;
    let browser = Browser::start().await?;
    open_alert_through(&browser, &network).await?;
    // A second replica (another process's event ids) on the same clusters.
    let replica = fluxboard::App::start(served.demo.clusters().await?, &Options::default()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let replica_addr = listener.local_addr()?.to_string();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(replica.serve(listener, async move {
        let _ = stopped.await;
    }));
    cut_and_change(&browser, &network, &served).await?;
    network.retarget(replica_addr);
    network.restore();
    shows_the_change_without_a_reload(&browser).await
}

/// Opens `path`, waits until `ready` (a CSS selector) is on the page, checks that nothing pans
/// sideways, and takes a screenshot named `name`.
async fn visit(browser: &Browser, served: &Served, path: &str, ready: &str, name: &str) -> anyhow::Result<()> {
    browser.client.goto(&format!("{}{path}", served.url)).await?;
    browser.wait_element(ready).await?;
    browser.wait_text("[data-testid=connection], [data-testid=wall-connection]", "live", |t| t == "live").await?;
    browser.fits_the_width(name).await?;
    browser.screenshot(name).await;
    Ok(())
}

/// The size of the first element matching `css`: `[width, height]` in CSS pixels.
async fn size_of(browser: &Browser, css: &str) -> anyhow::Result<(f64, f64)> {
    let css = serde_json::to_string(css)?;
    browser
        .eval(&format!("const r = document.querySelector({css}).getBoundingClientRect(); return [r.width, r.height];"))
        .await
}

async fn displayed(browser: &Browser, css: &str) -> anyhow::Result<bool> {
    let css = serde_json::to_string(css)?;
    browser
        .eval(&format!(
            "const e = document.querySelector({css}); return !!e && e.getClientRects().length > 0 \
             && getComputedStyle(e).visibility !== 'hidden';"
        ))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_nothing_pans_the_list_is_cards_and_actions_fold_into_a_menu() -> anyhow::Result<()> {
    let options = Options { identity: Some(fluxboard::demo::demo_identity()), ..Options::default() };
    let served = Served::start_clusters(&["production", "staging"], options).await;
    served.ready().await;
    let browser = Browser::start_on(fluxboard_e2e::Screen::Phone).await?;
    let c = &browser.client;
    // The overview: the header folds behind Menu, which opens the navigation.
    visit(&browser, &served, "/", "[data-testid=count-total]", "phone-overview").await?;
    let width: f64 = browser.eval("return window.innerWidth;").await?;
    assert_eq!(width, 390.0, "the phone's screen");
    assert!(!displayed(&browser, "header nav").await?, "the navigation is folded");
    let (w, h) = size_of(&browser, "[data-testid=menu-toggle]").await?;
    assert!(w >= 24.0 && h >= 24.0, "the menu button is {w}x{h}");
    c.find(Locator::Css("[data-testid=menu-toggle]")).await?.click().await?;
    browser
        .wait_script(
            "the open menu",
            "return getComputedStyle(document.querySelector('header nav')).display !== 'none';",
        )
        .await?;
    assert_eq!(
        c.find(Locator::Css("[data-testid=menu-toggle]")).await?.attr("aria-expanded").await?.as_deref(),
        Some("true")
    );
    browser.fits_the_width("phone-menu").await?;
    browser.screenshot("phone-menu").await;
    c.find(Locator::Css("header nav a[href$='/resources']")).await?.click().await?;
    browser.wait_element("#filter-health").await?;
    assert!(!displayed(&browser, "header nav").await?, "the menu closes on navigation");

    // The list: cards with health, kind, name and message; targets of at least 24 px.
    visit(&browser, &served, "/resources", "[data-testid=row]", "phone-list").await?;
    #[derive(serde::Deserialize, Debug)]
    struct Card {
        shown: bool,
        health: String,
        kind: String,
        name: String,
        link: (f64, f64),
        checkbox: (f64, f64),
    }
    let cards: Vec<Card> = browser
        .eval(
            "const seen = e => e && e.getClientRects().length > 0 && e.getBoundingClientRect().right <= innerWidth;
             const size = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
             return [...document.querySelectorAll('.tbody [data-testid=row]')].slice(0, 5).map(r => {
               const [health, kind, name, message] = ['.badge', '.col-kind', '.col-name a', '.col-message'].map(s => r.querySelector(s));
               return {shown: [health, kind, name, message].every(seen), health: health.textContent, kind: kind.textContent,
                       name: name.textContent, link: size(name), checkbox: size(r.querySelector('.select'))};
             });",
        )
        .await?;
    assert!(!cards.is_empty());
    for card in &cards {
        assert!(card.shown && !card.health.is_empty() && !card.kind.is_empty() && !card.name.is_empty(), "{card:?}");
        assert!(card.link.0 >= 24.0 && card.link.1 >= 24.0, "the link of {card:?}");
        assert!(card.checkbox.0 >= 24.0 && card.checkbox.1 >= 24.0, "the checkbox of {card:?}");
    }

    // A HelmRelease: facts stacked, the first action shown, the others in a menu.
    let release = "/resources/production/helm.toolkit.fluxcd.io/HelmRelease/team-a/podinfo-frontend";
    visit(&browser, &served, release, "button[data-action=Reconcile]", "phone-detail").await?;
    let (dt, dd): (f64, f64) = browser
        .eval(
            "const dt = document.querySelector('.facts dt'), dd = document.querySelector('.facts dd');
             return [dt.getBoundingClientRect().left, dd.getBoundingClientRect().left];",
        )
        .await?;
    assert_eq!(dt, dd, "facts are stacked (term above value)");
    assert!(!displayed(&browser, "button[data-action=Force]").await?, "Force waits in the menu");
    c.find(Locator::Css("[data-testid=more-actions]")).await?.click().await?;
    browser
        .wait_script(
            "the actions menu",
            "const b = document.querySelector('button[data-action=Force]'); return !!b && b.getClientRects().length > 0;",
        )
        .await?;
    browser.fits_the_width("phone-detail-menu").await?;
    browser.screenshot("phone-detail-menu").await;
    let crumbs: Vec<f64> = browser
        .eval("return [...document.querySelectorAll('.crumbs a')].map(a => a.getBoundingClientRect().height);")
        .await?;
    assert!(crumbs.iter().all(|h| *h >= 24.0), "breadcrumb links {crumbs:?}");

    // The other pages fit too.
    visit(&browser, &served, "/controllers", "[data-testid=controller-row]", "phone-controllers").await?;
    visit(&browser, &served, "/audit", "h1", "phone-audit").await?;
    visit(&browser, &served, "/wall", "[data-testid=wall-tile]", "phone-wall").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_wall_screen_the_pages_use_the_width_and_the_wall_fits_without_scrolling() -> anyhow::Result<()> {
    let served = Served::start_clusters(&["production", "staging"], Options::default()).await;
    served.ready().await;
    // A small laptop: the list and the detail page fit too.
    let laptop = Browser::start_on(fluxboard_e2e::Screen::Window(1024, 768)).await?;
    visit(&laptop, &served, "/resources", "[data-testid=row]", "laptop-list").await?;
    let detail = "/resources/production/helm.toolkit.fluxcd.io/HelmRelease/monitoring/kube-prometheus-stack";
    visit(&laptop, &served, detail, ".conditions", "laptop-detail").await?;
    visit(&laptop, &served, "/controllers", "[data-testid=controller-row]", "laptop-controllers").await?;
    drop(laptop);
    for (w, h) in [(3840, 2160), (1920, 1080)] {
        let browser = Browser::start_on(fluxboard_e2e::Screen::Window(w, h)).await?;
        visit(&browser, &served, "/", "[data-testid=count-total]", &format!("wall-overview-{w}")).await?;
        let inner: (f64, f64) = browser.eval("return [innerWidth, innerHeight];").await?;
        assert_eq!(inner, (f64::from(w), f64::from(h)), "the window");
        let main: f64 = browser.eval("return document.querySelector('main').getBoundingClientRect().width;").await?;
        assert!(main >= 0.9 * f64::from(w), "the overview is {main} px wide on a {w} px screen");
        visit(&browser, &served, "/wall", "[data-testid=wall-item]", &format!("wall-{w}")).await?;
        visit(&browser, &served, "/resources", "[data-testid=row]", &format!("wall-list-{w}")).await?;
        let table: f64 = browser.eval("return document.querySelector('.table').getBoundingClientRect().width;").await?;
        assert!(table >= 0.9 * f64::from(w), "the list is {table} px wide on a {w} px screen");
        let detail = "/resources/production/helm.toolkit.fluxcd.io/HelmRelease/monitoring/kube-prometheus-stack";
        visit(&browser, &served, detail, ".conditions", &format!("wall-detail-{w}")).await?;
        visit(&browser, &served, "/controllers", "[data-testid=controller-row]", &format!("wall-controllers-{w}"))
            .await?;
        browser.client.goto(&format!("{}/wall", served.url)).await?;
        browser.wait_element("[data-testid=wall-item]").await?;
        let (scroll_h, inner_h): (f64, f64) =
            browser.eval("return [document.scrollingElement.scrollHeight, innerHeight];").await?;
        assert!(scroll_h <= inner_h, "the wall scrolls: {scroll_h} > {inner_h}");
        // Every line shown is whole: none cut off at the bottom.
        browser
            .wait_script(
                "every line of the wall whole",
                "const list = document.querySelector('.wall-list').getBoundingClientRect();
                 return ![...document.querySelectorAll('[data-testid=wall-item]')].some(i => i.getBoundingClientRect().bottom > list.bottom + 1);",
            )
            .await?;
        // Big type: the verdict reads from across the room (at least 5% of the screen's height).
        let (_, verdict_h) = size_of(&browser, "[data-testid=verdict]").await?;
        assert!(verdict_h >= 0.05 * f64::from(h), "the verdict is {verdict_h} px high");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_shows_an_anonymous_viewer_the_fleet_live_and_offers_no_controls() -> anyhow::Result<()> {
    let served = Served::start_clusters(&["production", "staging"], Options::default()).await;
    served.ready().await;
    let browser = Browser::start_on(fluxboard_e2e::Screen::Window(1920, 1080)).await?;
    let c = &browser.client;
    c.goto(&format!("{}/wall", served.url)).await?;
    browser.wait_text("[data-testid=wall-connection]", "live", |t| t == "live").await?;
    let now = fluxboard_e2e::now();
    let attention = |served: &Served| {
        served.app.state.store.summaries().iter().filter(|s| fluxboard_model::view::attention(s, now).is_some()).count()
    };
    let per_cluster = |served: &Served, cluster: &str, health: Health| {
        served.app.state.store.summaries().iter().filter(|s| s.cluster == cluster && s.health == health).count()
    };
    let n = attention(&served);
    assert!(n > 0);
    browser.wait_text("[data-testid=verdict]", "the verdict", |t| t.contains(&format!("{n} need attention"))).await?;
    for cluster in ["production", "staging"] {
        let tile = format!("[data-testid=wall-tile][data-cluster={cluster}]");
        let failing = per_cluster(&served, cluster, Health::Failing);
        browser
            .wait_text(&format!("{tile} [data-health=Failing]"), "the tile's failing count", |t| {
                t.starts_with(&failing.to_string())
            })
            .await?;
    }
    // One line per cause: the Kustomization whose GitRepository fails is told on the
    // repository's line, and the same failure in both clusters is one line.
    browser
        .wait_script(
            "the cause's line",
            "return [...document.querySelectorAll('[data-testid=wall-item]')].some(i => \
               i.querySelector('.wall-name').textContent === 'team-b-app' \
               && i.textContent.includes('GitRepository · production, staging') \
               && i.textContent.includes('Kustomization team-b/team-b-app waits on it'));",
        )
        .await?;
    let controls: usize = browser
        .eval("return document.querySelectorAll('button, input, select, textarea, a[href], header nav').length;")
        .await?;
    assert_eq!(controls, 0, "the wall has no controls and no navigation");
    assert_eq!(browser.eval::<String>("return document.title;").await?, "Wall · fluxboard");
    assert_eq!(
        browser.eval::<String>("return document.documentElement.dataset.theme;").await?,
        "dark",
        "dark by default"
    );
    browser.screenshot("wall-anonymous").await;

    // A change in the cluster reaches the wall without a reload.
    let suspended_before = per_cluster(&served, "production", Health::Suspended);
    let cluster = served.demo.sims[0].cluster();
    let mut apps =
        (*cluster.get("kustomize.toolkit.fluxcd.io", "Kustomization", "flux-system", "apps").unwrap()).clone();
    apps["spec"]["suspend"] = json!(true);
    cluster.apply(&apps)?;
    browser
        .wait_text(
            "[data-testid=wall-tile][data-cluster=production] [data-health=Suspended]",
            "one more suspended",
            |t| t.starts_with(&(suspended_before + 1).to_string()),
        )
        .await?;
    browser.wait_text("[data-testid=wall-list], .wall-list", "the suspension listed", |t| t.contains("apps")).await?;

    // Options in the URL narrow it to one cluster; with more failing than fits, it pages.
    let staging = served.demo.sims[1].cluster();
    for i in 0..8 {
        staging.apply(&json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": format!("wall-{i}"), "namespace": "flux-system",
                         "annotations": {"sim.fluxboard.dev/fail": format!("scripted failure {i}")}},
            "spec": {"interval": "10m", "path": "./", "prune": false,
                     "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}}))?;
    }
    c.goto(&format!("{}/wall?cluster=staging&rotate=5", served.url)).await?;
    browser.wait_text("[data-testid=wall-connection]", "live", |t| t == "live").await?;
    browser
        .wait_script(
            "only staging's tile",
            "return [...document.querySelectorAll('[data-testid=wall-tile]')].map(t => t.dataset.cluster).join() === 'staging';",
        )
        .await?;
    // What does not fit is shown page by page, every `rotate` seconds.
    let first = browser.wait_text(".wall-page", "pages", |t| t.starts_with("page 1 of")).await?;
    let names =
        "return [...document.querySelectorAll('[data-testid=wall-item] .wall-name')].map(n => n.textContent).join();";
    let page_one: String = browser.eval(names).await?;
    browser.wait_text(".wall-page", "the next page", |t| t.starts_with("page 2 of")).await?;
    let page_two: String = browser.eval(names).await?;
    assert_ne!(page_one, page_two, "the second page shows other objects ({first})");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyboard_user_skips_moves_through_rows_keeps_focus_across_live_updates_and_uses_the_dialog()
-> anyhow::Result<()> {
    use fantoccini::key::Key;
    let options = Options { identity: Some(fluxboard::demo::demo_identity()), ..Options::default() };
    let served = Served::start_clusters(&["production"], options).await;
    served.ready().await;
    let browser = Browser::start().await?;
    let c = &browser.client;
    c.goto(&format!("{}/resources?ns=team-a&sort=name", served.url)).await?;
    browser.wait_element("[data-testid=row]").await?;
    browser.wait_text("[data-testid=connection]", "live", |t| t == "live").await?;
    c.execute("window.__sameDocument = 1; return null;", vec![]).await?;
    assert_eq!(browser.eval::<String>("return document.title;").await?, "Resources · fluxboard");
    assert_eq!(
        c.find(Locator::Css("header nav a[href$='/resources']")).await?.attr("aria-current").await?.as_deref(),
        Some("page")
    );

    // The skip link: the first Tab stop; Enter moves to the content and stays on this page.
    browser.press(&[&Key::Tab]).await?;
    browser.wait_script("the skip link focused", "return document.activeElement.classList.contains('skip');").await?;
    browser.press(&[&Key::Enter]).await?;
    browser.wait_script("focus on the content", "return document.activeElement.id === 'main';").await?;
    let url = c.current_url().await?;
    assert!(url.as_str().contains("ns=team-a") && !url.as_str().contains('#'), "{url}");
    assert_eq!(c.execute("return window.__sameDocument;", vec![]).await?, json!(1), "no reload");

    // Tab to the first row's link.
    let mut tabs = 0;
    while !browser.eval::<bool>("return !!document.activeElement.closest('.tbody .col-name');").await? {
        browser.press(&[&Key::Tab]).await?;
        tabs += 1;
        assert!(tabs < 40, "no row link within 40 Tabs");
    }
    let (index, name, kind): (String, String, String) = browser
        .eval(
            "const a = document.activeElement, row = a.closest('[data-index]');
             return [row.dataset.index, a.textContent, row.querySelector('.col-kind').textContent];",
        )
        .await?;
    assert_eq!(index, "0");
    // Arrow keys move between rows.
    browser.press(&[&Key::Down]).await?;
    browser
        .wait_script("the second row", "return document.activeElement.closest('[data-index]')?.dataset.index === '1';")
        .await?;
    browser.press(&[&Key::Up]).await?;
    browser
        .wait_script(
            "the first row again",
            "return document.activeElement.closest('[data-index]')?.dataset.index === '0';",
        )
        .await?;
    // The rows are one tab stop: Tab leaves the list, Shift+Tab comes back to the same row.
    browser.press(&[&Key::Tab]).await?;
    browser.wait_script("out of the list", "return !document.activeElement.closest('.tbody');").await?;
    browser.press(&[&Key::Shift, &Key::Tab]).await?;
    browser
        .wait_script(
            "back on the row",
            "return document.activeElement.closest('.col-name') && document.activeElement.closest('[data-index]').dataset.index === '0';",
        )
        .await?;
    c.execute("document.activeElement.__mark = 'focused'; return null;", vec![]).await?;

    // The focused object changes on the stream (suspended): the row updates in place, the
    // focus stays on the same element, and the order holds still, saying what changed.
    let summary = served
        .app
        .state
        .store
        .summaries()
        .into_iter()
        .find(|s| s.namespace == "team-a" && s.name == name && s.kind == kind && !s.suspended)
        .expect("the focused object");
    let info = fluxboard_model::kind_info(&summary.group, &summary.kind).unwrap();
    let cluster = served.demo.sims[0].cluster();
    let mut obj = (*cluster.get(info.group, info.kind, "team-a", &name).unwrap()).clone();
    obj["spec"]["suspend"] = json!(true);
    cluster.apply(&obj)?;
    browser
        .wait_script(
            "the row's new health, in place",
            "const a = document.activeElement;
             const ok = a.__mark === 'focused' && a.closest('[data-index]')?.querySelector('.badge')?.textContent === 'Suspended';
             return ok || [a.tagName, a.textContent, a.__mark || '', a.closest('[data-index]')?.querySelector('.badge')?.textContent || ''].join('|');",
        )
        .await?;
    // A new object that sorts first arrives while focus is in the rows: the order holds still
    // and says so; asked, it shows the change.
    cluster.apply(&json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "aaa-arrives", "namespace": "team-a"},
        "spec": {"url": "https://github.com/acme/aaa", "interval": "5m", "ref": {"branch": "main"}}}))?;
    browser.wait_text("[data-testid=pending-changes]", "the held change", |t| t.starts_with("1 change")).await?;
    let (mark, first): (String, String) = browser
        .eval(
            "return [document.activeElement.__mark || '', \
             document.querySelector('.tbody [data-index=\"0\"] .col-name').textContent];",
        )
        .await?;
    assert_eq!((mark.as_str(), first.as_str()), ("focused", name.as_str()), "the rows held still under the focus");
    browser.screenshot("keyboard-focus-kept").await;
    c.find(Locator::Css("[data-testid=pending-changes]")).await?.click().await?;
    browser.wait_text(".tbody [data-index=\"0\"] .col-name", "the new object shown", |t| t == "aaa-arrives").await?;

    // Back to the page: the dialog. Tab to Suspend on the detail page, Enter opens the dialog
    // with the reason field focused.
    c.goto(&format!("{}/resources/production/kustomize.toolkit.fluxcd.io/Kustomization/team-a/podinfo", served.url))
        .await?;
    browser.wait_element("button[data-action=Suspend]").await?;
    let mut tabs = 0;
    while !browser.eval::<bool>("return document.activeElement.dataset.action === 'Suspend';").await? {
        browser.press(&[&Key::Tab]).await?;
        tabs += 1;
        assert!(tabs < 40, "no Suspend button within 40 Tabs");
    }
    browser.press(&[&Key::Enter]).await?;
    browser.wait_script("the reason field focused", "return document.activeElement.id === 'confirm-reason';").await?;
    browser.screenshot("keyboard-dialog").await;
    // Focus is trapped: Tab goes Cancel, confirm, and back to the reason; Shift+Tab the other way.
    browser.press(&[&Key::Tab, &Key::Tab, &Key::Tab]).await?;
    browser.wait_script("focus wrapped", "return document.activeElement.id === 'confirm-reason';").await?;
    browser.press(&[&Key::Shift, &Key::Tab]).await?;
    browser.wait_script("backwards to confirm", "return document.activeElement.dataset.testid === 'confirm';").await?;
    // Escape closes it and gives the focus back to Suspend.
    browser.press(&[&Key::Escape]).await?;
    browser
        .wait_script(
            "the dialog closed, focus back",
            "return !document.querySelector('[role=dialog]') && document.activeElement.dataset.action === 'Suspend';",
        )
        .await?;
    // Again, with a reason, confirmed by keyboard.
    browser.press(&[&Key::Enter]).await?;
    browser.wait_script("the reason field", "return document.activeElement.id === 'confirm-reason';").await?;
    browser.press(&["release freeze", &Key::Tab, &Key::Tab, &Key::Enter]).await?;
    browser.wait_text(".detail-head .badge", "the suspension", |t| t == "Suspended").await?;
    // Who, why, when: on the page, not only in the YAML.
    browser
        .wait_text("[data-testid=suspension]", "who suspended it and why", |t| {
            t.contains("demo-admin") && t.contains("release freeze") && t.contains("ago")
        })
        .await?;
    // The toast names the object fully and can be dismissed.
    browser
        .wait_text("[data-testid=toast]", "the toast", |t| t.contains("Kustomization team-a/podinfo in production"))
        .await?;
    c.find(Locator::Css("[data-testid=toast-close]")).await?.click().await?;
    browser.wait_script("the toast dismissed", "return !document.querySelector('[data-testid=toast]');").await?;

    // In the list, the row says who suspended it and why (its tooltip), and the keyboard reaches
    // the whole message: focus in the row shows it, and the name link is described by it.
    c.goto(&format!("{}/resources?ns=team-a&kind=Kustomization&q=podinfo", served.url)).await?;
    browser
        .wait_script(
            "the suspension in the row's tooltip",
            "return document.querySelector('.tbody .col-message')?.title.startsWith('Suspended by demo-admin: release freeze. ');",
        )
        .await?;
    assert!(!displayed(&browser, ".tbody .message-full").await?, "the whole message waits for the focus");
    let mut tabs = 0;
    while !browser.eval::<bool>("return !!document.activeElement.closest('.tbody .col-name');").await? {
        browser.press(&[&Key::Tab]).await?;
        tabs += 1;
        assert!(tabs < 40, "no row link within 40 Tabs");
    }
    browser
        .wait_script(
            "the whole message shown",
            "return getComputedStyle(document.querySelector('.tbody .message-full')).display === 'block';",
        )
        .await?;
    let (described, full): (String, String) = browser
        .eval(
            "const id = document.activeElement.getAttribute('aria-describedby');
             return [id || '', document.getElementById(id)?.textContent || ''];",
        )
        .await?;
    assert!(full.starts_with("Suspended by demo-admin: release freeze. "), "{described}: {full}");
    browser.screenshot("keyboard-row-message").await;

    // In-app navigation: the title, aria-current and the focus follow.
    c.find(Locator::Css("header nav a[href$='/controllers']")).await?.click().await?;
    browser.wait_script("the new title", "return document.title === 'Controllers · fluxboard';").await?;
    browser.wait_script("focus on the heading", "return document.activeElement.tagName === 'H1';").await?;
    assert_eq!(
        c.find(Locator::Css("header nav a[href$='/controllers']")).await?.attr("aria-current").await?.as_deref(),
        Some("page")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_words_agree_and_explain_what_to_do_and_why_a_viewer_sees_what_they_see() -> anyhow::Result<()> {
    let served = Served::start_clusters(&["production", "staging"], Options::default()).await;
    served.ready().await;
    let browser = Browser::start().await?;
    let c = &browser.client;
    c.goto(&format!("{}/", served.url)).await?;
    browser.wait_text("[data-testid=connection]", "live", |t| t == "live").await?;
    let total = count(&served, None).to_string();
    browser.wait_text("[data-testid=count-total]", "the total", |t| t == total).await?;
    // One meaning of "failing": the cards, the cluster cards and the kinds table agree.
    let failing = count(&served, Some(Health::Failing));
    let stalled = count(&served, Some(Health::Stalled));
    browser.wait_text("[data-testid=count-failing]", "failing", |t| t == failing.to_string()).await?;
    browser.wait_text("[data-testid=count-stalled]", "stalled", |t| t == stalled.to_string()).await?;
    let (cards_failing, cards_stalled, kinds_failing, kinds_stalled): (usize, usize, usize, usize) = browser
        .eval(
            "const n = (re) => [...document.querySelectorAll('.cluster-counts')].map(e => +((e.textContent.match(re) || [0, 0])[1])).reduce((a, b) => a + b, 0);
             const col = (i) => [...document.querySelectorAll('.kinds tbody tr')].map(r => +r.children[i].textContent).reduce((a, b) => a + b, 0);
             return [n(/(\\d+) failing/), n(/(\\d+) stalled/), col(2), col(3)];",
        )
        .await?;
    assert_eq!((cards_failing, cards_stalled), (failing, stalled), "the cluster cards");
    assert_eq!((kinds_failing, kinds_stalled), (failing, stalled), "the kinds table");
    // The same object failing the same way in both clusters is one line with both clusters.
    browser
        .wait_script(
            "one line for both clusters",
            "return [...document.querySelectorAll('[data-testid=attention-item]')].some(i => \
               [...i.querySelectorAll('.cluster-tag')].map(t => t.textContent).join() === 'production,staging');",
        )
        .await?;
    browser.wait_text("[data-testid=overview-verdict]", "the verdict", |t| t.ends_with("need attention.")).await?;
    // A viewer is told they are read-only.
    browser.wait_text("[data-testid=access]", "the role", |t| t == "viewer: read-only").await?;
    c.goto(&format!("{}/resources/production/kustomize.toolkit.fluxcd.io/Kustomization/flux-system/apps", served.url))
        .await?;
    browser.wait_text("[data-testid=read-only]", "why no buttons", |t| t.contains("viewer: read-only")).await?;

    // A stalled HelmRelease: Reset failures first, and why.
    let admin = Options { identity: Some(fluxboard::demo::demo_identity()), ..Options::default() };
    let served_admin = Served::start_clusters(&["production"], admin).await;
    served_admin.ready().await;
    let stalled_release =
        fluxboard_e2e::poll_until("a HelmRelease of the demo fleet to stall", fluxboard_e2e::DEADLINE, || async {
            served_admin
                .app
                .state
                .store
                .summaries()
                .into_iter()
                .find(|s| s.kind == "HelmRelease" && s.health == Health::Stalled)
        })
        .await?;
    c.goto(&format!(
        "{}/resources/{}/helm.toolkit.fluxcd.io/HelmRelease/{}/{}",
        served_admin.url, stalled_release.cluster, stalled_release.namespace, stalled_release.name
    ))
    .await?;
    browser.wait_text("[data-testid=action-hint]", "the hint", |t| t.contains("Reset failures")).await?;
    let first: String =
        browser.eval("return document.querySelector('.action-bar .btn.primary').dataset.action;").await?;
    assert_eq!(first, "Reset", "Reset failures is the first button on a stalled release");
    // How it is configured, without reading the YAML.
    browser
        .wait_text("[data-testid=settings]", "the configuration", |t| {
            t.contains("Interval") && t.contains("kube-prometheus-stack 66.2.1")
        })
        .await?;
    browser.screenshot("detail-stalled-release").await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_core_finds_no_critical_or_serious_violations() -> anyhow::Result<()> {
    let options = Options { identity: Some(fluxboard::demo::demo_identity()), ..Options::default() };
    let served = Served::start_clusters(&["production", "staging"], options).await;
    served.ready().await;
    let browser = Browser::start().await?;
    let pages = [
        ("overview", "/", "[data-testid=count-total]"),
        ("list", "/resources", "[data-testid=row]"),
        ("detail", "/resources/production/kustomize.toolkit.fluxcd.io/Kustomization/flux-system/apps", ".inventory"),
        (
            "detail-failing",
            "/resources/production/kustomize.toolkit.fluxcd.io/Kustomization/team-b/team-b-app",
            ".events, .empty",
        ),
        (
            "detail-release",
            "/resources/production/helm.toolkit.fluxcd.io/HelmRelease/team-a/podinfo-frontend",
            "button[data-action=Reconcile]",
        ),
        ("controllers", "/controllers", "[data-testid=controller-row]"),
        ("audit", "/audit", "h1"),
        ("wall", "/wall", "[data-testid=wall-tile]"),
    ];
    let mut found = Vec::new();
    for theme in ["light", "dark"] {
        browser.client.goto(&format!("{}/", served.url)).await?;
        browser.wait_element("[data-testid=count-total]").await?;
        browser
            .client
            .execute(&format!("localStorage.setItem('fluxboard-theme', '{theme}'); return null;"), vec![])
            .await?;
        browser.client.refresh().await?;
        for (name, path, ready) in pages {
            // In place (as the app's links do), so axe-core stays loaded.
            let href = serde_json::to_string(&format!("{}{path}", served.url))?;
            browser
                .client
                .execute(
                    &format!("history.pushState(null, '', {href}); dispatchEvent(new PopStateEvent('popstate')); return null;"),
                    vec![],
                )
                .await?;
            browser.wait_element(ready).await?;
            browser
                .wait_text("[data-testid=connection], [data-testid=wall-connection]", "live", |t| t == "live")
                .await?;
            browser.screenshot(&format!("axe-{name}-{theme}")).await;
            for v in browser.axe().await? {
                found.push(format!("{name} ({theme}): {v}"));
            }
        }
    }
    // The dialog, open.
    visit(&browser, &served, pages[4].1, pages[4].2, "axe-dialog").await?;
    browser.client.find(Locator::Css("button[data-action=Suspend]")).await?.click().await?;
    browser.wait_element("[role=dialog]").await?;
    for v in browser.axe().await? {
        found.push(format!("dialog: {v}"));
    }
    // axe-core is really looking: an image without a text alternative is found.
    browser
        .client
        .execute("document.body.append(Object.assign(document.createElement('img'), {src: 'x'})); return null;", vec![])
        .await?;
    let planted = browser.axe().await?;
    assert!(planted.iter().any(|v| v.contains("image-alt")), "axe-core missed a planted violation: {planted:?}");
    assert!(found.is_empty(), "axe-core found:\n{}", found.join("\n"));
    Ok(())
}
