//! The resource list: search, filters and sort kept in the URL, and a virtual list that renders
//! only the rows in view, so 10k objects stay fast.
//!
//! Rows are keyed by object and position, not by version: a live update changes a row's text in
//! place, so the focused link and the checkbox under the pointer stay where they are (a row is
//! made anew only when the order changes, which it does not while the person is in the rows). The order holds still
//! while the pointer is over the rows or focus is inside them; what would move meanwhile is
//! counted ("3 changes") and shown on request or as soon as the person looks away. Arrow keys move
//! from row to row. The page scrolls (one scrollbar); on phones the rows are cards.

use std::collections::{BTreeSet, HashSet};

use fluxboard_model::action::Action;
use fluxboard_model::api::ObjectRef;
use fluxboard_model::view::{
    HealthFilter, ListQuery, SortKey, changes_between, plain, short_revision, sort_by_summary,
};
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast as _;

use crate::live::{Live, Row};
use crate::route::{Link, Page, Router, detail_href};
use crate::ui::{Clock, badge_label, health_class};

/// The height of one row in pixels on wide screens, and of one card on phones (the stylesheet
/// uses the same, under the same media query).
const ROW_HEIGHT: f64 = 44.0;
const CARD_HEIGHT: f64 = 116.0;
const PHONE: &str = "(max-width: 900px)";
/// Rows rendered above and below the visible ones.
const OVERSCAN: usize = 8;

