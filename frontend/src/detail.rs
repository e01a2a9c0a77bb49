//! One object in full: its live summary from the stream, and what the API reads on demand:
//! conditions, inventory with live health, events, history, YAML. The read is a [`Load`]:
//! ordered (the newest answer shown), aborted when the page closes, and repeated when the object
//! changes on the stream (once it has been quiet for a moment, so a flapping object does not
//! multiply the inventory reads by the open tabs). The facts include an estimate of the next
//! run, counting down.

use fluxboard_model::action::{Action, SUSPEND_REASON, SUSPENDED_BY};
use fluxboard_model::api::{Condition, EventEntry, HistoryEntry, InventoryItem, ObjectDetail, ObjectRef};
use fluxboard_model::auth::Role;
use fluxboard_model::schedule::{countdown, next_run};
use fluxboard_model::view::{plain, yaml_annotation, yaml_block, yaml_value};
use fluxboard_model::{Health, Summary, kind_info};
use leptos::prelude::*;

use crate::api::ApiError;
use crate::live::Live;
use crate::load::Load;
use crate::route::{Link, detail_href};
use crate::ui::{ErrorView, HealthBadge, ItemBadge, Table, Time};

/// The detail read, as the page holds it.
type DetailRead = Load<Result<ObjectDetail, ApiError>>;

/// A link to another object of the same cluster, from `Kind/namespace/name`.
fn object_link(cluster: &str, reference: &str) -> Option<(ObjectRef, String)> {
    let mut parts = reference.splitn(3, '/');
    let (kind, namespace, name) = (parts.next()?, parts.next()?, parts.next()?);
    let group = fluxboard_model::KINDS.iter().find(|k| k.kind == kind)?.group;
    Some((
        ObjectRef {
            cluster: cluster.to_owned(),
            group: group.to_owned(),
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        },
        reference.to_owned(),
    ))
}

/// How long the object must stay unchanged on the stream before its detail is read again.
const DETAIL_RELOAD_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(500);

/// Reads the detail now, and again (after [`DETAIL_RELOAD_DEBOUNCE`]) whenever `summary`
/// changes.
fn detail_read(target: ObjectRef, summary: Memo<Option<Summary>>) -> DetailRead {
    let load = Load::new();
    Effect::new(move |first: Option<()>| {
        summary.track();
        let wait = first.is_some();
        let target = target.clone();
        // A newer start aborts this one: the read happens after a quiet moment.
        load.start(move || async move {
            if wait {
                crate::ui::sleep(DETAIL_RELOAD_DEBOUNCE).await;
            }
            crate::api::object(&target).await
        });
    });
    load
}

#[component]
pub(crate) fn Detail(target: ObjectRef) -> impl IntoView {
    let live = expect_context::<Live>();
    let key = target.key();
    let summary = Memo::new(move |_| live.with_object(&key, Summary::clone));
    let detail = detail_read(target.clone(), summary);
    let known_kind = kind_info(&target.group, &target.kind).is_some();
    let title = format!("{} {}/{}", target.kind, target.namespace, target.name);
    view! {
        <section class="page detail" aria-labelledby="detail-title">
            <nav class="crumbs" aria-label="Breadcrumb">
                <Link href="/">"Overview"</Link>
                " / "
                <Link href="/resources">"Resources"</Link>
                " / "
                <span>{title}</span>
            </nav>
            <header class="detail-head">
                <h1 id="detail-title">
                    <span class="kind">{target.kind.clone()}</span>
                    " "
                    <span class="ns">{target.namespace.clone()}</span>
                    "/"
                    <span class="name">{target.name.clone()}</span>
                </h1>
                <span class="cluster-tag">{target.cluster.clone()}</span>
                {move || summary.get().map(|s| view! { <HealthBadge health=s.health retrying=s.retrying /> })}
            </header>
            <crate::actions::ActionBar summary=Signal::from(summary) />
            <crate::why::WhyChain target=target.clone() />
            <details class="panel graph-tab" data-testid="object-graph-tab">
                <summary>"Graph: upstream and downstream"</summary>
                <crate::graph::ObjectGraph target=target.clone() />
            </details>
            {(!known_kind).then(|| view! { <p class="error">"This is not a Flux kind fluxboard knows."</p> })}
            <LiveFacts summary detail />
            <DetailSections target detail />
        </section>
    }
}

