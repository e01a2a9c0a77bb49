//! Property tests (the fuzzing that runs in CI): whatever the cluster or a client sends, the
//! model's parsers and the health computation never panic, and what they write they read back.
//!
//! Besides generated JSON, the health computation is fed mutations of a seed corpus: real Flux
//! objects with status from Flux's own test data (`tests/corpus`, the `{{ }}` template fields
//! filled in), each with one value replaced by arbitrary JSON or removed.

use fluxboard_model::action::ActionRequest;
use fluxboard_model::api::EventId;
use fluxboard_model::detail::{InventoryId, item_health};
use fluxboard_model::view::{Filter, HealthFilter, ListQuery, SortKey, decode, encode, parse_rfc3339};
use fluxboard_model::{KINDS, summarize};
use proptest::prelude::*;
use serde_json::Value;

/// The health filter numbered `n`: `Any`, then each of the list's choices.
fn health_choice(n: usize) -> HealthFilter {
    n.checked_sub(1).map_or(HealthFilter::Any, |i| HealthFilter::CHOICES[i])
}

/// Arbitrary JSON, biased towards the shapes Flux objects have.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("True".to_owned()),
            Just("False".to_owned()),
            Just("Ready".to_owned()),
            Just("Reconciling".to_owned()),
            Just("Stalled".to_owned()),
            ".{0,12}"
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("metadata".to_owned()),
                    Just("spec".to_owned()),
                    Just("status".to_owned()),
                    Just("conditions".to_owned()),
                    Just("type".to_owned()),
                    Just("status".to_owned()),
                    Just("generation".to_owned()),
                    Just("observedGeneration".to_owned()),
                    Just("suspend".to_owned()),
                    Just("history".to_owned()),
                    Just("sourceRef".to_owned()),
                    "[a-z]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every Flux object of the seed corpus.
fn corpus() -> &'static [Value] {
    static CORPUS: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let mut objects = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for doc in serde_yaml::Deserializer::from_str(&text) {
                let value: Value = serde::Deserialize::deserialize(doc).unwrap_or(Value::Null);
                if value["apiVersion"].as_str().is_some_and(|v| v.contains("fluxcd.io")) {
                    objects.push(value);
                }
            }
        }
        objects
    })
}

/// Every JSON pointer into `value`.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let child = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(child.clone());
                pointers(v, child, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let child = format!("{at}/{i}");
                out.push(child.clone());
                pointers(v, child, out);
            }
        }
        _ => {}
    }
}

/// A corpus object with one value replaced by `replacement`, or removed.
fn mutated() -> impl Strategy<Value = Value> {
    (any::<prop::sample::Index>(), any::<prop::sample::Index>(), json(), any::<bool>()).prop_map(
        |(which, at, replacement, remove)| {
            let mut obj = which.get(corpus()).clone();
            let mut all = Vec::new();
            pointers(&obj, String::new(), &mut all);
            if all.is_empty() {
                return obj;
            }
            let pointer = at.get(&all).clone();
            let (parent, key) = pointer.rsplit_once('/').unwrap_or_default();
            match obj.pointer_mut(parent) {
                Some(Value::Object(map)) if remove => {
                    map.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(items)) if remove => {
                    if let Ok(i) = key.parse::<usize>() {
                        items.remove(i);
                    }
                }
                _ => {
                    if let Some(slot) = obj.pointer_mut(&pointer) {
                        *slot = replacement;
                    }
                }
            }
            obj
        },
    )
}

#[test]
fn the_seed_corpus_is_read_and_summarized_as_the_objects_say() {
    let corpus = corpus();
    assert!(corpus.len() >= 20, "{} seed objects", corpus.len());
    for obj in corpus {
        let kind = obj["kind"].as_str().unwrap();
        let group = obj["apiVersion"].as_str().unwrap().split('/').next().unwrap();
        let Some(info) = KINDS.iter().find(|k| k.kind == kind && k.group == group) else { continue };
        let s = summarize("c", info, obj);
        assert_eq!(s.name, obj["metadata"]["name"].as_str().unwrap());
        let ready = obj["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .map(|c| c["message"].as_str().unwrap_or_default().to_owned());
        if let Some(message) = ready {
            assert_eq!(s.message, message, "{kind} {}", s.name);
        }
    }
}

/// Summarizes `obj` as every Flux kind and reads its detail parts: nothing may panic.
fn summarize_as_every_kind(obj: &Value) -> Result<(), TestCaseError> {
    for info in KINDS.iter() {
        let s = summarize("c", info, obj);
        prop_assert_eq!(s.kind.as_str(), info.kind);
        let _ = item_health(info.group, info.kind, obj, 0);
    }
    let _ = fluxboard_model::detail::conditions(obj);
    let _ = fluxboard_model::detail::history("HelmRelease", obj);
    let _ = fluxboard_model::detail::history("Kustomization", obj);
    Ok(())
}

proptest! {
    #[test]
    fn seeded_flux_objects_with_a_mutation_never_panic(obj in mutated()) {
        summarize_as_every_kind(&obj)?;
    }

    #[test]
    fn summaries_and_live_health_never_panic(obj in json()) {
        summarize_as_every_kind(&obj)?;
        for (group, kind) in [("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("batch", "Job"), ("", "Pod"), ("", "Service"), ("", "ConfigMap")] {
            let _ = item_health(group, kind, &obj, 0);
        }
    }

    #[test]
    fn inventory_ids_never_panic_and_round_trip(
        text in ".{0,80}",
        ns in "[a-z0-9-]{0,20}",
        name in "[a-z0-9.:-]{1,30}",
        group in "[a-z0-9.]{0,20}",
        kind in "[A-Z][A-Za-z]{0,15}",
    ) {
        let _ = InventoryId::parse(&text);
        let id = format!("{ns}_{}_{group}_{kind}", name.replace(':', "__"));
        let parsed = InventoryId::parse(&id);
        // A name that starts or ends with ':' writes `___`, which no parser can split back; Flux
        // names never do.
        if !name.starts_with(':') && !name.ends_with(':') {
            let parsed = parsed.expect("a well-formed id parses");
            prop_assert_eq!((parsed.namespace, parsed.name, parsed.group, parsed.kind), (ns, name, group, kind));
        }
    }

    #[test]
    fn action_requests_never_panic(body in json()) {
        if let Ok(request) = serde_json::from_value::<ActionRequest>(body) {
            let _ = request.targets();
        }
    }

    #[test]
    fn event_ids_never_panic_and_round_trip(text in ".{0,50}", epoch in any::<u64>(), seq in any::<u64>()) {
        let _ = EventId::parse(&text);
        let id = EventId { epoch, seq };
        prop_assert_eq!(EventId::parse(&id.to_string()), Some(id));
    }

    #[test]
    fn list_queries_round_trip_through_the_url(
        q in ".{0,20}", cluster in ".{0,10}", kind in ".{0,10}", ns in ".{0,10}", health in 0usize..9,
        sort in 0usize..6, descending in any::<bool>(), garbage in ".{0,40}",
    ) {
        let _ = ListQuery::from_query(&garbage);
        let query = ListQuery {
            filter: Filter { q, cluster, kind, namespace: ns, health: health_choice(health) },
            sort: SortKey::ALL[sort],
            descending,
        };
        prop_assert_eq!(ListQuery::from_query(&query.to_query()), query);
    }

    #[test]
    fn percent_encoding_round_trips_and_decoding_never_panics(text in ".{0,40}", garbage in ".{0,40}") {
        prop_assert_eq!(decode(&encode(&text)), text);
        let _ = decode(&garbage);
        let _ = parse_rfc3339(&garbage);
    }
}
