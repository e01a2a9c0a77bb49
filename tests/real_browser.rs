//! A person's reconcile in headless Chromium against the real cluster (crates/real-cluster: the
//! real kube-apiserver and Flux controllers): the button's line follows the request until the
//! real kustomize-controller has handled it and the Kustomization is Ready, the inventory shows
//! the Deployment's live health from kwok's Running pods, and the failing objects read Failing
//! with the controllers' own messages.

use std::time::Duration;

use fluxboard::Options;
use fluxboard::auth::{Grant, Identity, Role};
use fluxboard_e2e::{Browser, Serving, poll_until};
use real_cluster::{Cluster, Options as ClusterOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_reconciles_on_the_real_cluster() -> anyhow::Result<()> {
    let cluster = tokio::task::spawn_blocking(|| Cluster::start(&ClusterOptions::default())).await??;
    let admin = Identity {
        user: "admin".into(),
        groups: vec!["system:masters".into()],
        grants: vec![Grant::everywhere(Role::Admin)],
    };
    let clusters = fluxboard::cluster::from_kubeconfig(Some(&cluster.kubeconfig), &["real-cluster".into()]).await?;
    let served = Serving::start(clusters, &Options { identity: Some(admin), ..Options::default() }).await;
    let url = &served.url;

    let browser = Browser::start().await?;
    let c = &browser.client;
    c.goto(&format!("{url}/resources/real-cluster/kustomize.toolkit.fluxcd.io/Kustomization/flux-system/apps-team-a"))
        .await?;
    browser
        .wait_text(".inventory", "the Deployment's live health", |t| t.contains("web") && t.contains("Current"))
        .await?;
    browser.wait_element("button[data-action=Reconcile]").await?.click().await?;
    browser.wait_text("[data-testid=action-status]", "the outcome", |t| t.starts_with("handled: Ready")).await?;
    let ks = cluster.get_json("flux-system", "kustomization", "apps-team-a")?;
    let token = ks["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"].as_str().unwrap_or_default();
    anyhow::ensure!(
        !token.is_empty() && ks["status"]["lastHandledReconcileAt"] == token,
        "handled by kustomize-controller: {}",
        ks["status"]
    );
    browser.screenshot("real-cluster-reconciled").await;

    for (path, message) in [
        ("kustomize.toolkit.fluxcd.io/Kustomization/flux-system/broken", "kustomization path not found"),
        ("source.toolkit.fluxcd.io/GitRepository/flux-system/missing", "repository not found"),
    ] {
        c.goto(&format!("{url}/resources/real-cluster/{path}")).await?;
        browser.wait_text(".detail-head .badge", "the health", |t| t.starts_with("Failing")).await?;
        browser.wait_page("the controller's message", |t| t.contains(message)).await?;
    }
    browser.screenshot("real-cluster-failing").await;
    // The same Failing verdict kubectl's Ready column gives.
    let broken = poll_until("broken to stay Ready=False", Duration::from_secs(60), || {
        let obj = cluster.get_json("flux-system", "kustomization", "broken").ok();
        std::future::ready(obj.filter(|obj| obj["status"]["observedGeneration"] == -1))
    })
    .await?;
    anyhow::ensure!(broken["status"]["conditions"].to_string().contains("\"False\""), "{}", broken["status"]);
    Ok(())
}
