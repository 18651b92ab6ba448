//! Runs the built `dq` binary in a scratch directory.

#![allow(dead_code)]

pub mod postgres;
pub mod redis;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Scratch {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.file(name);
        std::fs::write(&path, text).expect("write file");
        path
    }

    /// `dq ARGS` with the scratch dir as working directory and no inherited config.
    /// Loads (from `dq.toml`) one rule `name` on target `pg` whose check
    /// sleeps `seconds` in PostgreSQL: a check that is still running when a
    /// fault test strikes.
    pub fn load_sleeping_rule(&self, name: &str, seconds: u32) {
        self.write(
            "rules.yaml",
            &format!(
                "version: 1\nrules:\n  - name: {name}\n    target: pg\n    dataset: pg_class\n    \
                 check: custom_sql\n    mode: scalar\n    sql: SELECT 1 FROM pg_sleep({seconds})\n    \
                 min: 1\n    timeout: 60s\n"
            ),
        );
        self.dq(&["--config", "dq.toml", "load", "rules.yaml"])
            .assert_code(0);
    }

    pub fn dq(&self, args: &[&str]) -> Run {
        let output: Output = Command::new(env!("CARGO_BIN_EXE_dq"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("DQ_CONFIG")
            .env_remove("DQ_LOG")
            .output()
            .expect("run dq");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Builds the demo shop in `demo/` and writes `dq.toml` with an empty
    /// store of its own and the target `shop` on the demo data; returns its path.
    pub fn demo(&self) -> String {
        let run = self.dq(&["demo", "--dir", "demo"]);
        assert_eq!(run.code, 0, "demo failed: {}\n{}", run.stdout, run.stderr);
        self.write(
            "dq.toml",
            "store = \"sqlite://store.db\"\n[targets.shop]\nurl = \"sqlite://demo/shop.db\"\n",
        )
        .display()
        .to_string()
    }
}

impl Run {
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}