fn row_height() -> f64 {
    let phone = window().match_media(PHONE).ok().flatten().is_some_and(|m| m.matches());
    if phone { CARD_HEIGHT } else { ROW_HEIGHT }
}

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
    // The order the filters and sort give now.
    let fresh = Memo::new(move |_| {
        let q = query.get();
        let now = clock.0.get_untracked();
        live.fleet.with(|f| {
            let mut list: Vec<(&String, &Row)> =
                f.objects.iter().filter(|(_, r)| q.filter.matches(&r.summary, now)).collect();
            sort_by_summary(&mut list, |(_, r)| &r.summary, q.sort, q.descending);
            list.into_iter().map(|(k, _)| k.clone()).collect::<Vec<String>>()
        })
    });
    // The order shown: it follows `fresh` except while the person points at or works in the rows.
    let pointer_in = RwSignal::new(false);
    let focus_in = RwSignal::new(false);
    let holding = Memo::new(move |_| pointer_in.get() || focus_in.get());
    let shown: RwSignal<Vec<String>> = RwSignal::new(Vec::new());
    Effect::new(move |prev: Option<ListQuery>| {
        let q = query.get();
        let now = fresh.get();
        let changed_query = prev.as_ref() != Some(&q);
        if changed_query || !holding.get() || shown.with_untracked(Vec::is_empty) {
            shown.set(now);
        }
        q
    });
    let pending = Memo::new(move |_| {
        if !holding.get() {
            return 0;
        }
        shown.with(|s| fresh.with(|f| changes_between(s, f)))
    });
    let total = move || live.fleet.with(|f| f.objects.len());
    // Announced to screen readers when the filters change, not at every live update.
    let announced = RwSignal::new(String::new());
    Effect::new(move |_| {
        query.track();
        let text =
            format!("{} of {} objects", shown.with_untracked(Vec::len), live.fleet.with_untracked(|f| f.objects.len()));
        set_timeout(move || announced.set(text), std::time::Duration::from_millis(400));
    });
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
    let multi_cluster = Memo::new(move |_| options.with(|o| o.0.len() > 1));
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
            fluxboard_model::order::sort_by(&mut t, &|a, b| {
                (&a.cluster, &a.namespace, &a.name).cmp(&(&b.cluster, &b.namespace, &b.name))
            });
            t
        });
        if !targets.is_empty() {
            actions.request(action, targets, String::new());
            selected.set(HashSet::new());
        }
    };

    // The virtual window, from where the rows sit in the page's scroll.
    let body = NodeRef::<html::Div>::new();
    let scroll_top = RwSignal::new(0.0);
    let viewport = RwSignal::new(800.0);
    let row_h = RwSignal::new(row_height());
    let measure = move || {
        if let Some(el) = body.get_untracked() {
            let top = el.get_bounding_client_rect().top();
            scroll_top.set((-top).max(0.0));
            let height = window().inner_height().ok().and_then(|h| h.as_f64()).unwrap_or(800.0);
            viewport.set(height.max(ROW_HEIGHT));
            row_h.set(row_height());
        }
    };
    Effect::new(move |_| {
        if body.get().is_some() {
            measure();
        }
    });
    let on_resize = window_event_listener(leptos::ev::resize, move |_| measure());
    let on_scroll = window_event_listener(leptos::ev::scroll, move |_| measure());
    on_cleanup(move || {
        on_resize.remove();
        on_scroll.remove();
    });
    let window_range = move || {
        let n = shown.with(Vec::len);
        let h = row_h.get();
        let first = ((scroll_top.get() / h) as usize).saturating_sub(OVERSCAN).min(n);
        let count = (viewport.get() / h).ceil() as usize + 2 * OVERSCAN;
        (first, (first + count).min(n), n)
    };
    // One tab stop for the rows (roving): the row last focused, or the first one in view; arrow
    // keys move between rows, so Tab passes the list in one step.
    let current = RwSignal::new(0usize);
    let tab_row = Memo::new(move |_| {
        let (first, last, _) = window_range();
        let c = current.get();
        if (first..last).contains(&c) { c } else { first }
    });
    let visible = move || {
        let (first, last, _) = window_range();
        shown.with(|r| r[first..last].iter().cloned().enumerate().map(|(i, k)| (first + i, k)).collect::<Vec<_>>())
    };
    // Arrow keys move through the rows (scrolling the next one into the window first).
    let focus_row = move |index: usize| {
        let n = shown.with_untracked(Vec::len);
        if n == 0 {
            return;
        }
        let index = index.min(n - 1);
        if let Some(el) = body.get_untracked() {
            let h = row_h.get_untracked();
            let top = el.get_bounding_client_rect().top() + index as f64 * h;
            let height = window().inner_height().ok().and_then(|h| h.as_f64()).unwrap_or(800.0);
            if top < 100.0 || top + h > height {
                let y = window().scroll_y().unwrap_or(0.0) + top - height / 3.0;
                window().scroll_to_with_x_and_y(0.0, y.max(0.0));
                measure();
            }
        }
        focus_rendered_row(index, 10);
    };
    let on_keydown = move |ev: web_sys::KeyboardEvent| {
        let step: i64 = match ev.key().as_str() {
            "ArrowDown" => 1,
            "ArrowUp" => -1,
            "PageDown" => 10,
            "PageUp" => -10,
            "Home" if ev.ctrl_key() => -1_000_000,
            "End" if ev.ctrl_key() => 1_000_000,
            _ => return,
        };
        let Some(row) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("[data-index]").ok().flatten())
        else {
            return;
        };
        let Some(index) = row.get_attribute("data-index").and_then(|i| i.parse::<i64>().ok()) else { return };
        ev.prevent_default();
        focus_row((index + step).max(0) as usize);
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
                <span class="count" data-testid="result-count">
                    {move || format!("{} of {}", shown.with(Vec::len), total())}
                </span>
                <span class="sr-only" role="status">{move || announced.get()}</span>
                {move || {
                    let n = pending.get();
                    (n > 0)
                        .then(|| {
                            view! {
                                <button
                                    class="btn small changes"
                                    data-testid="pending-changes"
                                    title="The order holds still while you point at or work in the list"
                                    on:click=move |_| shown.set(fresh.get_untracked())
                                >
                                    {format!("{n} {}: show", if n == 1 { "change" } else { "changes" })}
                                </button>
                            }
                        })
                }}
            </div>
            <crate::ScopeNote />
            <div class="filters" role="search">
                <label class="filter search" for="search">
                    <span>"Search " <kbd aria-hidden="true">"/"</kbd></span>
                    <input
                        id="search"
                        type="search"
                        placeholder="name, namespace, message…"
                        aria-keyshortcuts="/"
                        autocomplete="off"
                        prop:value=move || query.with(|q| q.filter.q.clone())
                        on:input=set_filter(|q, v| q.filter.q = v)
                    />
                </label>
                {move || {
                    let q = query.with(|q| q.filter.q.clone());
                    fluxboard_model::graph::is_revision_query(&q).then(|| {
                        view! {
                            <Link href=crate::releases::revisions_href(&q) class="btn small where-revision">
                                "Where is this revision?"
                            </Link>
                        }
                    })
                }}
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
                    Box::new(move || HealthFilter::CHOICES.iter().map(|h| h.as_str().to_owned()).collect()),
                    |q| q.filter.health.as_str().to_owned(),
                    |q, v| q.filter.health = HealthFilter::parse(&v),
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
                                        let all: HashSet<String> = shown.with(|r| r.iter().cloned().collect());
                                        selected.set(all);
                                    }
                                >
                                    {move || format!("Select all {}", shown.with(Vec::len))}
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
            <div
                class="table"
                class:multi=move || multi_cluster.get()
                role="table"
                aria-label="Flux objects"
                aria-rowcount=move || shown.with(Vec::len) + 1
            >
                <div class="thead" role="rowgroup">
                    <div class="tr" role="row">
                        {sort_button(SortKey::Health, "Health")}
                        {sort_button(SortKey::Kind, "Kind")}
                        {move || multi_cluster.get().then(|| sort_button(SortKey::Cluster, "Cluster"))}
                        {sort_button(SortKey::Namespace, "Namespace")}
                        {sort_button(SortKey::Name, "Name")}
                        <div role="columnheader" class="col col-message">"Message"</div>
                        <div role="columnheader" class="col col-revision">"Revision"</div>
                        {sort_button(SortKey::Age, "Changed")}
                    </div>
                </div>
                <div
                    class="tbody"
                    role="rowgroup"
                    node_ref=body
                    on:pointerenter=move |_| pointer_in.set(true)
                    on:pointerleave=move |_| pointer_in.set(false)
                    on:focusin=move |ev: web_sys::FocusEvent| {
                        focus_in.set(true);
                        let index = ev
                            .target()
                            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                            .and_then(|el| el.closest("[data-index]").ok().flatten())
                            .and_then(|row| row.get_attribute("data-index")?.parse::<usize>().ok());
                        if let Some(i) = index {
                            current.set(i);
                        }
                    }
                    on:focusout=move |ev: web_sys::FocusEvent| {
                        let inside = ev
                            .related_target()
                            .and_then(|t| t.dyn_into::<web_sys::Node>().ok())
                            .zip(body.get_untracked())
                            .is_some_and(|(t, b)| b.contains(Some(&t)));
                        if !inside {
                            focus_in.set(false);
                        }
                    }
                    on:keydown=on_keydown
                >
                    <div style:height=move || format!("{}px", window_range().0 as f64 * row_h.get()) aria-hidden="true"></div>
                    <For each=visible key=|row: &(usize, String)| row.clone() let:((index, k))>
                        <ListRow index=index object=k multi_cluster=multi_cluster selected=selected selectable=can_act() tab_row=tab_row />
                    </For>
                    <div
                        style:height=move || {
                            let (_, last, n) = window_range();
                            format!("{}px", (n - last) as f64 * row_h.get())
                        }
                        aria-hidden="true"
                    ></div>
                    {move || {
                        (live.loaded.get() && shown.with(Vec::is_empty))
                            .then(|| view! { <p class="empty">"No Flux object matches these filters."</p> })
                    }}
                </div>
            </div>
        </section>
    }
}

