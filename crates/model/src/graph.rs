//! The fleet graph, from the summaries alone: per cluster, source -> consumer edges (a
//! Kustomization's sourceRef; a HelmRelease's chartRef, or its HelmChart `<ns>-<name>` in the
//! chart source's namespace and that chart's source; ImageRepository -> ImagePolicy;
//! GitRepository -> ImageUpdateAutomation; Provider -> Alert; ArtifactGenerator ->
//! ExternalArtifact), dependsOn edges, and parent -> child edges for the Flux objects a
//! Kustomization or HelmRelease applies (its inventory, [`Summary::applies`]).
//!
//! On it: the root cause of an object that is not Ready ([`Graph::why`]), "where is this
//! revision" ([`Graph::search_revision`]), the release matrix ([`release_matrix`]) and a layered
//! layout for drawing ([`Graph::layout`]).
//!
//! A reference to an object that does not exist becomes a [`Node::Missing`] (a dangling
//! dependsOn is shown, and is a root cause); cycles are kept as edges and every walk carries
//! its visited set, so nothing loops.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::api::ObjectRef;
use crate::auth::{Identity, Role};
use crate::kinds::{KINDS, RevisionRule, kind_info};
use crate::order::sort_indices;
use crate::summary::{Health, Summary};

/// How two objects are related; edges go from upstream to downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EdgeKind {
    /// The upstream is the downstream's source (or chart, image repository, provider, generator).
    Source,
    /// The downstream lists the upstream in `spec.dependsOn`.
    DependsOn,
    /// The upstream applies the downstream (it is in the upstream's inventory).
    Parent,
}

/// One edge: `from` feeds, precedes or applies `to` (indices into [`Graph::nodes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
}

/// A node: an object of the fleet, or one that is referred to and does not exist.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Node<'a> {
    Object(&'a Summary),
    Missing { cluster: &'a str, kind: &'a str, namespace: &'a str, name: &'a str },
}

impl<'a> Node<'a> {
    pub fn summary(&self) -> Option<&'a Summary> {
        match self {
            Node::Object(s) => Some(s),
            Node::Missing { .. } => None,
        }
    }
    pub fn cluster(&self) -> &'a str {
        match self {
            Node::Object(s) => &s.cluster,
            Node::Missing { cluster, .. } => cluster,
        }
    }
    pub fn kind(&self) -> &'a str {
        match self {
            Node::Object(s) => &s.kind,
            Node::Missing { kind, .. } => kind,
        }
    }
    pub fn namespace(&self) -> &'a str {
        match self {
            Node::Object(s) => &s.namespace,
            Node::Missing { namespace, .. } => namespace,
        }
    }
    pub fn name(&self) -> &'a str {
        match self {
            Node::Object(s) => &s.name,
            Node::Missing { name, .. } => name,
        }
    }
    /// The API group (for a missing object, the Flux group of its kind; "" when unknown).
    pub fn group(&self) -> &'a str {
        match self {
            Node::Object(s) => &s.group,
            Node::Missing { kind, .. } => KINDS.iter().find(|k| k.kind == *kind).map_or("", |k| k.group),
        }
    }
    /// The health; None for a missing object.
    pub fn health(&self) -> Option<Health> {
        self.summary().map(|s| s.health)
    }
    pub fn reference(&self) -> ObjectRef {
        ObjectRef {
            cluster: self.cluster().to_owned(),
            group: self.group().to_owned(),
            kind: self.kind().to_owned(),
            namespace: self.namespace().to_owned(),
            name: self.name().to_owned(),
        }
    }
    /// `cluster/group/kind/namespace/name`, as [`crate::view::key`] and the graph page's
    /// `data-ref`.
    pub fn key(&self) -> String {
        format!("{}/{}/{}/{}/{}", self.cluster(), self.group(), self.kind(), self.namespace(), self.name())
    }
    /// `Kind namespace/name`, as a sentence names it.
    pub fn label(&self) -> String {
        format!("{} {}/{}", self.kind(), self.namespace(), self.name())
    }
}

/// FNV-1a: the index is probed a few times per object, and SipHash's resistance to chosen keys
/// is not needed for names the clusters already accepted.
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key<'a> {
    cluster: &'a str,
    kind: &'a str,
    namespace: &'a str,
    name: &'a str,
}

/// The graph of some summaries (every cluster's, side by side: edges never cross clusters).
#[derive(Debug, Clone, Default)]
pub struct Graph<'a> {
    pub nodes: Vec<Node<'a>>,
    pub edges: Vec<Edge>,
    /// Per node, the ids of the edges that end at it.
    up: Vec<Vec<usize>>,
    /// Per node, the ids of the edges that start at it.
    down: Vec<Vec<usize>>,
    index: FastMap<Key<'a>, usize>,
}

/// `Kind/namespace/name` in three parts.
fn parse_ref(text: &str) -> Option<(&str, &str, &str)> {
    let mut parts = text.splitn(3, '/');
    let (kind, namespace, name) = (parts.next()?, parts.next()?, parts.next()?);
    (!name.is_empty()).then_some((kind, namespace, name))
}

