//! The resource list: search, filters and sort kept in the URL (the one place they live: the
//! page reads its query from the URL and writes it back), and a virtual list that renders only
//! the rows in view, so 50k objects stay fast.
//!
//! The order is kept, not recomputed: a change of the query sorts the matching objects once;
//! after that each batch from the stream moves only the objects it changed that enter, leave
//! or move in the order (`view::moves_in`: a new message moves nothing), found by binary search.
//! The search tests each object's lower-cased text made once per change (`Row::search`).
//!
//! Rows are keyed by object and position, not by version: a live update changes a row's text in
//! place (each row follows its own object's trigger), so the focused link and the checkbox
//! under the pointer stay where they are (a row is made anew only when the order changes, which
//! it does not while the person is in the rows). The order holds still while the pointer is
//! over the rows or focus is inside them; what would move meanwhile is counted ("3 changes")
//! and shown on request or as soon as the person looks away. Arrow keys move from row to row.
//! The page scrolls (one scrollbar); on phones the rows are cards.

use std::collections::HashSet;
use std::sync::Arc;

use fluxboard_model::action::Action;
use fluxboard_model::api::ObjectRef;
use fluxboard_model::order::capitalize;
use fluxboard_model::view::{
    HealthFilter, ListQuery, SortKey, changes_between, compare, moves_in, plain, short_revision, suspension_note,
};
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast as _;

use crate::live::{Batch, Change, Fleet, Live, Row};
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

/// Object keys in list order.
type Keys = Arc<Vec<Arc<str>>>;

/// The order the query gives: the keys of the objects that pass it, sorted, as of batch `seq`.
#[derive(Debug, Clone)]
struct Order {
    query: ListQuery,
    seq: u64,
    keys: Keys,
}

impl Order {
    /// Filters and sorts every object.
    fn build(fleet: &Fleet, query: ListQuery, seq: u64, now: i64) -> Order {
        let m = query.filter.matcher();
        let mut rows: Vec<&Row> = fleet.objects.values().filter(|r| m.matches(&r.summary, &r.search, now)).collect();
        fluxboard_model::order::sort_by(&mut rows, &|a, b| {
            compare(&a.summary, &b.summary, query.sort, query.descending)
        });
        let keys = rows.into_iter().map(|r| r.key.clone()).collect();
        Order { query, seq, keys: Arc::new(keys) }
    }

    /// Applies one batch's changes; whether the order changed.
    fn update(&mut self, fleet: &Fleet, batch: &Batch, now: i64) -> bool {
        let m = self.query.filter.matcher();
        let (sort, descending) = (self.query.sort, self.query.descending);
        // Per object, how it was before the batch and how it is after it (the stable sort keeps
        // an object's changes in batch order). Sorted vectors, not hash sets: each set type is
        // more code in the bundle.
        let mut changes: Vec<&Change> = batch.changes.iter().collect();
        fluxboard_model::order::sort_by(&mut changes, &|a, b| a.key.cmp(&b.key));
        let passes = |r: Option<&Row>| r.is_some_and(|r| m.matches(&r.summary, &r.search, now));
        let mut out: Vec<&str> = Vec::new();
        let mut enter: Vec<&Row> = Vec::new();
        for same in changes.chunk_by(|a, b| a.key == b.key) {
            let (old, new) = (same[0].old.as_ref(), same[same.len() - 1].new.as_ref());
            let (was, is) = (passes(old), passes(new));
            let moves = match (old, new) {
                (Some(o), Some(n)) => moves_in(sort, &o.summary, &n.summary),
                _ => true,
            };
            if (was && is && !moves) || (!was && !is) {
                continue;
            }
            out.push(&same[0].key);
            if let Some(n) = new.filter(|_| is) {
                enter.push(n);
            }
        }
        if out.is_empty() {
            return false;
        }
        let keys = Arc::make_mut(&mut self.keys);
        keys.retain(|k| out.binary_search(&&**k).is_err());
        for row in enter {
            let at = keys.partition_point(|k| {
                fleet.objects.get(&**k).is_some_and(|r| compare(&r.summary, &row.summary, sort, descending).is_lt())
            });
            keys.insert(at, row.key.clone());
        }
        true
    }
}

