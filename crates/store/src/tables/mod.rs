//! The store's queries, one file per table (a folder for runs, the table
//! with a lifecycle), written once for every backend (see [`crate::sql`] for
//! what a backend supplies). Each write that belongs together runs in one
//! transaction begun with the backend's `Dialect::BEGIN_WRITE`.

pub(crate) mod alerts;
pub(crate) mod leases;
pub(crate) mod metrics;
pub(crate) mod reports;
pub(crate) mod retention;
pub(crate) mod rule_versions;
pub(crate) mod rules;
pub(crate) mod runs;
pub(crate) mod violations;
pub(crate) mod workers;

use crate::sql::Statement;

/// An insert built, its values checked, before its transaction begins; the
/// rule id, read inside the transaction, is its last placeholder.
pub(crate) struct AwaitingRuleId {
    statement: Statement,
    /// A rule id the row brings itself, bound instead.
    own: Option<i64>,
}

impl AwaitingRuleId {
    pub(crate) fn new(statement: Statement, own: Option<i64>) -> Self {
        AwaitingRuleId { statement, own }
    }

    pub(crate) fn with_rule_id(self, rule_id: i64) -> Statement {
        self.statement.arg(self.own.unwrap_or(rule_id))
    }

    /// A run's row: its rule's id, then the rule's version.
    pub(crate) fn with_rule(self, rule: RuleRef) -> Statement {
        self.statement
            .arg(self.own.unwrap_or(rule.id))
            .arg(i64::from(rule.version))
    }
}

/// What a run's write needs of its rule, read inside its transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuleRef {
    pub(crate) id: i64,
    pub(crate) version: u32,
    /// In shadow: its violations raise no alert.
    pub(crate) shadow: bool,
}