/// Focuses the name link of row `index` once it is rendered (after a scroll, the window moves on
/// the next frame).
fn focus_rendered_row(index: usize, tries: u32) {
    let selector = format!(".tbody [data-index=\"{index}\"] .col-name a");
    if let Ok(Some(link)) = document().query_selector(&selector)
        && let Ok(link) = link.dyn_into::<web_sys::HtmlElement>()
    {
        let _ = link.focus();
        return;
    }
    if tries > 0 {
        set_timeout(move || focus_rendered_row(index, tries - 1), std::time::Duration::from_millis(30));
    }
}

#[component]
fn ListRow(
    index: usize,
    object: String,
    multi_cluster: Memo<bool>,
    selected: RwSignal<HashSet<String>>,
    selectable: bool,
    tab_row: Memo<usize>,
) -> impl IntoView {
    let live = expect_context::<Live>();
    let causes = expect_context::<crate::why::Causes>();
    let tab_stop = Signal::derive(move || if tab_row.get() == index { 0 } else { -1 });
    let clock = expect_context::<Clock>();
    // This row's object, live: only its own changes reach the DOM, cell by cell.
    let id = object.clone();
    let row = Memo::new(move |_| live.fleet.with(|f| f.objects.get(&id).cloned()));
    let Some(first) = row.get_untracked() else {
        return view! { <div class="tr gone" role="row" data-index=index></div> }.into_any();
    };
    let s = first.summary;
    let r = ObjectRef::of(&s);
    let (k1, k2) = (object.clone(), object.clone());
    let label = format!("Select {} {}/{} in {}", s.kind, s.namespace, s.name, s.cluster);
    let field = move |f: fn(&fluxboard_model::Summary) -> String| {
        move || row.with(|r| r.as_ref().map(|r| f(&r.summary)).unwrap_or_default())
    };
    let badge_class = move || {
        row.with(|r| {
            r.as_ref().map_or("badge h-unknown".to_owned(), |r| format!("badge {}", health_class(r.summary.health)))
        })
    };
    let badge_text = field(|s| badge_label(s.health, s.retrying).to_owned());
    let gone = move || row.with(Option::is_none);
    view! {
        <div class="tr" role="row" data-testid="row" data-index=index aria-rowindex=index + 2 class:gone=gone>
            <div role="cell" class="col col-health">
                {selectable
                    .then(|| {
                        view! {
                            <input
                                type="checkbox"
                                class="select"
                                tabindex=move || tab_stop.get()
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
                <span class=badge_class>{badge_text}</span>
            </div>
            <div role="cell" class="col col-kind">{s.kind.clone()}</div>
            {
                let cluster = s.cluster.clone();
                move || multi_cluster.get().then(|| view! { <div role="cell" class="col col-cluster">{cluster.clone()}</div> })
            }
            <div role="cell" class="col col-namespace">{s.namespace.clone()}</div>
            <div role="cell" class="col col-name">
                <Link href=detail_href(&r) class="object-link" tabindex=tab_stop>{s.name.clone()}</Link>
            </div>
            <div role="cell" class="col col-message" title=field(|s| plain(&s.message))>
                // What blocks it, when something upstream does; else its own message.
                {move || causes.line(&object).map(|l| plain(&l)).unwrap_or_else(field(|s| plain(&s.message)))}
            </div>
            <div role="cell" class="col col-revision" title=field(|s| s.revision.clone())>
                {field(|s| short_revision(&s.revision))}
            </div>
            <div role="cell" class="col col-age">
                {move || {
                    let t = row.with(|r| r.as_ref().and_then(|r| r.summary.last_transition_time.clone()));
                    clock.age_of(t.as_deref())
                }}
            </div>
        </div>
    }
    .into_any()
}