/// The order the filters and sort give now, kept from batch to batch.
fn fresh_order(live: Live, clock: Clock, query: Memo<ListQuery>) -> Memo<Order> {
    Memo::new_owning(move |prev: Option<Order>| {
        let q = query.get();
        let batch = live.batch.get();
        let now = clock.0.get_untracked();
        match prev {
            Some(order) if order.query == q && order.seq == batch.seq => (order, false),
            Some(mut order) if order.query == q && order.seq + 1 == batch.seq && !batch.reset => {
                let changed = live.fleet.with_untracked(|f| order.update(f, &batch, now));
                order.seq = batch.seq;
                (order, changed)
            }
            _ => (live.fleet.with_untracked(|f| Order::build(f, q, batch.seq, now)), true),
        }
    })
}

/// The order shown: it follows the fresh one except while the person points at or works in the
/// rows (then it changes only with the query or the "N changes: show" button).
#[derive(Debug, Clone)]
struct Shown {
    query: ListQuery,
    released: u32,
    keys: Keys,
}

fn shown_order(fresh: Memo<Order>, holding: Memo<bool>, released: RwSignal<u32>) -> Memo<Shown> {
    Memo::new_owning(move |prev: Option<Shown>| {
        let (query, keys) = fresh.with(|o| (o.query.clone(), o.keys.clone()));
        let released = released.get();
        match prev {
            Some(p) if p.query == query && p.released == released && holding.get() && !p.keys.is_empty() => (p, false),
            Some(p) if Arc::ptr_eq(&p.keys, &keys) => (p, false),
            _ => (Shown { query, released, keys }, true),
        }
    })
}

/// The list's query, from the URL; filters write it back (replacing the history entry: typing
/// is not navigation).
#[derive(Debug, Clone, Copy)]
struct Query {
    router: Router,
    current: Memo<ListQuery>,
}

impl Query {
    fn new(router: Router) -> Query {
        // Kept while another page shows, so leaving the list does not sort it again.
        let current = Memo::new(move |prev: Option<&ListQuery>| match router.page() {
            Page::List(q) => q,
            _ => prev.cloned().unwrap_or_default(),
        });
        Query { router, current }
    }

    fn set(&self, change: impl FnOnce(&mut ListQuery)) {
        let mut q = self.current.get_untracked();
        change(&mut q);
        self.router.replace_query(&q.to_query());
    }

    /// An input's handler that sets one field from its value.
    fn on_input(self, field: fn(&mut ListQuery, String)) -> impl Fn(web_sys::Event) + Copy {
        move |ev: web_sys::Event| self.set(|q| field(q, event_target_value(&ev)))
    }
}

/// What the list's parts share.
#[derive(Debug, Clone, Copy)]
struct ListState {
    query: Query,
    shown: Memo<Shown>,
    /// Changes waiting while the order holds still.
    pending: Memo<usize>,
    released: RwSignal<u32>,
    pointer_in: RwSignal<bool>,
    focus_in: RwSignal<bool>,
    selected: RwSignal<HashSet<Arc<str>>>,
    multi_cluster: Memo<bool>,
}

impl ListState {
    fn new(live: Live, router: Router, clock: Clock) -> ListState {
        let query = Query::new(router);
        let fresh = fresh_order(live, clock, query.current);
        let (pointer_in, focus_in) = (RwSignal::new(false), RwSignal::new(false));
        let holding = Memo::new(move |_| pointer_in.get() || focus_in.get());
        let released = RwSignal::new(0);
        let shown = shown_order(fresh, holding, released);
        let pending = Memo::new(move |_| {
            if !holding.get() {
                return 0;
            }
            shown.with(|s| fresh.with(|f| changes_between(&s.keys, &f.keys)))
        });
        let multi_cluster = Memo::new(move |_| live.options.with(|o| o.clusters.len() > 1));
        let selected = RwSignal::new(HashSet::new());
        ListState { query, shown, pending, released, pointer_in, focus_in, selected, multi_cluster }
    }

    fn len(&self) -> usize {
        self.shown.with(|s| s.keys.len())
    }
}

