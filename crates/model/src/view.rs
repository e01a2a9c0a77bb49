//! What the web app shows, as pure functions: list filters and their URL form, sorting,
//! which objects need attention, ages, health labels. Tested natively, run in the browser.

use crate::auth::{Identity, Role};
use crate::summary::{Health, Summary};

/// Filters of the resource list; each field empty means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Free text, matched case-insensitively against name, namespace, kind, message, revision.
    pub q: String,
    pub cluster: String,
    pub kind: String,
    pub namespace: String,
    pub health: HealthFilter,
}

/// The health filter of the resource list: any, everything that needs attention, or one health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HealthFilter {
    #[default]
    Any,
    /// Failing, stalled, suspended, or stuck progressing ([`attention`]).
    Attention,
    Is(Health),
}

impl HealthFilter {
    /// Every choice but `Any`, in the order the list offers them.
    pub const CHOICES: [HealthFilter; 8] = [
        HealthFilter::Attention,
        HealthFilter::Is(Health::Failing),
        HealthFilter::Is(Health::Stalled),
        HealthFilter::Is(Health::Terminating),
        HealthFilter::Is(Health::Progressing),
        HealthFilter::Is(Health::Suspended),
        HealthFilter::Is(Health::Unknown),
        HealthFilter::Is(Health::Ready),
    ];

    /// The URL and `<option>` form: `""`, `attention`, or the health's label (`Failing`).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthFilter::Any => "",
            HealthFilter::Attention => "attention",
            HealthFilter::Is(h) => health_label(h),
        }
    }

    /// Reads [`HealthFilter::as_str`]'s form; anything else is `Any`.
    pub fn parse(text: &str) -> HealthFilter {
        HealthFilter::CHOICES.into_iter().find(|c| c.as_str() == text).unwrap_or_default()
    }

    /// Whether `s` passes; `now` (seconds since the epoch) decides "stuck".
    pub fn matches(self, s: &Summary, now: i64) -> bool {
        match self {
            HealthFilter::Any => true,
            HealthFilter::Attention => attention(s, now).is_some(),
            HealthFilter::Is(h) => s.health == h,
        }
    }
}

/// Sort orders of the resource list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortKey {
    /// Worst health first (then kind, namespace, name).
    #[default]
    Health,
    Name,
    Kind,
    Namespace,
    Cluster,
    /// Most recent change first.
    Age,
}

impl SortKey {
    pub const ALL: [SortKey; 6] =
        [SortKey::Health, SortKey::Name, SortKey::Kind, SortKey::Namespace, SortKey::Cluster, SortKey::Age];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Health => "health",
            SortKey::Name => "name",
            SortKey::Kind => "kind",
            SortKey::Namespace => "namespace",
            SortKey::Cluster => "cluster",
            SortKey::Age => "age",
        }
    }

    pub fn parse(text: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// The list view's state as it lives in the URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub filter: Filter,
    pub sort: SortKey,
    pub descending: bool,
}

impl ListQuery {
    /// Reads `?q=..&cluster=..&kind=..&ns=..&health=..&sort=..&desc=1` (unknown keys ignored).
    pub fn from_query(query: &str) -> ListQuery {
        let mut out = ListQuery::default();
        for pair in query.trim_start_matches('?').split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = decode(v);
            match k {
                "q" => out.filter.q = v,
                "cluster" => out.filter.cluster = v,
                "kind" => out.filter.kind = v,
                "ns" => out.filter.namespace = v,
                "health" => out.filter.health = HealthFilter::parse(&v),
                "sort" => out.sort = SortKey::parse(&v).unwrap_or_default(),
                "desc" => out.descending = v == "1",
                _ => {}
            }
        }
        out
    }

    /// The query string (without `?`), empty fields left out.
    pub fn to_query(&self) -> String {
        let f = &self.filter;
        let mut parts = Vec::new();
        let health = f.health.as_str();
        for (k, v) in
            [("q", f.q.as_str()), ("cluster", &f.cluster), ("kind", &f.kind), ("ns", &f.namespace), ("health", health)]
        {
            if !v.is_empty() {
                parts.push(format!("{k}={}", encode(v)));
            }
        }
        if self.sort != SortKey::default() {
            parts.push(format!("sort={}", self.sort.as_str()));
        }
        if self.descending {
            parts.push("desc=1".to_owned());
        }
        parts.join("&")
    }
}

impl Filter {
    /// Whether `s` passes every filter; `now` (seconds since the epoch) decides "stuck".
    pub fn matches(&self, s: &Summary, now: i64) -> bool {
        self.matcher().matches(s, &search_text(s), now)
    }

    /// The filter ready to test many objects (its text lower-cased once).
    pub fn matcher(&self) -> Matcher<'_> {
        Matcher { filter: self, q: self.q.to_ascii_lowercase() }
    }
}

