//! Property tests (the fuzzing that runs in CI): whatever the cluster or a client sends, the
//! model's parsers and the health computation never panic, and what they write they read back.

use fluxboard_model::action::ActionRequest;
use fluxboard_model::api::EventId;
use fluxboard_model::detail::{InventoryId, item_health};
use fluxboard_model::view::{Filter, ListQuery, SortKey, decode, encode, parse_rfc3339};
use fluxboard_model::{KINDS, summarize};
use proptest::prelude::*;
use serde_json::Value;

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

proptest! {
    #[test]
    fn summaries_and_live_health_never_panic(obj in json()) {
        for info in KINDS.iter() {
            let s = summarize("c", info, &obj);
            prop_assert_eq!(s.kind.as_str(), info.kind);
            let _ = item_health(info.group, info.kind, &obj);
        }
        for (group, kind) in [("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("batch", "Job"), ("", "Pod"), ("", "Service"), ("", "ConfigMap")] {
            let _ = item_health(group, kind, &obj);
        }
        let _ = fluxboard_model::detail::conditions(&obj);
        let _ = fluxboard_model::detail::history("HelmRelease", &obj);
        let _ = fluxboard_model::detail::history("Kustomization", &obj);
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
        q in ".{0,20}", cluster in ".{0,10}", kind in ".{0,10}", ns in ".{0,10}", health in ".{0,10}",
        sort in 0usize..6, descending in any::<bool>(), garbage in ".{0,40}",
    ) {
        let _ = ListQuery::from_query(&garbage);
        let query = ListQuery {
            filter: Filter { q, cluster, kind, namespace: ns, health },
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