/// What the stream says about the object, or why it is not there.
#[component]
fn LiveFacts(summary: Memo<Option<Summary>>, detail: DetailRead) -> impl IntoView {
    let live = expect_context::<Live>();
    // Who suspended it and why (recorded by fluxboard's Suspend), and when (its Event).
    let suspension = Memo::new(move |_| {
        detail.with(|d| match d {
            Some(Ok(d)) => suspension_of(d),
            _ => (None, None, None),
        })
    });
    move || match (summary.get(), live.loaded.get()) {
        (Some(s), _) => view! { <Facts s suspension detail /> }.into_any(),
        // Unknown to the stream: the detail read says why (gone, or out of scope).
        (None, true) if detail.with(|d| matches!(d, Some(Err(_)))) => ().into_any(),
        (None, true) => view! { <p class="error">"This object is not in the cluster (or was deleted)."</p> }.into_any(),
        (None, false) => view! { <p class="loading">"Loading…"</p> }.into_any(),
    }
}

/// Who suspended the object, why, and when.
type Suspension = (Option<String>, Option<String>, Option<String>);

fn suspension_of(d: &ObjectDetail) -> Suspension {
    let by = yaml_annotation(&d.yaml, SUSPENDED_BY);
    let reason = yaml_annotation(&d.yaml, SUSPEND_REASON);
    let when = d
        .events
        .iter()
        .filter(|e| e.reason == Action::Suspend.event_reason())
        .filter_map(|e| e.last_seen.clone())
        .max();
    (by, reason, when)
}

/// The object's message and facts.
#[component]
fn Facts(s: Summary, suspension: Memo<Suspension>, detail: DetailRead) -> impl IntoView {
    let source = s.source_ref.as_deref().and_then(|r| object_link(&s.cluster, r));
    let deps: Vec<_> = s
        .depends_on
        .iter()
        .filter_map(|d| {
            let (ns, name) = d.split_once('/')?;
            object_link(&s.cluster, &format!("{}/{ns}/{name}", s.kind))
        })
        .collect();
    let or_dash = |text: &str| if text.is_empty() { "—".to_owned() } else { text.to_owned() };
    let source = match source {
        Some((r, label)) => view! { <Linked target=r label=label /> }.into_any(),
        None => view! { <span>"—"</span> }.into_any(),
    };
    let deps = if deps.is_empty() {
        view! { <span>"—"</span> }.into_any()
    } else {
        deps.into_iter()
            .map(|(r, label)| view! { <span class="dep"><Linked target=r label=label /></span> })
            .collect_view()
            .into_any()
    };
    let failing = matches!(s.health, Health::Failing | Health::Stalled);
    view! {
        <p class="message big" data-testid="detail-message">{plain(&s.message)}</p>
        <dl class="facts">
            <dt>"Revision"</dt>
            <dd class="mono revision">{or_dash(&s.revision)}</dd>
            <dt>"Ready reason"</dt>
            <dd>{or_dash(&s.reason)}</dd>
            <dt>"Source"</dt>
            <dd>{source}</dd>
            <dt>"Depends on"</dt>
            <dd>{deps}</dd>
            <dt>"Suspended"</dt>
            <dd data-testid="suspension">
                {if s.suspended { view! { "yes" <SuspensionText suspension /> }.into_any() } else { "no".into_any() }}
            </dd>
            <dt>"Last handled request"</dt>
            <dd><Time at=s.last_handled_reconcile_at.clone() /></dd>
            <dt>"Next run"</dt>
            <dd data-testid="next-run"><NextRun detail /></dd>
            <dt>"Generation"</dt>
            <dd>{generation_text(&s)}</dd>
            <dt>{if failing { "Failing since" } else { "Last change" }}</dt>
            <dd><Time at=s.last_transition_time.clone() /></dd>
        </dl>
    }
}

