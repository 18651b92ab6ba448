//! The runbook's rule lifecycle with `dq` commands alone: add a rule in
//! shadow and watch it, promote it, update it with a backup, roll back a
//! regression, retire it; and the listing filters of the memory diagnosis.

mod common;

use common::{Run, Scratch};
use serde_json::Value;

const RULES: &str = r#"version: 1
defaults:
  target: shop
  owner: data-eng
rules:
  - name: orders_ids
    dataset: orders
    check: null_count
    column: customer_id
    max: 0
    severity: HIGH
  - name: orders_volume
    dataset: orders
    check: row_count
    min: 1
    use_sampling: true
    sample_size: 1000
  - name: customers_emails
    dataset: customers
    check: null_count
    column: email
    max: 0
"#;

struct Env {
    scratch: Scratch,
}

impl Env {
    fn new() -> Env {
        let scratch = Scratch::new();
        scratch.demo();
        scratch.write("rules.yaml", RULES);
        Env { scratch }
    }

    /// `dq --config dq.toml ARGS`, as the person `actor`.
    fn dq_as(&self, actor: &str, args: &[&str]) -> Run {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_dq"))
            .args(["--config", "dq.toml"])
            .args(args)
            .current_dir(self.scratch.path())
            .env_remove("DQ_CONFIG")
            .env_remove("DQ_LOG")
            .env("DQ_ACTOR", actor)
            .output()
            .expect("run dq");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn dq(&self, args: &[&str]) -> Run {
        self.dq_as("ana", args)
    }

    fn json(&self, args: &[&str]) -> Value {
        let run = self.dq(args);
        run.assert_code(0);
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
    }

    fn names(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["rules", "list", "--format", "json"];
        all.extend_from_slice(args);
        self.json(&all)
            .as_array()
            .expect("a list")
            .iter()
            .map(|r| r["name"].as_str().expect("name").to_string())
            .collect()
    }

    fn state(&self, name: &str) -> String {
        self.json(&["rules", "show", name, "--format", "json"])["state"]
            .as_str()
            .expect("state")
            .to_string()
    }
}

#[test]
fn a_new_rule_is_watched_in_shadow_then_promoted() {
    let env = Env::new();
    env.dq(&["load", "rules.yaml", "--shadow"]).assert_code(0);
    assert_eq!(env.state("orders_ids"), "shadow");
    assert_eq!(env.names(&["--shadow"]).len(), 3);
    // It runs and records like any rule (the demo data has NULL customer ids).
    let run = env.dq(&["run", "--rule-name", "orders_ids"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let open = env.dq(&["violations", "--rule", "orders_ids"]);
    assert!(open.stdout.contains("orders_ids"), "{}", open.stdout);

    env.dq(&["rules", "promote", "orders_ids"]).assert_code(0);
    assert_eq!(env.state("orders_ids"), "enabled");
    let history = env.dq(&["rules", "history", "orders_ids"]);
    history.assert_code(0);
    assert!(
        history.stdout.contains("v2") && history.stdout.contains("promoted"),
        "{}",
        history.stdout
    );
    assert!(
        history.stdout.contains("-     shadow: true"),
        "{}",
        history.stdout
    );

    // Loaded disabled: nothing runs until it is enabled.
    env.scratch.write(
        "more.yaml",
        "version: 1\nrules:\n  - name: later\n    target: shop\n    dataset: orders\n    check: not_empty\n",
    );
    env.dq(&["load", "more.yaml", "--disabled"]).assert_code(0);
    assert_eq!(env.state("later"), "disabled");
    env.dq(&["rules", "enable", "later"]).assert_code(0);
    assert_eq!(env.state("later"), "enabled");
}

#[test]
fn an_update_with_a_backup_is_rolled_back_after_a_regression() {
    let env = Env::new();
    env.dq_as("ana", &["load", "rules.yaml"]).assert_code(0);
    env.dq(&["export", "manifest", "backup.yaml"])
        .assert_code(0);
    let loosened = RULES.replace(
        "    max: 0\n    severity: HIGH",
        "    max: 100\n    severity: LOW",
    );
    env.scratch.write("rules.yaml", &loosened);
    env.dq_as("bob", &["load", "rules.yaml"]).assert_code(0);
    let run = env.dq(&["run", "--rule-name", "orders_ids"]);
    assert_eq!(run.code, 0, "the loosened rule passes: {}", run.stdout);

    let history = env.dq(&["rules", "history", "orders_ids"]);
    history.assert_code(0);
    for line in [
        "bob  changed by a load of",
        "-     max: 0",
        "+     max: 100",
        "-     severity: HIGH",
        "+     severity: LOW",
    ] {
        assert!(history.stdout.contains(line), "{line}:\n{}", history.stdout);
    }
    let rolled = env.dq_as("carol", &["rules", "rollback", "orders_ids", "--to", "1"]);
    rolled.assert_code(0);
    assert!(rolled.stdout.contains("now v3"), "{}", rolled.stdout);
    let versions = env.json(&["rules", "history", "orders_ids", "--format", "json"]);
    let last = versions
        .as_array()
        .expect("versions")
        .last()
        .expect("v3")
        .clone();
    assert_eq!(last["changed_by"], "carol");
    assert_eq!(last["change"], "rolled back to v1");
    let shown = env.json(&["rules", "show", "orders_ids", "--format", "json"]);
    assert_eq!(shown["definition"]["severity"], "HIGH");
    assert_eq!(shown["definition"]["max"], 0);
    // The run made under v2 says so.
    assert_eq!(shown["last_runs"][0]["rule_version"], 2);
    env.dq(&["rules", "rollback", "orders_ids", "--to", "9"])
        .assert_code(2);
    // The backup loads back as it was taken.
    env.dq(&["load", "backup.yaml", "--dry-run"]).assert_code(0);
}

#[test]
fn a_rule_is_retired_with_or_without_its_history() {
    let env = Env::new();
    env.dq(&["load", "rules.yaml"]).assert_code(0);
    env.dq(&[
        "run",
        "--rule-name",
        "orders_ids",
        "--rule-name",
        "customers_emails",
    ]);

    // Refused while enabled.
    let refused = env.dq(&["rules", "delete", "orders_ids", "--keep-history"]);
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("enabled"), "{}", refused.stderr);

    env.dq(&["rules", "disable", "orders_ids"]).assert_code(0);
    env.dq(&["rules", "delete", "orders_ids", "--keep-history"])
        .assert_code(0);
    assert!(!env.names(&[]).contains(&"orders_ids".to_string()));
    assert!(env
        .names(&["--deleted"])
        .contains(&"orders_ids".to_string()));
    let runs = env.dq(&[
        "export",
        "runs",
        "-",
        "--format",
        "ndjson",
        "--rule-name",
        "orders_ids",
    ]);
    assert_eq!(runs.stdout.lines().count(), 1, "its history stays");

    // Without --keep-history everything of the rule goes, archived first.
    env.dq(&[
        "rules",
        "delete",
        "customers_emails",
        "--force",
        "--archive",
        "gone.ndjson",
    ])
    .assert_code(0);
    let archive = std::fs::read_to_string(env.scratch.file("gone.ndjson")).expect("archive");
    let tables: Vec<String> = archive
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("ndjson")["table"].to_string())
        .collect();
    for table in [
        "\"runs\"",
        "\"violations\"",
        "\"rules\"",
        "\"rule_versions\"",
    ] {
        assert!(tables.iter().any(|t| t == table), "{table}: {tables:?}");
    }
    assert!(!env
        .names(&["--deleted"])
        .contains(&"customers_emails".to_string()));
    let runs = env.dq(&[
        "export",
        "runs",
        "-",
        "--format",
        "ndjson",
        "--rule-name",
        "customers_emails",
    ]);
    assert_eq!(runs.stdout.trim(), "");

    // Loading the retired name again brings it back.
    env.dq(&["load", "rules.yaml"]).assert_code(0);
    assert_eq!(env.state("orders_ids"), "enabled");
}

#[test]
fn listing_filters_find_the_memory_hungry_rules() {
    let env = Env::new();
    env.dq(&["load", "rules.yaml"]).assert_code(0);
    let mut whole_tables = env.names(&["--no-sampling"]);
    whole_tables.sort();
    assert_eq!(whole_tables, ["customers_emails", "orders_ids"]);
    assert_eq!(env.names(&["--min-sample-size", "500"]).len(), 3);
    assert_eq!(
        env.names(&["--min-sample-size", "5000", "--dataset", "orders"]),
        ["orders_ids"]
    );
    assert_eq!(env.names(&["--severity", "HIGH"]), ["orders_ids"]);
    assert_eq!(
        env.names(&["--owner", "data-eng", "--queue", "dq_database"])
            .len(),
        3
    );
    env.dq(&["rules", "disable", "orders_volume"])
        .assert_code(0);
    assert_eq!(env.names(&["--disabled"]), ["orders_volume"]);
    assert_eq!(env.names(&["--enabled"]).len(), 2);
    let text = env.dq(&["rules", "list", "--target", "shop"]);
    assert!(text.stdout.contains("3 rule(s)"), "{}", text.stdout);
}

#[test]
fn tuning_parameters_a_target_ignores_are_reported_at_load() {
    let env = Env::new();
    env.scratch.write(
        "tuned.yaml",
        "version: 1\nrules:\n  - name: tuned\n    target: shop\n    dataset: orders\n    \
         check: not_empty\n    parameters:\n      parallel_degree: 4\n      team: payments\n",
    );
    let load = env.dq(&["load", "tuned.yaml"]);
    load.assert_code(0);
    assert!(
        load.stderr.contains(
            "note: rule \"tuned\": parameters.parallel_degree is ignored on target shop (SQLite has no parallel query)"
        ),
        "{}",
        load.stderr
    );
    env.scratch.write(
        "bad.yaml",
        "version: 1\nrules:\n  - name: bad\n    target: shop\n    dataset: orders\n    \
         check: not_empty\n    parameters:\n      parallel_degree: lots\n",
    );
    let refused = env.dq(&["load", "bad.yaml"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("bad.yaml:7: rule \"bad\": parameters: parallel_degree:"),
        "{}",
        refused.stderr
    );
}