/// A [`Filter`] with its search text lower-cased (ASCII: Unicode's case tables would cost the
/// bundle more than they are worth for names of Kubernetes objects), for testing many objects.
#[derive(Debug, Clone)]
pub struct Matcher<'a> {
    filter: &'a Filter,
    q: String,
}

impl Matcher<'_> {
    /// Whether `s`, whose [`search_text`] is `text`, passes every filter.
    pub fn matches(&self, s: &Summary, text: &str, now: i64) -> bool {
        let f = self.filter;
        (f.cluster.is_empty() || s.cluster == f.cluster)
            && (f.kind.is_empty() || s.kind == f.kind)
            && (f.namespace.is_empty() || s.namespace == f.namespace)
            && f.health.matches(s, now)
            && (self.q.is_empty() || text.contains(&self.q))
    }
}

/// What the list's search looks in: name, namespace, kind, message, revision and cluster,
/// lower-cased (ASCII), one per line. Made once per change of the object, not per keystroke.
pub fn search_text(s: &Summary) -> String {
    [&s.name, &s.namespace, &s.kind, &s.message, &s.revision, &s.cluster].map(|f| f.to_ascii_lowercase()).join("\n")
}

/// Sorts summaries by `key`, reversed when `descending`; ties break by identity.
pub fn sort(list: &mut [&Summary], key: SortKey, descending: bool) {
    sort_by_summary(list, |s| s, key, descending);
}

/// [`sort`] for any items that hold a summary.
pub fn sort_by_summary<T>(list: &mut [T], summary: impl Fn(&T) -> &Summary, key: SortKey, descending: bool) {
    crate::order::sort_by(list, &|a, b| compare(summary(a), summary(b), key, descending));
}

/// The list's order: by `key` (reversed when `descending`), ties broken by identity. Borrows
/// only: a sort of 50k objects makes no allocation per comparison.
pub fn compare(a: &Summary, b: &Summary, key: SortKey, descending: bool) -> std::cmp::Ordering {
    fn identity(s: &Summary) -> (&str, &str, &str, &str) {
        (&s.kind, &s.namespace, &s.name, &s.cluster)
    }
    let primary = match key {
        SortKey::Health => severity(a.health).cmp(&severity(b.health)),
        SortKey::Name => a.name.cmp(&b.name),
        SortKey::Kind => a.kind.cmp(&b.kind),
        SortKey::Namespace => a.namespace.cmp(&b.namespace),
        SortKey::Cluster => a.cluster.cmp(&b.cluster),
        // Most recent first: larger timestamps sort earlier.
        SortKey::Age => b.last_transition_time.cmp(&a.last_transition_time),
    };
    let ord = primary.then_with(|| identity(a).cmp(&identity(b)));
    if descending { ord.reverse() } else { ord }
}

/// Whether a change of one object from `old` to `new` can move it in an order by `key` (the
/// identity never changes: only health and age can move an object).
pub fn moves_in(key: SortKey, old: &Summary, new: &Summary) -> bool {
    match key {
        SortKey::Health => old.health != new.health,
        SortKey::Age => old.last_transition_time != new.last_transition_time,
        SortKey::Name | SortKey::Kind | SortKey::Namespace | SortKey::Cluster => false,
    }
}

/// Who suspended an object and why, as a list row's tooltip says it first ("suspended by alice:
/// release freeze"), when fluxboard's Suspend recorded either.
pub fn suspension_note(s: &Summary) -> Option<String> {
    if !s.suspended {
        return None;
    }
    match (&s.suspended_by, &s.suspend_reason) {
        (Some(by), Some(reason)) => Some(format!("suspended by {by}: {reason}")),
        (Some(by), None) => Some(format!("suspended by {by}")),
        (None, Some(reason)) => Some(format!("suspended: {reason}")),
        (None, None) => None,
    }
}

/// Whether a change of one object (`None`: absent before, or deleted) can change any object's
/// root cause in the fleet graph (`crate::graph`). A chain passes only through objects that are
/// not Ready and reads of each hop its health, reason and message, and of every object its
/// edges (source, dependencies, what it applies) and whether it is static: a change of none of
/// these changes no chain. So a Ready object's new message or revision changes nothing, and
/// neither does a failing object's retry that fails the same way.
pub fn changes_causes(old: Option<&Summary>, new: Option<&Summary>) -> bool {
    let (Some(old), Some(new)) = (old, new) else { return true };
    let same_edges = old.source_ref == new.source_ref
        && old.depends_on == new.depends_on
        && old.applies == new.applies
        && old.static_object == new.static_object;
    let same_state = old.health == new.health
        && (new.health == Health::Ready || (old.reason == new.reason && old.message == new.message));
    !(same_edges && same_state)
}

