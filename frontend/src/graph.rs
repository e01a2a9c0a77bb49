//! The fleet graph page (`/graph?cluster=&namespace=&focus=`) and a detail page's graph tab: a
//! layered DAG drawn as SVG from the live fleet (`fluxboard_model::graph`, laid out by
//! `Graph::layout`), sources above their consumers, nodes coloured by health and carrying
//! `data-ref="<cluster>/<group>/<kind>/<namespace>/<name>"`, edges by kind (source, dependsOn,
//! parent). A click or Enter opens the object; drag pans, the wheel and the buttons zoom.
//! No charting library: the layout is the model's, the drawing is plain SVG elements.

use fluxboard_model::api::ObjectRef;
use fluxboard_model::auth::{Identity, Role};
use fluxboard_model::graph::{EdgeKind, Graph, Node};
use fluxboard_model::view::{decode, encode, plain};
use leptos::prelude::*;

use crate::live::Live;
use crate::route::{Link, Router, detail_href};
use crate::ui::health_class;

// Whole pixels: the drawing formats integers only.
const NODE_W: i64 = 200;
const NODE_H: i64 = 44;
const GAP_X: i64 = 24;
const GAP_Y: i64 = 56;
/// The view's size in CSS pixels, as drawn on a desktop (`svg.graph`: 640 high, about 1100
/// wide): the layout packs the graph's parts into a grid of its shape.
const VIEW_W: i64 = 1100;
const VIEW_H: i64 = 640;
/// The characters of a label that fit a node (kind in 11 px, name in 12 px type): longer ones
/// are cut with "…", the full name is the node's title.
const KIND_CHARS: usize = 24;
const NAME_CHARS: usize = 25;

/// The page's options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GraphQuery {
    pub(crate) cluster: String,
    pub(crate) namespace: String,
    /// An object's key: only it and what is upstream and downstream of it.
    pub(crate) focus: String,
}

impl GraphQuery {
    pub(crate) fn parse(query: &str) -> GraphQuery {
        let mut q = GraphQuery::default();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = decode(v);
            match k {
                "cluster" => q.cluster = v,
                "namespace" => q.namespace = v,
                "focus" => q.focus = v,
                _ => {}
            }
        }
        q
    }

    fn to_query(&self) -> String {
        [("cluster", &self.cluster), ("namespace", &self.namespace), ("focus", &self.focus)]
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// One node as drawn (also its key among the drawn nodes: a node redraws only when it changes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Drawn {
    key: String,
    reference: ObjectRef,
    present: bool,
    class: String,
    title: String,
    x: i64,
    y: i64,
}

/// One edge as drawn.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    kind: EdgeKind,
    d: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Picture {
    nodes: Vec<Drawn>,
    lines: Vec<Line>,
    width: i64,
    height: i64,
    /// How many objects the query selects when they are more than [`MOST_DRAWN`] (none drawn).
    too_many: usize,
}

/// The most objects the graph draws at once: a drawing of 50k objects would block the page for
/// seconds and be unreadable (the readability test draws 651).
const MOST_DRAWN: usize = 2000;

