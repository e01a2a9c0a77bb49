//! Root causes in the browser: the fleet graph of what the stream shows
//! (`fluxboard_model::graph`), kept as a memo of every blocked object's "blocked by ..." line
//! and root cause, for the list, the overview's "needs attention" (one line per cause, the
//! objects it blocks beneath it) and the detail page's chain.
//!
//! The browser does not know the controllers' readiness (the detail page's chain comes from
//! `GET /api/v1/why/...`, which does) and sees only the caller's scope: a source outside it is
//! not in the fleet, so the graph has it as missing; a missing cause the identity's grants do
//! not cover reads "outside your scope" (`Hop::seen_by`), as the API says it.

use std::collections::HashMap;
use std::sync::Arc;

use fluxboard_model::api::ObjectRef;
use fluxboard_model::auth::Identity;
use fluxboard_model::graph::{Graph, Hop, NoneStopped, Step, Via, blocked_line};
use fluxboard_model::{Health, view::plain};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::live::Live;
use crate::route::{Link, detail_href};
use crate::ui::HealthBadge;

/// Why one object is blocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blocked {
    /// "blocked by GitRepository team-b/team-b-app: authentication required".
    pub(crate) line: String,
    /// The key of the root cause when it is an object in the fleet that needs attention itself
    /// (failing, stalled or suspended): the object is then listed beneath it.
    pub(crate) under: Option<String>,
}

/// One object's place among the causes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Why it is blocked, if it is.
    pub(crate) blocked: Option<Blocked>,
    /// As a root cause, the objects beneath it: (key, reference), in key order.
    pub(crate) blocks: Vec<(String, ObjectRef)>,
}

/// Every blocked object's cause and what each cause blocks, by key (one map: each map type is
/// more code in the bundle).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CauseMap(pub(crate) HashMap<String, Entry>);

/// The causes of the live fleet, recomputed when it changes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Causes(pub(crate) Memo<Arc<CauseMap>>);

impl Causes {
    /// `me`: whose scope the lines are told in.
    pub(crate) fn new(live: Live, me: Identity) -> Causes {
        // Only changes that can change a cause rerun it (not a Ready object's new message).
        Causes(Memo::new(move |_| {
            live.fleet.with_causes(|f| Arc::new(compute(f.objects.values().map(|r| &*r.summary), &me)))
        }))
    }

    /// The "blocked by" line of an object, if something upstream blocks it.
    pub(crate) fn line(&self, key: &str) -> Option<String> {
        self.0.with(|m| m.0.get(key).and_then(|e| e.blocked.as_ref()).map(|b| b.line.clone()))
    }
}

fn compute<'a>(summaries: impl Iterator<Item = &'a fluxboard_model::Summary>, me: &Identity) -> CauseMap {
    let graph = Graph::build(summaries);
    let mut out = CauseMap::default();
    for (n, node) in graph.nodes.iter().enumerate() {
        let Some(s) = node.summary() else { continue };
        if s.health == Health::Ready {
            continue;
        }
        let Some(chain) = graph.why(n, &NoneStopped).filter(|c| c.is_upstream()) else { continue };
        let hops = graph.hops(&chain);
        let under = match chain.root() {
            Step::Node(r) => graph.nodes[*r]
                .summary()
                .filter(|root| matches!(root.health, Health::Failing | Health::Stalled | Health::Suspended))
                .map(fluxboard_model::view::key),
            Step::Controller { .. } => None,
        };
        let key = fluxboard_model::view::key(s);
        if let Some(root) = &under {
            out.0.entry(root.clone()).or_default().blocks.push((key.clone(), ObjectRef::of(s)));
        }
        out.0.entry(key).or_default().blocked =
            Some(Blocked { line: blocked_line(&hops.last().expect("a chain has a root").clone().seen_by(me)), under });
    }
    for list in out.0.values_mut().map(|e| &mut e.blocks) {
        let mut order: Vec<usize> = (0..list.len()).collect();
        fluxboard_model::order::sort_indices(&mut order, &|a, b| list[a].0.cmp(&list[b].0));
        *list = order.into_iter().map(|i| list[i].clone()).collect();
    }
    out
}

/// The "blocked by ..." line of an object (nothing when it is not blocked).
#[component]
pub(crate) fn BlockedLine(#[prop(into)] object: String) -> impl IntoView {
    let causes = expect_context::<Causes>();
    move || causes.line(&object).map(|line| view! { <p class="blocked-by" data-testid="blocked-by">{plain(&line)}</p> })
}

/// Beneath a cause in "needs attention": the objects it blocks, each a link.
#[component]
pub(crate) fn BlocksList(#[prop(into)] object: String) -> impl IntoView {
    let causes = expect_context::<Causes>();
    move || {
        let list = causes.0.with(|m| m.0.get(&object).map(|e| e.blocks.clone())).unwrap_or_default();
        (!list.is_empty()).then(|| {
            let n = list.len();
            let items = list
                .into_iter()
                .map(|(_, r)| {
                    let text = format!("{} {}/{}", r.kind, r.namespace, r.name);
                    view! { <li><Link href=detail_href(&r) class="object-link">{text}</Link></li> }
                })
                .collect_view();
            view! {
                <div class="blocks" data-testid="blocks">
                    <span class="blocks-title">{if n == 1 { "blocks 1 object".to_owned() } else { format!("blocks {n} objects") }}</span>
                    <ul>{items}</ul>
                </div>
            }
        })
    }
}