/// How urgent a health is: 0 is the worst.
pub fn severity(health: Health) -> u8 {
    match health {
        Health::Failing => 0,
        Health::Stalled => 1,
        Health::Terminating => 2,
        Health::Progressing => 3,
        Health::Suspended => 4,
        Health::Unknown => 5,
        Health::Ready => 6,
    }
}

/// The health as shown and as used in filters.
pub fn health_label(health: Health) -> &'static str {
    match health {
        Health::Ready => "Ready",
        Health::Progressing => "Progressing",
        Health::Failing => "Failing",
        Health::Stalled => "Stalled",
        Health::Suspended => "Suspended",
        Health::Terminating => "Terminating",
        Health::Unknown => "Unknown",
    }
}

/// Every health, worst first.
pub const HEALTHS: [Health; 7] = [
    Health::Failing,
    Health::Stalled,
    Health::Terminating,
    Health::Progressing,
    Health::Suspended,
    Health::Unknown,
    Health::Ready,
];

/// How long an object may be progressing before it counts as stuck.
pub const STUCK_AFTER_SECS: i64 = 10 * 60;

/// Why an object needs attention, if it does: failing, stalled, suspended, or progressing for
/// longer than [`STUCK_AFTER_SECS`].
pub fn attention(s: &Summary, now: i64) -> Option<&'static str> {
    match s.health {
        Health::Failing => Some("failing, retrying"),
        Health::Stalled => Some("stalled"),
        Health::Suspended => Some("suspended"),
        Health::Progressing => {
            let since = s.last_transition_time.as_deref().and_then(parse_rfc3339)?;
            (now - since > STUCK_AFTER_SECS).then_some("stuck progressing")
        }
        _ => None,
    }
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp (`2026-01-02T03:04:05Z`, fractions
/// and offsets accepted).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, s) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && rest.as_bytes()[3] == b':' => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (rest.get(1..3)?.parse::<i64>().ok()? * 3600 + rest.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s - offset)
}

/// A short age: `45s`, `12m`, `3h`, `5d`.
pub fn age(now: i64, since: i64) -> String {
    let secs = (now - since).max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// The stable identity of an object in the web app: `cluster/group/kind/namespace/name`.
pub fn key(s: &Summary) -> String {
    crate::api::key(&s.cluster, &s.group, &s.kind, &s.namespace, &s.name)
}

/// The pause before the browser's `attempt`-th consecutive new start (0 first): none for the
/// first resync, then doubling from 500 ms up to 30 s, each scaled by a jitter factor from
/// `random` in [0, 1) to between 0.5 and 1.5 of it.
pub fn backoff_ms(attempt: u32, random: f64) -> u64 {
    if attempt == 0 {
        return 0;
    }
    let base = 500u64.saturating_mul(1 << (attempt - 1).min(6)).min(30_000) as f64;
    (base * (0.5 + random.clamp(0.0, 1.0))) as u64
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes a query value (`+` is a space; malformed escapes are kept as they are).
pub fn decode(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A revision as the list shows it: the digest cut to 7 characters (`main@sha1:0123456`), the
/// rest kept; the full revision is shown on hover and on the detail page.
pub fn short_revision(revision: &str) -> String {
    let Some(colon) = revision.rfind(':') else { return revision.to_owned() };
    let digest = &revision[colon + 1..];
    if digest.len() > 12 && digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("{}{}", &revision[..=colon], &digest[..7])
    } else {
        revision.to_owned()
    }
}

/// Text from the cluster as it is safe to show: bidirectional controls (which can make a message
/// read backwards, "tohspans :tneve") become U+FFFD, so what is shown is what was sent.
pub fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') { '\u{FFFD}' } else { c })
        .collect()
}

/// The caller's access in a few words, for the header: "admin", "viewer: read-only",
/// "operator in team-a", "operator on prod-*; viewer".
pub fn access_summary(me: &Identity) -> String {
    let only_viewer = me.grants.iter().all(|g| g.role == Role::Viewer);
    let mut parts: Vec<String> = Vec::new();
    for g in &me.grants {
        let role = match g.role {
            Role::Viewer if only_viewer => "viewer: read-only",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        };
        let everywhere = |globs: &[String]| globs.iter().any(|p| p == "*");
        let mut part = role.to_owned();
        if !everywhere(&g.namespaces) {
            part.push_str(&format!(" in {}", g.namespaces.join(", ")));
        }
        if !everywhere(&g.clusters) {
            part.push_str(&format!(" on {}", g.clusters.join(", ")));
        }
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    if parts.is_empty() { "no access".to_owned() } else { parts.join("; ") }
}

/// Whether the caller's grants reach every namespace of every cluster (at least as a viewer).
pub fn sees_everything(me: &Identity) -> bool {
    me.grants.iter().any(|g| g.clusters.iter().any(|c| c == "*") && g.namespaces.iter().any(|n| n == "*"))
}

/// The value of a `metadata.annotations` entry in the YAML the detail page shows (plain,
/// single- or double-quoted scalars), when present.
pub fn yaml_annotation(yaml: &str, key: &str) -> Option<String> {
    yaml_value(yaml, &["metadata", "annotations", key])
}

fn unquote(v: &str) -> String {
    if let Some(inner) = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        inner.replace("''", "'")
    } else if let Some(inner) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        inner.replace("\\\"", "\"").replace("\\\\", "\\")
    } else {
        v.to_owned()
    }
}

