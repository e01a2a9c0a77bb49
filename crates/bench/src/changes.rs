//! The changes a run makes: status patches of the Kustomizations `team-XXXX/app-K` of the
//! emulated clusters, round robin over clusters, teams and apps, so consecutive changes touch
//! distinct objects (up to clusters × teams × 10 of them). Their Ready message carries a marker
//! with the send time (see [`crate::stats`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::json;
use tokio::task::JoinSet;

use crate::stats::{end_marker, marker};

pub(crate) const KUSTOMIZATIONS: (&str, &str, &str) = ("kustomize.toolkit.fluxcd.io", "v1", "Kustomization");

/// Makes marked changes on one or several clusters.
pub(crate) struct Changes {
    clusters: Vec<kube::Client>,
    teams: usize,
    next: usize,
    /// Each change also sets a new `lastAppliedRevision` (a new revision applied, as a commit
    /// rolling out makes): a change the views that read revisions and healths must redraw for.
    pub(crate) new_revisions: bool,
}

/// Where change `i` goes: the cluster's index, the team and the app.
fn target(i: usize, clusters: usize, teams: usize) -> (usize, usize, usize) {
    let (cluster, j) = (i % clusters.max(1), i / clusters.max(1));
    (cluster, j % teams.max(1), (j / teams.max(1)) % 10)
}

/// Whether kube-sim's scale fleet makes this Kustomization fail (about 1 in 60; see
/// `kube_sim::fleets::scale`): its controller retries it and would overwrite a marker, so
/// changes go elsewhere.
fn fails(team: usize, app: usize) -> bool {
    (team * 10 + app) % 60 == 59
}

impl Changes {
    /// Changes on `clusters`, each seeded with about `objects` Flux objects (20 per team).
    pub(crate) fn new(clusters: Vec<kube::Client>, objects: usize) -> Changes {
        Changes { clusters, teams: objects.div_ceil(20).max(1), next: 0, new_revisions: false }
    }

    /// How many clusters the changes go to (each stage ends with one end marker per cluster).
    pub(crate) fn clusters(&self) -> usize {
        self.clusters.len()
    }

    /// Sets the next Kustomization's Ready message to `message`.
    pub(crate) async fn make(&mut self, message: &str) -> anyhow::Result<()> {
        self.next_patch(message.to_owned()).await
    }

    /// The next change, to await or to spawn (so the patch request runs while the caller waits
    /// for the next tick).
    fn next_patch(&mut self, message: String) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
        let (cluster, team, app) = loop {
            let (cluster, team, app) = target(self.next, self.clusters.len(), self.teams);
            self.next += 1;
            if !fails(team, app) {
                break (cluster, team, app);
            }
        };
        let (namespace, name) = (format!("team-{team:04}"), format!("app-{app}"));
        let client = self.clusters[cluster].clone();
        let revision = self.new_revisions.then(|| format!("main@sha1:{:040x}", self.next));
        async move { patch(client, &namespace, &name, &message, revision.as_deref()).await }
    }

    /// `count` changes of `stage` at `rate` per second (each patch sent on its tick, whether the
    /// previous one was answered or not), then its end markers, one per cluster once every
    /// change was answered; returns the rate achieved (lower than asked when the API servers or
    /// this process cannot keep up).
    pub(crate) async fn stage(&mut self, stage: &str, count: usize, rate: f64) -> anyhow::Result<f64> {
        self.stage_counted(stage, count, rate, &AtomicUsize::new(0)).await
    }

    /// [`Changes::stage`], counting the changes sent in `sent` as they go.
    pub(crate) async fn stage_counted(
        &mut self,
        stage: &str,
        count: usize,
        rate: f64,
        sent_so_far: &AtomicUsize,
    ) -> anyhow::Result<f64> {
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        // Late ticks are made up for, so the stage keeps its average rate when this process is
        // scheduled late.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let started = Instant::now();
        let mut sent = JoinSet::new();
        for n in 0..count {
            ticks.tick().await;
            sent.spawn(self.next_patch(marker(stage, n)));
            sent_so_far.fetch_add(1, Ordering::SeqCst);
            // Answered changes are checked as they come, so a failure stops the stage early.
            while let Some(done) = sent.try_join_next() {
                done.context("a change panicked")??;
            }
        }
        while let Some(done) = sent.join_next().await {
            done.context("a change panicked")??;
        }
        let achieved = count as f64 / started.elapsed().as_secs_f64().max(1e-9);
        for _ in 0..self.clusters.len() {
            ticks.tick().await;
            self.make(&end_marker(stage)).await?;
        }
        Ok(achieved)
    }
}

/// What the fleet's failing Kustomizations' `retryInterval` is set to: kube-sim's `--timing
/// instant` shortens retries 20 times, so this is a retry every 2 minutes, as the fleet's
/// `retryInterval: 2m` means on a real cluster (left at 2m, the 83 failures of each emulated
/// cluster would make some 28 changes a second of their own, on top of the benchmark's).
pub(crate) const FAILING_RETRY: &str = "40m";

/// Sets [`FAILING_RETRY`] on the Kustomizations kube-sim's scale fleet of about `objects` makes
/// fail; returns how many.
pub(crate) async fn calm_failures(client: &kube::Client, objects: usize) -> anyhow::Result<usize> {
    let teams = objects.div_ceil(20).max(1);
    let api = |namespace: &str| kube::Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource());
    let patch = json!({"spec": {"retryInterval": FAILING_RETRY}});
    let mut calmed = 0;
    for (team, app) in (0..teams).flat_map(|t| (0..10).map(move |a| (t, a))).filter(|(t, a)| fails(*t, *a)) {
        let (namespace, name) = (format!("team-{team:04}"), format!("app-{app}"));
        api(&namespace)
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .with_context(|| format!("patching {namespace}/{name}"))?;
        calmed += 1;
    }
    Ok(calmed)
}

fn resource() -> ApiResource {
    let (group, version, kind) = KUSTOMIZATIONS;
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: kind.into(),
        plural: "kustomizations".into(),
    }
}

/// Sets the Ready message of the Kustomization `namespace/name`.
async fn patch(
    client: kube::Client,
    namespace: &str,
    name: &str,
    message: &str,
    revision: Option<&str>,
) -> anyhow::Result<()> {
    let api = kube::Api::<DynamicObject>::namespaced_with(client, namespace, &resource());
    let mut patch = json!({"status": {"conditions": [{
        "type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": message,
        "lastTransitionTime": "2026-11-25T00:00:00Z",
    }]}});
    if let Some(revision) = revision {
        patch["status"]["lastAppliedRevision"] = json!(revision);
    }
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("patching {namespace}/{name}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_changes_touch_distinct_objects_round_robin_over_clusters() {
        let targets: Vec<_> = (0..5 * 500 * 10).map(|i| target(i, 5, 500)).collect();
        let distinct: std::collections::HashSet<_> = targets.iter().collect();
        assert_eq!(distinct.len(), targets.len());
        assert_eq!(targets[0], (0, 0, 0));
        assert_eq!(targets[4], (4, 0, 0));
        assert_eq!(targets[5], (0, 1, 0));
        assert_eq!(targets[5 * 500], (0, 0, 1));
        // One cluster: team by team.
        assert_eq!(target(3, 1, 10), (0, 3, 0));
        // About 1 in 60 is left out.
        let failing = targets.iter().filter(|(_, team, app)| fails(*team, *app)).count();
        assert_eq!(failing, 5 * (500 * 10 / 60));
    }
}