/// When the controller runs the object again by itself, counting down each second: an estimate
/// (`fluxboard_model::schedule`: the interval after its last known run; Flux adds jitter).
#[component]
fn NextRun(detail: DetailRead) -> impl IntoView {
    let now = RwSignal::new(crate::ui::now());
    if let Ok(tick) = set_interval_with_handle(move || now.set(crate::ui::now()), std::time::Duration::from_secs(1)) {
        on_cleanup(move || tick.clear());
    }
    // One element whatever the estimate (each kind of view is more code in the bundle).
    let shown = move || {
        let now = now.get();
        match detail.with(|d| d.as_ref().and_then(|r| r.as_ref().ok()).map(|d| next_run(d, now))) {
            None => (String::new(), "—".to_owned()),
            Some(None) => (String::new(), "not scheduled (suspended, or no interval)".to_owned()),
            Some(Some(next)) => (
                format!(
                    "An estimate: every {} after the last run seen ({} ago); Flux adds some jitter, and a change or a \
                     request runs it sooner.",
                    countdown(next.every),
                    countdown(now - next.since)
                ),
                format!("in {} (estimate)", countdown(next.at - now)),
            ),
        }
    };
    view! { <span title=move || shown().0>{move || shown().1}</span> }
}

/// ", by admin, 5m ago. Reason: ..." after "yes".
#[component]
fn SuspensionText(suspension: Memo<Suspension>) -> impl IntoView {
    move || {
        let (by, reason, when) = suspension.get();
        view! {
            {by.map(|b| format!(", by {b}"))}
            {when.map(|w| view! { ", " <Time at=w /> })}
            {reason.map(|r| view! { <span class="suspend-reason">{format!("Reason: {}", plain(&r))}</span> })}
        }
    }
}

fn generation_text(s: &Summary) -> String {
    if s.generation == s.observed_generation || s.observed_generation < 0 {
        s.generation.to_string()
    } else if s.suspended {
        format!("{} (the controller saw {}; it applies the change once resumed)", s.generation, s.observed_generation)
    } else {
        format!("{} (observed {})", s.generation, s.observed_generation)
    }
}

/// What the detail read gave: the sections, or why there are none.
#[component]
fn DetailSections(target: ObjectRef, detail: DetailRead) -> impl IntoView {
    let actions = expect_context::<crate::actions::Actions>();
    // Outside the caller's access: say so calmly, with the way on, rather than as an error.
    let scope_text = actions.me.with_untracked(|me| {
        let me = me.as_ref().filter(|me| !me.may(Role::Viewer, &target.cluster, &target.namespace))?;
        Some(format!(
            "{} in {} is outside your access ({}), so fluxboard cannot show it. An admin can extend your role \
             bindings if you need it.",
            target.namespace,
            target.cluster,
            fluxboard_model::view::access_summary(me)
        ))
    });
    let cluster = target.cluster;
    move || {
        detail.with(|d| match d {
            None => view! { <p class="loading">"Loading details…"</p> }.into_any(),
            Some(Err(e)) => match scope_text.clone() {
                Some(text) => view! { <OutOfScope text error=e.clone() /> }.into_any(),
                None => view! { <ErrorView error=e.clone() /> }.into_any(),
            },
            Some(Ok(d)) => view! { <Sections d=d.clone() cluster=cluster.clone() /> }.into_any(),
        })
    }
}

#[component]
fn OutOfScope(text: String, error: ApiError) -> impl IntoView {
    view! {
        <div class="notice" data-testid="out-of-scope">
            <p>{text}</p>
            <p class="muted">{error.to_string()}</p>
            <p>
                <Link href="/">"Go to the overview"</Link>
                " · "
                <Link href="/resources">"See what you can access"</Link>
            </p>
        </div>
    }
}

