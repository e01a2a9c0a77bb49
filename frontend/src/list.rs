//! The resource list: search, filters and sort kept in the URL, and a virtual list that renders
//! only the rows in view, so 10k objects stay fast.

use std::collections::{BTreeSet, HashSet};

use fluxboard_model::action::Action;
use fluxboard_model::api::ObjectRef;
use fluxboard_model::view::{HEALTHS, ListQuery, SortKey, health_label, key, sort_by_summary};
use leptos::html;
use leptos::prelude::*;

use crate::live::{Live, Row};
use crate::route::{Link, Page, Router, detail_href};
use crate::ui::{Clock, HealthBadge};

/// The height of one row in pixels (the stylesheet uses the same).
const ROW_HEIGHT: f64 = 44.0;
/// Rows rendered above and below the visible ones.
const OVERSCAN: usize = 8;

#[component]
pub(crate) fn ResourceList() -> impl IntoView {
    let live = expect_context::<Live>();
    let router = expect_context::<Router>();
    let clock = expect_context::<Clock>();
    let from_url = move || match router.page() {
        Page::List(q) => q,
        _ => ListQuery::default(),
    };
    let query = RwSignal::new(from_url());
    // Follow the URL when it changes from outside (back, forward, a link to a filtered list).
    Effect::new(move |_| {
        let q = from_url();
        if query.with_untracked(|current| *current != q) {
            query.set(q);
        }
    });
    // Keep the URL in step with the filters (replace, not push: typing is not navigation).
    Effect::new(move |prev: Option<()>| {
        let q = query.get().to_query();
        if prev.is_some() {
            router.replace_query(&q);
        }
    });
    let rows = Memo::new(move |_| {
        let q = query.get();
        let now = clock.0.get_untracked();
        live.fleet.with(|f| {
            let mut list: Vec<Row> =
                f.objects.values().filter(|r| q.filter.matches(&r.summary, now)).cloned().collect();
            sort_by_summary(&mut list, |r| &r.summary, q.sort, q.descending);
            list
        })
    });
    let total = move || live.fleet.with(|f| f.objects.len());
    let options = Memo::new(move |_| {
        live.fleet.with(|f| {
            let mut clusters = BTreeSet::new();
            let mut kinds = BTreeSet::new();
            let mut namespaces = BTreeSet::new();
            for r in f.objects.values() {
                clusters.insert(r.summary.cluster.clone());
                kinds.insert(r.summary.kind.clone());
                namespaces.insert(r.summary.namespace.clone());
            }
            (clusters, kinds, namespaces)
        })
    });
    let multi_cluster = move || options.with(|o| o.0.len() > 1);
    let actions = expect_context::<crate::actions::Actions>();
    let selected: RwSignal<HashSet<String>> = RwSignal::new(HashSet::new());
    let can_act = move || {
        actions.me.with(|m| m.as_ref().is_some_and(|m| m.has_role_somewhere(fluxboard_model::auth::Role::Operator)))
    };
    let bulk = move |action: Action| {
        let chosen = selected.get_untracked();
        let targets: Vec<_> = live.fleet.with_untracked(|f| {
            let mut t: Vec<_> =
                chosen.iter().filter_map(|k| f.objects.get(k)).map(|r| crate::actions::target_of(&r.summary)).collect();
            t.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            t
        });
        if !targets.is_empty() {
            actions.request(action, targets, String::new());
            selected.set(HashSet::new());
        }
    };

    let scroller = NodeRef::<html::Div>::new();
    let scroll_top = RwSignal::new(0.0);
    let viewport = RwSignal::new(800.0);
    let measure = move || {
        if let Some(el) = scroller.get_untracked() {
            scroll_top.set(f64::from(el.scroll_top()));
            viewport.set(f64::from(el.client_height()).max(ROW_HEIGHT));
        }
    };
    Effect::new(move |_| {
        if scroller.get().is_some() {
            measure();
        }
    });
    let _ = window_event_listener(leptos::ev::resize, move |_| measure());
    let window_range = move || {
        let n = rows.with(Vec::len);
        let first = ((scroll_top.get() / ROW_HEIGHT) as usize).saturating_sub(OVERSCAN).min(n);
        let count = (viewport.get() / ROW_HEIGHT).ceil() as usize + 2 * OVERSCAN;
        (first, (first + count).min(n), n)
    };
    let visible = move || {
        let (first, last, _) = window_range();
        rows.with(|r| r[first..last].to_vec())
    };

    let set_filter =
        move |f: fn(&mut ListQuery, String)| move |ev: web_sys::Event| query.update(|q| f(q, event_target_value(&ev)));
    let sort_button = move |key: SortKey, label: &'static str| {
        let aria = move || {
            let q = query.get();
            if q.sort != key {
                "none"
            } else if q.descending {
                "descending"
            } else {
                "ascending"
            }
        };
        view! {
            <div role="columnheader" aria-sort=aria class=format!("col col-{}", key.as_str())>
                <button
                    class="sort"
                    on:click=move |_| {
                        query
                            .update(|q| {
                                if q.sort == key {
                                    q.descending = !q.descending;
                                } else {
                                    q.sort = key;
                                    q.descending = false;
                                }
                            })
                    }
                >
                    {label}
                    <span class="sort-mark" aria-hidden="true">
                        {move || match aria() {
                            "ascending" => "▲",
                            "descending" => "▼",
                            _ => "",
                        }}
                    </span>
                </button>
            </div>
        }
    };
    let select = move |label: &'static str,
                       id: &'static str,
                       values: Box<dyn Fn() -> Vec<String> + Send + Sync>,
                       current: fn(&ListQuery) -> String,
                       set: fn(&mut ListQuery, String)| {
        view! {
            <label class="filter" for=id>
                <span>{label}</span>
                <select
                    id=id
                    on:change=set_filter(set)
                    prop:value=move || {
                        // Again when the options arrive (a deep link before the snapshot).
                        options.track();
                        query.with(current)
                    }
                >
                    <option value="">"All"</option>
                    {move || {
                        values()
                            .into_iter()
                            .map(|v| {
                                // The select's `prop:value` picks the current one; the options do not
                                // depend on the query, so changing a filter does not rebuild them.
                                view! { <option value=v.clone()>{v.clone()}</option> }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
        }
    };

    view! {
        <section class="page list" aria-labelledby="list-title">
            <div class="list-head">
                <h1 id="list-title">"Resources"</h1>
                <span class="count" data-testid="result-count" aria-live="polite">
                    {move || format!("{} of {}", rows.with(Vec::len), total())}
                </span>
            </div>
            <div class="filters" role="search">
                <label class="filter search" for="search">
                    <span>"Search"</span>
                    <input
                        id="search"
                        type="search"
                        placeholder="name, namespace, message… (press /)"
                        autocomplete="off"
                        prop:value=move || query.with(|q| q.filter.q.clone())
                        on:input=set_filter(|q, v| q.filter.q = v)
                    />
                </label>
                {select(
                    "Cluster",
                    "filter-cluster",
                    Box::new(move || options.with(|o| o.0.iter().cloned().collect())),
                    |q| q.filter.cluster.clone(),
                    |q, v| q.filter.cluster = v,
                )}
                {select(
                    "Kind",
                    "filter-kind",
                    Box::new(move || options.with(|o| o.1.iter().cloned().collect())),
                    |q| q.filter.kind.clone(),
                    |q, v| q.filter.kind = v,
                )}
                {select(
                    "Namespace",
                    "filter-namespace",
                    Box::new(move || options.with(|o| o.2.iter().cloned().collect())),
                    |q| q.filter.namespace.clone(),
                    |q, v| q.filter.namespace = v,
                )}
                {select(
                    "Health",
                    "filter-health",
                    Box::new(move || {
                        let mut v: Vec<String> = HEALTHS.iter().map(|h| health_label(*h).to_owned()).collect();
                        v.insert(0, "attention".to_owned());
                        v
                    }),
                    |q| q.filter.health.clone(),
                    |q, v| q.filter.health = v,
                )}
            </div>
            {move || {
                can_act()
                    .then(|| {
                        view! {
                            <div class="bulk-bar" role="group" aria-label="Bulk actions">
                                <button
                                    class="btn"
                                    on:click=move |_| {
                                        let all: HashSet<String> = rows.with(|r| r.iter().map(|r| key(&r.summary)).collect());
                                        selected.set(all);
                                    }
                                >
                                    {move || format!("Select all {}", rows.with(Vec::len))}
                                </button>
                                <button class="btn" on:click=move |_| selected.set(HashSet::new())>"Clear"</button>
                                <span class="count" data-testid="selected-count">
                                    {move || format!("{} selected", selected.with(HashSet::len))}
                                </span>
                                <button class="btn primary" disabled=move || selected.with(HashSet::is_empty) on:click=move |_| bulk(Action::Reconcile)>
                                    "Reconcile selected"
                                </button>
                                <button class="btn" disabled=move || selected.with(HashSet::is_empty) on:click=move |_| bulk(Action::Suspend)>
                                    "Suspend selected"
                                </button>
                                <button class="btn" disabled=move || selected.with(HashSet::is_empty) on:click=move |_| bulk(Action::Resume)>
                                    "Resume selected"
                                </button>
                            </div>
                        }
                    })
            }}
            <div class="table" role="table" aria-label="Flux objects" aria-rowcount=move || rows.with(Vec::len)>
                <div class="thead" role="rowgroup">
                    <div class="tr" role="row">
                        {sort_button(SortKey::Health, "Health")}
                        {sort_button(SortKey::Kind, "Kind")}
                        {sort_button(SortKey::Namespace, "Namespace")}
                        {sort_button(SortKey::Name, "Name")}
                        <div role="columnheader" class="col col-message">"Message"</div>
                        <div role="columnheader" class="col col-revision">"Revision"</div>
                        {sort_button(SortKey::Age, "Changed")}
                    </div>
                </div>
                <div class="tbody" role="rowgroup" node_ref=scroller on:scroll=move |_| measure()>
                    <div style:height=move || format!("{}px", window_range().0 as f64 * ROW_HEIGHT) aria-hidden="true"></div>
                    <For each=visible key=|r: &Row| r.version let:row>
                        <ListRow row=row multi_cluster=multi_cluster() clock=clock selected=selected selectable=can_act() />
                    </For>
                    <div
                        style:height=move || {
                            let (_, last, n) = window_range();
                            format!("{}px", (n - last) as f64 * ROW_HEIGHT)
                        }
                        aria-hidden="true"
                    ></div>
                    {move || {
                        (live.loaded.get() && rows.with(Vec::is_empty))
                            .then(|| view! { <p class="empty">"No Flux object matches these filters."</p> })
                    }}
                </div>
            </div>
        </section>
    }
}

#[component]
fn ListRow(
    row: Row,
    multi_cluster: bool,
    clock: Clock,
    selected: RwSignal<HashSet<String>>,
    selectable: bool,
) -> impl IntoView {
    let s = row.summary;
    let r = ObjectRef::of(&s);
    let k = key(&s);
    let (k1, k2) = (k.clone(), k.clone());
    let label = format!("Select {} {}/{}", s.kind, s.namespace, s.name);
    let changed = s.last_transition_time.clone();
    let name = s.name.clone();
    view! {
        <div class="tr" role="row" data-testid="row">
            <div role="cell" class="col col-health">
                {selectable
                    .then(|| {
                        view! {
                            <input
                                type="checkbox"
                                class="select"
                                aria-label=label
                                prop:checked=move || selected.with(|s| s.contains(&k1))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    selected.update(|s| {
                                        if on {
                                            s.insert(k2.clone());
                                        } else {
                                            s.remove(&k2);
                                        }
                                    });
                                }
                            />
                        }
                    })}
                <HealthBadge health=s.health retrying=s.retrying />
            </div>
            <div role="cell" class="col col-kind">{s.kind.clone()}</div>
            <div role="cell" class="col col-namespace">
                {multi_cluster.then(|| view! { <span class="cluster-tag">{s.cluster.clone()}</span> })}
                {s.namespace.clone()}
            </div>
            <div role="cell" class="col col-name">
                <Link href=detail_href(&r) class="object-link">{name}</Link>
            </div>
            <div role="cell" class="col col-message" title=s.message.clone()>{s.message.clone()}</div>
            <div role="cell" class="col col-revision" title=s.revision.clone()>{s.revision.clone()}</div>
            <div role="cell" class="col col-age">{move || clock.age_of(changed.as_deref())}</div>
        </div>
    }
}