/// Whether an object is listed beneath its cause rather than on its own line.
pub(crate) fn is_beneath(causes: &Causes, key: &str) -> bool {
    causes.0.with(|m| m.0.get(key).and_then(|e| e.blocked.as_ref()).is_some_and(|b| b.under.is_some()))
}

fn via_text(via: Option<Via>) -> &'static str {
    match via {
        Some(Via::Source) => "its source",
        Some(Via::DependsOn) => "it depends on",
        Some(Via::Parent) => "applied by",
        Some(Via::Controller) => "reconciled by",
        None => "",
    }
}

/// What the detail page reads of `GET /api/v1/why/...` (`graph::Why` without the object, which
/// the page has from the stream: a second copy of the summary's decoder would cost bundle size).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
struct WhyChainBody {
    chain: Vec<Hop>,
    #[serde(rename = "rootCause")]
    root_cause: Option<Hop>,
}

/// The version of each hop's object (None: not in the fleet), by key.
type HopVersions = Vec<(String, Option<u64>)>;

/// The detail page's "why is it not ready": the chain from the object to its root cause, each
/// hop a link with its health. Read from the API (which knows the controllers and the scope),
/// again when the object, its root-cause line or one of the hops shown changes.
#[component]
pub(crate) fn WhyChain(target: ObjectRef) -> impl IntoView {
    let live = expect_context::<Live>();
    let why: RwSignal<Option<Result<WhyChainBody, crate::api::ApiError>>> = RwSignal::new(None);
    // Read again when the object changes or what blocks it does (not on every change of the
    // fleet: each read lists the cluster's controllers).
    let causes = expect_context::<Causes>();
    let key_of = |r: &ObjectRef| format!("{}/{}/{}/{}/{}", r.cluster, r.group, r.kind, r.namespace, r.name);
    let key = key_of(&target);
    let version = Memo::new(move |_| (live.fleet.version(&key), causes.line(&key)));
    // ...and when a hop of the last answer changes (its health or message shown here).
    let hop_keys = Memo::new(move |_| {
        why.with(|w| match w {
            Some(Ok(w)) => {
                w.chain.iter().chain(&w.root_cause).filter_map(|h| h.reference.as_ref()).map(key_of).collect()
            }
            _ => Vec::<String>::new(),
        })
    });
    let hops = Memo::new(move |_| {
        hop_keys.with(|keys| keys.iter().map(|k| (k.clone(), live.fleet.version(k))).collect::<Vec<_>>())
    });
    Effect::new(move |before: Option<(_, HopVersions)>| {
        let own = version.get();
        let now = hops.get();
        // A new answer names its hops: reading them again is no reason to ask again.
        let changed = match &before {
            None => true,
            Some((was_own, was_hops)) => {
                *was_own != own || now.iter().any(|(k, v)| was_hops.iter().any(|(wk, wv)| wk == k && wv != v))
            }
        };
        if changed {
            let target = target.clone();
            spawn_local(async move {
                why.set(Some(crate::api::why::<WhyChainBody>(&target).await));
            });
        }
        (own, now)
    });
    move || {
        let Some(Ok(w)) = why.get() else { return None };
        if w.root_cause.is_none() || w.chain.len() < 2 {
            return None;
        }
        let hops = w
            .chain
            .iter()
            .skip(1)
            .map(|hop| {
                let via = via_text(hop.via);
                view! { <li class="hop" data-testid="why-hop"><span class="via">{via}</span> " " <HopView hop=hop.clone() /></li> }
            })
            .collect_view();
        let root = w.root_cause.clone().expect("checked");
        Some(view! {
            <section class="panel why" aria-labelledby="why-title" data-testid="why">
                <h2 id="why-title">"Why it is not ready"</h2>
                <p class="blocked-by" data-testid="why-root">{plain(&blocked_line(&root))}</p>
                <ol class="why-chain">{hops}</ol>
            </section>
        })
    }
}

#[component]
fn HopView(hop: Hop) -> impl IntoView {
    match &hop.reference {
        Some(r) if !hop.outside_scope => {
            let text = format!("{} {}/{}", r.kind, r.namespace, r.name);
            let link = if fluxboard_model::kind_info(&r.group, &r.kind).is_some() && hop.reason != "NotFound" {
                view! { <Link href=detail_href(r) class="object-link">{text}</Link> }.into_any()
            } else if r.kind == "Deployment" {
                view! { <Link href="/controllers" class="object-link">{text}</Link> }.into_any()
            } else {
                view! { <span class="object-missing">{text}</span> }.into_any()
            };
            view! {
                <HealthBadge health=hop.health />
                " "
                {link}
                <span class="message">{format!(": {}", plain(&hop.message))}</span>
            }
            .into_any()
        }
        _ => view! { <span class="outside">"an object outside your scope"</span> }.into_any(),
    }
}
