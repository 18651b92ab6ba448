mod common;

use common::{on_each_backend, Backend};

use dq_core::{RunStatus, Severity};
use dq_store::{StoreError, ViolationFilter, ViolationRecord};

/// Violations of rules a (HIGH at :00, LOW at :05, CRITICAL at :10) and
/// b (INFO at :05, MEDIUM at :15); returns them by label.
async fn seeded(backend: Backend) -> (common::TestStore, Vec<ViolationRecord>) {
    let t = common::open(backend).await;
    let a = common::rule("a", "x");
    let b = common::rule("b", "x");
    t.store
        .apply_load(&[a.clone(), b.clone()], "m.yaml")
        .await
        .unwrap();
    for (rule, minute, severity) in [
        (&a, 0, Severity::High),
        (&a, 5, Severity::Low),
        (&b, 5, Severity::Info),
        (&a, 10, Severity::Critical),
        (&b, 15, Severity::Medium),
    ] {
        let mut run = common::run(rule, minute, RunStatus::Failed);
        run.severity = Some(severity);
        let violation = common::violation(severity, minute);
        assert!(t
            .store
            .record_run(&run, Some(&violation), &[])
            .await
            .unwrap());
    }
    let all = t
        .store
        .violations(&ViolationFilter::default())
        .await
        .unwrap();
    (t, all)
}

fn label(v: &ViolationRecord) -> String {
    let minute = (v.detected_at - common::at(0)).num_minutes();
    format!("{}@{minute}", v.rule_name)
}

fn id_of(all: &[ViolationRecord], wanted: &str) -> i64 {
    all.iter().find(|v| label(v) == wanted).unwrap().id
}

async fn violations_filter_by_since_rule_acknowledgement_and_severity(backend: Backend) {
    let (t, all) = seeded(backend).await;
    let labels: Vec<String> = all.iter().map(label).collect();
    assert_eq!(
        labels,
        ["b@15", "a@10", "b@5", "a@5", "a@0"],
        "newest first"
    );
    assert_eq!(
        all[0].sample,
        vec![serde_json::json!({"id": 7, "customer_id": null})]
    );
    t.store
        .acknowledge(&[id_of(&all, "a@10")], "ana", None, common::at(30))
        .await
        .unwrap();

    let b5 = all.iter().find(|v| label(v) == "b@5").unwrap();
    let cases: Vec<(&str, ViolationFilter, Vec<&str>)> = vec![
        (
            "acknowledged at or after 30",
            ViolationFilter {
                acknowledged_since: Some(common::at(30)),
                ..ViolationFilter::default()
            },
            vec!["a@10"],
        ),
        (
            "acknowledged at or after 31",
            ViolationFilter {
                acknowledged_since: Some(common::at(31)),
                ..ViolationFilter::default()
            },
            vec![],
        ),
        (
            "since is inclusive",
            ViolationFilter {
                since: Some(common::at(10)),
                ..ViolationFilter::default()
            },
            vec!["b@15", "a@10"],
        ),
        (
            "one rule",
            ViolationFilter {
                rule_names: vec!["b".to_string()],
                ..ViolationFilter::default()
            },
            vec!["b@15", "b@5"],
        ),
        (
            "unacknowledged",
            ViolationFilter {
                unacknowledged_only: true,
                ..ViolationFilter::default()
            },
            vec!["b@15", "b@5", "a@5", "a@0"],
        ),
        (
            "at least HIGH",
            ViolationFilter {
                min_severity: Some(Severity::High),
                ..ViolationFilter::default()
            },
            vec!["a@10", "a@0"],
        ),
        (
            "at least INFO is everything",
            ViolationFilter {
                min_severity: Some(Severity::Info),
                ..ViolationFilter::default()
            },
            vec!["b@15", "a@10", "b@5", "a@5", "a@0"],
        ),
        (
            "at least MEDIUM, unacknowledged, of a and b, limit 1",
            ViolationFilter {
                since: None,
                rule_names: vec!["a".to_string(), "b".to_string()],
                unacknowledged_only: true,
                min_severity: Some(Severity::Medium),
                limit: Some(1),
                ..ViolationFilter::default()
            },
            vec!["b@15"],
        ),
        (
            "before 15, a page after b@5",
            ViolationFilter {
                until: Some(common::at(15)),
                after: Some((b5.detected_at, b5.id)),
                ..ViolationFilter::default()
            },
            vec!["a@5", "a@0"],
        ),
    ];
    for (name, filter, expected) in cases {
        let found: Vec<String> = t
            .store
            .violations(&filter)
            .await
            .unwrap()
            .iter()
            .map(label)
            .collect();
        assert_eq!(found, expected, "{name}");
    }
}