/// Where `path` (mapping keys from the top) sits in block-style YAML with two-space indents (as
/// the detail page's YAML is written): the line index and the text after `key:`.
fn yaml_find<'a>(lines: &[&'a str], path: &[&str]) -> Option<(usize, &'a str)> {
    let mut depth = 0;
    for (n, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let indent = line.len() - t.len();
        if indent % 2 != 0 || indent / 2 > depth {
            continue;
        }
        depth = indent / 2;
        let Some((key, rest)) = t.split_once(':') else { continue };
        if unquote(key.trim()) == path[depth] && !t.starts_with("- ") {
            depth += 1;
            if depth == path.len() {
                return Some((n, rest));
            }
        }
    }
    None
}

/// The lines under the entry at line `at` (deeper, or a sequence at its indent), dedented.
fn yaml_children(lines: &[&str], at: usize) -> Vec<String> {
    let base = lines[at].len() - lines[at].trim_start().len();
    let mut out = Vec::new();
    for line in &lines[at + 1..] {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        if !t.is_empty() && (indent < base || (indent == base && !t.starts_with("- "))) {
            break;
        }
        out.push(line.get(base.min(indent)..).unwrap_or_default().to_owned());
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    let strip = out.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    out.into_iter().map(|l| l.get(strip..).unwrap_or_default().to_owned()).collect()
}

/// The scalar at `path` (`["spec", "interval"]`), unquoted; block scalars (`|`, `>`) as their text.
pub fn yaml_value(yaml: &str, path: &[&str]) -> Option<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let (at, rest) = yaml_find(&lines, path)?;
    let v = rest.trim();
    if v.starts_with('|') || v.starts_with('>') {
        return Some(yaml_children(&lines, at).join("\n"));
    }
    (!v.is_empty()).then(|| unquote(v))
}

/// The YAML under `path` (a mapping or sequence, `["spec", "values"]`), dedented; `None` when
/// absent or empty.
pub fn yaml_block(yaml: &str, path: &[&str]) -> Option<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let (at, rest) = yaml_find(&lines, path)?;
    let inline = rest.trim();
    if !inline.is_empty() {
        return (inline != "{}" && inline != "[]").then(|| inline.to_owned());
    }
    let block = yaml_children(&lines, at).join("\n");
    (!block.trim().is_empty()).then_some(block)
}

/// How many changes separate the order `shown` from the order `now`: rows that came, rows that
/// went, and rows that moved (the fewest moves: all but a longest run kept in order).
pub fn changes_between<T: Eq + std::hash::Hash>(shown: &[T], now: &[T]) -> usize {
    use std::collections::HashMap;
    let position: HashMap<&T, usize> = shown.iter().enumerate().map(|(i, k)| (k, i)).collect();
    let kept: Vec<usize> = now.iter().filter_map(|k| position.get(k).copied()).collect();
    let came = now.len() - kept.len();
    let went = shown.len() - kept.len();
    // Longest increasing subsequence (patience sorting).
    let mut tails: Vec<usize> = Vec::new();
    for p in &kept {
        match tails.binary_search(p) {
            Ok(_) => {}
            Err(i) if i == tails.len() => tails.push(*p),
            Err(i) => tails[i] = *p,
        }
    }
    came + went + (kept.len() - tails.len())
}

/// One line of the wall screen: an object that needs attention, every cluster where the same
/// object fails the same way, and the objects that wait on it (their source or a dependency is
/// this one, directly or further up), so a cause is one line rather than one per symptom.
#[derive(Debug, Clone, PartialEq)]
pub struct WallLine {
    pub summary: Summary,
    pub clusters: Vec<String>,
    /// `Kind namespace/name` of each object that waits on this one.
    pub affected: Vec<String>,
}

