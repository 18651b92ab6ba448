mod common;

use common::Scratch;

#[test]
fn demo_runs_every_rule_and_shows_each_status() {
    let scratch = Scratch::new();
    let run = scratch.dq(&["demo", "--dir", "demo"]);
    run.assert_code(0);
    let out = &run.stdout;
    for status in ["PASSED", "WARNED", "FAILED", "ERROR", "TIMEOUT"] {
        assert!(out.contains(status), "no {status} in demo output:\n{out}");
    }
    // Seeded problems come out with the numbers that were seeded.
    for expected in [
        "null_rate 0.6% > 0.5%",   // 12 NULL customer ids in 2,000 orders: a warning
        "out_of_range 3 > 0",      // 3 negative amounts
        "unexpected_values 5 > 0", // 5 'unknown' statuses
        "duplicate_count 4 > 0",   // 2 emails used twice
        "failing_rows 4 > 0",      // 4 orders without a customer record
        "mismatched 2 > 0",        // 2 references that are not UUIDs
        "bad_length 2 > 0",        // FRA, Germany
        "timed out after 1s",      // the runaway query, stopped on the target
        "read-only",               // the check that tries to DELETE
    ] {
        assert!(
            out.contains(expected),
            "missing {expected:?} in demo output:\n{out}"
        );
    }
    assert!(out.contains("failing rows"), "no sample rows shown:\n{out}");

    // Everything was stored: one run per rule, and the dataset is untouched.
    let config = scratch.file("demo/dq.toml").display().to_string();
    let runs = scratch.dq(&[
        "--config", &config, "export", "runs", "-", "--format", "ndjson",
    ]);
    runs.assert_code(0);
    let rules = scratch.dq(&[
        "--config", &config, "export", "rules", "-", "--format", "ndjson",
    ]);
    assert_eq!(runs.stdout.lines().count(), rules.stdout.lines().count());
    assert_eq!(rules.stdout.lines().count(), 19);

    // The demo can run again in the same place.
    scratch.dq(&["demo", "--dir", "demo"]).assert_code(0);
}
