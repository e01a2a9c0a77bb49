//! The fleet graph in headless Chromium: why team-b-app is not ready (its page names its
//! GitRepository and the authentication failure; the list and the overview say what blocks it),
//! the graph page drawing every object of the fleet (and asking to narrow a fleet too large to
//! draw), a commit found in production and not in staging from the search box, and the release
//! matrix.

use fantoccini::Locator;
use fluxboard::Options;
use fluxboard_e2e::{Browser, Served};
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn why_the_graph_where_a_commit_is_and_what_runs_where() -> anyhow::Result<()> {
    let served = Served::start_clusters(&["production", "staging"], Options::default()).await;
    served.ready().await;
    let browser = Browser::start().await?;
    let c = &browser.client;

    // team-b-app's page: the chain to its GitRepository and the authentication failure.
    c.goto(&format!("{}/resources/production/kustomize.toolkit.fluxcd.io/Kustomization/team-b/team-b-app", served.url))
        .await?;
    browser
        .wait_text("[data-testid=why]", "the chain to the repository", |t| {
            t.contains("GitRepository team-b/team-b-app") && t.contains("authentication required")
        })
        .await?;
    let hop = c.find(Locator::Css("[data-testid=why-hop] a")).await?;
    assert!(hop.attr("href").await?.unwrap_or_default().ends_with("/GitRepository/team-b/team-b-app"));
    browser.screenshot("why-team-b-app").await;

    // The list says what blocks it, in the message column.
    c.goto(&format!("{}/resources?q=team-b-app&kind=Kustomization&cluster=production", served.url)).await?;
    browser
        .wait_text(".tbody [data-testid=row] .col-message", "the blocked-by line", |t| {
            t.starts_with("blocked by GitRepository team-b/team-b-app:") && t.contains("authentication required")
        })
        .await?;
    // The overview lists the Kustomization beneath its repository.
    c.goto(&format!("{}/", served.url)).await?;
    browser
        .wait_script(
            "team-b-app beneath its repository",
            "return [...document.querySelectorAll('[data-testid=attention-item]')].some(i => \
               i.querySelector('.object-link').textContent.includes('GitRepository') && \
               (i.querySelector('[data-testid=blocks]') || {textContent: ''}).textContent.includes('Kustomization team-b/team-b-app'));",
        )
        .await?;

    // The graph draws every object of the fleet, one node each, and a click opens one.
    c.goto(&format!("{}/graph", served.url)).await?;
    let want: BTreeSet<String> =
        served.app.state.store.summaries().iter().map(|s| fluxboard_model::view::key(s)).collect();
    let deadline = tokio::time::Instant::now() + fluxboard_e2e::DEADLINE;
    loop {
        let drawn: Vec<String> = browser
            .eval("return [...document.querySelectorAll('[data-testid=graph-node]')].map(n => n.getAttribute('data-ref'));")
            .await?;
        let drawn: BTreeSet<String> = drawn.into_iter().collect();
        let want: BTreeSet<String> =
            served.app.state.store.summaries().iter().map(|s| fluxboard_model::view::key(s)).collect();
        if want.is_subset(&drawn) && !want.is_empty() {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the graph lacks {:?}",
            want.difference(&drawn).collect::<Vec<_>>()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(want.len() > 60, "two clusters of the demo fleet");
    let edges: usize = browser.eval("return document.querySelectorAll('svg.graph path.edge').length;").await?;
    assert!(edges > 40, "{edges} edges");
    browser.screenshot("graph").await;
    // One namespace (and what feeds it from elsewhere) fits the view; a click opens a node.
    c.goto(&format!("{}/graph?cluster=production&namespace=team-b", served.url)).await?;
    browser.wait_text("[data-testid=graph-count]", "team-b's objects", |t| t == "6 objects").await?;
    browser.screenshot("graph-team-b").await;
    c.find(Locator::Css("[data-ref='production/source.toolkit.fluxcd.io/GitRepository/team-b/team-b-app']"))
        .await?
        .click()
        .await?;
    browser
        .wait_text("h1", "the repository's page", |t| t.contains("GitRepository") && t.contains("team-b-app"))
        .await?;

    // A commit of production's fleet repository, typed into the search box.
    let revision = served
        .app
        .state
        .store
        .summaries()
        .iter()
        .find(|s| s.cluster == "production" && s.kind == "GitRepository" && s.name == "flux-system")
        .map(|s| s.revision.clone())
        .unwrap_or_default();
    let sha = revision.split("sha1:").nth(1).unwrap_or_default().to_owned();
    anyhow::ensure!(sha.len() >= 7, "production's revision {revision:?}");
    c.goto(&format!("{}/resources", served.url)).await?;
    browser.wait_element("#search").await?.send_keys(&sha[..10]).await?;
    browser.wait_element(".where-revision").await?.click().await?;
    browser
        .wait_script(
            "production's objects with the commit",
            "const m = [...document.querySelectorAll('[data-testid=revision-match]')]; \
             return m.length >= 2 && m.every(e => e.getAttribute('data-cluster') === 'production');",
        )
        .await?;
    let text = browser.wait_text(".revisions", "the matches", |t| t.contains("Kustomization flux-system/apps")).await?;
    assert!(!text.contains("in staging"), "{text}");
    browser.screenshot("revisions").await;

    // What runs where: the fleet repository differs between the clusters.
    c.goto(&format!("{}/matrix", served.url)).await?;
    browser
        .wait_script(
            "the fleet repository's row",
            "return [...document.querySelectorAll('[data-testid=matrix-row]')].some(r => \
               r.textContent.includes('GitRepository flux-system/flux-system') && r.classList.contains('differs') && \
               r.querySelectorAll('td[data-cluster]').length === 2);",
        )
        .await?;
    // What differs comes first, and the summary counts the rows.
    let (first_differs, rows): (bool, usize) = browser
        .eval(
            "const rows = [...document.querySelectorAll('[data-testid=matrix-row]')]; \
             return [rows[0].classList.contains('differs'), rows.length];",
        )
        .await?;
    assert!(first_differs, "the rows that differ come first");
    let summary = browser
        .wait_text("[data-testid=matrix-summary]", "the matrix summary", |t| t.contains("in several clusters"))
        .await?;
    assert!(summary.starts_with(&format!("{rows} objects in several clusters; ")), "{summary} for {rows} rows");
    browser.screenshot("matrix").await;
    Ok(())
}

/// A viewer of team-a whose Kustomization is fed by a repository in flux-system: the browser
/// does not have that repository (the stream is scoped), and says what blocks the
/// Kustomization as the API does: "outside your scope", in the list, on the detail page and on
/// the graph.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cause_outside_the_scope_reads_outside_your_scope() -> anyhow::Result<()> {
    use fluxboard_model::auth::{Grant, Identity, Role};
    let team_a = Identity {
        user: "ann".into(),
        groups: Vec::new(),
        grants: vec![Grant { role: Role::Viewer, clusters: vec!["*".into()], namespaces: vec!["team-a".into()] }],
    };
    let served =
        Served::start_clusters(&["production"], Options { identity: Some(team_a), ..Options::default() }).await;
    served.ready().await;
    served.demo.sims[0].cluster().apply(&serde_json::json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "platform-config", "namespace": "team-a"},
        "spec": {"interval": "10m", "path": "./platform", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "platform", "namespace": "flux-system"}}
    }))?;
    let browser = Browser::start().await?;
    let c = &browser.client;

    c.goto(&format!("{}/resources?q=platform-config", served.url)).await?;
    let line = browser
        .wait_text(".tbody [data-testid=row] .col-message", "the blocked-by line", |t| t.starts_with("blocked by"))
        .await?;
    assert_eq!(line, "blocked by an object outside your scope");
    browser.screenshot("blocked-outside-scope-list").await;

    c.goto(&format!(
        "{}/resources/production/kustomize.toolkit.fluxcd.io/Kustomization/team-a/platform-config",
        served.url
    ))
    .await?;
    browser
        .wait_text("[data-testid=why-root]", "the root cause", |t| t == "blocked by an object outside your scope")
        .await?;
    browser
        .wait_text("[data-testid=why-hop]", "the hidden hop", |t| t.contains("an object outside your scope"))
        .await?;
    let chain: String = browser.eval("return document.querySelector('[data-testid=why]').textContent;").await?;
    assert!(!chain.contains("flux-system"), "the chain names nothing outside the scope: {chain}");

    // On the graph the repository is drawn (the Kustomization names it) as outside the scope.
    c.goto(&format!("{}/graph?namespace=team-a", served.url)).await?;
    let node = "[data-ref='production/source.toolkit.fluxcd.io/GitRepository/flux-system/platform']";
    browser.wait_element(node).await?;
    let label: String =
        browser.eval(&format!("return document.querySelector(\"{node}\").getAttribute('aria-label');")).await?;
    assert!(label.ends_with("outside your scope"), "{label}");
    browser.screenshot("graph-outside-scope").await;
    Ok(())
}

