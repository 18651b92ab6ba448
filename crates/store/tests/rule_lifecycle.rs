//! The rule lifecycle in the store: every change is a version naming who
//! made it; runs record the version they executed; rollback restores a
//! version as a new one; a rule in shadow records its violations and raises
//! no alert; retiring keeps the history, purging deletes it.

mod common;

use common::{on_each_backend, Backend};

use dq_core::{RunStatus, Severity};
use dq_store::{RuleFilter, SaveMode, StoreError, ViolationFilter};

const SOURCE: &str = "manifests/orders.yaml";

async fn pending_alert_events(t: &common::TestStore) -> i64 {
    t.count("alert_outbox").await
}

async fn every_change_is_a_version_by_its_actor(backend: Backend) {
    let t = common::open(backend).await;
    let ana = t.store.acting_as("ana");
    let rule = common::rule("a", "a_col");
    ana.apply_load(std::slice::from_ref(&rule), SOURCE)
        .await
        .unwrap();
    // Loading the same again is no change and no version.
    ana.apply_load(std::slice::from_ref(&rule), SOURCE)
        .await
        .unwrap();
    let mut changed = rule.clone();
    changed.severity = Severity::Critical;
    t.store
        .acting_as("bob")
        .apply_load(&[changed.clone()], SOURCE)
        .await
        .unwrap();
    let api = t.store.acting_as("api");
    api.set_rule_enabled("a", false).await.unwrap();
    api.set_rule_enabled("a", false).await.unwrap();
    let stored = api.set_rule_enabled("a", true).await.unwrap();
    assert_eq!(stored.version, 4);

    let history = t.store.rule_history("a").await.unwrap();
    let summary: Vec<(u32, &str, &str, Vec<String>)> = history
        .iter()
        .map(|v| {
            (
                v.version,
                v.changed_by.as_str(),
                v.change.as_str(),
                v.fields.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "ana", "created", vec![]),
            (
                2,
                "bob",
                "changed by a load of manifests/orders.yaml",
                vec!["severity".to_string()]
            ),
            (3, "api", "disabled", vec!["enabled".to_string()]),
            (4, "api", "enabled", vec!["enabled".to_string()]),
        ]
    );
    assert_eq!(history[1].definition["severity"], "CRITICAL");

    // A load that drops the rule disables it: a version too.
    t.store
        .apply_load(&[common::rule("other", "x")], SOURCE)
        .await
        .unwrap();
    let last = t.store.rule_history("a").await.unwrap().pop().unwrap();
    assert_eq!(
        (last.version, last.change.as_str()),
        (5, "disabled: no longer in manifests/orders.yaml")
    );
    assert!(t.store.rule_history("nobody").await.unwrap().is_empty());
}

async fn runs_record_the_version_they_executed(backend: Backend) {
    let t = common::open(backend).await;
    let rule = common::rule("a", "a_col");
    t.store
        .apply_load(std::slice::from_ref(&rule), SOURCE)
        .await
        .unwrap();
    let first = common::run(&rule, 0, RunStatus::Passed);
    t.store.record_run(&first, None, &[]).await.unwrap();
    let mut changed = rule.clone();
    changed.severity = Severity::Critical;
    t.store.apply_load(&[changed], SOURCE).await.unwrap();
    let second = common::run(&rule, 5, RunStatus::Passed);
    t.store.record_run(&second, None, &[]).await.unwrap();
    let version_of = |id| {
        let store = t.store.clone();
        async move { store.run_by_id(id).await.unwrap().unwrap().rule_version }
    };
    assert_eq!(version_of(first.id).await, Some(1));
    assert_eq!(version_of(second.id).await, Some(2));
}

async fn rollback_restores_a_version_as_a_new_one(backend: Backend) {
    let t = common::open(backend).await;
    let rule = common::rule("a", "a_col");
    t.store
        .apply_load(std::slice::from_ref(&rule), SOURCE)
        .await
        .unwrap();
    let mut broken = rule.clone();
    broken.severity = Severity::Critical;
    broken.tags = vec!["new".into()];
    t.store.apply_load(&[broken], SOURCE).await.unwrap();

    let restored = t
        .store
        .acting_as("ana")
        .rollback_rule("a", 1)
        .await
        .unwrap();
    assert_eq!(restored.version, 3);
    assert_eq!(restored.rule, rule);
    let last = t.store.rule_history("a").await.unwrap().pop().unwrap();
    assert_eq!(last.change, "rolled back to v1");
    assert_eq!(last.changed_by, "ana");
    assert_eq!(
        last.fields,
        vec!["severity".to_string(), "tags".to_string()]
    );

    let refusals = [
        t.store.rollback_rule("a", 9).await.unwrap_err(),
        t.store.rollback_rule("nobody", 1).await.unwrap_err(),
    ];
    for refusal in refusals {
        assert!(matches!(refusal, StoreError::NotFound(_)), "{refusal}");
    }
}

