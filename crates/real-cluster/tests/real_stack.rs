//! The real stack (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, the Flux
//! controllers, all built from pinned upstream modules) starts, the fleet settles, kubectl lists
//! it, and the failing objects fail as real Flux fails them: Ready=False with the controller's
//! message, the Ready condition current (its observedGeneration is the generation) while
//! `status.observedGeneration` stays stale at -1. Then fluxboard (the library, serving on port 0)
//! against it: the snapshot is what kubectl lists, failing objects read Failing, actions are
//! handled by the real controllers, cluster RBAC refuses through impersonation, and a real
//! ServiceAccount token logs in through the real TokenReview. One cluster serves every step, in
//! order (the controllers run outside pods, so controller restarts stay kube-sim tests).

use std::time::Duration;

use fluxboard::auth::{Grant, Identity, Role};
use real_cluster::{Cluster, Options, fleet};
use serde_json::{Value, json};

fn condition<'a>(obj: &'a Value, type_: &str) -> &'a Value {
    obj["status"]["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == type_)).unwrap_or(&Value::Null)
}

#[test]
fn real_stack_settles_and_fails_like_flux() {
    let cluster = Cluster::start(&Options::default()).unwrap_or_else(|e| panic!("the real cluster starts: {e:#}"));
    let run = || -> anyhow::Result<()> {
        kubectl_lists_the_fleet(&cluster)?;
        pods_run_and_are_ready(&cluster)?;
        failing_objects_read_as_flux_writes_them(&cluster)?;
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        runtime.block_on(dashboard::run(&cluster))
    };
    if let Err(e) = run() {
        panic!("{e:#}\n{}", cluster.log_tails(15));
    }
}

