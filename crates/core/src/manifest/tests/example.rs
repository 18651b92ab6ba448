use super::load_ok;
use crate::check::CHECK_KINDS;

const EXAMPLE: &str = include_str!("../../../../../manifests/example.yaml");

#[test]
fn the_example_manifest_loads_and_uses_every_check_kind() {
    let rules = load_ok("manifests/example.yaml", EXAMPLE);
    for kind in CHECK_KINDS {
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