/// Groups objects that need attention (in the order given) into wall lines: each is attached to
/// the first object it waits on that needs attention too (its source, else a dependency, in its
/// cluster), and the same cause in several clusters becomes one line.
pub fn wall_lines(list: &[Summary]) -> Vec<WallLine> {
    use std::collections::HashMap;
    let index: HashMap<String, usize> = list.iter().enumerate().map(|(i, s)| (key(s), i)).collect();
    let parent = |s: &Summary| -> Option<usize> {
        let source = s.source_ref.as_deref().and_then(|r| {
            let mut parts = r.splitn(3, '/');
            let (kind, ns, name) = (parts.next()?, parts.next()?, parts.next()?);
            let group = crate::kinds::KINDS.iter().find(|k| k.kind == kind)?.group;
            index.get(&format!("{}/{group}/{kind}/{ns}/{name}", s.cluster)).copied()
        });
        source.or_else(|| {
            s.depends_on.iter().find_map(|d| {
                let (ns, name) = d.split_once('/')?;
                index.get(&format!("{}/{}/{}/{ns}/{name}", s.cluster, s.group, s.kind)).copied()
            })
        })
    };
    let root = |mut i: usize| {
        for _ in 0..list.len() {
            match parent(&list[i]) {
                Some(p) if p != i => i = p,
                _ => break,
            }
        }
        i
    };
    let mut lines: Vec<WallLine> = Vec::new();
    let mut line_of: HashMap<usize, usize> = HashMap::new();
    let mut children: Vec<(usize, usize)> = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let r = root(i);
        if r != i {
            children.push((r, i));
            continue;
        }
        let same = lines.iter().position(|l| {
            let f = &l.summary;
            (&f.kind, &f.namespace, &f.name, f.health, &f.message)
                == (&s.kind, &s.namespace, &s.name, s.health, &s.message)
        });
        match same {
            Some(n) => {
                lines[n].clusters.push(s.cluster.clone());
                line_of.insert(i, n);
            }
            None => {
                line_of.insert(i, lines.len());
                lines.push(WallLine { summary: s.clone(), clusters: vec![s.cluster.clone()], affected: Vec::new() });
            }
        }
    }
    for (r, i) in children {
        if let Some(&n) = line_of.get(&r) {
            let label = format!("{} {}/{}", list[i].kind, list[i].namespace, list[i].name);
            if !lines[n].affected.contains(&label) {
                lines[n].affected.push(label);
            }
        }
    }
    lines
}

/// The wall screen's options from its URL: `?cluster=..&namespace=..&rotate=<seconds>&theme=light`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WallQuery {
    pub cluster: String,
    pub namespace: String,
    /// Seconds per page when what needs attention does not fit (5 to 600; 15 by default).
    pub rotate: u32,
    /// `theme=light`; the wall is dark otherwise.
    pub light: bool,
}

