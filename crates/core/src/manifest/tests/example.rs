use super::load_ok;
use crate::check::{Missing, CHECK_KINDS, DOCUMENT_KINDS};

const EXAMPLE: &str = include_str!("../../../../../manifests/example.yaml");
const MONGODB_EXAMPLE: &str = include_str!("../../../../../manifests/mongodb-example.yaml");

/// The MongoDB example uses the document kinds and every `missing:` mode.
#[test]
fn the_mongodb_example_loads_and_uses_every_document_kind() {
    let file = crate::manifest::ManifestFile {
        path: "manifests/mongodb-example.yaml",
        text: MONGODB_EXAMPLE,
    };
    let rules = crate::manifest::load_manifests(&[file], &|t: &str| t == "events")
        .unwrap_or_else(|errors| panic!("{errors:?}"));
    for kind in DOCUMENT_KINDS {
        assert!(
            rules.iter().any(|r| r.check.kind() == kind),
            "the MongoDB example has no {kind} rule"
        );
    }
    for missing in Missing::ALL {
        assert!(
            rules.iter().any(|r| r.check.missing() == missing),
            "the MongoDB example has no rule with missing: {}",
            missing.name()
        );
    }
    assert!(rules.iter().all(|r| r.target == "events"));
    let schema = rules.iter().find(|r| r.check.kind() == "json_schema");
    assert_eq!(
        schema.map(|r| r.queue),
        Some(crate::queue::Queue::Compute),
        "json_schema defaults to dq_compute"
    );
}

#[test]
fn the_example_manifest_loads_and_uses_every_check_kind() {
    let rules = load_ok("manifests/example.yaml", EXAMPLE);
    for kind in CHECK_KINDS
        .into_iter()
        .filter(|k| !DOCUMENT_KINDS.contains(k))
    {
        assert!(
            rules.iter().any(|r| r.check.kind() == kind),
            "the example has no {kind} rule"
        );
    }
    for rule in &rules {
        assert_eq!(rule.target, "warehouse", "{}", rule.name);
        let dataset = rule.dataset.to_string();
        assert!(
            dataset == "public.orders" || dataset == "public.customers",
            "{}: {dataset}",
            rule.name
        );
    }
}
