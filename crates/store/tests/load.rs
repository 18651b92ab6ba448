mod common;

use common::{on_each_backend, Backend};

use dq_core::{Bounds, Identifier, RowFilter, Rule, Severity, Thresholds, Window};
use dq_store::{LoadPlan, RuleChange, RuleFilter, StoreError, StoredRule};

const SOURCE: &str = "manifests/orders.yaml";

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn change(name: &str, fields: &[&str]) -> RuleChange {
    RuleChange {
        name: name.to_string(),
        fields: names(fields),
    }
}

async fn all_rules(t: &common::TestStore) -> Vec<StoredRule> {
    t.store.rules(&RuleFilter::default()).await.unwrap()
}

/// a, b, c loaded; then a's column changes, b is dropped, c stays, d is new.
fn second_load() -> Vec<Rule> {
    vec![
        common::rule("a", "customer_id"),
        common::rule("c", "c_col"),
        common::rule("d", "d_col"),
    ]
}

async fn loaded_abc(backend: Backend) -> common::TestStore {
    let t = common::open(backend).await;
    let first = [
        common::rule("a", "a_col"),
        common::rule("b", "b_col"),
        common::rule("c", "c_col"),
    ];
    let plan = t.store.apply_load(&first, SOURCE).await.unwrap();
    assert_eq!(
        plan,
        LoadPlan {
            created: names(&["a", "b", "c"]),
            ..LoadPlan::default()
        }
    );
    let again = t.store.apply_load(&first, SOURCE).await.unwrap();
    assert!(again.is_noop());
    assert_eq!(again.unchanged, names(&["a", "b", "c"]));
    t
}

async fn plan_shows_created_changed_unchanged_and_disabled_and_writes_nothing(backend: Backend) {
    let t = loaded_abc(backend).await;
    let before = all_rules(&t).await;

    let plan = t.store.plan_load(&second_load(), SOURCE).await.unwrap();
    let expected = LoadPlan {
        created: names(&["d"]),
        changed: vec![change("a", &["check.column"])],
        unchanged: names(&["c"]),
        disabled: names(&["b"]),
    };
    assert_eq!(plan, expected);
    assert!(!plan.is_noop());
    assert_eq!(all_rules(&t).await, before, "plan_load wrote nothing");

    let applied = t.store.apply_load(&second_load(), SOURCE).await.unwrap();
    assert_eq!(applied, expected, "apply does what plan said");

    let after = all_rules(&t).await;
    let by_name = |name: &str| after.iter().find(|r| r.rule.name.as_str() == name).unwrap();
    assert_eq!(after.len(), 4, "b is disabled, not deleted");
    assert!(!by_name("b").rule.enabled);
    assert_eq!(by_name("a").rule, common::rule("a", "customer_id"));
    let old_a = before.iter().find(|r| r.rule.name.as_str() == "a").unwrap();
    assert_eq!(by_name("a").id, old_a.id, "an update keeps the id");
    assert_eq!(by_name("a").created_at, old_a.created_at);
    assert!(by_name("a").updated_at >= old_a.updated_at);
    assert_eq!(by_name("d").source.as_deref(), Some(SOURCE));

    let enabled = t
        .store
        .rules(&RuleFilter {
            enabled_only: true,
            ..RuleFilter::default()
        })
        .await
        .unwrap();
    let enabled: Vec<&str> = enabled.iter().map(|r| r.rule.name.as_str()).collect();
    assert_eq!(enabled, ["a", "c", "d"]);
    assert!(t
        .store
        .plan_load(&second_load(), SOURCE)
        .await
        .unwrap()
        .is_noop());
}

async fn other_sources_are_untouched_and_moves_and_re_enabling_are_changes(backend: Backend) {
    let t = loaded_abc(backend).await;
    t.store
        .apply_load(&[common::rule("e", "e_col")], "manifests/other.yaml")
        .await
        .unwrap();
    t.store.apply_load(&second_load(), SOURCE).await.unwrap();
    let e = t.store.rule_by_name("e").await.unwrap().unwrap();
    assert!(
        e.rule.enabled,
        "a load disables only its own source's rules"
    );

    let mut rules = second_load();
    rules.push(common::rule("b", "b_col"));
    rules.push(common::rule("e", "e_col"));
    let plan = t.store.apply_load(&rules, SOURCE).await.unwrap();
    assert_eq!(
        plan.changed,
        vec![change("b", &["enabled"]), change("e", &["source"])]
    );
    assert!(
        t.store
            .rule_by_name("b")
            .await
            .unwrap()
            .unwrap()
            .rule
            .enabled
    );
    let e = t.store.rule_by_name("e").await.unwrap().unwrap();
    assert_eq!(e.source.as_deref(), Some(SOURCE));
}