async fn a_rule_in_shadow_records_violations_and_raises_no_alert(backend: Backend) {
    let t = common::open(backend).await;
    let mut rule = common::rule("a", "a_col");
    rule.shadow = true;
    t.store
        .apply_load(std::slice::from_ref(&rule), SOURCE)
        .await
        .unwrap();
    let failed = common::run(&rule, 0, RunStatus::Failed);
    let violation = common::violation(Severity::High, 0);
    t.store
        .record_run(&failed, Some(&violation), &[])
        .await
        .unwrap();
    let stored = t
        .store
        .violations(&ViolationFilter::default())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "the violation is recorded");
    assert_eq!(pending_alert_events(&t).await, 0, "and raises no alert");

    let promoted = t.store.acting_as("ana").promote_rule("a").await.unwrap();
    assert!(!promoted.rule.shadow);
    assert_eq!(promoted.version, 2);
    let again = common::run(&rule, 5, RunStatus::Failed);
    t.store
        .record_run(&again, Some(&common::violation(Severity::High, 5)), &[])
        .await
        .unwrap();
    assert_eq!(pending_alert_events(&t).await, 1, "promoted: it alerts");
}

async fn retiring_keeps_the_history_and_loading_brings_the_rule_back(backend: Backend) {
    let t = common::open(backend).await;
    let rule = common::rule("a", "a_col");
    t.store
        .apply_load(std::slice::from_ref(&rule), SOURCE)
        .await
        .unwrap();
    t.store
        .record_run(&common::run(&rule, 0, RunStatus::Passed), None, &[])
        .await
        .unwrap();
    let refused = t.store.retire_rule("a", false).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");

    t.store.set_rule_enabled("a", false).await.unwrap();
    let retired = t.store.retire_rule("a", false).await.unwrap();
    assert!(retired.deleted_at.is_some());
    assert!(t
        .store
        .rules(&RuleFilter::default())
        .await
        .unwrap()
        .is_empty());
    let with_deleted = RuleFilter {
        include_deleted: true,
        ..RuleFilter::default()
    };
    assert_eq!(t.store.rules(&with_deleted).await.unwrap().len(), 1);
    assert_eq!(t.count("runs").await, 1, "its runs stay");

    // The name loaded again: the same rule, revived, as a new version.
    let plan = t
        .store
        .apply_load(std::slice::from_ref(&rule), SOURCE)
        .await
        .unwrap();
    assert_eq!(plan.created, vec!["a".to_string()]);
    let back = t.store.rule_by_name("a").await.unwrap().unwrap();
    assert_eq!(
        (back.deleted_at, back.rule.enabled, back.version),
        (None, true, 4)
    );
    // Creating it through the API revives it the same way; a live one is a conflict.
    let conflict = t
        .store
        .save_rule(&rule, "api", SaveMode::Create)
        .await
        .unwrap_err();
    assert!(matches!(conflict, StoreError::Conflict(_)), "{conflict}");
}

async fn purging_deletes_everything_of_the_rule_and_nothing_else(backend: Backend) {
    let t = common::open(backend).await;
    let (a, b) = (common::rule("a", "a_col"), common::rule("b", "b_col"));
    t.store
        .apply_load(&[a.clone(), b.clone()], SOURCE)
        .await
        .unwrap();
    for minute in [0, 5, 10] {
        let run = common::run(&a, minute, RunStatus::Failed);
        let violation = common::violation(Severity::High, minute);
        t.store
            .record_run(&run, Some(&violation), &[])
            .await
            .unwrap();
    }
    t.store
        .record_run(&common::run(&b, 0, RunStatus::Passed), None, &[])
        .await
        .unwrap();
    let refused = t.store.purge_rule("a", false, 2, None).await.unwrap_err();
    assert!(refused.to_string().contains("enabled"), "{refused}");

    let mut archive = Tables::default();
    let report = t
        .store
        .purge_rule(
            "a",
            true,
            2,
            Some(&mut archive as &mut dyn dq_store::ArchiveSink),
        )
        .await
        .unwrap();
    assert_eq!(report.deleted("runs"), 3);
    assert_eq!(report.deleted("violations"), 3);
    assert!(t.store.rule_by_name("a").await.unwrap().is_none());
    assert!(t.store.rule_history("a").await.unwrap().is_empty());
    assert_eq!(t.count("runs").await, 1, "b's run stays");
    assert_eq!(t.count("rules").await, 1);
    for table in ["runs", "violations", "rules", "rule_versions"] {
        assert!(
            archive.0.iter().any(|t| t == table),
            "{table} archived: {:?}",
            archive.0
        );
    }
}

/// An archive in memory: the tables of the rows it was given.
#[derive(Default)]
struct Tables(Vec<String>);

impl dq_store::ArchiveSink for Tables {
    fn write(&mut self, row: &dq_store::ArchivedRow) -> std::io::Result<()> {
        self.0.push(row.table.to_string());
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

on_each_backend!(
    every_change_is_a_version_by_its_actor,
    runs_record_the_version_they_executed,
    rollback_restores_a_version_as_a_new_one,
    a_rule_in_shadow_records_violations_and_raises_no_alert,
    retiring_keeps_the_history_and_loading_brings_the_rule_back,
    purging_deletes_everything_of_the_rule_and_nothing_else,
);
