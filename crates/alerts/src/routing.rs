//! Which channels hear about a rule's violation: by severity, unless a
//! route for the rule's tag, owner or name says otherwise (the first
//! matching route wins). A route's name is part of the batch key, so the
//! payments team's alerts are batched apart from everyone else's.

use std::collections::BTreeMap;

use dq_core::{Rule, Severity};

/// Default: INFO/LOW -> Slack; MEDIUM -> email + Slack; HIGH/CRITICAL ->
/// email + Slack + PagerDuty.
pub const DEFAULT_ROUTES: [(Severity, &[&str]); 5] = [
    (Severity::Info, &["slack"]),
    (Severity::Low, &["slack"]),
    (Severity::Medium, &["email", "slack"]),
    (Severity::High, &["email", "slack", "pagerduty"]),
    (Severity::Critical, &["email", "slack", "pagerduty"]),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOverride {
    pub name: String,
    pub tag: Option<String>,
    pub owner: Option<String>,
    pub rule: Option<String>,
    /// Severities absent here fall through to the default routes.
    pub channels: BTreeMap<Severity, Vec<String>>,
}

impl RouteOverride {
    /// Every condition given holds.
    fn matches(&self, rule: &Rule) -> bool {
        self.tag.as_deref().is_none_or(|t| rule.has_tag(t))
            && self
                .owner
                .as_deref()
                .is_none_or(|o| rule.owner.as_deref() == Some(o))
            && self.rule.as_deref().is_none_or(|r| rule.name.as_str() == r)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routes {
    pub defaults: BTreeMap<Severity, Vec<String>>,
    pub overrides: Vec<RouteOverride>,
}

/// Where one violation goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `default`, or the override's name.
    pub name: String,
    pub channels: Vec<String>,
}

impl Routes {
    pub fn builtin_defaults() -> BTreeMap<Severity, Vec<String>> {
        DEFAULT_ROUTES
            .iter()
            .map(|(s, c)| (*s, c.iter().map(|c| c.to_string()).collect()))
            .collect()
    }

    pub fn route(&self, rule: &Rule, severity: Severity) -> Route {
        for route in &self.overrides {
            if route.matches(rule) {
                if let Some(channels) = route.channels.get(&severity) {
                    return Route {
                        name: route.name.clone(),
                        channels: channels.clone(),
                    };
                }
            }
        }
        Route {
            name: "default".to_string(),
            channels: self.defaults.get(&severity).cloned().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::rule;

    #[test]
    fn severity_defaults_and_overrides_by_tag_owner_and_rule() {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let routes = Routes {
            defaults: Routes::builtin_defaults(),
            overrides: vec![
                RouteOverride {
                    name: "payments".into(),
                    tag: Some("payments".into()),
                    owner: None,
                    rule: None,
                    channels: [
                        (Severity::Low, strings(&["payments_slack"])),
                        (
                            Severity::Critical,
                            strings(&["payments_slack", "pagerduty"]),
                        ),
                    ]
                    .into(),
                },
                RouteOverride {
                    name: "finance".into(),
                    tag: None,
                    owner: Some("finance".into()),
                    rule: Some("ledger_balanced".into()),
                    channels: [(Severity::High, strings(&["webhook"]))].into(),
                },
            ],
        };
        let plain = rule("orders_fresh", &[], None);
        let payments = rule("charges_nulls", &["payments"], None);
        let ledger = rule("ledger_balanced", &[], Some("finance"));
        let other_finance = rule("ledger_other", &[], Some("finance"));
        let cases: Vec<(&Rule, Severity, &str, &[&str])> = vec![
            (&plain, Severity::Info, "default", &["slack"]),
            (&plain, Severity::Low, "default", &["slack"]),
            (&plain, Severity::Medium, "default", &["email", "slack"]),
            (
                &plain,
                Severity::High,
                "default",
                &["email", "slack", "pagerduty"],
            ),
            (
                &plain,
                Severity::Critical,
                "default",
                &["email", "slack", "pagerduty"],
            ),
            (&payments, Severity::Low, "payments", &["payments_slack"]),
            (
                &payments,
                Severity::Critical,
                "payments",
                &["payments_slack", "pagerduty"],
            ),
            // A severity the route does not name falls through to the default.
            (&payments, Severity::Medium, "default", &["email", "slack"]),
            (&ledger, Severity::High, "finance", &["webhook"]),
            (
                &other_finance,
                Severity::High,
                "default",
                &["email", "slack", "pagerduty"],
            ),
        ];
        for (rule, severity, name, channels) in cases {
            let route = routes.route(rule, severity);
            assert_eq!(
                (route.name.as_str(), route.channels),
                (name, strings(channels)),
                "{} {severity}",
                rule.name
            );
        }
    }
}