/// What the graph page shows of its nodes: how many, overlapping pairs, whether the drawing
/// fits the view, labels wider than their node, cut labels whose full name is not the node's
/// title, and how many labels are cut.
const READABILITY: &str = "
    const nodes = [...document.querySelectorAll('[data-testid=graph-node]')];
    const rects = nodes.map(n => n.querySelector('rect').getBoundingClientRect());
    const byLeft = rects.map((_, i) => i).sort((a, b) => rects[a].left - rects[b].left);
    let overlaps = 0;
    for (let i = 0; i < byLeft.length; i++) {
        const a = rects[byLeft[i]];
        for (let j = i + 1; j < byLeft.length; j++) {
            const b = rects[byLeft[j]];
            if (b.left >= a.right) break;
            if (b.top < a.bottom && a.top < b.bottom) overlaps++;
        }
    }
    const view = document.querySelector('svg.graph').getBoundingClientRect();
    const drawing = document.querySelector('g.graph-drawing').getBoundingClientRect();
    const fits = drawing.left >= view.left - 1 && drawing.top >= view.top - 1
        && drawing.right <= view.right + 1 && drawing.bottom <= view.bottom + 1;
    const room = n => n.querySelector('rect').width.baseVal.value - 2 * 10;
    const tooWide = nodes.filter(n => [...n.querySelectorAll('text')].some(t => t.getComputedTextLength() > room(n)))
        .map(n => n.getAttribute('data-ref'));
    const cut = nodes.filter(n => n.querySelector('.gname').textContent.endsWith('…'));
    const lost = cut.filter(n => {
        const ref = n.getAttribute('data-ref').split('/');
        return !n.querySelector('title').textContent.includes(ref[3] + '/' + ref[4]);
    }).map(n => n.getAttribute('data-ref'));
    return [nodes.length, overlaps, fits, tooWide, lost, cut.length];