impl<'a> Graph<'a> {
    /// Builds the graph of `summaries` (an object given twice counts once).
    pub fn build<I>(summaries: I) -> Graph<'a>
    where
        I: IntoIterator<Item = &'a Summary>,
    {
        // One copy of the work, whatever the iterator (the browser's bundle stays small).
        Graph::build_from(summaries.into_iter().collect())
    }

    fn build_from(summaries: Vec<&'a Summary>) -> Graph<'a> {
        let mut g = Graph::default();
        for s in summaries {
            let key = Key { cluster: &s.cluster, kind: &s.kind, namespace: &s.namespace, name: &s.name };
            if let std::collections::hash_map::Entry::Vacant(e) = g.index.entry(key) {
                e.insert(g.nodes.len());
                g.nodes.push(Node::Object(s));
            }
        }
        let objects = g.nodes.len();
        g.up = vec![Vec::new(); objects];
        g.down = vec![Vec::new(); objects];
        for i in 0..objects {
            let Node::Object(s) = g.nodes[i] else { continue };
            if let Some((kind, namespace, name)) = s.source_ref.as_deref().and_then(parse_ref) {
                // A HelmRelease with a chart template reads the HelmChart helm-controller makes
                // from it; until that exists, the template's source feeds it directly.
                let chart = (s.kind == "HelmRelease" && matches!(kind, "HelmRepository" | "GitRepository" | "Bucket"))
                    .then(|| {
                        let chart_name = format!("{}-{}", s.namespace, s.name);
                        g.find(&s.cluster, "HelmChart", namespace, &chart_name)
                    })
                    .flatten();
                let from = chart.unwrap_or_else(|| g.node_for(&s.cluster, kind, namespace, name));
                g.add(from, i, EdgeKind::Source);
            }
            for dep in &s.depends_on {
                let Some((namespace, name)) = dep.split_once('/') else { continue };
                let from = g.node_for(&s.cluster, &s.kind, namespace, name);
                g.add(from, i, EdgeKind::DependsOn);
            }
            for child in &s.applies {
                // A child not in the fleet is not shown: it may be outside the caller's scope,
                // or not watched; it explains nothing.
                let Some((kind, namespace, name)) = parse_ref(child) else { continue };
                if let Some(to) = g.find(&s.cluster, kind, namespace, name).filter(|&to| to != i) {
                    g.add(i, to, EdgeKind::Parent);
                }
            }
        }
        g
    }

    /// The node of this object, if it is in the graph (present or missing).
    pub fn find(&self, cluster: &str, kind: &str, namespace: &str, name: &str) -> Option<usize> {
        self.index.get(&Key { cluster, kind, namespace, name }).copied()
    }

    /// The node of an object reference.
    pub fn find_ref(&self, r: &ObjectRef) -> Option<usize> {
        self.find(&r.cluster, &r.kind, &r.namespace, &r.name)
    }

    fn node_for(&mut self, cluster: &'a str, kind: &'a str, namespace: &'a str, name: &'a str) -> usize {
        let key = Key { cluster, kind, namespace, name };
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.nodes.len();
        self.nodes.push(Node::Missing { cluster, kind, namespace, name });
        self.up.push(Vec::new());
        self.down.push(Vec::new());
        self.index.insert(key, i);
        i
    }

    fn add(&mut self, from: usize, to: usize, kind: EdgeKind) {
        if from == to || self.up[to].iter().any(|&e| self.edges[e].from == from && self.edges[e].kind == kind) {
            return;
        }
        let id = self.edges.len();
        self.edges.push(Edge { from, to, kind });
        self.up[to].push(id);
        self.down[from].push(id);
    }

    /// The edges that end at `node` (its sources, dependencies, parents).
    pub fn upstream(&self, node: usize) -> impl Iterator<Item = &Edge> + '_ {
        self.up[node].iter().map(|&e| &self.edges[e])
    }