/// What a node that is not in the fleet is: missing, or outside the scope of `me`.
fn absent_state(node: &Node<'_>, me: Option<&Identity>) -> &'static str {
    if me.is_some_and(|me| !me.may(Role::Viewer, node.cluster(), node.namespace())) {
        "outside your scope"
    } else {
        "not found"
    }
}

fn picture(graph: &Graph<'_>, q: &GraphQuery, me: Option<&Identity>) -> Picture {
    let shown: Vec<usize> = if q.focus.is_empty() {
        let wanted = |n: &Node<'_>| {
            (q.cluster.is_empty() || n.cluster() == q.cluster)
                && (q.namespace.is_empty() || n.namespace() == q.namespace)
        };
        let mut shown: Vec<usize> = (0..graph.nodes.len()).filter(|&n| wanted(&graph.nodes[n])).collect();
        // With a namespace, its objects' sources and parents elsewhere are shown too.
        if !q.namespace.is_empty() {
            let mut extra: Vec<usize> = shown.iter().flat_map(|&n| graph.upstream(n).map(|e| e.from)).collect();
            extra.retain(|n| !shown.contains(n));
            fluxboard_model::order::sort_indices(&mut extra, &|a, b| a.cmp(&b));
            extra.dedup();
            shown.extend(extra);
        }
        shown
    } else {
        match graph.nodes.iter().position(|n| n.key() == q.focus) {
            Some(n) => {
                let mut hood = graph.neighbourhood(n);
                // A source that feeds a whole cluster has thousands of objects downstream.
                if hood.len() > MOST_DRAWN {
                    return Picture { too_many: hood.len(), ..Picture::default() };
                }
                fluxboard_model::order::sort_indices(&mut hood, &|a, b| a.cmp(&b));
                hood
            }
            None => Vec::new(),
        }
    };
    // In name order, so the drawing does not depend on the order the fleet holds objects in.
    let mut shown = shown;
    fluxboard_model::order::sort_indices(&mut shown, &|a, b| {
        let (a, b) = (&graph.nodes[a], &graph.nodes[b]);
        (a.cluster(), a.namespace(), a.kind(), a.name()).cmp(&(b.cluster(), b.namespace(), b.kind(), b.name()))
    });
    let shape = (VIEW_W * (NODE_H + GAP_Y)) as f64 / (VIEW_H * (NODE_W + GAP_X)) as f64;
    let layout = graph.layout(&shown, shape);
    let at = |layer: usize, pos: usize| (pos as i64 * (NODE_W + GAP_X), layer as i64 * (NODE_H + GAP_Y));
    let mut place: Vec<Option<(i64, i64)>> = vec![None; graph.nodes.len()];
    let nodes = layout
        .places
        .iter()
        .map(|&(n, layer, pos)| {
            let node = &graph.nodes[n];
            let (x, y) = at(layer, pos);
            place[n] = Some((x, y));
            let (class, state) = match node.summary() {
                Some(s) => (
                    health_class(s.health).to_owned(),
                    format!("{}: {}", fluxboard_model::view::health_label(s.health), plain(&s.message)),
                ),
                None => ("h-missing".to_owned(), absent_state(node, me).to_owned()),
            };
            Drawn {
                key: node.key(),
                reference: node.reference(),
                present: node.summary().is_some(),
                class,
                title: format!("{} {}/{} in {}\n{state}", node.kind(), node.namespace(), node.name(), node.cluster()),
                x,
                y,
            }
        })
        .collect();
    let lines = layout
        .edges
        .iter()
        .filter_map(|&e| {
            let edge = graph.edges[e];
            let ((x1, y1), (x2, y2)) = (place[edge.from]?, place[edge.to]?);
            let (sx, sy, ex, ey) = (x1 + NODE_W / 2, y1 + NODE_H, x2 + NODE_W / 2, y2);
            let d = if ey > sy {
                let mid = (sy + ey) / 2;
                format!("M{sx},{sy} C{sx},{mid} {ex},{mid} {ex},{ey}")
            } else {
                // Against the layers (a cycle): around the side.
                let side = x1.max(x2) + NODE_W + GAP_X / 2;
                let (y1, y2) = (y1 + NODE_H / 2, y2 + NODE_H / 2);
                format!("M{},{y1} C{side},{y1} {side},{y2} {},{y2}", x1 + NODE_W, x2 + NODE_W)
            };
            Some(Line { kind: edge.kind, d })
        })
        .collect();
    Picture {
        nodes,
        lines,
        width: (layout.width.max(1) as i64) * (NODE_W + GAP_X) + NODE_W,
        height: (layout.layers.max(1) as i64) * (NODE_H + GAP_Y),
        too_many: 0,
    }
}

fn edge_class(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Source => "edge edge-source",
        EdgeKind::DependsOn => "edge edge-depends",
        EdgeKind::Parent => "edge edge-parent",
    }
}

