//! The controllers page: every cluster's Flux controllers with their readiness, read from the
//! API when the page opens and every 5 seconds (a [`Load`]), and a restart button for admins.

use std::time::Duration;

use fluxboard_model::action::{Action, ControllerStatus, Target};
use leptos::prelude::*;

use crate::actions::Actions;
use crate::api::ApiError;
use crate::live::Live;
use crate::load::Load;
use crate::ui::{ErrorView, Table, Time};

/// One cluster's controllers, or why they could not be read.
type ClusterControllers = (String, Result<Vec<ControllerStatus>, ApiError>);

/// Reads each cluster's controllers in turn.
async fn load(clusters: Vec<String>) -> Vec<ClusterControllers> {
    let mut out = Vec::with_capacity(clusters.len());
    for cluster in clusters {
        let controllers = crate::api::controllers(&cluster).await;
        out.push((cluster, controllers));
    }
    out
}

#[component]
pub(crate) fn ControllersPage() -> impl IntoView {
    let live = expect_context::<Live>();
    // Read once the clusters are known (and again when they change), and every 5 seconds.
    let clusters = Memo::new(move |_| live.loaded.get().then(|| live.cluster_names()));
    let data = Load::new();
    let refresh = move || {
        if let Some(clusters) = clusters.get_untracked() {
            data.start(move || load(clusters));
        }
    };
    Effect::new(move |_| {
        clusters.track();
        refresh();
    });
    // Not while a read is still on the way (a new start would abort it).
    let tick = move || {
        if !data.busy() {
            refresh();
        }
    };
    let interval = set_interval_with_handle(tick, Duration::from_secs(5)).ok();
    on_cleanup(move || {
        if let Some(i) = interval {
            i.clear();
        }
    });
    view! {
        <section class="page" aria-labelledby="controllers-title">
            <h1 id="controllers-title">"Flux controllers"</h1>
            {move || match data.get() {
                None => view! { <p class="loading">"Loading…"</p> }.into_any(),
                Some(list) => {
                    list.into_iter().map(|(cluster, res)| view! { <ClusterPanel cluster res /> }).collect_view().into_any()
                }
            }}
        </section>
    }
}

/// One cluster's controllers as a table, or why they could not be read.
#[component]
fn ClusterPanel(cluster: String, res: Result<Vec<ControllerStatus>, ApiError>) -> impl IntoView {
    let body = match res {
        Err(error) => view! { <ErrorView error /> }.into_any(),
        Ok(list) => {
            let ready = list.iter().filter(|c| c.ready).count();
            let summary = format!("{ready} of {} ready", list.len());
            let rows = list
                .into_iter()
                .map(|c| view! { <ControllerRow cluster=cluster.clone() controller=c /> })
                .collect_view();
            view! {
                <p class="muted" data-testid="controllers-summary">{summary}</p>
                <Table columns=&["State", "Controller", "Ready", "Status", "Image", "Restarted"] hidden="Actions" label="Controllers">{rows}</Table>
            }
            .into_any()
        }
    };
    view! {
        <section class="panel">
            <h2>{cluster.clone()}</h2>
            {body}
        </section>
    }
}

#[component]
fn ControllerRow(cluster: String, controller: ControllerStatus) -> impl IntoView {
    let actions = expect_context::<Actions>();
    let c = controller;
    let admin = actions.may(Action::Restart, &cluster, &c.namespace);
    let target = Target {
        cluster,
        group: Some("apps".into()),
        kind: "Deployment".into(),
        namespace: c.namespace.clone(),
        name: c.name.clone(),
    };
    let title = format!("{}/{}", c.namespace, c.name);
    let restart = admin.then(|| {
        view! {
            <button
                class="btn"
                aria-label=format!("Restart {}", c.name)
                on:click=move |_| actions.request(Action::Restart, vec![target.clone()], title.clone())
            >
                "Restart"
            </button>
        }
    });
    view! {
        <tr data-testid="controller-row">
            <td>
                <span class=if c.ready { "badge h-ready" } else { "badge h-failing" }>
                    {if c.ready { "Ready" } else { "Not ready" }}
                </span>
            </td>
            <td>{c.name.clone()}</td>
            <td>{format!("{}/{}", c.ready_replicas, c.replicas)}</td>
            <td class="message">{fluxboard_model::view::plain(&c.message)}</td>
            <td class="mono">{c.image.clone()}</td>
            <td><Time at=c.restarted_at.clone() /></td>
            <td>{restart}</td>
        </tr>
    }
}
