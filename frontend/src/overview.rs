//! The overview: per-cluster state, counts per health and per kind, and what needs attention
//! first.
//!
//! Nothing here walks the fleet: the counts are the store's (kept per change), and "needs
//! attention" looks only at the objects whose health may need it (`Fleet::attention`), again
//! when one of them changes or the clock ticks.

use std::sync::Arc;

use fluxboard_model::Summary;
use fluxboard_model::api::{ClusterStatus, ConnectionState, ObjectRef};
use fluxboard_model::view::{Filter, HEALTHS, HealthFilter, ListQuery, attention, health_label, plain, severity};
use leptos::prelude::*;

use crate::live::{ClusterCounts, Live};
use crate::route::{Link, detail_href, list_href};
use crate::ui::{Clock, HealthBadge, Table, health_class};

/// At most this many objects are listed under "needs attention" (the rest are a click away).
const ATTENTION_SHOWN: usize = 50;

fn list_of(filter: Filter) -> String {
    list_href(&ListQuery { filter, ..ListQuery::default() })
}

/// An object that needs attention, and why.
type Attention = (Arc<Summary>, &'static str);

/// What needs attention, worst first; an object whose cause needs attention too is listed
/// beneath that cause instead.
fn attention_list(live: Live, clock: Clock, causes: crate::why::Causes) -> Memo<Vec<Attention>> {
    Memo::new(move |_| {
        let now = clock.0.get();
        live.attention.track();
        live.fleet.with_untracked(|f| {
            let mut list: Vec<Attention> = f
                .attention
                .iter()
                .filter_map(|k| f.objects.get(&**k))
                .filter(|r| !crate::why::is_beneath(&causes, &r.key))
                .filter_map(|r| attention(&r.summary, now).map(|why| (r.summary.clone(), why)))
                .collect();
            fluxboard_model::order::sort_by(&mut list, &|(a, _), (b, _)| {
                (severity(a.health), &a.namespace, &a.name, &a.kind, &a.cluster).cmp(&(
                    severity(b.health),
                    &b.namespace,
                    &b.name,
                    &b.kind,
                    &b.cluster,
                ))
            });
            list
        })
    })
}

#[component]
pub(crate) fn Overview() -> impl IntoView {
    let live = expect_context::<Live>();
    let clock = expect_context::<Clock>();
    let causes = expect_context::<crate::why::Causes>();
    let list = attention_list(live, clock, causes);
    view! {
        <section class="page overview" aria-labelledby="overview-title">
            <h1 id="overview-title">"Overview"</h1>
            <Clusters />
            <p class="verdict-line" class:clear=move || list.with(Vec::is_empty) data-testid="overview-verdict">
                {move || match list.with(Vec::len) {
                    0 => "All clear: every Flux object is reconciled.".to_owned(),
                    1 => "1 object needs attention.".to_owned(),
                    n => format!("{n} objects need attention."),
                }}
            </p>
            <crate::ScopeNote />
            <HealthCards />
            <div class="columns">
                <AttentionPanel list />
                <KindsTable />
            </div>
        </section>
    }
}

/// One card per health, and the total.
#[component]
fn HealthCards() -> impl IntoView {
    let live = expect_context::<Live>();
    let cards = HEALTHS
        .into_iter()
        .map(|h| {
            let label = health_label(h);
            let count = move || live.counts.with(|c| c.by_health[usize::from(severity(h))]);
            view! {
                <li>
                    <Link href=list_of(Filter { health: HealthFilter::Is(h), ..Filter::default() }) class=format!("card {}", health_class(h))>
                        <span class="card-count" class:zero=move || count() == 0 data-testid=format!("count-{}", label.to_ascii_lowercase())>
                            {count}
                        </span>
                        <span class="card-label">{label}</span>
                    </Link>
                </li>
            }
        })
        .collect_view();
    view! {
        <ul class="cards" aria-label="Objects by health">
            <li>
                <Link href=list_of(Filter::default()) class="card total">
                    <span class="card-count" data-testid="count-total">{move || live.counts.with(|c| c.total)}</span>
                    <span class="card-label">"Flux objects"</span>
                </Link>
            </li>
            {cards}
        </ul>
    }
}

/// One line of "needs attention": the first object, why, and every cluster's copy of it.
type Group = (Arc<Summary>, &'static str, Vec<Arc<Summary>>);

/// The same object failing the same way in several clusters is one line.
fn grouped(list: &[Attention]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (s, why) in list {
        match groups.last_mut() {
            Some((first, _, all))
                if (&first.kind, &first.namespace, &first.name, first.health, &first.message)
                    == (&s.kind, &s.namespace, &s.name, s.health, &s.message) =>
            {
                all.push(s.clone());
            }
            _ => groups.push((s.clone(), why, vec![s.clone()])),
        }
    }
    groups
}

#[component]
fn AttentionPanel(list: Memo<Vec<Attention>>) -> impl IntoView {
    let live = expect_context::<Live>();
    let body = move || {
        let groups = list.with(|l| grouped(l));
        if groups.is_empty() {
            return view! { <p class="empty">"Everything is reconciled. Nothing needs attention."</p> }.into_any();
        }
        let more = groups.len().saturating_sub(ATTENTION_SHOWN);
        let multi = live.clusters.with(|c| c.len() > 1);
        let rows = groups
            .into_iter()
            .take(ATTENTION_SHOWN)
            .map(|(s, why, all)| view! { <AttentionItem s why all multi /> })
            .collect_view();
        let more = (more > 0).then(|| {
            view! {
                <Link href=list_of(Filter { health: HealthFilter::Attention, ..Filter::default() }) class="more">
                    {format!("and {more} more")}
                </Link>
            }
        });
        view! {
            <ul class="attention-list">{rows}</ul>
            {more}
        }
        .into_any()
    };
    view! {
        <section class="panel attention" aria-labelledby="attention-title">
            <h2 id="attention-title">
                "Needs attention "
                <span class="count" data-testid="attention-count">{move || list.with(Vec::len)}</span>
            </h2>
            {body}
        </section>
    }
}

/// One line of "needs attention": the object, a tag per cluster where it fails the same way,
/// since when, its message and what blocks it or what it blocks.
#[component]
fn AttentionItem(s: Arc<Summary>, why: &'static str, all: Vec<Arc<Summary>>, multi: bool) -> impl IntoView {
    let clock = expect_context::<Clock>();
    let r = ObjectRef::of(&s);
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
    let why = (why == "stuck progressing").then_some(why);
    let since = s.last_transition_time.clone();
    let key = r.key();
    let (health, retrying, message) = (s.health, s.retrying, plain(&s.message));
    view! {
        <li class="attention-item" data-testid="attention-item">
            <HealthBadge health retrying />
            <div class="attention-body">
                <Link href=detail_href(&r) class="object-link">
                    <span class="kind">{r.kind.clone()}</span>
                    " "
                    <span class="ns">{r.namespace.clone()}</span>
                    "/"
                    <span class="name">{r.name.clone()}</span>
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
                <p class="message">{message}</p>
                <crate::why::BlockedLine object=key.clone() />
                <crate::why::BlocksList object=key />
            </div>
        </li>
    }
}

/// Objects per kind: Ready, Failing, Stalled, other.
#[component]
fn KindsTable() -> impl IntoView {
    let live = expect_context::<Live>();
    let rows = move || {
        live.counts.with(|c| {
            c.by_kind
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
    };
    view! {
        <section class="panel kinds" aria-labelledby="kinds-title">
            <h2 id="kinds-title">"By kind"</h2>
            <Table columns=&["Kind", "Ready", "Failing", "Stalled", "Other"] label="Objects by kind" keep_columns=true>
                {rows}
            </Table>
        </section>
    }
}

/// One card per cluster: connection state, object count, failing count; each card follows its
/// own cluster's status and counts.
#[component]
fn Clusters() -> impl IntoView {
    let live = expect_context::<Live>();
    view! {
        <div class="clusters" role="list" aria-label="Clusters">
            <For each=move || live.clusters.get() key=card_key let:status>
                <ClusterCard status />
            </For>
        </div>
    }
}

/// What a cluster card shows of the status: a change makes the card anew.
fn card_key(c: &ClusterStatus) -> (String, &'static str, String, Option<String>, Option<String>) {
    (c.name.clone(), state_label(c.state), c.message.clone(), c.server_version.clone(), c.flux_version.clone())
}

fn state_label(state: ConnectionState) -> &'static str {
    match state {
        ConnectionState::Connected => "connected",
        ConnectionState::Connecting => "connecting",
        ConnectionState::Reconnecting => "reconnecting",
        ConnectionState::Error => "error",
    }
}

#[component]
fn ClusterCard(status: ClusterStatus) -> impl IntoView {
    let live = expect_context::<Live>();
    let c = status;
    let name = c.name.clone();
    let counts = Memo::new(move |_| live.counts.with(|n| n.by_cluster.get(&name).copied().unwrap_or_default()));
    let state = state_label(c.state);
    let bad = |n: fn(&ClusterCounts) -> usize, what: &'static str| {
        move || {
            let n = counts.with(n);
            (n > 0).then(|| view! { <span class="bad">{format!(", {n} {what}")}</span> })
        }
    };
    view! {
        <div class="cluster" role="listitem">
            <Link href=list_of(Filter { cluster: c.name.clone(), ..Filter::default() }) class="cluster-name">{c.name.clone()}</Link>
            <span class=format!("conn conn-{state}")>{state}</span>
            <span class="cluster-counts">
                {move || format!("{} objects", counts.with(|n| n.total))}
                {bad(|n| n.failing, "failing")}
                {bad(|n| n.stalled, "stalled")}
            </span>
            {(!c.message.is_empty()).then(|| view! { <p class="message">{plain(&c.message)}</p> })}
            {c.server_version.clone().map(|v| view! { <span class="version">{format!("Kubernetes {v}")}</span> })}
            {c.flux_version.clone().map(|v| view! { <span class="version" data-testid="flux-version">{format!("Flux {v}")}</span> })}
        </div>
    }
}