/// Every section of a read detail.
#[component]
fn Sections(d: ObjectDetail, cluster: String) -> impl IntoView {
    let inventory = match (d.inventory, d.inventory_note) {
        (Some(items), _) => Some(view! { <Inventory items cluster /> }.into_any()),
        (None, Some(note)) => Some(view! { <InventoryNote note /> }.into_any()),
        (None, None) => None,
    };
    let history = (!d.history.is_empty()).then(|| view! { <History history=d.history /> });
    view! {
        <Settings yaml=d.yaml.clone() />
        <Conditions conditions=d.conditions />
        {inventory}
        <section class="panel" aria-labelledby="events-title">
            <h2 id="events-title">"Events"</h2>
            <Events events=d.events error=d.events_error />
        </section>
        {history}
        <details class="panel yaml">
            <summary>"YAML"</summary>
            <pre class="mono" tabindex="0" aria-label="The object as YAML">{d.yaml}</pre>
        </details>
    }
}

#[component]
fn Conditions(conditions: Vec<Condition>) -> impl IntoView {
    if conditions.is_empty() {
        return view! {
            <section class="panel" aria-labelledby="conditions-title">
                <h2 id="conditions-title">"Conditions"</h2>
                <p class="empty">"No conditions (this kind may have no status)."</p>
            </section>
        }
        .into_any();
    }
    let rows = conditions
        .into_iter()
        .map(|c| {
            let class = match c.status.as_str() {
                "True" if c.type_ == "Ready" => "ok",
                "False" if c.type_ == "Ready" => "bad",
                "True" if c.type_ == "Stalled" => "bad",
                _ => "",
            };
            view! {
                <tr>
                    <th scope="row">{c.type_.clone()}</th>
                    <td class=class>{c.status.clone()}</td>
                    <td>{c.reason.clone()}</td>
                    <td class="message">{plain(&c.message)}</td>
                    <td><Time at=c.last_transition_time.clone() /></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="panel" aria-labelledby="conditions-title">
            <h2 id="conditions-title">"Conditions"</h2>
            <Table columns=&["Type", "Status", "Reason", "Message", "Since"] class="conditions" label="Conditions">{rows}</Table>
        </section>
    }
    .into_any()
}

#[component]
fn Inventory(items: Vec<InventoryItem>, cluster: String) -> impl IntoView {
    let n = items.len();
    let rows = items.into_iter().map(|item| view! { <InventoryRow item cluster=cluster.clone() /> }).collect_view();
    view! {
        <section class="panel" aria-labelledby="inventory-title">
            <h2 id="inventory-title">{format!("Inventory ({n})")}</h2>
            <Table columns=&["Health", "Kind", "Namespace", "Name", "Status"] class="inventory" label="Inventory">{rows}</Table>
        </section>
    }
}

#[component]
fn InventoryRow(item: InventoryItem, cluster: String) -> impl IntoView {
    let i = item;
    let flux = kind_info(&i.group, &i.kind).map(|_| ObjectRef {
        cluster,
        group: i.group.clone(),
        kind: i.kind.clone(),
        namespace: i.namespace.clone(),
        name: i.name.clone(),
    });
    let name = match flux {
        Some(r) => view! { <Link href=detail_href(&r)>{i.name.clone()}</Link> }.into_any(),
        None => view! { <span>{i.name.clone()}</span> }.into_any(),
    };
    view! {
        <tr data-testid="inventory-row">
            <td>
                <ItemBadge health=i.health />
            </td>
            <td>{i.kind.clone()}</td>
            <td>{if i.namespace.is_empty() { "(cluster)".to_owned() } else { i.namespace.clone() }}</td>
            <td>{name}</td>
            <td class="message">{plain(&i.message)}</td>
        </tr>
    }
}

#[component]
fn InventoryNote(note: String) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="inventory-title">
            <h2 id="inventory-title">"Inventory"</h2>
            <p class="empty" data-testid="inventory-note">{note}</p>
        </section>
    }
}

#[component]
fn Events(events: Vec<EventEntry>, error: Option<String>) -> impl IntoView {
    if events.is_empty() {
        return match error {
            Some(why) => view! { <p class="empty" data-testid="events-error">{why}</p> }.into_any(),
            None => view! { <p class="empty">"No recent events."</p> }.into_any(),
        };
    }
    let items = events
        .into_iter()
        .map(|e| {
            let class = if e.type_ == "Warning" { "event warning" } else { "event" };
            view! {
                <li class=class>
                    <span class="event-time"><Time at=e.last_seen.clone() /></span>
                    <span class="event-reason">{plain(&e.reason)}</span>
                    {(e.count > 1).then(|| view! { <span class="event-count">{format!("×{}", e.count)}</span> })}
                    <span class="event-source">{e.source.clone()}</span>
                    <p class="message">{plain(&e.message)}</p>
                </li>
            }
        })
        .collect_view();
    view! { <ul class="events">{items}</ul> }.into_any()
}