/// Cuts a label to what fits a node.
fn fit(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The `/graph` page.
#[component]
pub(crate) fn GraphPage(#[prop(into)] query: String) -> impl IntoView {
    let live = expect_context::<Live>();
    let router = expect_context::<Router>();
    let q = GraphQuery::parse(&query);
    let clusters = Memo::new(move |_| live.cluster_names());
    let here = q.clone();
    let focused = (!q.focus.is_empty()).then(|| q.focus.clone());
    view! {
        <section class="page graph-page" aria-labelledby="graph-title">
            <h1 id="graph-title">"Graph"</h1>
            <div class="filters graph-filters">
                <span class="graph-clusters">
                    "Cluster: "
                    {
                        let q = q.clone();
                        move || {
                            let mut all = vec![String::new()];
                            all.extend(clusters.get());
                            all.into_iter()
                                .map(|c| {
                                    let next = GraphQuery { cluster: c.clone(), ..q.clone() }.to_query();
                                    let href = if next.is_empty() { "/graph".to_owned() } else { format!("/graph?{next}") };
                                    let current = c == q.cluster;
                                    let label = if c.is_empty() { "all".to_owned() } else { c };
                                    view! { <Link href=href class=if current { "chip current" } else { "chip" }>{label}</Link> " " }
                                })
                                .collect_view()
                        }
                    }
                </span>
                <label>
                    "Namespace "
                    <input
                        type="search"
                        data-testid="graph-namespace"
                        value=q.namespace.clone()
                        placeholder="all"
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            let next = GraphQuery { namespace: v.trim().to_owned(), ..here.clone() }.to_query();
                            router.navigate(&if next.is_empty() { "/graph".to_owned() } else { format!("/graph?{next}") });
                        }
                    />
                </label>
                {focused.map(|_| view! { <Link href="/graph" class="btn small">"Whole fleet"</Link> })}
                <span class="legend" aria-hidden="true">
                    <span class="legend-source">"source"</span>
                    <span class="legend-depends">"dependsOn"</span>
                    <span class="legend-parent">"applies"</span>
                </span>
            </div>
            <FleetGraph query=q />
        </section>
    }
}

/// The view's pan and zoom: the drawing's offset and its scale in thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct View {
    x: i64,
    y: i64,
    scale: i64,
}

impl View {
    /// The view that shows all of a `w` x `h` drawing in a `vw` x `vh` view, centred (never
    /// above 100%).
    fn fitting(w: i64, h: i64, (vw, vh): (i64, i64)) -> View {
        let scale = (vw * 1000 / w.max(1)).min(vh * 1000 / h.max(1)).clamp(MIN_SCALE, 1000);
        View { x: (vw - w * scale / 1000) / 2, y: (vh - h * scale / 1000) / 2, scale }
    }

    /// Zoomed by `percent` around the point (`cx`, `cy`) of the view, which stays where it is.
    fn zoomed(self, percent: i64, cx: i64, cy: i64) -> View {
        let scale = (self.scale * percent / 100).clamp(MIN_SCALE, MAX_SCALE);
        View { x: cx - (cx - self.x) * scale / self.scale, y: cy - (cy - self.y) * scale / self.scale, scale }
    }

    fn transform(self) -> String {
        format!("translate({},{}) scale({}.{:03})", self.x, self.y, self.scale / 1000, self.scale % 1000)
    }
}

/// The zoom's bounds, in thousandths: far enough out for any fleet to fit, in to 400%.
const MIN_SCALE: i64 = 20;
const MAX_SCALE: i64 = 4000;