#[component]
pub(crate) fn ResourceList() -> impl IntoView {
    let live = expect_context::<Live>();
    let state = ListState::new(live, expect_context::<Router>(), expect_context::<Clock>());
    view! {
        <section class="page list" aria-labelledby="list-title">
            <ListHead state />
            <crate::ScopeNote />
            <Filters query=state.query />
            <BulkBar state />
            <div
                class="table"
                class:multi=move || state.multi_cluster.get()
                role="table"
                aria-label="Flux objects"
                aria-rowcount=move || state.len() + 1
            >
                <div class="thead" role="rowgroup">
                    <div class="tr" role="row">
                        <SortHeader query=state.query key=SortKey::Health label="Health" />
                        <SortHeader query=state.query key=SortKey::Kind label="Kind" />
                        {move || state.multi_cluster.get().then(|| view! { <SortHeader query=state.query key=SortKey::Cluster label="Cluster" /> })}
                        <SortHeader query=state.query key=SortKey::Namespace label="Namespace" />
                        <SortHeader query=state.query key=SortKey::Name label="Name" />
                        <div role="columnheader" class="col col-message">"Message"</div>
                        <div role="columnheader" class="col col-revision">"Revision"</div>
                        <SortHeader query=state.query key=SortKey::Age label="Changed" />
                    </div>
                </div>
                <Rows state />
            </div>
        </section>
    }
}

/// The title, "N of M", and "N changes: show" while the order holds still.
#[component]
fn ListHead(state: ListState) -> impl IntoView {
    let live = expect_context::<Live>();
    // Announced to screen readers when the filters change, not at every live update.
    let announced = RwSignal::new(String::new());
    Effect::new(move |_| {
        state.query.current.track();
        let text = format!(
            "{} of {} objects",
            state.shown.with_untracked(|s| s.keys.len()),
            live.counts.with_untracked(|c| c.total)
        );
        set_timeout(move || announced.set(text), std::time::Duration::from_millis(400));
    });
    let changes = move || {
        let n = state.pending.get();
        (n > 0).then(|| {
            view! {
                <button
                    class="btn small changes"
                    data-testid="pending-changes"
                    title="The order holds still while you point at or work in the list"
                    on:click=move |_| state.released.update(|r| *r += 1)
                >
                    {format!("{n} {}: show", if n == 1 { "change" } else { "changes" })}
                </button>
            }
        })
    };
    view! {
        <div class="list-head">
            <h1 id="list-title">"Resources"</h1>
            <span class="count" data-testid="result-count">
                {move || format!("{} of {}", state.len(), live.counts.with(|c| c.total))}
            </span>
            <span class="sr-only" role="status">{move || announced.get()}</span>
            {changes}
        </div>
    }
}

/// The search box and the filter selects.
#[component]
fn Filters(query: Query) -> impl IntoView {
    let live = expect_context::<Live>();
    let q = query.current;
    let revision_link = move || {
        let text = q.with(|q| q.filter.q.clone());
        fluxboard_model::graph::is_revision_query(&text).then(|| {
            view! {
                <Link href=crate::releases::revisions_href(&text) class="btn small where-revision">
                    "Where is this revision?"
                </Link>
            }
        })
    };
    let options = live.options;
    let healths = Signal::derive(|| HealthFilter::CHOICES.iter().map(|h| h.as_str().to_owned()).collect());
    view! {
        <div class="filters" role="search">
            <label class="filter search" for="search">
                <span>"Search " <kbd aria-hidden="true">"/"</kbd></span>
                <input
                    id="search"
                    type="search"
                    placeholder="name, namespace, message…"
                    aria-keyshortcuts="/"
                    autocomplete="off"
                    prop:value=move || q.with(|q| q.filter.q.clone())
                    on:input=query.on_input(|q, v| q.filter.q = v)
                />
            </label>
            {revision_link}
            <FilterSelect label="Cluster" id="filter-cluster" query
                values=Signal::derive(move || options.with(|o| o.clusters.clone()))
                current=|q| q.filter.cluster.clone() set=|q, v| q.filter.cluster = v />
            <FilterSelect label="Kind" id="filter-kind" query
                values=Signal::derive(move || options.with(|o| o.kinds.clone()))
                current=|q| q.filter.kind.clone() set=|q, v| q.filter.kind = v />
            <FilterSelect label="Namespace" id="filter-namespace" query
                values=Signal::derive(move || options.with(|o| o.namespaces.clone()))
                current=|q| q.filter.namespace.clone() set=|q, v| q.filter.namespace = v />
            <FilterSelect label="Health" id="filter-health" query values=healths
                current=|q| q.filter.health.as_str().to_owned() set=|q, v| q.filter.health = HealthFilter::parse(&v) />
        </div>
    }
}