    /// The edges that start at `node` (its consumers, dependents, children).
    pub fn downstream(&self, node: usize) -> impl Iterator<Item = &Edge> + '_ {
        self.down[node].iter().map(|&e| &self.edges[e])
    }

    /// `node` and everything upstream and downstream of it, transitively (for an object's graph
    /// tab), in no particular order.
    pub fn neighbourhood(&self, node: usize) -> Vec<usize> {
        let mut seen = vec![false; self.nodes.len()];
        let mut out = vec![node];
        seen[node] = true;
        for upward in [true, false] {
            let mut stack = vec![node];
            while let Some(n) = stack.pop() {
                let next: Vec<usize> = if upward {
                    self.upstream(n).map(|e| e.from).collect()
                } else {
                    self.downstream(n).map(|e| e.to).collect()
                };
                for m in next {
                    if !seen[m] {
                        seen[m] = true;
                        out.push(m);
                        stack.push(m);
                    }
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Root cause

/// The Deployment in the Flux namespace that reconciles a kind (shared/FLUX.md).
pub fn controller_of(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "GitRepository" | "OCIRepository" | "Bucket" | "HelmRepository" | "HelmChart" => "source-controller",
        "Kustomization" => "kustomize-controller",
        "HelmRelease" => "helm-controller",
        "Receiver" => "notification-controller",
        "ImageRepository" | "ImagePolicy" => "image-reflector-controller",
        "ImageUpdateAutomation" => "image-automation-controller",
        "ArtifactGenerator" => "source-watcher",
        _ => return None,
    })
}

/// Which controllers are not running, as (cluster, Deployment name): the input the root cause
/// takes for "the controller of its kind is not running".
pub trait StoppedControllers {
    fn is_stopped(&self, cluster: &str, controller: &str) -> bool;
}

impl StoppedControllers for HashSet<(String, String)> {
    fn is_stopped(&self, cluster: &str, controller: &str) -> bool {
        // A set of owned pairs cannot be probed with borrowed ones; the set is small.
        !self.is_empty() && self.iter().any(|(c, n)| c == cluster && n == controller)
    }
}

/// No controller is known to be stopped.
pub struct NoneStopped;

impl StoppedControllers for NoneStopped {
    fn is_stopped(&self, _: &str, _: &str) -> bool {
        false
    }
}

/// How a hop of a chain relates to the hop before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Via {
    /// It is the previous hop's source.
    Source,
    /// The previous hop depends on it.
    DependsOn,
    /// It applies the previous hop.
    Parent,
    /// It is the controller that reconciles the previous hop.
    Controller,
}

/// One step of a root-cause walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Node(usize),
    /// The controller Deployment (in `flux-system`) of the previous node, not running.
    Controller {
        cluster: String,
        name: &'static str,
    },
}

/// From an object that is not Ready to its root cause: the steps (the object first, the cause
/// last) and how each follows from the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub steps: Vec<(Step, Option<Via>)>,
    /// The last step closes a dependsOn cycle (it is already earlier in the chain).
    pub cycle: bool,
}

impl Chain {
    /// The root cause.
    pub fn root(&self) -> &Step {
        &self.steps.last().expect("a chain starts with its object").0
    }
    /// Whether the cause is upstream of the object (not the object itself).
    pub fn is_upstream(&self) -> bool {
        self.steps.len() > 1
    }
}

/// How bad an upstream is as a cause: 0 broken, 1 busy; None when it explains nothing.
fn blocking(node: &Node<'_>, via: EdgeKind) -> Option<u8> {
    let Node::Object(s) = node else { return Some(0) };
    match (via, s.health) {
        (_, Health::Ready) => None,
        // A parent stops changes from arriving when it is suspended or cannot apply; a parent
        // whose health check fails is usually waiting on its children.
        (EdgeKind::Parent, Health::Suspended) => Some(0),
        (EdgeKind::Parent, Health::Failing | Health::Stalled) if s.reason != "HealthCheckFailed" => Some(0),
        (EdgeKind::Parent, _) => None,
        (_, Health::Progressing) => Some(1),
        _ => Some(0),
    }
}

fn via(kind: EdgeKind) -> Via {
    match kind {
        EdgeKind::Source => Via::Source,
        EdgeKind::DependsOn => Via::DependsOn,
        EdgeKind::Parent => Via::Parent,
    }
}

