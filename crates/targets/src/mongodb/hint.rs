//! A rule's `parameters.query_hint` as the aggregate's `hint`: an index
//! name (`"idx_created"`) or an index key document (`{"created_at": 1}`).
//! The `$group` pass every rule on a collection shares carries the first
//! hint any of them gives (`Tuning::for_rules`), so a hint naming no index,
//! which the server refuses, errors each rule of that pass; the error names
//! the hint. A failed rule's samples carry its own hint.

use dq_core::Tuning;
use mongodb::bson::Bson;
use mongodb::options::Hint;
use serde_json::Value;

use crate::error::TargetError;

/// The hint of one command, and how the rule wrote it (for messages).
#[derive(Debug, Clone)]
pub(crate) struct QueryHint {
    pub(crate) hint: Hint,
    written: String,
}

impl QueryHint {
    /// The hint `tuning` carries, if any. Manifests are validated on load
    /// (a string or an object), so anything else is a query error here.
    pub(crate) fn of(tuning: &Tuning) -> Result<Option<QueryHint>, TargetError> {
        let Some(value) = &tuning.query_hint else {
            return Ok(None);
        };
        let hint = match value {
            Value::String(name) => Hint::Name(name.clone()),
            Value::Object(_) => match Bson::try_from(value.clone()) {
                Ok(Bson::Document(keys)) => Hint::Keys(keys),
                _ => return Err(bad(value)),
            },
            _ => return Err(bad(value)),
        };
        Ok(Some(QueryHint {
            hint,
            written: value.to_string(),
        }))
    }

    /// `e` with the hint named, when the server refused the command (a
    /// connection problem or a timeout is not the hint's fault).
    pub(crate) fn explain(&self, e: TargetError) -> TargetError {
        match e {
            TargetError::Query { cause } => {
                TargetError::query(format!("with query_hint {}: {cause}", self.written))
            }
            other => other,
        }
    }
}

fn bad(value: &Value) -> TargetError {
    TargetError::query(format!(
        "query_hint {value} is not an index name or an index key document"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;
    use serde_json::json;

    fn tuning(hint: Value) -> Tuning {
        Tuning {
            parallel_degree: None,
            query_hint: Some(hint),
        }
    }

    #[test]
    fn names_and_key_documents_become_hints() {
        let by_name = QueryHint::of(&tuning(json!("idx_at"))).unwrap().unwrap();
        assert_eq!(by_name.hint, Hint::Name("idx_at".into()));
        let by_keys = QueryHint::of(&tuning(json!({"at": 1, "status": -1})))
            .unwrap()
            .unwrap();
        assert_eq!(by_keys.hint, Hint::Keys(doc! { "at": 1, "status": -1 }));
        assert!(QueryHint::of(&Tuning::default()).unwrap().is_none());
        assert!(QueryHint::of(&tuning(json!(3))).is_err());
    }

    #[test]
    fn refusals_name_the_hint_and_other_errors_pass_through() {
        let hint = QueryHint::of(&tuning(json!("idx_gone"))).unwrap().unwrap();
        let refused = hint.explain(TargetError::query("bad hint (BadValue)"));
        assert!(refused.to_string().contains("\"idx_gone\""), "{refused}");
        let timeout = TargetError::Timeout {
            after: std::time::Duration::from_secs(1),
        };
        assert_eq!(hint.explain(timeout.clone()), timeout);
    }
}