/// One filter: "All" and the values the fleet has.
#[component]
fn FilterSelect(
    label: &'static str,
    id: &'static str,
    query: Query,
    values: Signal<Vec<String>>,
    current: fn(&ListQuery) -> String,
    set: fn(&mut ListQuery, String),
) -> impl IntoView {
    view! {
        <label class="filter" for=id>
            <span>{label}</span>
            <select
                id=id
                on:change=query.on_input(set)
                prop:value=move || {
                    // Again when the options arrive (a deep link before the snapshot).
                    values.track();
                    query.current.with(current)
                }
            >
                <option value="">"All"</option>
                // The select's `prop:value` picks the current one; the options do not depend
                // on the query, so changing a filter does not rebuild them.
                {move || values.get().into_iter().map(|v| view! { <option value=v.clone()>{v.clone()}</option> }).collect_view()}
            </select>
        </label>
    }
}

/// A sortable column's header: a button that sorts by it, again to reverse.
#[component]
fn SortHeader(query: Query, key: SortKey, label: &'static str) -> impl IntoView {
    let aria = move || {
        query.current.with(|q| {
            if q.sort != key {
                "none"
            } else if q.descending {
                "descending"
            } else {
                "ascending"
            }
        })
    };
    let sort = move |_| {
        query.set(|q| {
            if q.sort == key {
                q.descending = !q.descending;
            } else {
                q.sort = key;
                q.descending = false;
            }
        })
    };
    view! {
        <div role="columnheader" aria-sort=aria class=format!("col col-{}", key.as_str())>
            <button class="sort" on:click=sort>
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
}

/// Whether the person may act on something (operators see checkboxes and bulk buttons).
fn can_act() -> bool {
    let actions = expect_context::<crate::actions::Actions>();
    actions.me.with(|m| m.as_ref().is_some_and(|m| m.has_role_somewhere(fluxboard_model::auth::Role::Operator)))
}

/// Select all, clear, and the bulk actions on what is selected.
#[component]
fn BulkBar(state: ListState) -> impl IntoView {
    let live = expect_context::<Live>();
    let actions = expect_context::<crate::actions::Actions>();
    let selected = state.selected;
    let bulk = move |action: Action| {
        let chosen = selected.get_untracked();
        let mut targets: Vec<_> = live.fleet.with_untracked(|f| {
            chosen.iter().filter_map(|k| f.objects.get(&**k)).map(|r| crate::actions::target_of(&r.summary)).collect()
        });
        fluxboard_model::order::sort_by(&mut targets, &|a, b| {
            (&a.cluster, &a.namespace, &a.name).cmp(&(&b.cluster, &b.namespace, &b.name))
        });
        if !targets.is_empty() {
            actions.request(action, targets, String::new());
            selected.set(HashSet::new());
        }
    };
    let none = move || selected.with(HashSet::is_empty);
    move || {
        can_act().then(|| {
            view! {
                <div class="bulk-bar" role="group" aria-label="Bulk actions">
                    <button class="btn" on:click=move |_| selected.set(state.shown.with(|s| s.keys.iter().cloned().collect()))>
                        {move || format!("Select all {}", state.len())}
                    </button>
                    <button class="btn" on:click=move |_| selected.set(HashSet::new())>"Clear"</button>
                    <span class="count" data-testid="selected-count">
                        {move || format!("{} selected", selected.with(HashSet::len))}
                    </span>
                    <button class="btn primary" disabled=none on:click=move |_| bulk(Action::Reconcile)>
                        "Reconcile selected"
                    </button>
                    <button class="btn" disabled=none on:click=move |_| bulk(Action::Suspend)>
                        "Suspend selected"
                    </button>
                    <button class="btn" disabled=none on:click=move |_| bulk(Action::Resume)>
                        "Resume selected"
                    </button>
                </div>
            }
        })
    }
}

/// Where the virtual window is: the rows' place in the page's scroll, the window's height, the
/// row height (phones have cards).
#[derive(Debug, Clone, Copy)]
struct Window {
    body: NodeRef<html::Div>,
    scroll_top: RwSignal<f64>,
    viewport: RwSignal<f64>,
    row_h: RwSignal<f64>,
}

impl Window {
    fn new() -> Window {
        let w = Window {
            body: NodeRef::new(),
            scroll_top: RwSignal::new(0.0),
            viewport: RwSignal::new(800.0),
            row_h: RwSignal::new(row_height()),
        };
        Effect::new(move |_| {
            if w.body.get().is_some() {
                w.measure();
            }
        });
        let on_resize = window_event_listener(leptos::ev::resize, move |_| w.measure());
        let on_scroll = window_event_listener(leptos::ev::scroll, move |_| w.measure());
        on_cleanup(move || {
            on_resize.remove();
            on_scroll.remove();
        });
        w
    }

    fn measure(&self) {
        if let Some(el) = self.body.get_untracked() {
            let top = el.get_bounding_client_rect().top();
            self.scroll_top.set((-top).max(0.0));
            let height = window().inner_height().ok().and_then(|h| h.as_f64()).unwrap_or(800.0);
            self.viewport.set(height.max(ROW_HEIGHT));
            self.row_h.set(row_height());
        }
    }

    /// The rows to render of `n`: `(first, last)`.
    fn range(&self, n: usize) -> (usize, usize) {
        let h = self.row_h.get();
        let first = ((self.scroll_top.get() / h) as usize).saturating_sub(OVERSCAN).min(n);
        let count = (self.viewport.get() / h).ceil() as usize + 2 * OVERSCAN;
        (first, (first + count).min(n))
    }

    /// Scrolls row `index` into the window (when it is not) and focuses it.
    fn focus_row(&self, index: usize, n: usize) {
        if n == 0 {
            return;
        }
        let index = index.min(n - 1);
        if let Some(el) = self.body.get_untracked() {
            let h = self.row_h.get_untracked();
            let top = el.get_bounding_client_rect().top() + index as f64 * h;
            let height = window().inner_height().ok().and_then(|h| h.as_f64()).unwrap_or(800.0);
            if top < 100.0 || top + h > height {
                let y = window().scroll_y().unwrap_or(0.0) + top - height / 3.0;
                window().scroll_to_with_x_and_y(0.0, y.max(0.0));
                self.measure();
            }
        }
        focus_rendered_row(index, 10);
    }
}

/// The index (`data-index`) of the row an event happened in.
fn row_index(target: Option<web_sys::EventTarget>) -> Option<usize> {
    let el = target?.dyn_into::<web_sys::Element>().ok()?;
    el.closest("[data-index]").ok().flatten()?.get_attribute("data-index")?.parse().ok()
}

/// How far a key moves through the rows.
fn row_step(ev: &web_sys::KeyboardEvent) -> Option<i64> {
    Some(match ev.key().as_str() {
        "ArrowDown" => 1,
        "ArrowUp" => -1,
        "PageDown" => 10,
        "PageUp" => -10,
        "Home" if ev.ctrl_key() => -1_000_000,
        "End" if ev.ctrl_key() => 1_000_000,
        _ => return None,
    })
}

/// The rows in view, with spacers for the rest.
#[component]
fn Rows(state: ListState) -> impl IntoView {
    let live = expect_context::<Live>();
    let w = Window::new();
    let range = move || w.range(state.len());
    // One tab stop for the rows (roving): the row last focused, or the first one in view; arrow
    // keys move between rows, so Tab passes the list in one step.
    let current = RwSignal::new(0usize);
    let tab_row = Memo::new(move |_| {
        let (first, last) = range();
        let c = current.get();
        if (first..last).contains(&c) { c } else { first }
    });
    let visible = move || {
        let (first, last) = range();
        state
            .shown
            .with(|s| s.keys[first..last].iter().cloned().enumerate().map(|(i, k)| (first + i, k)).collect::<Vec<_>>())
    };
    let on_keydown = move |ev: web_sys::KeyboardEvent| {
        let Some(step) = row_step(&ev) else { return };
        let Some(index) = row_index(ev.target()) else { return };
        ev.prevent_default();
        w.focus_row((index as i64 + step).max(0) as usize, state.len());
    };
    let on_focusout = move |ev: web_sys::FocusEvent| {
        let inside = ev
            .related_target()
            .and_then(|t| t.dyn_into::<web_sys::Node>().ok())
            .zip(w.body.get_untracked())
            .is_some_and(|(t, b)| b.contains(Some(&t)));
        if !inside {
            state.focus_in.set(false);
        }
    };
    let selectable = can_act();
    view! {
        <div
            class="tbody"
            role="rowgroup"
            node_ref=w.body
            on:pointerenter=move |_| state.pointer_in.set(true)
            on:pointerleave=move |_| state.pointer_in.set(false)
            on:focusin=move |ev: web_sys::FocusEvent| {
                state.focus_in.set(true);
                if let Some(i) = row_index(ev.target()) {
                    current.set(i);
                }
            }
            on:focusout=on_focusout
            on:keydown=on_keydown
        >
            <div style:height=move || format!("{}px", range().0 as f64 * w.row_h.get()) aria-hidden="true"></div>
            <For each=visible key=|row: &(usize, Arc<str>)| row.clone() let:((index, k))>
                <ListRow index=index object=k multi_cluster=state.multi_cluster selected=state.selected selectable tab_row=tab_row />
            </For>
            <div
                style:height=move || format!("{}px", (state.len() - range().1) as f64 * w.row_h.get())
                aria-hidden="true"
            ></div>
            {move || {
                (live.loaded.get() && state.len() == 0)
                    .then(|| view! { <p class="empty">"No Flux object matches these filters."</p> })
            }}
        </div>
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
    object: Arc<str>,
    multi_cluster: Memo<bool>,
    selected: RwSignal<HashSet<Arc<str>>>,
    selectable: bool,
    tab_row: Memo<usize>,
) -> impl IntoView {
    let live = expect_context::<Live>();
    let tab_stop = Signal::derive(move || if tab_row.get() == index { 0 } else { -1 });
    let clock = expect_context::<Clock>();
    // This row's object, live: only its own changes reach the DOM, cell by cell.
    let id = object.clone();
    let row = Memo::new(move |_| live.object(&id));
    let Some(s) = row.get_untracked() else {
        return view! { <div class="tr gone" role="row" data-index=index></div> }.into_any();
    };
    let r = ObjectRef::of(&s);
    let label = format!("Select {} {}/{} in {}", s.kind, s.namespace, s.name, s.cluster);
    let field =
        move |f: fn(&fluxboard_model::Summary) -> String| move || row.with(|r| r.as_deref().map(f).unwrap_or_default());
    let badge_class = move || {
        row.with(|r| r.as_ref().map_or("badge h-unknown".to_owned(), |r| format!("badge {}", health_class(r.health))))
    };
    let badge_text = field(|s| badge_label(s.health, s.retrying).to_owned());
    let gone = move || row.with(Option::is_none);
    let message_id = format!("message-{index}");
    view! {
        <div class="tr" role="row" data-testid="row" data-index=index aria-rowindex=index + 2 class:gone=gone>
            <div role="cell" class="col col-health">
                {selectable.then(|| view! { <RowCheckbox object=object.clone() label selected tab_stop /> })}
                <span class=badge_class>{badge_text}</span>
            </div>
            <div role="cell" class="col col-kind">{s.kind.clone()}</div>
            {
                let cluster = s.cluster.clone();
                move || multi_cluster.get().then(|| view! { <div role="cell" class="col col-cluster">{cluster.clone()}</div> })
            }
            <div role="cell" class="col col-namespace">{s.namespace.clone()}</div>
            <div role="cell" class="col col-name">
                <Link href=detail_href(&r) class="object-link" tabindex=tab_stop describedby=message_id.clone()>
                    {s.name.clone()}
                </Link>
            </div>
            <MessageCell object row id=message_id />
            <div role="cell" class="col col-revision" title=field(|s| s.revision.clone())>
                {field(|s| short_revision(&s.revision))}
            </div>
            <div role="cell" class="col col-age">
                {move || {
                    let t = row.with(|r| r.as_ref().and_then(|r| r.last_transition_time.clone()));
                    clock.age_of(t.as_deref())
                }}
            </div>
        </div>
    }
    .into_any()
}

/// A row's checkbox for the bulk actions.
#[component]
fn RowCheckbox(
    object: Arc<str>,
    label: String,
    selected: RwSignal<HashSet<Arc<str>>>,
    tab_stop: Signal<i32>,
) -> impl IntoView {
    let key = object.clone();
    view! {
        <input
            type="checkbox"
            class="select"
            tabindex=move || tab_stop.get()
            aria-label=label
            prop:checked=move || selected.with(|s| s.contains(&key))
            on:change=move |ev| {
                let on = event_target_checked(&ev);
                selected.update(|s| {
                    if on {
                        s.insert(object.clone());
                    } else {
                        s.remove(&object);
                    }
                });
            }
        />
    }
}

/// A row's message: what blocks it when something upstream does, else its own message, cut to
/// one line; its whole text (who suspended it and why first) is the tooltip, and for the
/// keyboard an element shown while focus is in the row and read as the name link's
/// description (`id`).
#[component]
fn MessageCell(object: Arc<str>, row: Memo<Option<Arc<fluxboard_model::Summary>>>, id: String) -> impl IntoView {
    let causes = expect_context::<crate::why::Causes>();
    let line = move || {
        causes
            .line(&object)
            .map(|l| plain(&l))
            .unwrap_or_else(|| row.with(|r| r.as_deref().map(|s| plain(&s.message)).unwrap_or_default()))
    };
    let shown = line.clone();
    let full = move || match row.with(|r| r.as_deref().and_then(suspension_note)) {
        Some(note) => format!("{}. {}", plain(&capitalize(&note)), line()),
        None => line(),
    };
    let title = full.clone();
    view! {
        <div role="cell" class="col col-message" title=title>
            {shown}
            <span class="message-full" id=id>{full}</span>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use fluxboard_model::view::Filter;
    use fluxboard_model::{Health, Summary};

    use super::*;
    use crate::fleet::Message;

    fn summary(ns: &str, name: &str, health: Health, message: &str) -> Summary {
        Summary {
            cluster: "prod".into(),
            group: "g".into(),
            kind: "Kustomization".into(),
            namespace: ns.into(),
            name: name.into(),
            health,
            message: message.into(),
            last_transition_time: Some(format!("2026-01-01T00:00:{:02}Z", name.len() % 60)),
            generation: 1,
            observed_generation: 1,
            ..Summary::default()
        }
    }

    /// Applies `messages` to the fleet and to the kept order; the order must equal a rebuild.
    fn step(fleet: &mut Fleet, order: &mut Order, seq: &mut u64, messages: Vec<Message>) {
        let applied = fleet.apply(messages);
        *seq += 1;
        let batch = Batch { seq: *seq, reset: applied.reset, changes: applied.changes };
        order.update(fleet, &batch, 0);
        let again = Order::build(fleet, order.query.clone(), *seq, 0);
        assert_eq!(order.keys, again.keys, "after batch {seq}");
    }

    #[test]
    fn the_kept_order_equals_a_fresh_sort_after_every_batch() {
        for (sort, descending, q) in [
            (SortKey::Health, false, ""),
            (SortKey::Name, true, ""),
            (SortKey::Age, false, "app"),
            (SortKey::Health, true, "broken"),
        ] {
            let query = ListQuery { filter: Filter { q: q.into(), ..Filter::default() }, sort, descending };
            let mut fleet = Fleet::default();
            let names = ["app-1", "app-22", "db", "web-333", "app-4444", "cache"];
            let all = names.iter().map(|n| summary("team-a", n, Health::Ready, "Applied")).collect();
            fleet.apply(vec![Message::Snapshot(fluxboard_model::api::Snapshot {
                id: String::new(),
                clusters: Vec::new(),
                objects: all,
            })]);
            let mut order = Order::build(&fleet, query, 0, 0);
            let mut seq = 0;
            let upsert = |s: Summary| Message::Upsert(Box::new(s));
            // A message only, a failure (moves by health), one object changed twice, a new
            // object, a deletion, a message that makes an object match the search.
            step(
                &mut fleet,
                &mut order,
                &mut seq,
                vec![upsert(summary("team-a", "db", Health::Ready, "Applied rev 2"))],
            );
            step(
                &mut fleet,
                &mut order,
                &mut seq,
                vec![upsert(summary("team-a", "web-333", Health::Failing, "broken"))],
            );
            step(
                &mut fleet,
                &mut order,
                &mut seq,
                vec![
                    upsert(summary("team-a", "app-1", Health::Stalled, "broken too")),
                    upsert(summary("team-a", "app-1", Health::Progressing, "fixing")),
                    upsert(summary("team-b", "app-55555", Health::Failing, "new")),
                ],
            );
            step(
                &mut fleet,
                &mut order,
                &mut seq,
                vec![
                    Message::Delete(ObjectRef::of(&summary("team-a", "app-22", Health::Ready, ""))),
                    upsert(summary("team-a", "cache", Health::Ready, "broken cache")),
                ],
            );
        }
    }
}