impl Graph<'_> {
    /// The chain from `node` to the first cause that explains why it is not Ready; None when it
    /// is Ready. At each hop, in order: its controller is not running; it is missing or
    /// suspended (the cause itself); an upstream explains it (sources first, dependencies
    /// first when it says DependencyNotReady, then a parent; broken before busy); else the hop
    /// is its own cause.
    pub fn why(&self, node: usize, stopped: &dyn StoppedControllers) -> Option<Chain> {
        if self.nodes[node].health() == Some(Health::Ready) {
            return None;
        }
        let mut steps = vec![(Step::Node(node), None)];
        let mut visited = vec![node];
        let mut cur = node;
        loop {
            let n = &self.nodes[cur];
            let Node::Object(s) = n else { break };
            if let Some(controller) =
                controller_of(&s.kind).filter(|c| !s.static_object && stopped.is_stopped(&s.cluster, c))
            {
                steps.push((Step::Controller { cluster: s.cluster.clone(), name: controller }, Some(Via::Controller)));
                break;
            }
            if s.health == Health::Suspended {
                break;
            }
            let order: [EdgeKind; 3] = if s.reason == "DependencyNotReady" {
                [EdgeKind::DependsOn, EdgeKind::Source, EdgeKind::Parent]
            } else {
                [EdgeKind::Source, EdgeKind::DependsOn, EdgeKind::Parent]
            };
            let mut best: Option<(u8, usize, EdgeKind, bool)> = None;
            for kind in order {
                for e in self.upstream(cur).filter(|e| e.kind == kind) {
                    let Some(rank) = blocking(&self.nodes[e.from], kind) else { continue };
                    let cycle = visited.contains(&e.from);
                    // Only dependsOn loops are cycles; a parent that applies its own source
                    // (flux-system) is the usual bootstrap, not a cause.
                    if cycle && kind != EdgeKind::DependsOn {
                        continue;
                    }
                    if best.is_none_or(|b| rank < b.0) {
                        best = Some((rank, e.from, kind, cycle));
                    }
                }
            }
            let Some((_, next, kind, cycle)) = best else { break };
            steps.push((Step::Node(next), Some(via(kind))));
            if cycle {
                return Some(Chain { steps, cycle: true });
            }
            visited.push(next);
            cur = next;
        }
        Some(Chain { steps, cycle: false })
    }

    /// Every object's chain (None for Ready ones), in node order.
    pub fn why_all(&self, stopped: &dyn StoppedControllers) -> Vec<Option<Chain>> {
        (0..self.nodes.len()).map(|n| self.why(n, stopped)).collect()
    }

    /// The hops of a chain as the API and the detail page show them.
    pub fn hops(&self, chain: &Chain) -> Vec<Hop> {
        let mut out: Vec<Hop> = Vec::with_capacity(chain.steps.len());
        let last = chain.steps.len() - 1;
        for (i, (step, via)) in chain.steps.iter().enumerate() {
            let mut hop = match step {
                Step::Node(n) => Hop::of(&self.nodes[*n]),
                Step::Controller { cluster, name } => Hop {
                    reference: Some(controller_ref(cluster, name)),
                    health: Health::Failing,
                    reason: "ControllerNotReady".into(),
                    message: format!("{name} is not running: nothing of its kinds is reconciled in {cluster}"),
                    via: None,
                    outside_scope: false,
                },
            };
            hop.via = *via;
            if chain.cycle && i == last {
                let names: Vec<String> = chain.steps[..]
                    .iter()
                    .skip_while(|(s, _)| s != step)
                    .filter_map(|(s, _)| match s {
                        Step::Node(n) => Some(format!("{}/{}", self.nodes[*n].namespace(), self.nodes[*n].name())),
                        Step::Controller { .. } => None,
                    })
                    .collect();
                hop.reason = "DependencyCycle".into();
                hop.message = format!("dependsOn cycle: {}", names.join(" -> "));
            }
            out.push(hop);
        }
        out
    }

    /// One line for the list and the overview: "blocked by GitRepository team-b/team-b-app:
    /// authentication required"; None when the object is Ready or its own cause.
    pub fn blocked_by(&self, node: usize, stopped: &dyn StoppedControllers) -> Option<String> {
        let chain = self.why(node, stopped)?;
        if !chain.is_upstream() {
            return None;
        }
        let hops = self.hops(&chain);
        Some(blocked_line(hops.last().expect("a chain has its root")))
    }

    /// Groups the objects that need attention (`members`, in the order to show them) by their
    /// root cause: one group per cause, its blocked objects beneath it (not the cause itself),
    /// groups in the order of their first member.
    pub fn group_by_cause(&self, members: &[usize], stopped: &dyn StoppedControllers) -> Vec<CauseGroup> {
        let mut groups: Vec<CauseGroup> = Vec::new();
        for &m in members {
            let cause = match self.why(m, stopped) {
                Some(chain) => chain.root().clone(),
                None => Step::Node(m),
            };
            let blocked = (cause != Step::Node(m)).then_some(m);
            match groups.iter_mut().find(|g| g.cause == cause) {
                Some(g) => g.blocked.extend(blocked),
                None => groups.push(CauseGroup { cause, blocked: blocked.into_iter().collect() }),
            }
        }
        groups
    }
}

/// `blocked by <Kind namespace/name>: <message>`, for a root-cause hop.
pub fn blocked_line(root: &Hop) -> String {
    match &root.reference {
        _ if root.outside_scope => "blocked by an object outside your scope".to_owned(),
        Some(r) if root.reason == "ControllerNotReady" => format!("blocked by {} not running", r.name),
        Some(r) if root.reason == "NotFound" => format!("blocked by {} {}/{}: not found", r.kind, r.namespace, r.name),
        Some(r) => {
            let what = match root.health {
                Health::Suspended => "suspended".to_owned(),
                _ if root.message.is_empty() => crate::view::health_label(root.health).to_ascii_lowercase(),
                _ => root.message.clone(),
            };
            format!("blocked by {} {}/{}: {what}", r.kind, r.namespace, r.name)
        }
        None => "blocked by an object outside your scope".to_owned(),
    }
}

/// One root cause and the objects it blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CauseGroup {
    pub cause: Step,
    pub blocked: Vec<usize>,
}

/// The reference of a Flux controller Deployment.
pub fn controller_ref(cluster: &str, name: &str) -> ObjectRef {
    ObjectRef {
        cluster: cluster.to_owned(),
        group: "apps".into(),
        kind: "Deployment".into(),
        namespace: "flux-system".into(),
        name: name.to_owned(),
    }
}

/// One hop of a root-cause chain (`GET /api/v1/why/...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hop {
    /// The object; None when it is outside the caller's scope.
    #[serde(rename = "ref")]
    pub reference: Option<ObjectRef>,
    pub health: Health,
    /// The Ready reason, or `NotFound` (a reference to nothing), `ControllerNotReady`,
    /// `DependencyCycle`, `OutsideScope`.
    pub reason: String,
    pub message: String,
    /// How it relates to the hop before it (None for the object itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outside_scope: bool,
}