async fn acknowledging_sets_who_when_and_why_once(backend: Backend) {
    let (t, all) = seeded(backend).await;
    let (v0, v5, v10) = (id_of(&all, "a@0"), id_of(&all, "a@5"), id_of(&all, "a@10"));

    let done = t
        .store
        .acknowledge(&[v5, v0, v0], "ana", Some("known backfill"), common::at(30))
        .await
        .unwrap();
    assert_eq!(done, vec![v0.min(v5), v0.max(v5)]);

    let again = t
        .store
        .acknowledge(&[v0, v10], "bob", None, common::at(40))
        .await
        .unwrap();
    assert_eq!(again, vec![v10], "v0 was already acknowledged");

    let now = t
        .store
        .violations(&ViolationFilter::default())
        .await
        .unwrap();
    let get = |id: i64| now.iter().find(|v| v.id == id).unwrap();
    for (id, by, at, note) in [
        (v0, "ana", 30, Some("known backfill")),
        (v5, "ana", 30, Some("known backfill")),
        (v10, "bob", 40, None),
    ] {
        let v = get(id);
        assert!(v.acknowledged, "{id}");
        assert_eq!(v.acknowledged_by.as_deref(), Some(by), "{id}");
        assert_eq!(v.acknowledged_at, Some(common::at(at)), "{id}");
        assert_eq!(v.ack_note.as_deref(), note, "{id}");
    }
    assert!(!get(id_of(&all, "b@5")).acknowledged);
}

async fn acknowledging_an_unknown_id_acknowledges_nothing(backend: Backend) {
    let (t, all) = seeded(backend).await;
    let known = id_of(&all, "b@5");
    let err = t
        .store
        .acknowledge(&[known, 999, 998], "ana", None, common::at(30))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound(m) if m.contains("998, 999")),
        "{err}"
    );
    let unacknowledged = t
        .store
        .violations(&ViolationFilter {
            unacknowledged_only: true,
            ..ViolationFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(unacknowledged.len(), all.len());

    let err = t
        .store
        .acknowledge(&[known], " ", None, common::at(30))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)));
    assert!(t
        .store
        .acknowledge(&[], "ana", None, common::at(30))
        .await
        .unwrap()
        .is_empty());
}

async fn concurrent_acknowledgements_keep_the_first(backend: Backend) {
    let (t, all) = seeded(backend).await;
    let ids: Vec<i64> = all.iter().map(|v| v.id).collect();
    let tasks: Vec<_> = ["ana", "bob", "cy", "dee"]
        .into_iter()
        .map(|who| {
            let (store, ids) = (t.store.clone(), ids.clone());
            tokio::spawn(async move {
                let done = store.acknowledge(&ids, who, None, common::at(30)).await;
                (who, done.unwrap())
            })
        })
        .collect();
    let mut by_whom = Vec::new();
    for task in tasks {
        by_whom.push(task.await.unwrap());
    }
    let mut acknowledged: Vec<i64> = by_whom.iter().flat_map(|(_, ids)| ids.clone()).collect();
    acknowledged.sort_unstable();
    let mut expected = ids.clone();
    expected.sort_unstable();
    assert_eq!(acknowledged, expected, "each id acknowledged exactly once");
    let now = t
        .store
        .violations(&ViolationFilter::default())
        .await
        .unwrap();
    for v in now {
        let (who, _) = by_whom.iter().find(|(_, ids)| ids.contains(&v.id)).unwrap();
        assert_eq!(v.acknowledged_by.as_deref(), Some(*who), "{}", v.id);
    }
}

on_each_backend!(
    violations_filter_by_since_rule_acknowledgement_and_severity,
    acknowledging_sets_who_when_and_why_once,
    acknowledging_an_unknown_id_acknowledges_nothing,
    concurrent_acknowledgements_keep_the_first,
);