fn kubectl_lists_the_fleet(cluster: &Cluster) -> anyhow::Result<()> {
    let text = cluster.kubectl(&[
        "get",
        "gitrepositories,helmrepositories,kustomizations,helmreleases",
        "-A",
        "-o",
        "json",
    ])?;
    let list: Value = serde_json::from_str(&text)?;
    let mut listed: Vec<(String, String, String)> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                o["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
                o["kind"].as_str().unwrap_or_default().to_lowercase(),
                o["metadata"]["name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    listed.sort();
    let mut want: Vec<(String, String, String)> = fleet::READY
        .iter()
        .chain(fleet::FAILING)
        .map(|(ns, kind, name)| (ns.to_string(), kind.to_string(), name.to_string()))
        .collect();
    want.sort();
    anyhow::ensure!(listed == want, "kubectl lists {listed:?}, the fleet is {want:?}");
    // HelmRelease and Kustomization readiness as kubectl's printer columns show it.
    let table = cluster.kubectl(&["get", "kustomizations", "-n", "flux-system"])?;
    anyhow::ensure!(table.contains("broken") && table.contains("False"), "kubectl get ks:\n{table}");
    Ok(())
}

fn pods_run_and_are_ready(cluster: &Cluster) -> anyhow::Result<()> {
    for (ns, name, replicas) in
        [("infra", "redis", 1), ("team-a", "web", 2), ("team-b", "api", 1), ("team-a", "frontend", 2)]
    {
        let deploy = cluster.get_json(ns, "deployment", name)?;
        anyhow::ensure!(
            deploy["status"]["readyReplicas"] == replicas && condition(&deploy, "Available")["status"] == "True",
            "deployment {ns}/{name} is not ready: {}",
            deploy["status"]
        );
    }
    let pods: Value = serde_json::from_str(&cluster.kubectl(&["get", "pods", "-n", "team-a", "-o", "json"])?)?;
    let pods = pods["items"].as_array().cloned().unwrap_or_default();
    anyhow::ensure!(pods.len() == 4, "team-a has {} pods, want 4 (web x2, frontend x2)", pods.len());
    for pod in &pods {
        anyhow::ensure!(
            pod["status"]["phase"] == "Running"
                && condition(pod, "Ready")["status"] == "True"
                && pod["spec"]["nodeName"] == "kwok-node-0",
            "pod {} is not Running and Ready on the kwok node: {}",
            pod["metadata"]["name"],
            pod["status"]
        );
    }
    Ok(())
}

fn failing_objects_read_as_flux_writes_them(cluster: &Cluster) -> anyhow::Result<()> {
    let broken = cluster.get_json("flux-system", "kustomization", "broken")?;
    let ready = condition(&broken, "Ready");
    anyhow::ensure!(ready["status"] == "False", "broken: {ready}");
    let message = ready["message"].as_str().unwrap_or_default();
    anyhow::ensure!(message.contains("not found") || message.contains("no such file"), "broken's message: {message}");
    anyhow::ensure!(
        ready["observedGeneration"] == broken["metadata"]["generation"],
        "broken's Ready is current: {ready}"
    );
    anyhow::ensure!(
        broken["status"]["observedGeneration"] == -1,
        "broken's status.observedGeneration stays stale: {}",
        broken["status"]
    );

    let missing =
        cluster.wait_condition("flux-system", "gitrepository", "missing", "Ready", "False", Duration::from_secs(30))?;
    let ready = condition(&missing, "Ready");
    let message = ready["message"].as_str().unwrap_or_default();
    anyhow::ensure!(message.contains("not found") || message.contains("404"), "missing's message: {message}");
    anyhow::ensure!(
        ready["observedGeneration"] == missing["metadata"]["generation"],
        "missing's Ready is current: {ready}"
    );
    anyhow::ensure!(
        missing["status"]["observedGeneration"] == -1,
        "missing's status.observedGeneration stays stale: {}",
        missing["status"]
    );
    Ok(())
}

mod dashboard {
    //! fluxboard against the real cluster, through its HTTP API.

    use super::*;
    use fluxboard::Options;
    use fluxboard::config::Config;

    const DEADLINE: Duration = Duration::from_secs(90);

    /// fluxboard serving on 127.0.0.1:0 (the tests' shared fixture).
    pub(super) type Served = fluxboard_test_support::Serving;

    async fn serve(cluster: &Cluster, options: Options) -> anyhow::Result<Served> {
        let clusters = fluxboard::cluster::from_kubeconfig(Some(&cluster.kubeconfig), &["real-cluster".into()]).await?;
        let served = Served::start(clusters, &options).await;
        poll("fluxboard ready", || async {
            let res = reqwest::get(format!("{}/readyz", served.url)).await.ok()?;
            res.status().is_success().then_some(())
        })
        .await?;
        Ok(served)
    }

    fn identity(user: &str, groups: &[&str], role: Role) -> Identity {
        Identity {
            user: user.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            grants: vec![Grant::everywhere(role)],
        }
    }

    /// Polls `check` until it returns Some, for at most [`DEADLINE`] (the tests' shared
    /// `poll_until`).
    async fn poll<T, F, Fut>(what: &str, check: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        Ok(fluxboard_test_support::poll_until(what, DEADLINE, check).await?)
    }

    /// A same-origin request (the tests' shared `call`): status, JSON body, the cookie set.
    async fn request(
        method: reqwest::Method,
        url: &str,
        cookie: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value, Option<String>)> {
        Ok(fluxboard_test_support::call(method, url, cookie, body).await)
    }

    async fn act(
        served: &Served,
        action: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> anyhow::Result<(u16, Value)> {
        let body =
            json!({"action": action, "cluster": "real-cluster", "kind": kind, "namespace": namespace, "name": name});
        let (status, body, _) =
            request(reqwest::Method::POST, &format!("{}/api/v1/actions", served.url), None, Some(body)).await?;
        Ok((status, body))
    }

    async fn snapshot(served: &Served) -> anyhow::Result<Value> {
        Ok(request(reqwest::Method::GET, &format!("{}/api/v1/snapshot", served.url), None, None).await?.1)
    }

    /// Every Flux object kubectl lists, over every served Flux kind: (kind, namespace, name) -> object.
    fn kubectl_flux_objects(
        cluster: &Cluster,
    ) -> anyhow::Result<std::collections::BTreeMap<(String, String, String), Value>> {
        let resources = cluster.kubectl(&["api-resources", "-o", "name"])?;
        let flux: Vec<&str> = resources.lines().filter(|r| r.contains(".toolkit.fluxcd.io")).collect();
        anyhow::ensure!(!flux.is_empty(), "no Flux resources served");
        let list: Value = serde_json::from_str(&cluster.kubectl(&["get", &flux.join(","), "-A", "-o", "json"])?)?;
        Ok(list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| {
                let key = (
                    o["kind"].as_str().unwrap_or_default().to_string(),
                    o["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
                    o["metadata"]["name"].as_str().unwrap_or_default().to_string(),
                );
                (key, o.clone())
            })
            .collect())
    }

    pub(super) async fn run(cluster: &Cluster) -> anyhow::Result<()> {
        let admin = identity("admin", &["system:masters"], Role::Admin);
        let served = serve(cluster, Options { identity: Some(admin), ..Options::default() }).await?;
        snapshot_is_what_kubectl_lists(cluster, &served).await?;
        reconcile_is_handled_by_kustomize_controller(cluster, &served).await?;
        force_and_reset_are_handled_by_helm_controller(cluster, &served).await?;
        reconcile_with_source_reconciles_the_source_first(cluster, &served).await?;
        suspend_and_resume_reach_the_controller(cluster, &served).await?;
        survives_an_api_server_restart_after_compaction(cluster, &served).await?;
        drop(served);
        cluster_rbac_refuses_through_impersonation(cluster).await?;
        service_account_token_logs_in(cluster).await?;
        Ok(())
    }

    async fn snapshot_is_what_kubectl_lists(cluster: &Cluster, served: &Served) -> anyhow::Result<()> {
        let want = kubectl_flux_objects(cluster)?;
        let objects = poll("the snapshot to hold every Flux object kubectl lists", || async {
            let snap = snapshot(served).await.ok()?;
            let objects = snap["objects"].as_array()?.clone();
            (objects.len() == want.len()).then_some(objects)
        })
        .await?;
        for o in &objects {
            let key = (
                o["kind"].as_str().unwrap_or_default().to_string(),
                o["namespace"].as_str().unwrap_or_default().to_string(),
                o["name"].as_str().unwrap_or_default().to_string(),
            );
            let real = want.get(&key).ok_or_else(|| anyhow::anyhow!("the snapshot has {key:?}, kubectl does not"))?;
            let ready = condition(real, "Ready");
            anyhow::ensure!(o["cluster"] == "real-cluster", "{o}");
            anyhow::ensure!(o["generation"] == real["metadata"]["generation"], "generation of {key:?}: {o}");
            if ready["status"] == "False" {
                anyhow::ensure!(
                    o["health"] == "Failing" && o["message"] == ready["message"],
                    "{key:?} is Ready=False ({}) on the cluster; fluxboard says {} ({})",
                    ready["message"],
                    o["health"],
                    o["message"]
                );
            } else if ready["status"] == "True" {
                anyhow::ensure!(
                    o["health"] == "Ready",
                    "{key:?} is Ready on the cluster; fluxboard says {}",
                    o["health"]
                );
            }
        }
        for (_, kind, name) in fleet::FAILING {
            anyhow::ensure!(
                objects.iter().any(|o| o["kind"].as_str().is_some_and(|k| k.eq_ignore_ascii_case(kind))
                    && o["name"] == *name
                    && o["health"] == "Failing"),
                "{kind}/{name} reads Failing"
            );
        }
        Ok(())
    }

    async fn reconcile_is_handled_by_kustomize_controller(cluster: &Cluster, served: &Served) -> anyhow::Result<()> {
        let (status, body) = act(served, "reconcile", "Kustomization", "flux-system", "apps-team-a").await?;
        anyhow::ensure!(status == 202 && body["results"][0]["status"] == "accepted", "reconcile: {status} {body}");
        let token = body["results"][0]["token"].as_str().unwrap_or_default().to_string();
        poll("kustomize-controller to handle the request", || async {
            let obj = cluster.get_json("flux-system", "kustomization", "apps-team-a").ok()?;
            (obj["status"]["lastHandledReconcileAt"] == token.as_str()).then_some(())
        })
        .await?;
        poll("the snapshot to show it handled", || async {
            let snap = snapshot(served).await.ok()?;
            snap["objects"]
                .as_array()?
                .iter()
                .any(|o| {
                    o["name"] == "apps-team-a"
                        && o["lastHandledReconcileAt"] == token.as_str()
                        && o["health"] == "Ready"
                })
                .then_some(())
        })
        .await
    }

    async fn force_and_reset_are_handled_by_helm_controller(cluster: &Cluster, served: &Served) -> anyhow::Result<()> {
        for (action, field) in [("force", "lastHandledForceAt"), ("reset", "lastHandledResetAt")] {
            let (status, body) = act(served, action, "HelmRelease", "team-a", "frontend").await?;
            anyhow::ensure!(status == 202 && body["results"][0]["status"] == "accepted", "{action}: {status} {body}");
            let token = body["results"][0]["token"].as_str().unwrap_or_default().to_string();
            poll(&format!("helm-controller to handle {action}"), || async {
                let obj = cluster.get_json("team-a", "helmrelease", "frontend").ok()?;
                (obj["status"][field] == token.as_str() && obj["status"]["lastHandledReconcileAt"] == token.as_str())
                    .then_some(())
            })
            .await?;
        }
        Ok(())
    }

    fn handled_at(cluster: &Cluster, namespace: &str, kind: &str, name: &str) -> Option<String> {
        let obj = cluster.get_json(namespace, kind, name).ok()?;
        obj["status"]["lastHandledReconcileAt"].as_str().map(str::to_owned)
    }

    async fn reconcile_with_source_reconciles_the_source_first(
        cluster: &Cluster,
        served: &Served,
    ) -> anyhow::Result<()> {
        let (status, body) = act(served, "reconcileWithSource", "Kustomization", "flux-system", "apps-team-a").await?;
        anyhow::ensure!(status == 202 && body["results"][0]["status"] == "accepted", "{status} {body}");
        let token = body["results"][0]["token"].as_str().unwrap_or_default().to_string();
        // fluxboard waited for source-controller before it asked the Kustomization.
        anyhow::ensure!(
            handled_at(cluster, "flux-system", "gitrepository", "fleet").as_deref() == Some(token.as_str()),
            "the GitRepository was handled first: {:?}",
            handled_at(cluster, "flux-system", "gitrepository", "fleet")
        );
        poll("kustomize-controller to handle reconcile with source", || async {
            (handled_at(cluster, "flux-system", "kustomization", "apps-team-a").as_deref() == Some(token.as_str()))
                .then_some(())
        })
        .await?;
        // A HelmRelease: its HelmRepository, its HelmChart, then the release.
        let (status, body) = act(served, "reconcileWithSource", "HelmRelease", "team-a", "frontend").await?;
        anyhow::ensure!(status == 202 && body["results"][0]["status"] == "accepted", "{status} {body}");
        let token = body["results"][0]["token"].as_str().unwrap_or_default().to_string();
        for (kind, name) in [("helmrepository", "charts"), ("helmchart", "team-a-frontend")] {
            anyhow::ensure!(
                handled_at(cluster, "flux-system", kind, name).as_deref() == Some(token.as_str()),
                "{kind}/{name} was handled first"
            );
        }
        poll("helm-controller to handle reconcile with source", || async {
            (handled_at(cluster, "team-a", "helmrelease", "frontend").as_deref() == Some(token.as_str())).then_some(())
        })
        .await
    }

    async fn suspend_and_resume_reach_the_controller(cluster: &Cluster, served: &Served) -> anyhow::Result<()> {
        let body = json!({"action": "suspend", "cluster": "real-cluster", "kind": "Kustomization",
            "namespace": "flux-system", "name": "apps-team-b", "reason": "change freeze"});
        let (status, res, _) =
            request(reqwest::Method::POST, &format!("{}/api/v1/actions", served.url), None, Some(body)).await?;
        anyhow::ensure!(status == 202, "suspend: {status} {res}");
        let ks = cluster.get_json("flux-system", "kustomization", "apps-team-b")?;
        anyhow::ensure!(ks["spec"]["suspend"] == true, "suspended: {}", ks["spec"]);
        poll("the snapshot to show apps-team-b suspended", || async {
            let snap = snapshot(served).await.ok()?;
            snap["objects"]
                .as_array()?
                .iter()
                .any(|o| o["name"] == "apps-team-b" && o["health"] == "Suspended")
                .then_some(())
        })
        .await?;
        let (status, body) = act(served, "resume", "Kustomization", "flux-system", "apps-team-b").await?;
        anyhow::ensure!(status == 202, "resume: {status} {body}");
        let token = body["results"][0]["token"].as_str().unwrap_or_default().to_string();
        poll("kustomize-controller to handle the resume", || async {
            (handled_at(cluster, "flux-system", "kustomization", "apps-team-b").as_deref() == Some(token.as_str()))
                .then_some(())
        })
        .await?;
        poll("the snapshot to show apps-team-b Ready again", || async {
            let snap = snapshot(served).await.ok()?;
            snap["objects"]
                .as_array()?
                .iter()
                .any(|o| o["name"] == "apps-team-b" && o["health"] == "Ready" && o["suspended"] == false)
                .then_some(())
        })
        .await
    }

    async fn survives_an_api_server_restart_after_compaction(cluster: &Cluster, served: &Served) -> anyhow::Result<()> {
        // Every resource version fluxboard holds is compacted away, then the API server (and its
        // watch cache) restarts: resumed watches get 410 Gone and must list again.
        cluster.compact_etcd()?;
        cluster.restart("kube-apiserver")?;
        poll("kube-apiserver ready again", || async { cluster.kubectl(&["get", "--raw", "/readyz"]).ok().map(|_| ()) })
            .await?;
        cluster.kubectl(&[
            "patch",
            "kustomization",
            "infrastructure",
            "-n",
            "flux-system",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"suspend":true}}"#,
        ])?;
        poll("the snapshot to show the change made after the restart", || async {
            let snap = snapshot(served).await.ok()?;
            snap["objects"]
                .as_array()?
                .iter()
                .any(|o| o["name"] == "infrastructure" && o["suspended"] == true)
                .then_some(())
        })
        .await?;
        cluster.kubectl(&[
            "patch",
            "kustomization",
            "infrastructure",
            "-n",
            "flux-system",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"suspend":false}}"#,
        ])?;
        poll("the snapshot to show infrastructure resumed", || async {
            let snap = snapshot(served).await.ok()?;
            snap["objects"]
                .as_array()?
                .iter()
                .any(|o| o["name"] == "infrastructure" && o["suspended"] == false)
                .then_some(())
        })
        .await?;
        snapshot_is_what_kubectl_lists(cluster, served).await
    }

    async fn cluster_rbac_refuses_through_impersonation(cluster: &Cluster) -> anyhow::Result<()> {
        // The operator role in fluxboard everywhere; cluster RBAC lets `operator` patch only in team-a.
        let operator = identity("operator", &["fluxboard:operators"], Role::Operator);
        let served = serve(cluster, Options { identity: Some(operator), ..Options::default() }).await?;
        let before = cluster.get_json("flux-system", "kustomization", "apps-team-b")?;
        let (status, body) = act(&served, "reconcile", "Kustomization", "flux-system", "apps-team-b").await?;
        let message = body["error"]["message"].as_str().unwrap_or_default();
        anyhow::ensure!(
            status == 403 && message.contains("forbidden by cluster RBAC"),
            "refused by the cluster: {status} {body}"
        );
        let after = cluster.get_json("flux-system", "kustomization", "apps-team-b")?;
        anyhow::ensure!(
            after["metadata"]["annotations"] == before["metadata"]["annotations"],
            "nothing was patched: {} then {}",
            before["metadata"],
            after["metadata"]
        );
        let (status, body) = act(&served, "reconcile", "HelmRelease", "team-a", "frontend").await?;
        anyhow::ensure!(
            status == 202 && body["results"][0]["status"] == "accepted",
            "allowed in team-a: {status} {body}"
        );
        Ok(())
    }

    async fn service_account_token_logs_in(cluster: &Cluster) -> anyhow::Result<()> {
        cluster.kubectl(&["create", "serviceaccount", "dashboard-user", "-n", "team-a"])?;
        let token = cluster.kubectl(&["create", "token", "dashboard-user", "-n", "team-a"])?.trim().to_string();
        let mut config = Config::default();
        config.auth.kubernetes_token = true;
        let served = serve(cluster, Options { identity: None, config, ..Options::default() }).await?;
        let url = format!("{}/auth/token", served.url);
        let (status, body, _) =
            request(reqwest::Method::POST, &url, None, Some(json!({"token": "not-a-token"}))).await?;
        anyhow::ensure!(status == 401, "a bad token is refused: {status} {body}");
        let (status, me, cookie) = request(reqwest::Method::POST, &url, None, Some(json!({"token": token}))).await?;
        anyhow::ensure!(status == 200, "the ServiceAccount token logs in: {status} {me}");
        anyhow::ensure!(me["user"] == "system:serviceaccount:team-a:dashboard-user", "{me}");
        let groups = me["groups"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(groups.iter().any(|g| g == "system:serviceaccounts:team-a"), "{me}");
        let (status, me, _) =
            request(reqwest::Method::GET, &format!("{}/api/v1/me", served.url), cookie.as_deref(), None).await?;
        anyhow::ensure!(status == 200 && me["user"] == "system:serviceaccount:team-a:dashboard-user", "{status} {me}");
        Ok(())
    }
}