impl Hop {
    /// The hop of a node, with its own health, reason and message.
    pub fn of(node: &Node<'_>) -> Hop {
        match node {
            Node::Object(s) => Hop {
                reference: Some(ObjectRef::of(s)),
                health: s.health,
                reason: s.reason.clone(),
                message: s.message.clone(),
                via: None,
                outside_scope: false,
            },
            Node::Missing { .. } => Hop {
                reference: Some(node.reference()),
                health: Health::Unknown,
                reason: "NotFound".into(),
                message: format!("{} not found", node.label()),
                via: None,
                outside_scope: false,
            },
        }
    }

    /// The hop as `identity` is told it: itself when it may see the object, else
    /// [`Hop::hidden`] (the API and the browser say the same of a cause outside the scope).
    pub fn seen_by(self, identity: &Identity) -> Hop {
        match &self.reference {
            Some(r) if identity.may(Role::Viewer, &r.cluster, &r.namespace) => self,
            _ => Hop::hidden(self.via),
        }
    }

    /// What a caller who may not see this hop is told: that it is there, not what it is.
    pub fn hidden(via: Option<Via>) -> Hop {
        Hop {
            reference: None,
            health: Health::Unknown,
            reason: "OutsideScope".into(),
            message: "outside your scope".into(),
            via,
            outside_scope: true,
        }
    }
}

/// `GET /api/v1/why/{cluster}/{group}/{kind}/{namespace}/{name}`: the object, the chain from
/// it to its root cause (the object first, the cause last) and the cause (the object itself
/// when nothing upstream explains it; null when it is Ready).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Why {
    pub object: Summary,
    pub chain: Vec<Hop>,
    pub root_cause: Option<Hop>,
}

// ---------------------------------------------------------------------------------------------
// Revisions

/// A revision in two parts: what names it (branch, tag, chart version) and its hash (the hex
/// after `sha1:`/`sha256:`, lower case).
fn revision_parts(text: &str) -> (&str, String) {
    let (label, rest) = match text.rsplit_once('@') {
        Some((label, rest)) => (label, rest),
        None => ("", text),
    };
    for prefix in ["sha1:", "sha256:", "sha384:", "sha512:", "blake3:"] {
        if let Some(hash) = rest.strip_prefix(prefix) {
            return (label, hash.to_ascii_lowercase());
        }
    }
    if label.is_empty() { (rest, String::new()) } else { (label, rest.to_ascii_lowercase()) }
}

/// Whether a search text looks like a revision: a Git SHA (7 or more hex digits), a full
/// `branch@sha1:...` revision, an OCI digest (`sha256:...`, `tag@sha256:...`) or a version
/// (`6.5.4`, `v1.2.3`).
pub fn is_revision_query(text: &str) -> bool {
    let t = text.trim();
    if t.contains(char::is_whitespace) || t.is_empty() {
        return false;
    }
    let hex = |s: &str| s.len() >= 7 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let (label, hash) = revision_parts(t);
    if !hash.is_empty() {
        return hex(&hash);
    }
    hex(label) || semver(label).is_some()
}

/// Whether `revision` is the one a search asks for: the same hash (a query's hash may be a
/// prefix of 7 or more digits, whatever branch or tag names it), or, for a query without a
/// hash, the same tag or version.
pub fn revision_matches(query: &str, revision: &str) -> bool {
    let query = query.trim();
    if query.is_empty() || revision.is_empty() {
        return false;
    }
    let (q_label, mut q_hash) = revision_parts(query);
    if q_hash.is_empty() && q_label.len() >= 7 && q_label.bytes().all(|b| b.is_ascii_hexdigit()) {
        q_hash = q_label.to_ascii_lowercase();
    }
    let (r_label, r_hash) = revision_parts(revision);
    if !q_hash.is_empty() {
        return q_hash.len() >= 7 && r_hash.starts_with(&q_hash);
    }
    r_label == q_label || revision == query
}

/// An object that has the revision asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionMatch {
    #[serde(rename = "ref")]
    pub reference: ObjectRef,
    /// The revision as the object records it.
    pub revision: String,
    /// Since when (the artifact's update, the history record, the release).
    pub since: Option<String>,
    pub health: Health,
    /// It is the object's revision now (false: it is in its history).
    pub current: bool,
}

/// An object fed by a source that has the revision, and on another one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Behind {
    #[serde(rename = "ref")]
    pub reference: ObjectRef,
    pub revision: String,
    pub health: Health,
    /// The source that has the revision.
    pub source: ObjectRef,
}

/// `GET /api/v1/revisions?q=...`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionSearch {
    pub matches: Vec<RevisionMatch>,
    pub behind: Vec<Behind>,
}

