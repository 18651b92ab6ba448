//! The document-only kinds (field_types, json_schema, custom_pipeline,
//! `missing: missing`) on a SQL target (SQLite here; PostgreSQL shares the
//! code path in scan_common) are an ERROR naming the kind, and only for
//! those rules; `missing: null` reads SQL's NULL.

mod common;
mod mongo_common;

use dq_core::RunStatus;
use mongo_common::{observed, outcome, rules, run};

#[tokio::test]
async fn document_kinds_are_refused_on_sql_targets() {
    let db = common::Db::new().await;
    db.exec("CREATE TABLE events (id INTEGER, email TEXT); INSERT INTO events VALUES (1, NULL), (2, 'a@b.c');")
        .await;
    let target = db.target().await;
    let mut rules = rules(
        r#"
  - {name: rows, dataset: events, check: row_count, min: 1}
  - {name: explicit_null, dataset: events, check: null_count, column: email, missing: "null", max: 5}
  - {name: absent, dataset: events, check: null_count, column: email, missing: missing}
  - {name: types, dataset: events, check: field_types, column: email, types: [string]}
  - {name: schema, dataset: events, check: json_schema, schema: {required: [email]}}
  - {name: pipeline, dataset: events, check: custom_pipeline, pipeline: [{$match: {email: x}}]}
"#,
    );
    for rule in &mut rules {
        rule.target = "sqlite".into();
    }
    let outcomes = run(&target, &rules).await;
    assert_eq!(observed(&outcomes, "rows"), 2.0);
    assert_eq!(observed(&outcomes, "explicit_null"), 1.0);
    for (name, kind) in [
        ("absent", "missing: missing"),
        ("types", "field_types"),
        ("schema", "json_schema"),
        ("pipeline", "custom_pipeline"),
    ] {
        let verdict = &outcome(&outcomes, name).verdict;
        assert_eq!(verdict.status, RunStatus::Error, "{name}");
        assert!(
            verdict.message.contains(kind),
            "{name}: {}",
            verdict.message
        );
        assert!(
            verdict.message.contains("only on document targets"),
            "{}",
            verdict.message
        );
    }
}
