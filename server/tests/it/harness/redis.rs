//! A private `redis-server` for cluster tests: a free loopback port, a
//! temporary directory, no persistence unless asked, stopped (and its
//! directory removed) when the handle drops. It can be restarted on the
//! same port, paused with SIGSTOP and resumed, as the cluster tests need.

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::LINE_TIMEOUT;

/// One `redis-server` child.
pub(crate) struct Redis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Redis {
    /// Starts `redis-server` on a free loopback port. Panics if it is not
    /// installed (`.ci/run` installs it; `apt-get install redis-server`).
    pub(crate) fn start() -> Redis {
        // A port just freed can be taken by someone else before Redis
        // binds it: try a few.
        for _ in 0..5 {
            let mut redis = Redis {
                child: None,
                port: free_port(),
                dir: tempfile::tempdir().expect("temporary directory for redis"),
            };
            if redis.spawn() {
                return redis;
            }
        }
        panic!("redis-server did not start on any of five free ports");
    }

    /// Starts the child on `self.port`; true once it answers `PING`.
    fn spawn(&mut self) -> bool {
        let spawned = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => panic!(
                "cannot run redis-server ({error}); install it: sudo apt-get install redis-server"
            ),
        };
        // Its log goes to a pipe nobody else reads: drain it, or Redis
        // blocks once the pipe is full.
        if let Some(stdout) = child.stdout.take() {
            thread::spawn(move || for _ in BufReader::new(stdout).lines() {});
        }
        self.child = Some(child);
        let deadline = Instant::now() + LINE_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return false;
            }
            if self.ping() {
                return true;
            }
            // Nothing to wait on for a child to start listening but the
            // port itself; the deadline decides.
            thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// The URL nodes join with.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Whether Redis answers `PING` now.
    pub(crate) fn ping(&self) -> bool {
        self.command(&["PING"])
            .is_some_and(|reply| reply.starts_with("+PONG"))
    }

    /// Sends one command and returns the first line of the reply, or `None`
    /// when Redis does not answer within a second.
    pub(crate) fn command(&self, words: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        let mut request = format!("*{}\r\n", words.len());
        for word in words {
            request.push_str(&format!("${}\r\n{word}\r\n", word.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while !reply.ends_with(b"\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => reply.push(byte[0]),
                _ => return None,
            }
        }
        Some(String::from_utf8_lossy(&reply).trim_end().to_owned())
    }

    /// Kills Redis (every key is lost: it keeps nothing on disk) and
    /// starts it again on the same port.
    pub(crate) fn restart(&mut self) {
        self.stop();
        assert!(
            self.spawn(),
            "redis-server did not start again on port {}",
            self.port
        );
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes Redis (SIGSTOP): connections stay open and nothing answers.
    pub(crate) fn pause(&self) {
        self.signal("STOP");
    }

    /// Thaws a paused Redis (SIGCONT).
    pub(crate) fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("redis-server running").id();
        let status = Command::new("kill")
            .args(["-s", name, &pid.to_string()])
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "kill -s {name} redis: {status:?}"
        );
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if self.child.is_some() {
            // A paused Redis must be thawed to die cleanly.
            let _ = Command::new("kill")
                .args([
                    "-s",
                    "CONT",
                    &self.child.as_ref().map_or(0, Child::id).to_string(),
                ])
                .status();
        }
        self.stop();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}