impl Graph<'_> {
    /// Every object whose artifact, applied revision or release history has the revision
    /// `query` ([`revision_matches`]), and the objects fed by a source that has it now and are
    /// on another revision. Matches and behind are in node order.
    pub fn search_revision(&self, query: &str) -> RevisionSearch {
        let mut out = RevisionSearch::default();
        let mut matched = vec![false; self.nodes.len()];
        let mut sources: Vec<usize> = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let Node::Object(s) = node else { continue };
            let Some(info) = kind_info(&s.group, &s.kind) else { continue };
            if !matches!(info.revision, RevisionRule::Artifact | RevisionRule::LastApplied | RevisionRule::HelmHistory)
            {
                continue;
            }
            let found = if revision_matches(query, &s.revision) {
                Some((s.revision.clone(), s.revision_since.clone(), true))
            } else {
                s.revisions.iter().enumerate().find(|(_, r)| revision_matches(query, &r.revision)).map(|(n, r)| {
                    let current = n == 0 && r.revision.split('@').next() == Some(s.revision.as_str());
                    (r.revision.clone(), r.since.clone(), current)
                })
            };
            let Some((revision, since, current)) = found else { continue };
            matched[i] = current;
            if current && info.revision == RevisionRule::Artifact {
                sources.push(i);
            }
            out.matches.push(RevisionMatch { reference: ObjectRef::of(s), revision, since, health: s.health, current });
        }
        let mut listed = vec![false; self.nodes.len()];
        for &src in &sources {
            for e in self.downstream(src).filter(|e| e.kind == EdgeKind::Source) {
                let Node::Object(c) = self.nodes[e.to] else { continue };
                if matched[e.to] || listed[e.to] || c.static_object && c.kind != "HelmChart" {
                    continue;
                }
                listed[e.to] = true;
                out.behind.push(Behind {
                    reference: ObjectRef::of(c),
                    revision: c.revision.clone(),
                    health: c.health,
                    source: self.nodes[src].reference(),
                });
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Release matrix

/// A version's numbers (`v1.2.3`, `6.5.4`, `1.2`; a pre-release sorts before its release).
fn semver(text: &str) -> Option<(u64, u64, u64, bool)> {
    let t = text.strip_prefix('v').unwrap_or(text);
    let t = t.split(['+', '@']).next()?;
    let (core, pre) = match t.split_once('-') {
        Some((core, _)) => (core, true),
        None => (t, false),
    };
    let mut parts = core.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = match parts.next() {
        Some(p) => p.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor, patch, !pre))
}

/// One cell of the release matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixCell {
    pub revision: String,
    pub health: Health,
}

/// One object present in several clusters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatrixRow {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// One per cluster of [`Matrix::clusters`]; None where the object is not.
    pub cells: Vec<Option<MatrixCell>>,
    /// The clusters run different revisions, or it is missing from some.
    pub differs: bool,
    /// The healths differ.
    pub health_differs: bool,
    /// "staging is ahead of production" when the revisions are versions; else None.
    pub note: Option<String>,
}

/// What runs where: the objects present in at least two clusters (same group, kind, namespace
/// and name), rows sorted by kind, namespace and name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matrix {
    pub clusters: Vec<String>,
    pub rows: Vec<MatrixRow>,
}

/// Builds the release matrix of some summaries.
pub fn release_matrix<'a>(summaries: impl IntoIterator<Item = &'a Summary>) -> Matrix {
    matrix_of(summaries.into_iter().collect())
}

fn matrix_of(mut list: Vec<&Summary>) -> Matrix {
    let mut clusters: Vec<String> = list.iter().map(|s| s.cluster.clone()).collect();
    crate::order::sort_by(&mut clusters, &|a, b| a.cmp(b));
    clusters.dedup();
    fn identity(s: &Summary) -> (&str, &str, &str, &str) {
        (&s.kind, &s.namespace, &s.name, &s.group)
    }
    let mut order: Vec<usize> = (0..list.len()).collect();
    sort_indices(&mut order, &|a, b| {
        identity(list[a]).cmp(&identity(list[b])).then(list[a].cluster.cmp(&list[b].cluster))
    });
    list = order.into_iter().map(|i| list[i]).collect();
    let groups: Vec<&[&Summary]> = list.chunk_by(|a, b| identity(a) == identity(b)).collect();
    let rows: Vec<MatrixRow> = groups
        .into_iter()
        .filter(|v| v.iter().any(|s| s.cluster != v[0].cluster))
        .map(|v| {
            let (group, kind, namespace, name) = (&v[0].group, &v[0].kind, &v[0].namespace, &v[0].name);
            let cells: Vec<Option<MatrixCell>> = clusters
                .iter()
                .map(|c| {
                    v.iter()
                        .find(|s| &s.cluster == c)
                        .map(|s| MatrixCell { revision: s.revision.clone(), health: s.health })
                })
                .collect();
            let present: Vec<(&String, &MatrixCell)> =
                clusters.iter().zip(&cells).filter_map(|(c, cell)| cell.as_ref().map(|cell| (c, cell))).collect();
            let differs =
                present.len() < clusters.len() || present.iter().any(|(_, c)| c.revision != present[0].1.revision);
            let health_differs = present.iter().any(|(_, c)| c.health != present[0].1.health);
            let versions: Option<Vec<_>> = present.iter().map(|(_, c)| semver(&c.revision)).collect();
            let note = match versions {
                Some(versions) if differs && present.len() >= 2 => {
                    let best = *versions.iter().max().expect("two or more");
                    let ahead: Vec<&str> = present
                        .iter()
                        .zip(&versions)
                        .filter(|(_, v)| **v == best)
                        .map(|((c, _), _)| c.as_str())
                        .collect();
                    let rest: Vec<&str> = present
                        .iter()
                        .zip(&versions)
                        .filter(|(_, v)| **v != best)
                        .map(|((c, _), _)| c.as_str())
                        .collect();
                    (!rest.is_empty()).then(|| {
                        format!(
                            "{} {} ahead of {}",
                            ahead.join(", "),
                            if ahead.len() == 1 { "is" } else { "are" },
                            rest.join(", ")
                        )
                    })
                }
                _ => None,
            };
            MatrixRow {
                group: group.clone(),
                kind: kind.clone(),
                namespace: namespace.clone(),
                name: name.clone(),
                cells,
                differs,
                health_differs,
                note,
            }
        })
        .collect();
    Matrix { clusters, rows }
}