/// The drawing: the live graph of what `query` selects, with pan and zoom.
#[component]
pub(crate) fn FleetGraph(query: GraphQuery) -> impl IntoView {
    let live = expect_context::<Live>();
    let router = expect_context::<Router>();
    let me = expect_context::<crate::actions::Actions>().me;
    let q = query.clone();
    let pic = Memo::new(move |_| {
        live.fleet.with_paced(|f| {
            // Counted before anything is built: the whole fleet's graph is not built to be
            // turned down.
            if q.focus.is_empty() {
                let selected = f
                    .objects
                    .values()
                    .filter(|r| {
                        (q.cluster.is_empty() || r.summary.cluster == q.cluster)
                            && (q.namespace.is_empty() || r.summary.namespace == q.namespace)
                    })
                    .count();
                if selected > MOST_DRAWN {
                    return Picture { too_many: selected, ..Picture::default() };
                }
            }
            let graph = Graph::build(f.objects.values().map(|r| &*r.summary));
            me.with_untracked(|me| picture(&graph, &q, me.as_ref()))
        })
    });
    let view = RwSignal::new(View { x: 0, y: 0, scale: 1000 });
    let svg = NodeRef::<leptos::svg::Svg>::new();
    // The view's size and a point of it (CSS pixels from its top left corner) for a pointer.
    let size = move || {
        svg.get_untracked().map_or((VIEW_W, VIEW_H), |el| {
            let r = el.get_bounding_client_rect();
            (r.width() as i64, r.height() as i64)
        })
    };
    let in_view = move |client_x: i32, client_y: i32| {
        svg.get_untracked().map_or((VIEW_W / 2, VIEW_H / 2), |el| {
            let r = el.get_bounding_client_rect();
            (i64::from(client_x) - r.left() as i64, i64::from(client_y) - r.top() as i64)
        })
    };
    let centre = move || {
        let (w, h) = size();
        (w / 2, h / 2)
    };
    // Fitted once, when there is something to draw; live changes keep the view where it is.
    let fitted = RwSignal::new(false);
    let fit = move || {
        let (w, h) = pic.with_untracked(|p| (p.width, p.height));
        view.set(View::fitting(w, h, size()));
    };
    Effect::new(move |_| {
        if !fitted.get_untracked() && pic.with(|p| !p.nodes.is_empty()) {
            fitted.set(true);
            fit();
        }
    });
    let zoom_at = move |percent: i64, (cx, cy): (i64, i64)| view.update(|v| *v = v.zoomed(percent, cx, cy));
    let drag: RwSignal<Option<(i64, i64, View)>> = RwSignal::new(None);
    let count = move || pic.with(|p| p.nodes.len());
    let too_many = move || pic.with(|p| p.too_many);
    let focused = !query.focus.is_empty();
    let open = move |r: &ObjectRef| router.navigate(&detail_href(r));
    view! {
        <div class="graph-tools">
            <button class="btn small" aria-label="Zoom in" disabled=move || { too_many() > 0 } on:click=move |_| zoom_at(125, centre())>
                "+"
            </button>
            <button class="btn small" aria-label="Zoom out" disabled=move || { too_many() > 0 } on:click=move |_| zoom_at(80, centre())>
                "−"
            </button>
            <button class="btn small" data-testid="graph-fit" disabled=move || { too_many() > 0 } on:click=move |_| fit()>
                "Fit"
            </button>
            <span class="count" data-testid="graph-count">
                {move || match (count(), too_many()) {
                    (_, n) if n > 0 => format!("{} objects, not drawn", crate::ui::grouped_digits(n)),
                    (1, _) => "1 object".to_owned(),
                    (n, _) => format!("{n} objects"),
                }}
            </span>
        </div>
        {move || {
            let n = too_many();
            (n > 0)
                .then(|| {
                    view! {
                        <p class="notice" role="status" data-testid="graph-too-many">
                            {if focused {
                                format!(
                                    "{} objects are upstream or downstream of this one: the graph draws at most {} at once. Open the graph of an object it feeds, or the graph of one namespace.",
                                    crate::ui::grouped_digits(n),
                                    crate::ui::grouped_digits(MOST_DRAWN),
                                )
                            } else {
                                format!(
                                    "These are {} objects: the graph draws at most {} at once. Choose a cluster or type a namespace above, or open an object's graph from its page.",
                                    crate::ui::grouped_digits(n),
                                    crate::ui::grouped_digits(MOST_DRAWN),
                                )
                            }}
                        </p>
                    }
                })
        }}
        <div class="graph-view" class:hidden=move || { too_many() > 0 }>
            <svg
                class="graph"
                data-testid="graph"
                role="group"
                aria-label="Fleet graph"
                width="100%"
                height=VIEW_H
                node_ref=svg
                on:pointerdown=move |ev: web_sys::PointerEvent| {
                    drag.set(Some((i64::from(ev.client_x()), i64::from(ev.client_y()), view.get_untracked())));
                }
                on:pointermove=move |ev: web_sys::PointerEvent| {
                    if ev.buttons() == 0 {
                        drag.set(None);
                    } else if let Some((sx, sy, from)) = drag.get_untracked() {
                        let (dx, dy) = (i64::from(ev.client_x()) - sx, i64::from(ev.client_y()) - sy);
                        view.set(View { x: from.x + dx, y: from.y + dy, ..from });
                    }
                }
                on:pointerup=move |_| drag.set(None)
                on:wheel=move |ev: web_sys::WheelEvent| {
                    ev.prevent_default();
                    zoom_at(if ev.delta_y() < 0.0 { 110 } else { 90 }, in_view(ev.client_x(), ev.client_y()));
                }
            >
                <defs>
                    <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse">
                        <path d="M0,0 L10,5 L0,10 z" class="arrow-head"></path>
                    </marker>
                </defs>
                <g class="graph-drawing" transform=move || view.get().transform()>
                    {move || {
                        pic.with(|p| {
                            p.lines
                                .iter()
                                .map(|l| view! { <path class=edge_class(l.kind) d=l.d.clone() marker-end="url(#arrow)"></path> })
                                .collect_view()
                        })
                    }}
                    <For each=move || pic.with(|p| p.nodes.clone()) key=|n: &Drawn| n.clone() let:n>
                        <GraphNode node=n open=open />
                    </For>
                </g>
            </svg>
        </div>
    }
}