async fn changed_fields_are_named(backend: Backend) {
    let t = loaded_abc(backend).await;
    let mut a = common::rule("a", "a_col");
    a.severity = Severity::Critical;
    a.thresholds = Thresholds {
        fail: Bounds::at_most(5.0),
        warn: Bounds::at_most(1.0),
    };
    a.owner = Some("data-eng".to_string());
    let mut b = common::rule("b", "b_col");
    b.scope.filter = Some(RowFilter::new("status = 'paid'").unwrap());
    let c = common::rule("c", "c_col");
    let plan = t.store.plan_load(&[a, b, c], SOURCE).await.unwrap();
    assert_eq!(
        plan.changed,
        vec![
            change(
                "a",
                &["owner", "severity", "thresholds.fail", "thresholds.warn"]
            ),
            change("b", &["scope"]),
        ]
    );
}

async fn a_name_twice_is_a_conflict_and_writes_nothing(backend: Backend) {
    let t = loaded_abc(backend).await;
    let before = all_rules(&t).await;
    let mut rules = second_load();
    rules.push(common::rule("d", "other"));
    for result in [
        t.store.plan_load(&rules, SOURCE).await,
        t.store.apply_load(&rules, SOURCE).await,
    ] {
        let err = result.unwrap_err();
        assert!(
            matches!(&err, StoreError::Conflict(m) if m.contains("rule d appears more than once")),
            "{err}"
        );
    }
    assert_eq!(all_rules(&t).await, before);
}

async fn a_failure_after_some_writes_rolls_the_whole_load_back(backend: Backend) {
    let t = loaded_abc(backend).await;
    let before = all_rules(&t).await;
    t.refuse_rule_named("boom").await;
    // a is updated and d inserted before boom fails; b would be disabled after.
    let mut rules = second_load();
    rules.push(common::rule("boom", "x"));
    let err = t.store.apply_load(&rules, SOURCE).await.unwrap_err();
    assert!(err.to_string().contains("refused by the test"), "{err}");
    assert_eq!(all_rules(&t).await, before, "nothing of the load remains");
}

async fn rules_round_trip_and_filter_by_name_tag_and_enabled(backend: Backend) {
    let t = common::open(backend).await;
    let mut rich = common::rule("rich", "amount");
    rich.description = Some("amounts are present".to_string());
    rich.owner = Some("finance".to_string());
    rich.tags = vec!["orders".to_string(), "sla".to_string()];
    rich.scope.sample_size = Some(10_000);
    rich.scope.window = Some(Window {
        column: Identifier::new("created_at").unwrap(),
        length: std::time::Duration::from_secs(86_400),
    });
    rich.parameters
        .insert("ticket".to_string(), serde_json::json!("DQ-12"));
    let mut tagged = common::rule("tagged", "a");
    tagged.tags = vec!["orders".to_string()];
    let mut off = common::rule("off", "a");
    off.enabled = false;
    off.tags = vec!["sla".to_string()];
    let plain = common::rule("plain", "a");
    t.store
        .apply_load(&[rich.clone(), tagged, off, plain], SOURCE)
        .await
        .unwrap();

    let stored = t.store.rule_by_name("rich").await.unwrap().unwrap();
    assert_eq!(stored.rule, rich);
    assert!(t.store.rule_by_name("nope").await.unwrap().is_none());

    let cases: Vec<(&str, RuleFilter, Vec<&str>)> = vec![
        (
            "all, by name",
            RuleFilter::default(),
            vec!["off", "plain", "rich", "tagged"],
        ),
        (
            "names",
            RuleFilter {
                names: names(&["tagged", "rich", "unknown"]),
                ..RuleFilter::default()
            },
            vec!["rich", "tagged"],
        ),
        (
            "tag",
            RuleFilter {
                tag: Some("orders".to_string()),
                ..RuleFilter::default()
            },
            vec!["rich", "tagged"],
        ),
        (
            "tag, enabled only",
            RuleFilter {
                tag: Some("sla".to_string()),
                enabled_only: true,
                ..RuleFilter::default()
            },
            vec!["rich"],
        ),
        (
            "tag that no rule has",
            RuleFilter {
                tag: Some("orde".to_string()),
                ..RuleFilter::default()
            },
            vec![],
        ),
    ];
    for (label, filter, expected) in cases {
        let found = t.store.rules(&filter).await.unwrap();
        let found: Vec<&str> = found.iter().map(|r| r.rule.name.as_str()).collect();
        assert_eq!(found, expected, "{label}");
    }
}

