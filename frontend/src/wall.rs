//! The wall screen (`/wall`): for a TV that people read from across the room. No navigation, no
//! controls: one verdict, a tile per cluster with its counts, and what needs attention in large
//! type, one line each, paged when it does not fit (`?rotate=<seconds>`), from the live store.
//! Dark unless `?theme=light`; `?cluster=` and `?namespace=` narrow it.

use std::time::Duration;

use fluxboard_model::api::ConnectionState;
use fluxboard_model::view::{WallQuery, attention, health_label, parse_rfc3339, plain, severity, wall_lines};
use fluxboard_model::{Health, Summary};
use leptos::html;
use leptos::prelude::*;

use crate::live::{Conn, Live};
use crate::route::Router;
use crate::ui::{Clock, badge_label, health_class};

/// Per cluster: its name, connection, and counts by health.
#[derive(Debug, Clone, PartialEq)]
struct Tile {
    name: String,
    state: ConnectionState,
    total: usize,
    counts: Vec<(Health, usize)>,
}

#[component]
pub(crate) fn Wall() -> impl IntoView {
    let live = expect_context::<Live>();
    let router = expect_context::<Router>();
    let clock = expect_context::<Clock>();
    let options = Memo::new(move |_| router.location.with(|(_, q)| WallQuery::from_query(q)));
    // Dark by default; the person's own theme comes back when the wall is left.
    Effect::new(move |_| {
        let theme = if options.with(|o| o.light) { "light" } else { "dark" };
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-theme", theme);
        }
    });
    on_cleanup(|| {
        let saved = window().local_storage().ok().flatten().and_then(|s| s.get_item("fluxboard-theme").ok().flatten());
        if let (Some(root), Some(theme)) = (document().document_element(), saved) {
            let _ = root.set_attribute("data-theme", &theme);
        }
    });
    // A clock that ticks every second (the time, "last change N s ago", paging).
    let now = RwSignal::new(js_sys::Date::now());
    let tick = set_interval_with_handle(move || now.set(js_sys::Date::now()), Duration::from_secs(1)).ok();
    on_cleanup(move || {
        if let Some(t) = tick {
            t.clear();
        }
    });

    // A walk over the whole fleet: one pass for every tile, paced, and only after a change of
    // what the tiles count (objects, their healths).
    // The clusters' names and states (not their messages, which change while one reconnects).
    let states =
        Memo::new(move |_| live.clusters.with(|c| c.iter().map(|c| (c.name.clone(), c.state)).collect::<Vec<_>>()));
    let tiles = Memo::new(move |_| {
        let o = options.get();
        states.track();
        live.fleet.with_shape(|f| {
            let mut tiles: Vec<Tile> = f
                .clusters
                .iter()
                .filter(|c| o.cluster.is_empty() || c.name == o.cluster)
                .map(|c| Tile { name: c.name.clone(), state: c.state, total: 0, counts: Vec::new() })
                .collect();
            for s in f.objects.values().map(|r| &*r.summary).filter(|s| o.matches(s)) {
                let Some(tile) = tiles.iter_mut().find(|t| t.name == s.cluster) else { continue };
                tile.total += 1;
                match tile.counts.iter_mut().find(|(h, _)| *h == s.health) {
                    Some((_, n)) => *n += 1,
                    None => tile.counts.push((s.health, 1)),
                }
            }
            for tile in &mut tiles {
                fluxboard_model::order::sort_by(&mut tile.counts, &|a, b| severity(a.0).cmp(&severity(b.0)));
            }
            tiles
        })
    });
    // Only the objects that may need attention (the store keeps that set), again when one of
    // them changes or the clock makes a Progressing one stuck.
    let needs = Memo::new(move |_| {
        let o = options.get();
        let t = clock.0.get();
        live.attention.track();
        live.fleet.with_untracked(|f| {
            let mut list: Vec<Summary> = f
                .attention
                .iter()
                .filter_map(|k| f.objects.get(&**k))
                .filter(|r| o.matches(&r.summary) && attention(&r.summary, t).is_some())
                .map(|r| (*r.summary).clone())
                .collect();
            // Worst first; within a health, the longest-standing first.
            fluxboard_model::order::sort_by(&mut list, &|a, b| {
                (severity(a.health), &a.last_transition_time, &a.cluster, &a.namespace, &a.name).cmp(&(
                    severity(b.health),
                    &b.last_transition_time,
                    &b.cluster,
                    &b.namespace,
                    &b.name,
                ))
            });
            list
        })
    });
    let multi = move || tiles.with(|t| t.len() > 1);
    // One line per cause: what waits on a failing object is told on its line.
    let lines = Memo::new(move |_| needs.with(|n| wall_lines(n)));
    // A screen left on outlives a login session: say how to keep it up.
    let actions = expect_context::<crate::actions::Actions>();
    let session_note = actions.me.with_untracked(|m| {
        m.as_ref().filter(|m| m.user != "anonymous").map(|m| {
            format!(
                "Shown with {}'s login session, which ends when the session does. For a screen left on, turn on \
                 anonymous read-only access (auth.anonymous in the configuration) and open /wall without logging in.",
                m.user
            )
        })
    });

    // Paging: as many lines as fit, the next page every `rotate` seconds.
    let list_ref = NodeRef::<html::Ul>::new();
    let per_page = RwSignal::new(8usize);
    let page = RwSignal::new(0usize);
    let measure = move || {
        let Some(ul) = list_ref.get_untracked() else { return };
        let height = window().inner_height().ok().and_then(|h| h.as_f64()).unwrap_or(1080.0);
        let line = (height * 0.075).max(1.0);
        let fit = ((f64::from(ul.client_height()) / line).floor() as usize).max(1);
        if per_page.get_untracked() != fit {
            per_page.set(fit);
        }
    };
    // Again whenever what is above the list may have grown or shrunk.
    Effect::new(move |_| {
        tiles.track();
        needs.track();
        if list_ref.get().is_some() {
            measure();
        }
    });
    let on_resize = window_event_listener(leptos::ev::resize, move |_| measure());
    on_cleanup(move || on_resize.remove());
    let pages = move || lines.with(Vec::len).div_ceil(per_page.get()).max(1);
    Effect::new(move |prev: Option<f64>| {
        let t = now.get();
        let rotate = f64::from(options.with(|o| o.rotate)) * 1000.0;
        measure();
        let last = prev.unwrap_or(t);
        if t - last >= rotate {
            page.update(|p| *p = (*p + 1) % pages());
            return t;
        }
        if page.get_untracked() >= pages() {
            page.set(0);
        }
        last
    });

    let verdict = move || {
        let n = needs.with(Vec::len);
        if n == 0 {
            "All clear".to_owned()
        } else if n == 1 {
            "1 needs attention".to_owned()
        } else {
            format!("{n} need attention")
        }
    };
    let connection = move || match live.conn.get() {
        Conn::Live => {
            let broken: Vec<String> = tiles
                .with(|t| t.iter().filter(|c| c.state != ConnectionState::Connected).map(|c| c.name.clone()).collect());
            if broken.is_empty() {
                ("live", "live".to_owned())
            } else {
                ("stale", format!("stale: {} reconnecting", broken.join(", ")))
            }
        }
        Conn::Connecting => ("stale", "connecting".to_owned()),
        Conn::Reconnecting => ("stale", "reconnecting: data may be stale".to_owned()),
    };
    let time = move || {
        now.track();
        let d = js_sys::Date::new_0();
        format!("{:02}:{:02}", d.get_hours(), d.get_minutes())
    };
    let since_change = move || {
        let secs = ((now.get() - live.updated.get()) / 1000.0).max(0.0) as i64;
        let age = fluxboard_model::view::age(secs, 0);
        format!("last change {age} ago")
    };

    view! {
        <div class="wall" data-testid="wall">
            <header class="wall-head">
                <h1 class="verdict" class:clear=move || needs.with(Vec::is_empty) data-testid="verdict">
                    <span class="verdict-mark" aria-hidden="true">{move || if needs.with(Vec::is_empty) { "✓" } else { "!" }}</span>
                    {verdict}
                </h1>
                <div class="wall-meta">
                    <span class="wall-clock" data-testid="wall-clock">{time}</span>
                    <span class=move || format!("wall-conn wall-{}", connection().0) data-testid="wall-connection">
                        {move || connection().1}
                    </span>
                    <span class="wall-updated" data-testid="wall-updated">{since_change}</span>
                </div>
            </header>
            <ul class="wall-tiles" aria-label="Clusters">
                {move || {
                    tiles
                        .get()
                        .into_iter()
                        .map(|t| {
                            let bad: usize = t
                                .counts
                                .iter()
                                .filter(|(h, _)| matches!(h, Health::Failing | Health::Stalled))
                                .map(|(_, n)| n)
                                .sum();
                            let state = match t.state {
                                ConnectionState::Connected => None,
                                ConnectionState::Connecting => Some("connecting"),
                                ConnectionState::Reconnecting => Some("reconnecting"),
                                ConnectionState::Error => Some("unreachable"),
                            };
                            let counts = t
                                .counts
                                .iter()
                                .map(|(h, n)| {
                                    view! {
                                        <li class=format!("wall-count {}", health_class(*h)) data-health=health_label(*h)>
                                            <span class="n">{*n}</span>
                                            <span class="what">{health_label(*h)}</span>
                                        </li>
                                    }
                                })
                                .collect_view();
                            view! {
                                <li class="wall-tile" class:bad={bad > 0} data-testid="wall-tile" data-cluster=t.name.clone()>
                                    <h2>
                                        {t.name.clone()}
                                        {state.map(|s| view! { <span class="wall-tile-state">{s}</span> })}
                                    </h2>
                                    <p class="wall-total">{format!("{} objects", t.total)}</p>
                                    <ul class="wall-counts">{counts}</ul>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
            <section class="wall-attention" aria-labelledby="wall-attention-title">
                <h2 id="wall-attention-title">
                    "Needs attention"
                    {move || (pages() > 1).then(|| view! { <span class="wall-page">{format!("page {} of {}", page.get() + 1, pages())}</span> })}
                </h2>
                <ul class="wall-list" node_ref=list_ref>
                    {move || {
                        let (per, p, t) = (per_page.get(), page.get(), clock.0.get());
                        let multi = multi();
                        lines.with(|list| {
                            if list.is_empty() {
                                return view! { <li class="wall-empty">"Every Flux object is reconciled."</li> }.into_any();
                            }
                            list.iter()
                                .skip(p * per)
                                .take(per)
                                .map(|line| {
                                    let s = &line.summary;
                                    let since = s
                                        .last_transition_time
                                        .as_deref()
                                        .and_then(parse_rfc3339)
                                        .map(|at| format!("for {}", fluxboard_model::view::age(t, at)));
                                    let place = if multi {
                                        format!("{} · {}", line.clusters.join(", "), s.namespace)
                                    } else {
                                        s.namespace.clone()
                                    };
                                    let affected = (!line.affected.is_empty()).then(|| {
                                        let n = line.affected.len();
                                        let first = line.affected[0].clone();
                                        let text = if n == 1 { format!("{first} waits on it") } else { format!("{first} and {} more wait on it", n - 1) };
                                        view! { <span class="wall-affected" data-testid="wall-affected">{text}</span> }
                                    });
                                    view! {
                                        <li class="wall-item" data-testid="wall-item">
                                            <span class=format!("badge {}", health_class(s.health))>{badge_label(s.health, s.retrying)}</span>
                                            <span class="wall-what">
                                                <span class="wall-name">{s.name.clone()}</span>
                                                <span class="wall-kind">{format!("{} · {place}", s.kind)}</span>
                                            </span>
                                            <span class="wall-why">
                                                <span class="wall-message">{plain(&s.message)}</span>
                                                {affected}
                                            </span>
                                            <span class="wall-since">{since}</span>
                                        </li>
                                    }
                                })
                                .collect_view()
                                .into_any()
                        })
                    }}
                </ul>
            </section>
            {session_note.map(|n| view! { <p class="wall-note" data-testid="wall-note">{n}</p> })}
        </div>
    }
}