/// One node: a box with the kind and the name (cut to fit; the full name is its title).
#[component]
fn GraphNode(node: Drawn, open: impl Fn(&ObjectRef) + Copy + Send + Sync + 'static) -> impl IntoView {
    let Drawn { key, reference, present, class, title, x, y } = node;
    let kind = fit(&reference.kind, KIND_CHARS);
    let name = fit(&format!("{}/{}", reference.namespace, reference.name), NAME_CHARS);
    let r = reference.clone();
    let label = title.clone();
    view! {
        <g
            class=format!("gnode {class}")
            data-ref=key
            data-testid="graph-node"
            transform=format!("translate({x},{y})")
            tabindex=if present { "0" } else { "-1" }
            role=if present { "link" } else { "img" }
            aria-label=label
            on:click=move |_| {
                if present {
                    open(&reference)
                }
            }
            on:keydown=move |ev: web_sys::KeyboardEvent| {
                if present && ev.key() == "Enter" {
                    open(&r)
                }
            }
        >
            <title>{title}</title>
            <rect width=NODE_W height=NODE_H rx="6"></rect>
            <text x="10" y="18" class="gkind">{kind}</text>
            <text x="10" y="35" class="gname">{name}</text>
        </g>
    }
}

/// A detail page's graph tab: the object, what feeds it and what it feeds.
#[component]
pub(crate) fn ObjectGraph(target: ObjectRef) -> impl IntoView {
    let key = format!("{}/{}/{}/{}/{}", target.cluster, target.group, target.kind, target.namespace, target.name);
    let href = format!("/graph?focus={}", encode(&key));
    view! {
        <div class="object-graph">
            <Link href=href class="more">"Open as a page"</Link>
            <FleetGraph query=GraphQuery { focus: key, ..GraphQuery::default() } />
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluxboard_model::{Health, Summary};

    fn object(kind: &str, group: &str, name: &str, source: Option<&str>) -> Summary {
        Summary {
            cluster: "prod".into(),
            group: group.into(),
            kind: kind.into(),
            namespace: "flux-system".into(),
            name: name.into(),
            health: Health::Ready,
            source_ref: source.map(str::to_owned),
            ..Summary::default()
        }
    }

    #[test]
    fn a_neighbourhood_too_large_is_counted_not_drawn() {
        let repo = object("GitRepository", "source.toolkit.fluxcd.io", "fleet", None);
        let fed = |n: usize| {
            (0..n)
                .map(|i| {
                    object(
                        "Kustomization",
                        "kustomize.toolkit.fluxcd.io",
                        &format!("app-{i}"),
                        Some("GitRepository/flux-system/fleet"),
                    )
                })
                .collect::<Vec<_>>()
        };
        let focus = GraphQuery { focus: fluxboard_model::view::key(&repo), ..GraphQuery::default() };
        let few = fed(10);
        let graph = Graph::build(std::iter::once(&repo).chain(&few));
        let drawn = picture(&graph, &focus, None);
        assert_eq!((drawn.nodes.len(), drawn.too_many), (11, 0));
        let many = fed(MOST_DRAWN);
        let graph = Graph::build(std::iter::once(&repo).chain(&many));
        let refused = picture(&graph, &focus, None);
        assert_eq!((refused.nodes.len(), refused.too_many), (0, MOST_DRAWN + 1));
        // One of the fed objects: itself and its source.
        let one = GraphQuery { focus: fluxboard_model::view::key(&many[7]), ..GraphQuery::default() };
        assert_eq!(picture(&graph, &one, None).nodes.len(), 2);
    }
}