async fn several_manifests_load_together_and_a_rule_can_move_between_them(backend: Backend) {
    let t = common::open(backend).await;
    let set = |source: &str, rules: &[(&str, &str)]| {
        let rules = rules.iter().map(|(n, c)| common::rule(n, c)).collect();
        (source.to_string(), rules)
    };
    let plans = t
        .store
        .apply_loads(&[
            set("a.yaml", &[("r1", "x"), ("r2", "x")]),
            set("b.yaml", &[("r3", "x")]),
        ])
        .await
        .unwrap();
    assert_eq!(
        plans.iter().map(|p| p.created.clone()).collect::<Vec<_>>(),
        [names(&["r1", "r2"]), names(&["r3"])]
    );

    let moved = [
        set("a.yaml", &[("r1", "x")]),
        set("b.yaml", &[("r3", "x"), ("r2", "x")]),
    ];
    let expected = vec![
        LoadPlan {
            unchanged: names(&["r1"]),
            ..LoadPlan::default()
        },
        LoadPlan {
            unchanged: names(&["r3"]),
            changed: vec![change("r2", &["source"])],
            ..LoadPlan::default()
        },
    ];
    assert_eq!(t.store.plan_loads(&moved).await.unwrap(), expected);
    assert_eq!(t.store.apply_loads(&moved).await.unwrap(), expected);
    let r2 = t.store.rule_by_name("r2").await.unwrap().unwrap();
    assert!(r2.rule.enabled, "moved, not disabled");
    assert_eq!(r2.source.as_deref(), Some("b.yaml"));

    let before = all_rules(&t).await;
    for (sets, message) in [
        (
            vec![set("a.yaml", &[("r1", "x")]), set("b.yaml", &[("r1", "y")])],
            "rule r1 appears more than once (in a.yaml and b.yaml)",
        ),
        (
            vec![set("a.yaml", &[("r1", "x")]), set("a.yaml", &[("r9", "y")])],
            "source a.yaml is loaded more than once",
        ),
    ] {
        let err = t.store.apply_loads(&sets).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Conflict(m) if m.contains(message)),
            "{err}"
        );
    }
    assert_eq!(all_rules(&t).await, before);
}

async fn concurrent_loads_take_turns(backend: Backend) {
    let t = common::open(backend).await;
    let rules: Vec<Rule> = (0..20)
        .map(|i| common::rule(&format!("r{i:02}"), "x"))
        .collect();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, rules) = (t.store.clone(), rules.clone());
            tokio::spawn(async move { store.apply_load(&rules, SOURCE).await })
        })
        .collect();
    let mut plans = Vec::new();
    for task in tasks {
        plans.push(task.await.unwrap().unwrap());
    }
    let (creators, others): (Vec<&LoadPlan>, Vec<&LoadPlan>) =
        plans.iter().partition(|p| !p.created.is_empty());
    assert_eq!(creators.len(), 1, "one load created the rules: {plans:?}");
    assert_eq!(creators[0].created.len(), 20);
    assert!(
        others
            .iter()
            .all(|p| p.is_noop() && p.unchanged.len() == 20),
        "the others found them stored: {plans:?}"
    );
    assert_eq!(all_rules(&t).await.len(), 20);

    // A rule moving from a.yaml to b.yaml while a.yaml is reloaded without
    // it: in either order the rule ends enabled, in b.yaml. Interleaved, the
    // reload could disable it after the move.
    for round in 0..5 {
        let name = format!("moving_{round}");
        let set = |source: &str, names: &[&str]| {
            let rules = names.iter().map(|n| common::rule(n, "x")).collect();
            (source.to_string(), rules)
        };
        t.store
            .apply_loads(&[set("a.yaml", &[&name, "stays"])])
            .await
            .unwrap();
        let reload = {
            let (store, sets) = (t.store.clone(), [set("a.yaml", &["stays"])]);
            tokio::spawn(async move { store.apply_loads(&sets).await })
        };
        let moving = {
            let (store, sets) = (t.store.clone(), [set("b.yaml", &[&name])]);
            tokio::spawn(async move { store.apply_loads(&sets).await })
        };
        reload.await.unwrap().unwrap();
        moving.await.unwrap().unwrap();
        let moved = t.store.rule_by_name(&name).await.unwrap().unwrap();
        assert!(moved.rule.enabled, "round {round}");
        assert_eq!(moved.source.as_deref(), Some("b.yaml"), "round {round}");
    }
}

on_each_backend!(
    plan_shows_created_changed_unchanged_and_disabled_and_writes_nothing,
    other_sources_are_untouched_and_moves_and_re_enabling_are_changes,
    changed_fields_are_named,
    a_name_twice_is_a_conflict_and_writes_nothing,
    a_failure_after_some_writes_rolls_the_whole_load_back,
    rules_round_trip_and_filter_by_name_tag_and_enabled,
    several_manifests_load_together_and_a_rule_can_move_between_them,
    concurrent_loads_take_turns,
);
