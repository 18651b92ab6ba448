//! A redis-server of the test's own, on a free port, persisting to a temp
//! directory with the settings crates/broker/README.md says the no-loss
//! promise depends on (append-only file fsynced on every write, no
//! eviction). A test may SIGKILL it and start it again on the same port and
//! directory; the shared Redis is never touched. Killed when dropped.
//!
//! Not in `common/mod.rs`: a test takes it with
//! `#[path = "common/private_redis.rs"] mod private_redis;` (the CLI's
//! end-to-end tests with `#[path = "../../broker/tests/common/..."]`).

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PrivateRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateRedis {
    pub fn start() -> PrivateRedis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut server = PrivateRedis {
            port,
            dir: tempfile::tempdir().expect("tempdir for redis-server"),
            child: None,
        };
        server.launch();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts the server (again) on its port and directory, and waits until
    /// it accepts connections. Replaying the append-only file may still be
    /// going on: clients get LOADING meanwhile, which they retry.
    pub fn launch(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        self.child = Some(spawn_redis(self.port, self.dir.path()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(Some(status)) = self.child.as_mut().map(|c| c.try_wait().ok().flatten()) {
                panic!(
                    "redis-server on port {} exited at start ({status}); is the port taken?",
                    self.port
                );
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on port {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no shutdown, no final save; only what was fsynced survives.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn_redis(port: u16, dir: &Path) -> Child {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        // No snapshots: what survives a kill is the append-only file alone.
        .args([
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ])
        .args(["--maxmemory-policy", "noeviction"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start redis-server (is it on PATH?): {e}"))
}
