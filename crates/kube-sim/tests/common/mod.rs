//! Shared set-up for the kube-sim integration tests: a started emulated cluster, kube-rs
//! clients for it, and waiting on conditions with a deadline.

#![allow(dead_code, unreachable_pub)] // reason: each test binary uses a different part of this module

use std::{future::Future, time::Duration};

use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, GroupVersionKind},
    config::{KubeConfigOptions, Kubeconfig},
};
use kube_sim::{Sim, SimConfig};
use serde_json::Value;

/// How long any awaited condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Starts an emulated cluster.
pub async fn start(config: SimConfig) -> Sim {
    Sim::start(config).await.expect("kube-sim starts")
}

/// A kube-rs client for `sim` authenticating with `token`, built from the kubeconfig the sim writes.
pub async fn client(sim: &Sim, token: &str) -> Client {
    client_with(sim, token, None, &[]).await
}

/// A kube-rs client that impersonates `user` (and `groups`).
pub async fn client_with(sim: &Sim, token: &str, user: Option<&str>, groups: &[&str]) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(&sim.kubeconfig_yaml(token)).expect("kubeconfig parses");
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube-rs accepts the kubeconfig");
    config.auth_info.impersonate = user.map(str::to_owned);
    if !groups.is_empty() {
        config.auth_info.impersonate_groups = Some(groups.iter().map(|g| (*g).to_owned()).collect());
    }
    Client::try_from(config).expect("client")
}

/// A dynamic API for a Flux kind.
pub fn flux_api(client: &Client, group: &str, version: &str, kind: &str, namespace: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    Api::namespaced_with(client.clone(), namespace, &resource)
}

pub fn kustomizations(client: &Client, namespace: &str) -> Api<DynamicObject> {
    flux_api(client, "kustomize.toolkit.fluxcd.io", "v1", "Kustomization", namespace)
}

pub fn git_repositories(client: &Client, namespace: &str) -> Api<DynamicObject> {
    flux_api(client, "source.toolkit.fluxcd.io", "v1", "GitRepository", namespace)
}

pub fn helm_releases(client: &Client, namespace: &str) -> Api<DynamicObject> {
    flux_api(client, "helm.toolkit.fluxcd.io", "v2", "HelmRelease", namespace)
}

/// Polls `check` until it returns Some, failing the test with `what` after [`DEADLINE`].
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the object's JSON satisfies `predicate`, and returns it.
pub async fn wait_object(
    api: &Api<DynamicObject>,
    name: &str,
    what: &str,
    predicate: impl Fn(&Value) -> bool,
) -> Value {
    wait_for(what, || async {
        let obj = api.get_opt(name).await.ok().flatten()?;
        let value = serde_json::to_value(&obj).ok()?;
        predicate(&value).then_some(value)
    })
    .await
}

/// The status of a condition type, or "".
pub fn condition<'a>(obj: &'a Value, type_: &str) -> (&'a str, &'a str, &'a str) {
    obj["status"]["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == type_)).map_or(
        ("", "", ""),
        |c| {
            (
                c["status"].as_str().unwrap_or(""),
                c["reason"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or(""),
            )
        },
    )
}

pub fn is_ready(obj: &Value) -> bool {
    condition(obj, "Ready").0 == "True" && obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
}

/// A namespace, a GitRepository `app` and a Kustomization `app` applying `./deploy` from it.
pub async fn seed_app(sim: &Sim, namespace: &str) {
    let cluster = sim.cluster();
    let objects = [
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
        serde_json::json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "app", "namespace": namespace},
            "spec": {"interval": "5m", "url": "https://github.com/acme/app", "ref": {"branch": "main"}}}),
        serde_json::json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "app", "namespace": namespace},
            "spec": {"interval": "10m", "path": "./deploy", "prune": true,
                     "sourceRef": {"kind": "GitRepository", "name": "app"}}}),
    ];
    sim.content().set(
        "GitRepository",
        namespace,
        "app",
        "./deploy",
        vec![serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config", "namespace": namespace},
        "data": {"greeting": "hello"}})],
    );
    for obj in objects {
        cluster.apply(&obj).expect("seed object applies");
    }
}
