//! "Is my commit live?" and "what runs where": the revision page (`/revisions?q=`: every object
//! whose artifact, applied revision or release history has the revision, since when, and the
//! objects fed by the same source still on another one) and the release matrix (`/matrix`:
//! objects present in several clusters, a column per cluster, differences marked). Both are
//! computed in the browser from the live fleet (`fluxboard_model::graph`), so they follow it.

use fluxboard_model::api::ObjectRef;
use fluxboard_model::graph::{Graph, RevisionSearch, release_matrix};
use fluxboard_model::view::{decode, encode, plain, short_revision};
use leptos::prelude::*;

use crate::live::Live;
use crate::route::{Link, Router, detail_href};
use crate::ui::{HealthBadge, Time};

/// The release matrix's rows shown at first, and added by each "Show more".
const MATRIX_PAGE: usize = 200;

/// The app path of the revision page for `q`.
pub(crate) fn revisions_href(q: &str) -> String {
    format!("/revisions?q={}", encode(q.trim()))
}

fn object_text(r: &ObjectRef, multi: bool) -> String {
    let base = format!("{} {}/{}", r.kind, r.namespace, r.name);
    if multi { format!("{base} in {}", r.cluster) } else { base }
}

#[component]
pub(crate) fn RevisionsPage(#[prop(into)] query: String) -> impl IntoView {
    let live = expect_context::<Live>();
    let router = expect_context::<Router>();
    let q = query.split('&').find_map(|p| p.strip_prefix("q=")).map(decode).unwrap_or_default().trim().to_owned();
    let wanted = q.clone();
    let found = Memo::new(move |_| {
        if wanted.is_empty() {
            return RevisionSearch::default();
        }
        live.fleet.with_paced(|f| Graph::build(f.objects.values().map(|r| &*r.summary)).search_revision(&wanted))
    });
    let multi = Memo::new(move |_| live.clusters.with(|c| c.len() > 1));
    let typed = RwSignal::new(q.clone());
    view! {
        <section class="page revisions" aria-labelledby="revisions-title">
            <h1 id="revisions-title">"Where is this revision?"</h1>
            <form
                class="filters"
                on:submit=move |ev| {
                    ev.prevent_default();
                    router.navigate(&revisions_href(&typed.get_untracked()));
                }
            >
                <input
                    type="search"
                    data-testid="revision-query"
                    aria-label="Revision"
                    placeholder="Git SHA, branch@sha1:…, OCI digest or tag, chart version"
                    prop:value=move || typed.get()
                    on:input=move |ev| typed.set(event_target_value(&ev))
                />
                <button class="btn small" type="submit">"Find"</button>
            </form>
            {move || {
                let found = found.get();
                let multi = multi.get();
                if q.is_empty() {
                    return view! { <p class="empty">"Type a revision to see where it is."</p> }.into_any();
                }
                if found.matches.is_empty() {
                    return view! { <p class="empty" data-testid="revision-none">{format!("No object has {q}.")}</p> }.into_any();
                }
                let matches = found
                    .matches
                    .iter()
                    .map(|m| {
                        let text = object_text(&m.reference, multi);
                        let revision = short_revision(&m.revision);
                        view! {
                            <li class="revision-match" data-testid="revision-match" data-cluster=m.reference.cluster.clone()>
                                <HealthBadge health=m.health />
                                " "
                                <Link href=detail_href(&m.reference) class="object-link">{text}</Link>
                                " "
                                <span class="mono" title=m.revision.clone()>{revision}</span>
                                " "
                                {if m.current { "since " } else { "in its history, " }}
                                <Time at=m.since.clone() />
                            </li>
                        }
                    })
                    .collect_view();
                let behind = (!found.behind.is_empty())
                    .then(|| {
                        let rows = found
                            .behind
                            .iter()
                            .map(|b| {
                                let text = object_text(&b.reference, multi);
                                let revision = if b.revision.is_empty() { "no revision yet".to_owned() } else { short_revision(&b.revision) };
                                let source = format!("{} {}/{}", b.source.kind, b.source.namespace, b.source.name);
                                view! {
                                    <li class="revision-behind" data-testid="revision-behind">
                                        <HealthBadge health=b.health />
                                        " "
                                        <Link href=detail_href(&b.reference) class="object-link">{text}</Link>
                                        " is on "
                                        <span class="mono" title=b.revision.clone()>{revision}</span>
                                        {format!(" ({source} has it)")}
                                    </li>
                                }
                            })
                            .collect_view();
                        view! {
                            <h2>"Behind"</h2>
                            <ul class="behind-list">{rows}</ul>
                        }
                    });
                view! {
                    <h2>{format!("{} with {}", if found.matches.len() == 1 { "1 object".to_owned() } else { format!("{} objects", found.matches.len()) }, plain(&q))}</h2>
                    <ul class="revision-list">{matches}</ul>
                    {behind}
                }
                    .into_any()
            }}
        </section>
    }
}

