//! `dq init`: a commented dq.toml and an example manifest that load as
//! written; passwords never written, existing files never overwritten
//! without --force. (That `dq serve` + `dq doctor` pass on the result is
//! tests/doctor.rs.)

mod common;

use common::Scratch;

#[test]
fn the_embedded_default_loads_and_runs() {
    let scratch = Scratch::new();
    let init = scratch.dq(&["init"]);
    init.assert_code(0);
    assert!(init.stdout.contains("dq.toml"), "{}", init.stdout);
    for file in ["dq.toml", "manifests/example.yaml", "data/example.db"] {
        assert!(scratch.file(file).is_file(), "{file} missing");
    }
    let config = std::fs::read_to_string(scratch.file("dq.toml")).unwrap();
    assert!(config.contains("store = \"sqlite://dq.db\""), "{config}");
    assert!(config.contains("url = \"memory://\""), "{config}");
    assert!(
        config.lines().filter(|l| l.starts_with('#')).count() > 10,
        "commented"
    );

    let dry = scratch.dq(&["load", "manifests/example.yaml", "--dry-run"]);
    dry.assert_code(0);
    assert!(dry.stdout.contains("4 to create"), "{}", dry.stdout);
    scratch
        .dq(&["load", "manifests/example.yaml"])
        .assert_code(0);
    // The example database makes every example rule pass.
    let run = scratch.dq(&["run", "--all"]);
    run.assert_code(0);
    assert!(
        !run.stdout.contains("FAILED") && !run.stdout.contains("ERROR"),
        "{}",
        run.stdout
    );
}

#[test]
fn existing_files_are_kept_unless_forced() {
    let scratch = Scratch::new();
    scratch.dq(&["init"]).assert_code(0);
    scratch.write("dq.toml", "# mine\n");
    let again = scratch.dq(&["init"]);
    again.assert_code(1);
    assert!(
        again.stderr.contains("refusing to overwrite"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("dq.toml"), "{}", again.stderr);
    assert_eq!(
        std::fs::read_to_string(scratch.file("dq.toml")).unwrap(),
        "# mine\n"
    );

    scratch.dq(&["init", "--force"]).assert_code(0);
    let config = std::fs::read_to_string(scratch.file("dq.toml")).unwrap();
    assert!(config.contains("[targets.example]"), "{config}");

    // Another directory, created on the way.
    scratch
        .dq(&["init", "--dir", "envs/staging"])
        .assert_code(0);
    assert!(scratch
        .file("envs/staging/manifests/example.yaml")
        .is_file());
}

#[test]
fn passwords_become_environment_references() {
    let scratch = Scratch::new();
    let pg = common::postgres::server_url();
    // trust authentication: any password is accepted, none is needed.
    let with_password = pg.replacen("postgres://postgres@", "postgres://postgres:hunter2@", 1);
    assert_ne!(
        pg, with_password,
        "the test server URL has no user part: {pg}"
    );
    let init = scratch.dq(&[
        "init",
        "--store",
        "sqlite://store.db",
        "--broker",
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        "--target",
        &format!("warehouse={with_password}"),
    ]);
    init.assert_code(0);
    let config = std::fs::read_to_string(scratch.file("dq.toml")).unwrap();
    assert!(
        !config.contains("hunter2") && !config.contains("guest:guest"),
        "{config}"
    );
    assert!(
        config.contains("postgres://postgres:${DQ_WAREHOUSE_PASSWORD}@"),
        "{config}"
    );
    assert!(
        config.contains("amqp://guest:${DQ_BROKER_PASSWORD}@"),
        "{config}"
    );
    for variable in ["DQ_WAREHOUSE_PASSWORD", "DQ_BROKER_PASSWORD"] {
        assert!(init.stdout.contains(variable), "{}", init.stdout);
    }
    assert!(!init.stdout.contains("hunter2"), "{}", init.stdout);
    let manifest = std::fs::read_to_string(scratch.file("manifests/example.yaml")).unwrap();
    assert!(manifest.contains("target: warehouse"), "{manifest}");

    // Unset, the reference is an error naming the variable ...
    let unset = scratch.dq(&["load", "manifests/example.yaml", "--dry-run"]);
    unset.assert_code(2);
    assert!(
        unset.stderr.contains("DQ_WAREHOUSE_PASSWORD"),
        "{}",
        unset.stderr
    );
    // ... set, the configuration loads and the target answers.
    let with_env = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dq"))
            .args(args)
            .current_dir(scratch.path())
            .env_remove("DQ_CONFIG")
            .env("DQ_WAREHOUSE_PASSWORD", "hunter2")
            .env("DQ_BROKER_PASSWORD", "guest")
            .output()
            .expect("run dq")
    };
    let dry = with_env(&["load", "manifests/example.yaml", "--dry-run"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    // Doctor would declare queues on the shared RabbitMQ: not under test here.
    let config = config.replace(
        "url = \"amqp://guest:${DQ_BROKER_PASSWORD}@127.0.0.1:5672/%2f\"",
        "url = \"memory://\"",
    );
    assert!(config.contains("url = \"memory://\""), "{config}");
    scratch.write("dq.toml", &config);
    let doctor = with_env(&["doctor"]);
    let text = String::from_utf8_lossy(&doctor.stdout);
    let target = text
        .lines()
        .find(|l| l.contains("target warehouse"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        target.starts_with("OK") && target.contains("PostgreSQL"),
        "{target}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}
