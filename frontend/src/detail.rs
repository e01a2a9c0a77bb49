//! One object in full: its live summary from the stream, and what the API reads on demand:
//! conditions, inventory with live health, events, history, YAML. The reads are repeated when
//! the object changes on the stream.

use fluxboard_model::api::{ObjectDetail, ObjectRef};
use fluxboard_model::kind_info;
use leptos::prelude::*;
use leptos::task::spawn_local;

use fluxboard_model::action::{Action, SUSPEND_REASON, SUSPENDED_BY};
use fluxboard_model::auth::Role;
use fluxboard_model::view::{plain, yaml_annotation, yaml_block, yaml_value};

use crate::live::Live;
use crate::route::{Link, detail_href};
use crate::ui::{HealthBadge, ItemBadge, Table, Time};

async fn fetch_detail(r: &ObjectRef) -> Result<ObjectDetail, String> {
    crate::http::get_json(&format!("api/v1/objects/{}", crate::route::ref_path(r))).await
}

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

#[component]
pub(crate) fn Detail(target: ObjectRef) -> impl IntoView {
    let live = expect_context::<Live>();
    let actions = expect_context::<crate::actions::Actions>();
    let id = format!("{}/{}/{}/{}/{}", target.cluster, target.group, target.kind, target.namespace, target.name);
    let summary = Memo::new(move |_| live.fleet.with(|f| f.objects.get(&id).map(|r| (*r.summary).clone())));
    let detail: RwSignal<Option<Result<ObjectDetail, String>>> = RwSignal::new(None);
    // Each load has a number: only the newest one's answer is shown (answers can arrive out of
    // order), and a burst of changes on the stream makes one load after it settles, so a
    // flapping object does not multiply the inventory reads by the number of open tabs.
    let latest = StoredValue::new(0u64);
    let load = {
        let target = target.clone();
        move |wait: std::time::Duration| {
            let target = target.clone();
            let mine = latest.get_value() + 1;
            latest.set_value(mine);
            set_timeout(
                move || {
                    if latest.get_value() != mine {
                        return;
                    }
                    spawn_local(async move {
                        let result = fetch_detail(&target).await;
                        if latest.try_get_value() == Some(mine) {
                            detail.set(Some(result));
                        }
                    });
                },
                wait,
            );
        }
    };
    // Load now, and again (debounced) whenever the object changes on the stream.
    Effect::new(move |first: Option<()>| {
        summary.track();
        load(if first.is_none() { std::time::Duration::ZERO } else { DETAIL_RELOAD_DEBOUNCE });
    });
    let known_kind = kind_info(&target.group, &target.kind).is_some();
    let title = format!("{} {}/{}", target.kind, target.namespace, target.name);
    let cluster = target.cluster.clone();
    // Outside the caller's access: say so calmly, with the way on, rather than as an error.
    let out_of_scope = actions
        .me
        .with_untracked(|me| me.as_ref().is_some_and(|me| !me.may(Role::Viewer, &target.cluster, &target.namespace)));
    let scope_text = actions.me.with_untracked(|me| {
        me.as_ref().map(|me| {
            format!(
                "{} in {} is outside your access ({}), so fluxboard cannot show it. An admin can extend your \
                 role bindings if you need it.",
                target.namespace,
                target.cluster,
                fluxboard_model::view::access_summary(me)
            )
        })
    });
    // Who suspended it and why (recorded by fluxboard's Suspend), and when (its Event).
    let suspension = Memo::new(move |_| {
        detail.with(|d| match d {
            Some(Ok(d)) => {
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
            _ => (None, None, None),
        })
    });

    view! {
        <section class="page detail" aria-labelledby="detail-title">
            <nav class="crumbs" aria-label="Breadcrumb">
                <Link href="/">"Overview"</Link>
                " / "
                <Link href="/resources">"Resources"</Link>
                " / "
                <span>{title.clone()}</span>
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
            {move || {
                match (summary.get(), live.loaded.get()) {
                    (Some(s), _) => {
                        let source = s.source_ref.as_deref().and_then(|r| object_link(&s.cluster, r));
                        let deps: Vec<_> = s
                            .depends_on
                            .iter()
                            .filter_map(|d| {
                                let (ns, name) = d.split_once('/')?;
                                object_link(&s.cluster, &format!("{}/{ns}/{name}", s.kind))
                            })
                            .collect();
                        view! {
                            <p class="message big" data-testid="detail-message">{plain(&s.message)}</p>
                            <dl class="facts">
                                <dt>"Revision"</dt>
                                <dd class="mono revision">{if s.revision.is_empty() { "—".to_owned() } else { s.revision.clone() }}</dd>
                                <dt>"Ready reason"</dt>
                                <dd>{if s.reason.is_empty() { "—".to_owned() } else { s.reason.clone() }}</dd>
                                <dt>"Source"</dt>
                                <dd>
                                    {match source {
                                        Some((r, label)) => view! { <Linked target=r label=label /> }.into_any(),
                                        None => view! { <span>"—"</span> }.into_any(),
                                    }}
                                </dd>
                                <dt>"Depends on"</dt>
                                <dd>
                                    {if deps.is_empty() {
                                        view! { <span>"—"</span> }.into_any()
                                    } else {
                                        deps.into_iter()
                                            .map(|(r, label)| view! { <span class="dep"><Linked target=r label=label /></span> })
                                            .collect_view()
                                            .into_any()
                                    }}
                                </dd>
                                <dt>"Suspended"</dt>
                                <dd data-testid="suspension">
                                    {if s.suspended {
                                        view! {
                                            "yes"
                                            {move || {
                                                let (by, reason, when) = suspension.get();
                                                view! {
                                                    {by.map(|b| format!(", by {b}"))}
                                                    {when.map(|w| view! { ", " <Time at=w /> })}
                                                    {reason.map(|r| view! { <span class="suspend-reason">{format!("Reason: {}", plain(&r))}</span> })}
                                                }
                                            }}
                                        }
                                            .into_any()
                                    } else {
                                        "no".into_any()
                                    }}
                                </dd>
                                <dt>"Last handled request"</dt>
                                <dd><Time at=s.last_handled_reconcile_at.clone() /></dd>
                                <dt>"Generation"</dt>
                                <dd>
                                    {if s.generation == s.observed_generation || s.observed_generation < 0 {
                                        s.generation.to_string()
                                    } else if s.suspended {
                                        format!(
                                            "{} (the controller saw {}; it applies the change once resumed)",
                                            s.generation,
                                            s.observed_generation
                                        )
                                    } else {
                                        format!("{} (observed {})", s.generation, s.observed_generation)
                                    }}
                                </dd>
                                <dt>
                                    {if matches!(s.health, fluxboard_model::Health::Failing | fluxboard_model::Health::Stalled) {
                                        "Failing since"
                                    } else {
                                        "Last change"
                                    }}
                                </dt>
                                <dd><Time at=s.last_transition_time.clone() /></dd>
                            </dl>
                        }
                            .into_any()
                    }
                    // Unknown to the stream: the detail read says why (gone, or out of scope).
                    (None, true) if detail.with(|d| matches!(d, Some(Err(_)))) => ().into_any(),
                    (None, true) => view! { <p class="error">"This object is not in the cluster (or was deleted)."</p> }.into_any(),
                    (None, false) => view! { <p class="loading">"Loading…"</p> }.into_any(),
                }
            }}
            {move || {
                detail
                    .with(|d| match d {
                        None => view! { <p class="loading">"Loading details…"</p> }.into_any(),
                        Some(Err(e)) if out_of_scope => {
                            view! {
                                <div class="notice" data-testid="out-of-scope">
                                    <p>{scope_text.clone()}</p>
                                    <p class="muted">{e.clone()}</p>
                                    <p>
                                        <Link href="/">"Go to the overview"</Link>
                                        " · "
                                        <Link href="/resources">"See what you can access"</Link>
                                    </p>
                                </div>
                            }
                                .into_any()
                        }
                        Some(Err(e)) => view! { <p class="error" role="alert">{e.clone()}</p> }.into_any(),
                        Some(Ok(d)) => sections(d, cluster.clone()).into_any(),
                    })
            }}
        </section>
    }
}

fn sections(d: &ObjectDetail, cluster: String) -> impl IntoView + use<> {
    let conditions = d
        .conditions
        .iter()
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
    let inventory = d.inventory.clone().map(|items| {
        let n = items.len();
        let rows = items
            .into_iter()
            .map(|i| {
                let flux = kind_info(&i.group, &i.kind).map(|_| ObjectRef {
                    cluster: cluster.clone(),
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
            })
            .collect_view();
        view! {
            <section class="panel" aria-labelledby="inventory-title">
                <h2 id="inventory-title">{format!("Inventory ({n})")}</h2>
                <Table columns=&["Health", "Kind", "Namespace", "Name", "Status"] class="inventory" label="Inventory">{rows}</Table>
            </section>
        }
        .into_any()
    });
    let inventory = inventory.or_else(|| {
        d.inventory_note.clone().map(|note| {
            view! {
                <section class="panel" aria-labelledby="inventory-title">
                    <h2 id="inventory-title">"Inventory"</h2>
                    <p class="empty" data-testid="inventory-note">{note}</p>
                </section>
            }
            .into_any()
        })
    });
    let events = if d.events.is_empty() {
        match d.events_error.clone() {
            Some(why) => view! { <p class="empty" data-testid="events-error">{why}</p> }.into_any(),
            None => view! { <p class="empty">"No recent events."</p> }.into_any(),
        }
    } else {
        let items = d
            .events
            .iter()
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
    };
    let history = (!d.history.is_empty()).then(|| {
        let rows = d
            .history
            .iter()
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
    });
    // How it is configured, from the object itself (what `flux get` users look up in the YAML).
    let spec = |path: &[&str]| yaml_value(&d.yaml, path);
    let chart = spec(&["spec", "chart", "spec", "chart"]).map(|c| match spec(&["spec", "chart", "spec", "version"]) {
        Some(v) => format!("{c} {v}"),
        None => c,
    });
    let chart_ref = spec(&["spec", "chartRef", "name"])
        .map(|n| format!("{}/{n}", spec(&["spec", "chartRef", "kind"]).unwrap_or_default()));
    let settings: Vec<(&'static str, String)> = [
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
    .collect();
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
    let values = yaml_block(&d.yaml, &["spec", "values"]).map(|v| {
        view! {
            <details class="panel yaml" data-testid="values">
                <summary>"Helm values (spec.values)"</summary>
                <pre class="mono" tabindex="0" aria-label="Helm values">{v}</pre>
            </details>
        }
    });
    let yaml = d.yaml.clone();
    view! {
        {settings}
        {values}
        <section class="panel" aria-labelledby="conditions-title">
            <h2 id="conditions-title">"Conditions"</h2>
            {if d.conditions.is_empty() {
                view! { <p class="empty">"No conditions (this kind may have no status)."</p> }.into_any()
            } else {
                view! {
                    <Table columns=&["Type", "Status", "Reason", "Message", "Since"] class="conditions" label="Conditions">{conditions}</Table>
                }
                    .into_any()
            }}
        </section>
        {inventory}
        <section class="panel" aria-labelledby="events-title">
            <h2 id="events-title">"Events"</h2>
            {events}
        </section>
        {history}
        <details class="panel yaml">
            <summary>"YAML"</summary>
            <pre class="mono" tabindex="0" aria-label="The object as YAML">{yaml}</pre>
        </details>
    }
}

/// A link to a related object (source, dependency) with its live health, so a failing source
/// shows on the page that depends on it.
#[component]
fn Linked(target: ObjectRef, label: String) -> impl IntoView {
    let live = expect_context::<Live>();
    let id = format!("{}/{}/{}/{}/{}", target.cluster, target.group, target.kind, target.namespace, target.name);
    let health = Memo::new(move |_| {
        live.fleet
            .with(|f| f.objects.get(&id).map(|r| (r.summary.health, r.summary.retrying, plain(&r.summary.message))))
    });
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