";

/// The node nearest the view's centre: its data-ref, and whether it lies within the view.
const NEAREST_THE_CENTRE: &str = "
    const view = document.querySelector('svg.graph').getBoundingClientRect();
    const [cx, cy] = [view.left + view.width / 2, view.top + view.height / 2];
    let best = null, far = Infinity;
    for (const n of document.querySelectorAll('[data-testid=graph-node]')) {
        const r = n.querySelector('rect').getBoundingClientRect();
        const d = Math.hypot(r.left + r.width / 2 - cx, r.top + r.height / 2 - cy);
        if (d < far) { far = d; best = n; }
    }
    return best.getAttribute('data-ref');
";

/// A fleet of 500 Flux objects (kube-sim's scalable fleet, 650 nodes with the HelmCharts):
/// the graph draws every node without overlaps, fits the view, labels fit their nodes or are
/// cut with the full name as the title, zooming in around the view's centre makes them
/// readable, and a change on the cluster redraws its node only, leaving the view where it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_of_500_objects_is_readable_and_stays_live() -> anyhow::Result<()> {
    let served = fluxboard_e2e::Served::start_scaled(500, Options::default()).await;
    served.ready().await;
    let cluster = served.demo.sims[0].cluster();
    let long = "platform-infrastructure-configuration-repository";
    cluster.apply(&serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": long, "namespace": "team-0003"},
        "spec": {"url": "https://github.com/acme/platform", "interval": "10m", "ref": {"branch": "main"}}
    }))?;
    let browser = Browser::start().await?;
    let c = &browser.client;
    c.goto(&format!("{}/graph", served.url)).await?;

    // Every object of the store is drawn.
    let want = wait_drawn(&browser, || {
        let want: BTreeSet<String> =
            served.app.state.store.summaries().iter().map(|s| fluxboard_model::view::key(s)).collect();
        (want.len() >= 500).then_some(want)
    })
    .await?;
    let (nodes, overlaps, fits, too_wide, lost, cut): (usize, usize, bool, Vec<String>, Vec<String>, usize) =
        browser.eval(READABILITY).await?;
    assert!(nodes >= want.len(), "{nodes} nodes for {} objects", want.len());
    assert_eq!(overlaps, 0, "overlapping nodes");
    assert!(fits, "the whole drawing fits the view");
    assert!(too_wide.is_empty(), "labels wider than their node: {too_wide:?}");
    assert!(lost.is_empty(), "cut labels without their full name: {lost:?}");
    assert!(cut >= 1, "the long name is cut");
    let node = format!("[data-ref='production/source.toolkit.fluxcd.io/GitRepository/team-0003/{long}']");
    let title: String = browser.eval(&format!("return document.querySelector(\"{node} title\").textContent;")).await?;
    assert!(title.contains(&format!("team-0003/{long}")), "{title}");
    browser.screenshot("graph-500-fitted").await;

    // Zoomed in around the centre: the node there stays in view and its name is readable.
    let centre: String = browser.eval(NEAREST_THE_CENTRE).await?;
    let zoom_in = c.find(Locator::Css("button[aria-label='Zoom in']")).await?;
    let shown = format!("[data-ref='{centre}']");
    let mut clicks = 0;
    loop {
        let (height, inside): (f64, bool) = browser
            .eval(&format!(
                "const n = document.querySelector(\"{shown}\"); const v = document.querySelector('svg.graph').getBoundingClientRect(); \
                 const r = n.querySelector('rect').getBoundingClientRect(); \
                 return [n.querySelector('.gname').getBoundingClientRect().height, \
                         r.left >= v.left && r.right <= v.right && r.top >= v.top && r.bottom <= v.bottom];"
            ))
            .await?;
        assert!(inside, "{centre} left the view after {clicks} zooms");
        if height >= 12.0 {
            break;
        }
        anyhow::ensure!(clicks < 12, "the name is {height} px high after {clicks} zooms");
        zoom_in.click().await?;
        clicks += 1;
    }
    browser.screenshot("graph-500-zoomed").await;

    // Live: one Kustomization is suspended on the cluster. Its node redraws; the others are the
    // same elements, and the view stays where it is.
    let target = "production/kustomize.toolkit.fluxcd.io/Kustomization/team-0001/app-4";
    let other = "production/kustomize.toolkit.fluxcd.io/Kustomization/team-0001/app-5";
    let before: String = browser
        .eval(&format!(
            "document.querySelector(\"[data-ref='{other}']\").__mark = 'kept'; \
             return document.querySelector('g.graph-drawing').getAttribute('transform');"
        ))
        .await?;
    let mut ks = (*cluster.get("kustomize.toolkit.fluxcd.io", "Kustomization", "team-0001", "app-4").unwrap()).clone();
    ks["spec"]["suspend"] = serde_json::json!(true);
    cluster.apply(&ks)?;
    browser
        .wait_script(
            "the suspended node",
            &format!("return document.querySelector(\"[data-ref='{target}']\").classList.contains('h-suspended');"),
        )
        .await?;
    let (kept, after): (String, String) = browser
        .eval(&format!(
            "return [document.querySelector(\"[data-ref='{other}']\").__mark || '', \
                     document.querySelector('g.graph-drawing').getAttribute('transform')];"
        ))
        .await?;
    assert_eq!(kept, "kept", "an unchanged node is not redrawn");
    assert_eq!(after, before, "the view stays where it is");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_too_large_to_draw_asks_to_narrow_the_graph() -> anyhow::Result<()> {
    let served = fluxboard_e2e::Served::start_scaled(2000, Options::default()).await;
    served.ready().await;
    let browser = Browser::start().await?;
    let c = &browser.client;
    c.goto(&format!("{}/graph", served.url)).await?;

    // More objects than the graph draws: it says how many, draws none, and says what to do.
    let notice = browser
        .wait_text("[data-testid=graph-too-many]", "the ask to narrow the graph", |t| t.contains("draws at most 2,000"))
        .await?;
    assert!(notice.contains("Choose a cluster or type a namespace"), "{notice}");
    let total = served.app.state.store.summaries().len();
    assert!(total > 2000, "{total} objects");
    let count =
        browser.wait_text("[data-testid=graph-count]", "the count", |t| t.ends_with("objects, not drawn")).await?;
    let shown: usize = count.split(' ').next().unwrap_or_default().replace(',', "").parse()?;
    assert!(shown > 2000 && shown <= total, "{count} of {total}");
    let drawn: usize = browser.eval("return document.querySelectorAll('[data-testid=graph-node]').length;").await?;
    assert_eq!(drawn, 0);
    browser.screenshot("graph-too-many").await;

    // One namespace: its objects (and their sources elsewhere) are drawn, and the ask is gone.
    let input = browser.wait_element("[data-testid=graph-namespace]").await?;
    input.send_keys("team-0003\u{E007}").await?;
    let want: BTreeSet<String> = served
        .app
        .state
        .store
        .summaries()
        .iter()
        .filter(|s| s.namespace == "team-0003")
        .map(|s| fluxboard_model::view::key(s))
        .collect();
    assert!(!want.is_empty());
    wait_drawn(&browser, || Some(want.clone())).await?;
    let asks: usize = browser.eval("return document.querySelectorAll('[data-testid=graph-too-many]').length;").await?;
    assert_eq!(asks, 0, "the ask is gone once the graph is drawn");
    assert!(c.current_url().await?.as_str().ends_with("/graph?namespace=team-0003"), "the query is in the URL");
    Ok(())
}

/// Waits until every object `want` names (None: not yet known) is drawn as a graph node, and
/// returns them.
async fn wait_drawn(
    browser: &Browser,
    want: impl Fn() -> Option<BTreeSet<String>>,
) -> anyhow::Result<BTreeSet<String>> {
    let deadline = tokio::time::Instant::now() + fluxboard_e2e::DEADLINE;
    loop {
        let drawn: Vec<String> = browser
            .eval("return [...document.querySelectorAll('[data-testid=graph-node]')].map(n => n.getAttribute('data-ref'));")
            .await?;
        let drawn: BTreeSet<String> = drawn.into_iter().collect();
        let wanted = want();
        if let Some(wanted) = wanted.as_ref().filter(|w| w.is_subset(&drawn)) {
            return Ok(wanted.clone());
        }
        let total = wanted.map_or(0, |w| w.len());
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "{} of {total} objects drawn", drawn.len());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