#[component]
fn History(history: Vec<HistoryEntry>) -> impl IntoView {
    let rows = history
        .into_iter()
        .map(|h| {
            view! {
                <tr>
                    <td class="mono">{h.revision.clone()}</td>
                    <td>{h.status.clone()}</td>
                    <td><Time at=h.time.clone() /></td>
                    <td>{h.detail.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="panel" aria-labelledby="history-title">
            <h2 id="history-title">"History"</h2>
            <Table columns=&["Revision", "Status", "When", "Detail"] label="History">{rows}</Table>
        </section>
    }
}

/// How it is configured, read from the object itself (what `flux get` users look up in the
/// YAML), and its Helm values.
#[component]
fn Settings(yaml: String) -> impl IntoView {
    let settings = settings_of(&yaml);
    let settings = (!settings.is_empty()).then(|| {
        let items =
            settings.into_iter().map(|(k, v)| view! { <dt>{k}</dt> <dd class="mono">{plain(&v)}</dd> }).collect_view();
        view! {
            <section class="panel" aria-labelledby="settings-title">
                <h2 id="settings-title">"Configuration"</h2>
                <dl class="facts flat" data-testid="settings">{items}</dl>
            </section>
        }
    });
    let values = yaml_block(&yaml, &["spec", "values"]).map(|v| {
        view! {
            <details class="panel yaml" data-testid="values">
                <summary>"Helm values (spec.values)"</summary>
                <pre class="mono" tabindex="0" aria-label="Helm values">{v}</pre>
            </details>
        }
    });
    view! { {settings} {values} }
}

/// The settings shown under "Configuration", those the object has.
fn settings_of(yaml: &str) -> Vec<(&'static str, String)> {
    let spec = |path: &[&str]| yaml_value(yaml, path);
    let chart = spec(&["spec", "chart", "spec", "chart"]).map(|c| match spec(&["spec", "chart", "spec", "version"]) {
        Some(v) => format!("{c} {v}"),
        None => c,
    });
    let chart_ref = spec(&["spec", "chartRef", "name"])
        .map(|n| format!("{}/{n}", spec(&["spec", "chartRef", "kind"]).unwrap_or_default()));
    [
        ("Interval", spec(&["spec", "interval"])),
        ("Retry interval", spec(&["spec", "retryInterval"])),
        ("Timeout", spec(&["spec", "timeout"])),
        ("Path", spec(&["spec", "path"])),
        ("Prune", spec(&["spec", "prune"])),
        ("Chart", chart.or(chart_ref)),
        ("Target namespace", spec(&["spec", "targetNamespace"])),
        ("URL", spec(&["spec", "url"])),
        ("Branch", spec(&["spec", "ref", "branch"])),
        ("Tag", spec(&["spec", "ref", "tag"])),
        ("Semver", spec(&["spec", "ref", "semver"])),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v?)))
    .collect()
}

/// A link to a related object (source, dependency) with its live health, so a failing source
/// shows on the page that depends on it.
#[component]
fn Linked(target: ObjectRef, label: String) -> impl IntoView {
    let live = expect_context::<Live>();
    let id = target.key();
    let health = Memo::new(move |_| live.with_object(&id, |s| (s.health, s.retrying, plain(&s.message))));
    view! {
        <Link href=detail_href(&target)>{label}</Link>
        {move || {
            health
                .get()
                .map(|(h, retrying, message)| {
                    let bad = matches!(h, fluxboard_model::Health::Failing | fluxboard_model::Health::Stalled);
                    view! {
                        " "
                        <HealthBadge health=h retrying=retrying />
                        {bad.then(|| view! { <span class="linked-message">{message}</span> })}
                    }
                })
        }}
    }
}