#[component]
pub(crate) fn MatrixPage() -> impl IntoView {
    let live = expect_context::<Live>();
    let matrix = Memo::new(move |_| {
        live.fleet.with_shape(|f| {
            let mut m = release_matrix(f.objects.values().map(|r| &*r.summary));
            // What differs first: five clusters of 10k objects make a matrix of thousands of rows.
            fluxboard_model::order::sort_by(&mut m.rows, &|a, b| b.differs.cmp(&a.differs));
            m
        })
    });
    // Rows are shown a page at a time: a table of 13k rows would block the page for seconds.
    let shown = RwSignal::new(MATRIX_PAGE);
    let summary = move || {
        matrix.with(|m| {
            let differ = m.rows.iter().filter(|r| r.differs).count();
            format!(
                "{} {} in several clusters; {} {}.",
                crate::ui::grouped_digits(m.rows.len()),
                if m.rows.len() == 1 { "object" } else { "objects" },
                crate::ui::grouped_digits(differ),
                if differ == 1 { "differs" } else { "differ" },
            )
        })
    };
    let hidden = move || matrix.with(|m| m.rows.len().saturating_sub(shown.get()));
    view! {
        <section class="page matrix" aria-labelledby="matrix-title">
            <h1 id="matrix-title">"What runs where"</h1>
            <p class="empty">"Objects present in several clusters; the rows that differ are marked, and come first."</p>
            <p class="count" data-testid="matrix-summary">{summary}</p>
            {move || {
                matrix
                    .with(|m| {
                        if m.rows.is_empty() {
                            return view! { <p class="empty">"No object is in more than one cluster."</p> }.into_any();
                        }
                        let heads = m.clusters.iter().map(|c| view! { <th scope="col">{c.clone()}</th> }).collect_view();
                        let rows = m
                            .rows
                            .iter()
                            .take(shown.get())
                            .map(|row| {
                                let cells = m
                                    .clusters
                                    .iter()
                                    .zip(&row.cells)
                                    .map(|(cluster, cell)| match cell {
                                        Some(cell) => {
                                            let r = ObjectRef {
                                                cluster: cluster.clone(),
                                                group: row.group.clone(),
                                                kind: row.kind.clone(),
                                                namespace: row.namespace.clone(),
                                                name: row.name.clone(),
                                            };
                                            let revision = if cell.revision.is_empty() { "—".to_owned() } else { short_revision(&cell.revision) };
                                            view! {
                                                <td data-cluster=cluster.clone()>
                                                    <HealthBadge health=cell.health />
                                                    " "
                                                    <Link href=detail_href(&r) class="mono">{revision}</Link>
                                                </td>
                                            }
                                                .into_any()
                                        }
                                        None => view! { <td class="absent">"not here"</td> }.into_any(),
                                    })
                                    .collect_view();
                                let name = format!("{} {}/{}", row.kind, row.namespace, row.name);
                                view! {
                                    <tr data-testid="matrix-row" class:differs=row.differs>
                                        <th scope="row">
                                            {name}
                                            {row.note.clone().map(|n| view! { <span class="note">{n}</span> })}
                                        </th>
                                        {cells}
                                    </tr>
                                }
                            })
                            .collect_view();
                        view! {
                            <div class="table-scroll">
                                <table class="matrix-table">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Object"</th>
                                            {heads}
                                        </tr>
                                    </thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            </div>
                        }
                            .into_any()
                    })
            }}
            {move || {
                let hidden = hidden();
                (hidden > 0)
                    .then(|| {
                        view! {
                            <p class="more">
                                <button class="btn small" data-testid="matrix-more" on:click=move |_| shown.update(|n| *n += MATRIX_PAGE)>
                                    {format!("Show {} more", hidden.min(MATRIX_PAGE))}
                                </button>
                                {format!(" ({} not shown)", crate::ui::grouped_digits(hidden))}
                            </p>
                        }
                    })
            }}
        </section>
    }
}
