//! Which of a rule's tuning parameters (`dq_core::tuning`) a target honours,
//! so the ones it ignores can be reported where the rule is loaded.

use dq_core::Tuning;

/// The tuning keys of `tuning` that the target at `url` ignores, each with
/// the reason.
pub fn ignored_tuning(url: &str, tuning: &Tuning) -> Vec<(&'static str, &'static str)> {
    let scheme = url.split(':').next().unwrap_or_default();
    let (parallel, hint) = match scheme {
        "postgres" | "postgresql" => (None, Some("PostgreSQL takes no hints without pg_hint_plan")),
        "mongodb" | "mongodb+srv" => (Some("MongoDB has no parallel degree"), None),
        "sqlite" => (
            Some("SQLite has no parallel query"),
            Some("SQLite takes no hints"),
        ),
        _ => (None, None),
    };
    let mut ignored = Vec::new();
    if let (Some(_), Some(why)) = (tuning.parallel_degree, parallel) {
        ignored.push(("parallel_degree", why));
    }
    if let (Some(_), Some(why)) = (&tuning.query_hint, hint) {
        ignored.push(("query_hint", why));
    }
    ignored
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_target_ignores_what_it_cannot_honour() {
        let both = Tuning {
            parallel_degree: Some(4),
            query_hint: Some(json!("idx_created")),
        };
        let keys = |url| -> Vec<&str> {
            ignored_tuning(url, &both)
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        assert_eq!(keys("postgres://db/x"), ["query_hint"]);
        assert_eq!(keys("mongodb://db/x"), ["parallel_degree"]);
        assert_eq!(keys("sqlite://x.db"), ["parallel_degree", "query_hint"]);
        assert!(ignored_tuning("sqlite://x.db", &Tuning::default()).is_empty());
    }
}
