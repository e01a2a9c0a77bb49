//! The overview: per-cluster state, counts per health and per kind, and what needs attention
//! first.

use std::collections::BTreeMap;

use fluxboard_model::api::{ConnectionState, ObjectRef};
use fluxboard_model::view::{Filter, HEALTHS, HealthFilter, ListQuery, attention, health_label, plain, severity};
use fluxboard_model::{Health, Summary};
use leptos::prelude::*;

use crate::live::Live;
use crate::route::{Link, detail_href, list_href};
use crate::ui::{Clock, HealthBadge, Table, health_class};

/// At most this many objects are listed under "needs attention" (the rest are a click away).
const ATTENTION_SHOWN: usize = 50;

fn list_of(filter: Filter) -> String {
    list_href(&ListQuery { filter, ..ListQuery::default() })
}

#[component]
pub(crate) fn Overview() -> impl IntoView {
    let live = expect_context::<Live>();
    let clock = expect_context::<Clock>();
    let counts = Memo::new(move |_| {
        live.fleet.with(|f| {
            let mut by_health: BTreeMap<u8, usize> = BTreeMap::new();
            let mut by_kind: BTreeMap<String, [usize; 4]> = BTreeMap::new();
            for row in f.objects.values() {
                let s = &row.summary;
                *by_health.entry(severity(s.health)).or_default() += 1;
                // The same words as the health cards: failing and stalled are counted apart.
                let slot = match s.health {
                    Health::Ready => 0,
                    Health::Failing => 1,
                    Health::Stalled => 2,
                    _ => 3,
                };
                by_kind.entry(s.kind.clone()).or_default()[slot] += 1;
            }
            (f.objects.len(), by_health, by_kind)
        })
    });
    let causes = expect_context::<crate::why::Causes>();
    let attention_list = Memo::new(move |_| {
        let now = clock.0.get();
        live.fleet.with(|f| {
            let mut list: Vec<(Summary, &'static str)> = f
                .objects
                .values()
                // An object whose cause needs attention too is listed beneath that cause.
                .filter(|r| !crate::why::is_beneath(&causes, &fluxboard_model::view::key(&r.summary)))
                .filter_map(|r| attention(&r.summary, now).map(|why| ((*r.summary).clone(), why)))
                .collect();
            fluxboard_model::order::sort_by(&mut list, &|a, b| {
                (severity(a.0.health), &a.0.namespace, &a.0.name, &a.0.kind, &a.0.cluster).cmp(&(
                    severity(b.0.health),
                    &b.0.namespace,
                    &b.0.name,
                    &b.0.kind,
                    &b.0.cluster,
                ))
            });
            list
        })
    });
    let multi_cluster = move || live.fleet.with(|f| f.clusters.len() > 1);

    view! {
        <section class="page overview" aria-labelledby="overview-title">
            <h1 id="overview-title">"Overview"</h1>
            <Clusters />
            <p class="verdict-line" class:clear=move || attention_list.with(Vec::is_empty) data-testid="overview-verdict">
                {move || {
                    let n = attention_list.with(Vec::len);
                    match n {
                        0 => "All clear: every Flux object is reconciled.".to_owned(),
                        1 => "1 object needs attention.".to_owned(),
                        n => format!("{n} objects need attention."),
                    }
                }}
            </p>
            <crate::ScopeNote />
            <ul class="cards" aria-label="Objects by health">
                <li>
                    <Link href=list_of(Filter::default()) class="card total">
                        <span class="card-count" data-testid="count-total">{move || counts.with(|c| c.0)}</span>
                        <span class="card-label">"Flux objects"</span>
                    </Link>
                </li>
                {HEALTHS
                    .into_iter()
                    .map(|h| {
                        let label = health_label(h);
                        let count = move || counts.with(|c| c.1.get(&severity(h)).copied().unwrap_or(0));
                        view! {
                            <li>
                                <Link
                                    href=list_of(Filter { health: HealthFilter::Is(h), ..Filter::default() })
                                    class=format!("card {}", health_class(h))
                                >
                                    <span class="card-count" class:zero=move || count() == 0 data-testid=format!("count-{}", label.to_ascii_lowercase())>
                                        {count}
                                    </span>
                                    <span class="card-label">{label}</span>
                                </Link>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <div class="columns">
                <section class="panel attention" aria-labelledby="attention-title">
                    <h2 id="attention-title">
                        "Needs attention "
                        <span class="count" data-testid="attention-count">{move || attention_list.with(Vec::len)}</span>
                    </h2>
                    {move || {
                        attention_list
                            .with(|list| {
                                if list.is_empty() {
                                    return view! { <p class="empty">"Everything is reconciled. Nothing needs attention."</p> }
                                        .into_any();
                                }
                                // The same object failing the same way in several clusters is one
                                // line, with a tag (and link) per cluster.
                                let mut groups: Vec<(&Summary, &'static str, Vec<&Summary>)> = Vec::new();
                                for (s, why) in list {
                                    match groups.last_mut() {
                                        Some((first, _, all))
                                            if (&first.kind, &first.namespace, &first.name, first.health, &first.message)
                                                == (&s.kind, &s.namespace, &s.name, s.health, &s.message) =>
                                        {
                                            all.push(s);
                                        }
                                        _ => groups.push((s, why, vec![s])),
                                    }
                                }
                                let more = groups.len().saturating_sub(ATTENTION_SHOWN);
                                let multi = multi_cluster();
                                let rows = groups
                                    .iter()
                                    .take(ATTENTION_SHOWN)
                                    .map(|(s, why, all)| {
                                        let r = ObjectRef::of(s);
                                        let (kind, ns, name) = (s.kind.clone(), s.namespace.clone(), s.name.clone());
                                        let clusters = multi.then(|| {
                                            all.iter()
                                                .enumerate()
                                                .map(|(i, o)| {
                                                    let sep = if i == 0 { " in " } else { " and " };
                                                    let (href, cluster) = (detail_href(&ObjectRef::of(o)), o.cluster.clone());
                                                    view! {
                                                        <span class="sr-only">{sep}</span>
                                                        <Link href=href class="cluster-tag">{cluster}</Link>
                                                    }
                                                })
                                                .collect_view()
                                        });
                                        // The pill says the health; the line adds only what it does not.
                                        let why = (*why == "stuck progressing").then_some(*why);
                                        let since = s.last_transition_time.clone();
                                        view! {
                                            <li class="attention-item" data-testid="attention-item">
                                                <HealthBadge health=s.health retrying=s.retrying />
                                                <div class="attention-body">
                                                    <Link href=detail_href(&r) class="object-link">
                                                        <span class="kind">{kind}</span>
                                                        " "
                                                        <span class="ns">{ns}</span>
                                                        "/"
                                                        <span class="name">{name}</span>
                                                    </Link>
                                                    " "
                                                    {clusters}
                                                    {why.map(|w| view! { <span class="why">{w}</span> })}
                                                    <span class="since">
                                                        {move || {
                                                            let age = clock.age_of(since.as_deref());
                                                            if age.is_empty() { String::new() } else { format!("for {age}") }
                                                        }}
                                                    </span>
                                                    <p class="message">{plain(&s.message)}</p>
                                                    <crate::why::BlockedLine object=fluxboard_model::view::key(s) />
                                                    <crate::why::BlocksList object=fluxboard_model::view::key(s) />
                                                </div>
                                            </li>
                                        }
                                    })
                                    .collect_view();
                                view! {
                                    <ul class="attention-list">{rows}</ul>
                                    {(more > 0)
                                        .then(|| {
                                            view! {
                                                <Link
                                                    href=list_of(Filter { health: HealthFilter::Attention, ..Filter::default() })
                                                    class="more"
                                                >
                                                    {format!("and {more} more")}
                                                </Link>
                                            }
                                        })}
                                }
                                    .into_any()
                            })
                    }}
                </section>
                <section class="panel kinds" aria-labelledby="kinds-title">
                    <h2 id="kinds-title">"By kind"</h2>
                    <Table columns=&["Kind", "Ready", "Failing", "Stalled", "Other"] label="Objects by kind" keep_columns=true>
                            {move || {
                                counts
                                    .with(|c| {
                                        c.2
                                            .iter()
                                            .map(|(kind, n)| {
                                                let href = list_of(Filter { kind: kind.clone(), ..Filter::default() });
                                                let (kind, ready, bad, stalled, other) = (kind.clone(), n[0], n[1], n[2], n[3]);
                                                view! {
                                                    <tr>
                                                        <th scope="row">
                                                            <Link href=href>{kind}</Link>
                                                        </th>
                                                        <td>{ready}</td>
                                                        <td class:bad=move || bad != 0>{bad}</td>
                                                        <td class:bad=move || stalled != 0>{stalled}</td>
                                                        <td>{other}</td>
                                                    </tr>
                                                }
                                            })
                                            .collect_view()
                                    })
                            }}
                        </Table>
                </section>
            </div>
        </section>
    }
}

/// One card per cluster: connection state, object count, failing count.
#[component]
fn Clusters() -> impl IntoView {
    let live = expect_context::<Live>();
    view! {
        <div class="clusters" role="list" aria-label="Clusters">
            {move || {
                live.fleet
                    .with(|f| {
                        f.clusters
                            .iter()
                            .map(|c| {
                                let (total, failing, stalled) = f
                                    .objects
                                    .values()
                                    .filter(|r| r.summary.cluster == c.name)
                                    .fold((0, 0, 0), |(t, bad, st), r| {
                                        (
                                            t + 1,
                                            bad + usize::from(r.summary.health == Health::Failing),
                                            st + usize::from(r.summary.health == Health::Stalled),
                                        )
                                    });
                                let state = match c.state {
                                    ConnectionState::Connected => "connected",
                                    ConnectionState::Connecting => "connecting",
                                    ConnectionState::Reconnecting => "reconnecting",
                                    ConnectionState::Error => "error",
                                };
                                let href = list_of(Filter { cluster: c.name.clone(), ..Filter::default() });
                                let name = c.name.clone();
                                view! {
                                    <div class="cluster" role="listitem">
                                        <Link href=href class="cluster-name">{name}</Link>
                                        <span class=format!("conn conn-{state}")>{state}</span>
                                        <span class="cluster-counts">
                                            {format!("{total} objects")}
                                            {(failing > 0).then(|| view! { <span class="bad">{format!(", {failing} failing")}</span> })}
                                            {(stalled > 0).then(|| view! { <span class="bad">{format!(", {stalled} stalled")}</span> })}
                                        </span>
                                        {(!c.message.is_empty()).then(|| view! { <p class="message">{plain(&c.message)}</p> })}
                                        {c.server_version.clone().map(|v| view! { <span class="version">{format!("Kubernetes {v}")}</span> })}
                                        {c.flux_version.clone().map(|v| view! { <span class="version" data-testid="flux-version">{format!("Flux {v}")}</span> })}
                                    </div>
                                }
                            })
                            .collect_view()
                    })
            }}
        </div>
    }
}
