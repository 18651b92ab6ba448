//! A real SMTP server for the tests: aiosmtpd (Python), started on a free
//! loopback port, writing every message it accepts into a Maildir.
//! `scripts/services.sh smtpd` installs it into target/test-venv; set
//! DQ_TEST_SMTPD_PYTHON to use another interpreter that has it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpServer {
    pub port: u16,
    child: Child,
    maildir: tempfile::TempDir,
}

fn python() -> PathBuf {
    if let Ok(python) = std::env::var("DQ_TEST_SMTPD_PYTHON") {
        return PathBuf::from(python);
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    workspace.join("target/test-venv/bin/python")
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let python = python();
        assert!(
            python.exists(),
            "no aiosmtpd at {}: run scripts/services.sh smtpd (or set DQ_TEST_SMTPD_PYTHON)",
            python.display()
        );
        let maildir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let server = SmtpServer {
            port,
            child,
            maildir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    /// Every message received so far, as raw RFC 5322 text.
    pub fn messages(&self) -> Vec<String> {
        let new = self.maildir.path().join("mail/new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return Vec::new();
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} mail(s) after {within:?}, expected {n}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