// ---------------------------------------------------------------------------------------------
// Layout

/// Where each shown node goes: a layer (0 for nodes nothing shown feeds, sources first) and a
/// position within the layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// Per shown node (in the order given): (node, row, column) on a grid of places.
    pub places: Vec<(usize, usize, usize)>,
    /// How many columns the grid has.
    pub width: usize,
    /// How many rows the grid has.
    pub layers: usize,
    /// The edges between shown nodes, as indices into [`Graph::edges`].
    pub edges: Vec<usize>,
}

impl Graph<'_> {
    /// A layered layout of `shown` (node indices): longest-path layers over the edges between
    /// shown nodes (edges closing a cycle are ignored for layering, still drawn), then two
    /// barycentre sweeps to order each layer. The graph's connected parts are then packed in
    /// shelves into a grid about `shape` times as wide as it is high (in places), so a fleet of
    /// many small parts (a team's source and what it feeds) is not one row hundreds of places
    /// wide: cluster by cluster (each from a new shelf), the tallest parts first, else in the
    /// order of their first node.
    pub fn layout(&self, shown: &[usize], shape: f64) -> Layout {
        // Per node, its index in `shown` (the first, when given twice); usize::MAX when not shown.
        let mut pos = vec![usize::MAX; self.nodes.len()];
        for (i, &n) in shown.iter().enumerate() {
            if pos[n] == usize::MAX {
                pos[n] = i;
            }
        }
        let edges: Vec<usize> = shown
            .iter()
            .enumerate()
            .filter(|&(i, &n)| pos[n] == i)
            .flat_map(|(_, &n)| self.down[n].iter().copied())
            .filter(|&e| pos[self.edges[e].to] != usize::MAX)
            .collect();
        let count = shown.len();
        let mut preds: Vec<Vec<usize>> = vec![Vec::new(); count];
        let mut succs: Vec<Vec<usize>> = vec![Vec::new(); count];
        for &e in &edges {
            let (a, b) = (pos[self.edges[e].from], pos[self.edges[e].to]);
            succs[a].push(b);
            preds[b].push(a);
        }
        // Longest path from the roots, by an iterative DFS that marks back edges.
        let mut layer = vec![0usize; count];
        let mut state = vec![0u8; count]; // 0 new, 1 on stack, 2 done
        let mut order: Vec<usize> = Vec::with_capacity(count); // reverse topological
        for start in 0..count {
            if state[start] != 0 {
                continue;
            }
            let mut stack = vec![(start, 0usize)];
            state[start] = 1;
            while let Some(&mut (n, ref mut next)) = stack.last_mut() {
                if *next < succs[n].len() {
                    let m = succs[n][*next];
                    *next += 1;
                    if state[m] == 0 {
                        state[m] = 1;
                        stack.push((m, 0));
                    }
                } else {
                    state[n] = 2;
                    order.push(n);
                    stack.pop();
                }
            }
        }
        let mut rank = vec![0usize; count];
        for (r, &n) in order.iter().rev().enumerate() {
            rank[n] = r;
        }
        for &n in order.iter().rev() {
            for &m in &succs[n] {
                if rank[m] > rank[n] {
                    layer[m] = layer[m].max(layer[n] + 1);
                }
            }
        }
        let layers = layer.iter().max().map_or(0, |l| l + 1);
        let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
        for n in 0..count {
            rows[layer[n]].push(n);
        }
        // Order: first by cluster and then the given order, then barycentres of the layer above
        // (down) and below (up).
        let mut at = vec![0f64; count];
        for row in &mut rows {
            sort_indices(row, &|a, b| {
                self.nodes[shown[a]].cluster().cmp(self.nodes[shown[b]].cluster()).then(a.cmp(&b))
            });
            for (i, &n) in row.iter().enumerate() {
                at[n] = i as f64;
            }
        }
        for down in [true, false, true] {
            let range: Vec<usize> =
                if down { (1..layers).collect() } else { (0..layers.saturating_sub(1)).rev().collect() };
            for l in range {
                let mut bary = vec![0f64; 0];
                bary.resize(count, 0.0);
                for &n in &rows[l] {
                    let near = if down { &preds[n] } else { &succs[n] };
                    bary[n] = if near.is_empty() {
                        at[n]
                    } else {
                        near.iter().map(|&m| at[m]).sum::<f64>() / near.len() as f64
                    };
                }
                let mut row = std::mem::take(&mut rows[l]);
                sort_indices(&mut row, &|a, b| {
                    let (ca, cb) = (self.nodes[shown[a]].cluster(), self.nodes[shown[b]].cluster());
                    ca.cmp(cb).then(bary[a].total_cmp(&bary[b])).then(a.cmp(&b))
                });
                rows[l] = row;
                for (i, &n) in rows[l].iter().enumerate() {
                    at[n] = i as f64;
                }
            }
        }
        let part = parts(count, &succs);
        let cluster_of: Vec<&str> = shown.iter().map(|&n| self.nodes[n].cluster()).collect();
        let (row, column, width, height) = pack(&rows, &layer, &part, &cluster_of, shape);
        let mut places: Vec<(usize, usize, usize)> = Vec::with_capacity(count);
        for (n, &node) in shown.iter().enumerate() {
            if pos[node] == n {
                places.push((node, row[n], column[n]));
            }
        }
        Layout { places, width, layers: height, edges }
    }
}