impl WallQuery {
    pub fn from_query(query: &str) -> WallQuery {
        let mut out = WallQuery { cluster: String::new(), namespace: String::new(), rotate: 15, light: false };
        for pair in query.trim_start_matches('?').split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = decode(v);
            match k {
                "cluster" => out.cluster = v,
                "namespace" | "ns" => out.namespace = v,
                "rotate" => out.rotate = v.parse::<u32>().map_or(15, |n| n.clamp(5, 600)),
                "theme" => out.light = v == "light",
                _ => {}
            }
        }
        out
    }

    /// Whether the wall shows `s`.
    pub fn matches(&self, s: &Summary) -> bool {
        (self.cluster.is_empty() || s.cluster == self.cluster)
            && (self.namespace.is_empty() || s.namespace == self.namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(kind: &str, ns: &str, name: &str, health: Health) -> Summary {
        Summary {
            cluster: "prod".into(),
            group: "g".into(),
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
            health,
            message: "msg".into(),
            revision: "main@sha1:abc".into(),
            suspended: health == Health::Suspended,
            last_transition_time: Some("2026-01-01T00:00:00Z".into()),
            generation: 1,
            observed_generation: 1,
            ..Summary::default()
        }
    }

    #[test]
    fn list_queries_round_trip_through_the_url() {
        let q = ListQuery {
            filter: Filter {
                q: "pod info&x=1".into(),
                cluster: "prod".into(),
                kind: "".into(),
                namespace: "team-a".into(),
                health: HealthFilter::Is(Health::Failing),
            },
            sort: SortKey::Age,
            descending: true,
        };
        let text = q.to_query();
        assert_eq!(text, "q=pod%20info%26x%3D1&cluster=prod&ns=team-a&health=Failing&sort=age&desc=1");
        assert_eq!(ListQuery::from_query(&format!("?{text}")), q);
        assert_eq!(
            ListQuery::from_query("sort=bogus&q=a+b&zzz=1"),
            ListQuery { filter: Filter { q: "a b".into(), ..Filter::default() }, ..ListQuery::default() }
        );
        assert_eq!(decode("%"), "%");
        assert_eq!(decode("%4"), "%4");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode("%C3%A9"), "é");
    }

    #[test]
    fn filters_match_fields_and_text() {
        let failing = s("Kustomization", "team-a", "podinfo", Health::Failing);
        let now = parse_rfc3339("2026-01-01T00:01:00Z").unwrap();
        let f =
            |health: &str, q: &str| Filter { health: HealthFilter::parse(health), q: q.into(), ..Filter::default() };
        assert!(f("", "").matches(&failing, now));
        assert!(f("Failing", "PODINFO").matches(&failing, now));
        assert!(!f("Ready", "").matches(&failing, now));
        assert!(f("attention", "").matches(&failing, now));
        assert!(!f("", "nothing").matches(&failing, now));
        assert_eq!(HealthFilter::parse("bogus"), HealthFilter::Any);
        for choice in HealthFilter::CHOICES {
            assert_eq!(HealthFilter::parse(choice.as_str()), choice);
        }
        assert!(!Filter { namespace: "team-b".into(), ..Filter::default() }.matches(&failing, now));
    }

    #[test]
    fn the_search_looks_in_one_lower_cased_text_per_object() {
        let mut o = s("Kustomization", "Team-A", "PodInfo", Health::Ready);
        o.message = "Applied revision MAIN@sha1:ABC".into();
        let text = search_text(&o);
        assert_eq!(text, "podinfo\nteam-a\nkustomization\napplied revision main@sha1:abc\nmain@sha1:abc\nprod");
        let now = 0;
        let filter = Filter { q: "REVISION main".into(), ..Filter::default() };
        assert!(filter.matcher().matches(&o, &text, now));
        assert!(filter.matches(&o, now));
        let other = Filter { q: "nothing".into(), namespace: "Team-A".into(), ..Filter::default() };
        assert!(!other.matcher().matches(&o, &text, now));
        assert!(Filter { namespace: "Team-A".into(), ..Filter::default() }.matcher().matches(&o, &text, now));
    }

    #[test]
    fn the_suspension_note_says_who_and_why_when_known() {
        let mut o = s("Kustomization", "a", "x", Health::Suspended);
        assert_eq!(suspension_note(&o), None);
        o.suspended_by = Some("alice".into());
        assert_eq!(suspension_note(&o).as_deref(), Some("suspended by alice"));
        o.suspend_reason = Some("release freeze".into());
        assert_eq!(suspension_note(&o).as_deref(), Some("suspended by alice: release freeze"));
        o.suspended_by = None;
        assert_eq!(suspension_note(&o).as_deref(), Some("suspended: release freeze"));
        o.suspended = false;
        assert_eq!(suspension_note(&o), None);
    }

    #[test]
    fn only_health_and_age_move_an_object_in_an_order() {
        let old = s("Kustomization", "a", "x", Health::Ready);
        let mut new = old.clone();
        new.message = "changed".into();
        for key in SortKey::ALL {
            assert!(!moves_in(key, &old, &new), "{key:?}");
        }
        new.health = Health::Failing;
        assert!(moves_in(SortKey::Health, &old, &new));
        assert!(!moves_in(SortKey::Name, &old, &new));
        new.last_transition_time = Some("2026-02-01T00:00:00Z".into());
        assert!(moves_in(SortKey::Age, &old, &new));
        assert_eq!(compare(&new, &old, SortKey::Health, false), std::cmp::Ordering::Less);
        assert_eq!(compare(&new, &old, SortKey::Health, true), std::cmp::Ordering::Greater);
        assert_eq!(compare(&old, &old, SortKey::Name, false), std::cmp::Ordering::Equal);
    }

    #[test]
    fn a_ready_object_that_stays_ready_with_the_same_edges_changes_no_cause() {
        let old = s("Kustomization", "a", "x", Health::Ready);
        let mut new = old.clone();
        new.message = "Applied revision main@sha1:def".into();
        new.revision = "main@sha1:def".into();
        assert!(!changes_causes(Some(&old), Some(&new)));
        assert!(changes_causes(None, Some(&new)), "a new object can be a missing source found");
        assert!(changes_causes(Some(&old), None), "a deleted object can be a source gone missing");
        new.source_ref = Some("GitRepository/a/y".into());
        assert!(changes_causes(Some(&old), Some(&new)));
        let failing = s("Kustomization", "a", "x", Health::Failing);
        let mut still = failing.clone();
        still.last_transition_time = Some("2026-01-01T00:02:00Z".into());
        assert!(!changes_causes(Some(&failing), Some(&still)), "a retry that fails the same way");
        still.message = "other".into();
        assert!(changes_causes(Some(&failing), Some(&still)), "a cause's message is in the lines");
        assert!(changes_causes(Some(&old), Some(&failing)));
    }

    #[test]
    fn the_worst_health_sorts_first_and_ties_break_by_identity() {
        let a = s("Kustomization", "a", "ok", Health::Ready);
        let b = s("Kustomization", "b", "bad", Health::Failing);
        let c = s("GitRepository", "c", "slow", Health::Progressing);
        let mut list = vec![&a, &b, &c];
        sort(&mut list, SortKey::Health, false);
        assert_eq!(list.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["bad", "slow", "ok"]);
        sort(&mut list, SortKey::Name, true);
        assert_eq!(list.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["slow", "ok", "bad"]);
    }

    #[test]
    fn attention_covers_failing_stalled_suspended_and_stuck() {
        let t0 = parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        let mut p = s("Kustomization", "a", "p", Health::Progressing);
        assert_eq!(attention(&p, t0 + 60), None);
        assert_eq!(attention(&p, t0 + STUCK_AFTER_SECS + 1), Some("stuck progressing"));
        p.health = Health::Failing;
        p.retrying = true;
        assert_eq!(attention(&p, t0), Some("failing, retrying"));
        assert_eq!(attention(&s("K", "a", "x", Health::Suspended), t0), Some("suspended"));
        assert_eq!(attention(&s("K", "a", "x", Health::Ready), t0), None);
    }

    #[test]
    fn new_starts_back_off_with_jitter() {
        assert_eq!(backoff_ms(0, 0.3), 0, "the first resync is at once");
        assert_eq!(backoff_ms(1, 0.5), 500);
        assert_eq!(backoff_ms(2, 0.5), 1000);
        assert_eq!(backoff_ms(20, 0.5), 30_000, "capped");
        assert!((250..=750).contains(&backoff_ms(1, 0.0)) && (250..=750).contains(&backoff_ms(1, 0.999)));
    }

    #[test]
    fn timestamps_parse_and_ages_read_short() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-11-25T16:30:44Z"), Some(1_795_624_244));
        assert_eq!(parse_rfc3339("2026-11-25T16:30:44.123456789Z"), Some(1_795_624_244));
        assert_eq!(parse_rfc3339("2026-11-25T18:30:44+02:00"), Some(1_795_624_244));
        for bad in [
            "",
            "2026-11-25",
            "2026-13-01T00:00:00Z",
            "2026-11-25T16:30:44",
            "xxxx-11-25T16:30:44Z",
            "2026-11-25T16:30:44+aé:0",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
        assert_eq!(age(100, 55), "45s");
        assert_eq!(age(10_000, 0), "2h");
        assert_eq!(age(0, 10), "0s");
        assert_eq!(age(86_400 * 3, 0), "3d");
    }

    #[test]
    fn revisions_shorten_to_seven_hex_digits() {
        assert_eq!(short_revision("main@sha1:0123456789abcdef0123456789abcdef01234567"), "main@sha1:0123456");
        assert_eq!(short_revision("6.5.0@sha256:0123456789abcdef0123"), "6.5.0@sha256:0123456");
        assert_eq!(short_revision("6.5.0"), "6.5.0");
        assert_eq!(short_revision("main@sha1:abc"), "main@sha1:abc");
        assert_eq!(short_revision(""), "");
    }

    #[test]
    fn bidi_controls_are_shown_as_replacement_characters() {
        assert_eq!(plain("a\u{202E}cba\u{2066}x"), "a\u{FFFD}cba\u{FFFD}x");
        assert_eq!(plain("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn access_reads_as_role_and_scope() {
        use crate::auth::Grant;
        let id = |grants: Vec<Grant>| Identity { user: "u".into(), groups: vec![], grants };
        assert_eq!(access_summary(&Identity::open(Role::Viewer)), "viewer: read-only");
        assert_eq!(access_summary(&Identity::open(Role::Admin)), "admin");
        let op = Grant { role: Role::Operator, clusters: vec!["*".into()], namespaces: vec!["team-a".into()] };
        assert_eq!(access_summary(&id(vec![op.clone()])), "operator in team-a");
        assert!(!sees_everything(&id(vec![op])));
        let scoped = Grant { role: Role::Operator, clusters: vec!["prod-*".into()], namespaces: vec!["*".into()] };
        assert_eq!(access_summary(&id(vec![scoped, Grant::everywhere(Role::Viewer)])), "operator on prod-*; viewer");
        assert_eq!(access_summary(&id(vec![])), "no access");
    }

    #[test]
    fn annotations_are_read_from_the_detail_yaml() {
        let yaml = "apiVersion: v1\nkind: X\nmetadata:\n  annotations:\n    fluxboard.dev/suspend-reason: 'release ''freeze'''\n    fluxboard.dev/suspended-by: admin\n  name: x\nspec:\n  annotations:\n    fluxboard.dev/suspended-by: nobody\n";
        assert_eq!(yaml_annotation(yaml, "fluxboard.dev/suspended-by").as_deref(), Some("admin"));
        assert_eq!(yaml_annotation(yaml, "fluxboard.dev/suspend-reason").as_deref(), Some("release 'freeze'"));
        assert_eq!(yaml_annotation(yaml, "other"), None);
        let quoted = "metadata:\n  annotations:\n    \"a\": \"b \\\"c\\\"\"\n";
        assert_eq!(yaml_annotation(quoted, "a").as_deref(), Some("b \"c\""));
    }

    #[test]
    fn spec_values_and_blocks_are_read_from_the_detail_yaml() {
        let yaml = "apiVersion: v2\nspec:\n  chart:\n    spec:\n      chart: podinfo\n      version: '6.5.*'\n  interval: 10m\n  values:\n    replicaCount: 2\n    ingress:\n      hosts:\n      - a.example.com\n  timeout: 5m\nstatus:\n  interval: 1h\n";
        assert_eq!(yaml_value(yaml, &["spec", "interval"]).as_deref(), Some("10m"));
        assert_eq!(yaml_value(yaml, &["spec", "timeout"]).as_deref(), Some("5m"));
        assert_eq!(yaml_value(yaml, &["spec", "chart", "spec", "version"]).as_deref(), Some("6.5.*"));
        assert_eq!(yaml_value(yaml, &["status", "interval"]).as_deref(), Some("1h"));
        assert_eq!(yaml_value(yaml, &["spec", "missing"]), None);
        assert_eq!(
            yaml_block(yaml, &["spec", "values"]).as_deref(),
            Some("replicaCount: 2\ningress:\n  hosts:\n  - a.example.com")
        );
        assert_eq!(yaml_block("spec:\n  values: {}\n", &["spec", "values"]), None);
        assert_eq!(yaml_value("spec:\n  text: |\n    one\n    two\n", &["spec", "text"]).as_deref(), Some("one\ntwo"));
    }

    #[test]
    fn changes_count_arrivals_departures_and_moves() {
        assert_eq!(changes_between(&[1, 2, 3], &[1, 2, 3]), 0);
        assert_eq!(changes_between(&[1, 2, 3], &[3, 1, 2]), 1);
        assert_eq!(changes_between(&[1, 2, 3], &[1, 2, 3, 4]), 1);
        assert_eq!(changes_between(&[1, 2, 3], &[2, 3]), 1);
        assert_eq!(changes_between(&[1, 2, 3, 4], &[4, 3, 2, 1]), 3);
    }

    #[test]
    fn wall_options_come_from_the_url() {
        let q = WallQuery::from_query("?cluster=prod&namespace=team%20a&rotate=2&theme=light");
        assert_eq!((q.cluster.as_str(), q.namespace.as_str(), q.rotate, q.light), ("prod", "team a", 5, true));
        assert_eq!(WallQuery::from_query("rotate=x").rotate, 15);
        assert!(q.matches(&s("K", "team a", "y", Health::Ready)));
        assert!(!q.matches(&Summary { cluster: "stage".into(), ..s("K", "team a", "y", Health::Ready) }));
    }

    #[test]
    fn wall_lines_group_a_cause_with_what_waits_on_it_and_across_clusters() {
        let mut source = s("GitRepository", "team-b", "app", Health::Failing);
        source.group = "source.toolkit.fluxcd.io".into();
        source.message = "authentication required".into();
        let mut ks = s("Kustomization", "team-b", "app", Health::Failing);
        ks.source_ref = Some("GitRepository/team-b/app".into());
        let mut db = s("Kustomization", "team-c", "database", Health::Failing);
        db.message = "dry-run failed".into();
        let mut migrations = s("Kustomization", "team-c", "migrations", Health::Failing);
        migrations.depends_on = vec!["team-c/database".into()];
        let staging_source = Summary { cluster: "staging".into(), ..source.clone() };
        let lines = wall_lines(&[source.clone(), ks, db, migrations, staging_source]);
        let shown: Vec<_> =
            lines.iter().map(|l| (l.summary.name.as_str(), l.clusters.join(","), l.affected.join(","))).collect();
        assert_eq!(
            shown,
            [
                ("app", "prod,staging".to_owned(), "Kustomization team-b/app".to_owned()),
                ("database", "prod".to_owned(), "Kustomization team-c/migrations".to_owned()),
            ]
        );
        // A loop of dependencies does not hang, and every object stays on the wall.
        let mut a = s("Kustomization", "x", "a", Health::Failing);
        let mut b = s("Kustomization", "x", "b", Health::Failing);
        a.depends_on = vec!["x/b".into()];
        b.depends_on = vec!["x/a".into()];
        let lines = wall_lines(&[a, b]);
        assert_eq!(lines.iter().map(|l| 1 + l.affected.len()).sum::<usize>(), 2, "{lines:?}");
    }
}