/// The connected part of each of `count` nodes (edges in either direction), numbered in the
/// order of their first node.
fn parts(count: usize, succs: &[Vec<usize>]) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..count).collect();
    fn root(parent: &mut [usize], mut n: usize) -> usize {
        while parent[n] != n {
            parent[n] = parent[parent[n]];
            n = parent[n];
        }
        n
    }
    for (a, next) in succs.iter().enumerate() {
        for &b in next {
            let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
            // The smaller index stays the root, so parts number in the order of their first node.
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    let mut number = vec![usize::MAX; count];
    let mut next = 0;
    (0..count)
        .map(|n| {
            let r = root(&mut parent, n);
            if number[r] == usize::MAX {
                number[r] = next;
                next += 1;
            }
            number[r]
        })
        .collect()
}

/// The grid [`pack`] makes: each node's row and column, the grid's width and height.
type Grid = (Vec<usize>, Vec<usize>, usize, usize);

/// Places each part's layers (`rows`, ordered; `layer` and `cluster` per node) on a grid,
/// parts side by side in shelves no wider than what makes the grid about `shape` times as wide
/// as high (or the widest part): per cluster from a new shelf, the tallest parts first (each
/// shelf is as high as its tallest part, so this wastes the least), else in part order.
fn pack(rows: &[Vec<usize>], layer: &[usize], part: &[usize], cluster: &[&str], shape: f64) -> Grid {
    let count = layer.len();
    let parts = part.iter().max().map_or(0, |p| p + 1);
    let mut first = vec![usize::MAX; parts];
    for n in (0..count).rev() {
        first[part[n]] = n;
    }
    // Within its part, a node's column is its rank in its layer among the part's nodes.
    let mut column = vec![0usize; count];
    let (mut wide, mut high) = (vec![0usize; parts], vec![0usize; parts]);
    let mut used: Vec<Vec<usize>> = vec![Vec::new(); parts];
    for (l, row) in rows.iter().enumerate() {
        for &n in row {
            let p = part[n];
            if used[p].len() <= l {
                used[p].resize(l + 1, 0);
            }
            column[n] = used[p][l];
            used[p][l] += 1;
            wide[p] = wide[p].max(used[p][l]);
            high[p] = high[p].max(l + 1);
        }
    }
    // Every part has a node at layer 0 (a root, or where the layering broke a cycle), so a
    // part's rows are its layers below its shelf's top.
    let area: usize = (0..parts).map(|p| wide[p] * high[p]).sum();
    let target = ((area as f64 * shape.max(0.01)).sqrt().ceil() as usize).max(wide.iter().copied().max().unwrap_or(0));
    let mut order: Vec<usize> = (0..parts).collect();
    crate::order::sort_indices(&mut order, &|a, b| {
        cluster[first[a]].cmp(cluster[first[b]]).then(high[b].cmp(&high[a])).then(a.cmp(&b))
    });
    let (mut left, mut top) = (vec![0usize; parts], vec![0usize; parts]);
    let (mut x, mut y, mut shelf, mut width) = (0usize, 0usize, 0usize, 0usize);
    for (i, &p) in order.iter().enumerate() {
        let new_cluster = i > 0 && cluster[first[p]] != cluster[first[order[i - 1]]];
        if x > 0 && (new_cluster || x + wide[p] > target) {
            y += shelf;
            x = 0;
            shelf = 0;
        }
        (left[p], top[p]) = (x, y);
        x += wide[p];
        width = width.max(x);
        shelf = shelf.max(high[p]);
    }
    let row = (0..count).map(|n| top[part[n]] + layer[n]).collect();
    let column = (0..count).map(|n| left[part[n]] + column[n]).collect();
    (row, column, width, y + shelf)
}

#[cfg(test)]
mod tests;
