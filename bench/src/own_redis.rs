//! A private `redis-server` for cluster runs (`--cluster N`): on a free
//! loopback port, in a fresh private directory, keeping nothing on disk
//! (`--save "" --appendonly no`), stopped and its directory removed at the
//! end, however the run ends.
//!
//! "However the run ends" is why Redis is not our child but our
//! grandchild: this very binary re-executed with the hidden subcommand
//! [`REDIS_GUARD`] starts it and then waits for its stdin, a pipe from
//! us, to close. It closes when we stop the guard or when we die, even of
//! SIGKILL, and then the guard stops Redis and removes the directory. The
//! guard and Redis run in a process group of their own, so a Ctrl-C at
//! the terminal reaches us (and our chinwagd nodes, which shut down on
//! it) but not them: the guard outlives us long enough to clean up.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::own_server::signal;

/// The hidden subcommand both binaries answer by guarding a Redis.
pub const REDIS_GUARD: &str = "redis-guard";
/// How long Redis may take to answer `PING` after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long it may take to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Ports tried (a port just found free may be taken before Redis binds it).
const PORT_TRIES: usize = 5;
/// How long one command to Redis may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// What the guard prints once Redis answers: `redis on ADDR pid PID`.
const READY: &str = "redis on ";

/// A running private Redis, through its guard. Dropping it stops both
/// (and removes the directory), so an error on the way never leaves
/// either behind.
#[derive(Debug)]
pub struct OwnRedis {
    guard: Child,
    /// Closing this tells the guard to stop Redis.
    stdin: Option<ChildStdin>,
    addr: SocketAddr,
    pid: u32,
}

impl OwnRedis {
    /// Starts the guard, which starts Redis, and waits until Redis answers.
    ///
    /// # Errors
    ///
    /// `redis-server` is not installed or did not answer on any of a few
    /// free ports in time.
    pub fn start() -> anyhow::Result<OwnRedis> {
        let exe = std::env::current_exe().context("cannot find this program to guard Redis")?;
        let mut guard = Command::new(exe)
            .arg(REDIS_GUARD)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the Redis guard")?;
        let stdin = guard.stdin.take();
        let stdout = guard
            .stdout
            .take()
            .context("no stdout from the Redis guard")?;
        let (sender, receiver) = mpsc::channel();
        std::thread::Builder::new()
            .name("redis-guard-stdout".to_owned())
            .spawn(move || {
                let mut line = String::new();
                let _ = BufReader::new(stdout).read_line(&mut line);
                let _ = sender.send(line);
            })
            .context("cannot start a thread")?;
        let wait = START_TIMEOUT * PORT_TRIES as u32 + Duration::from_secs(5);
        let line = match receiver.recv_timeout(wait) {
            Ok(line) => line,
            Err(_) => {
                let _ = guard.kill();
                let _ = guard.wait();
                bail!("the private redis-server did not start within {wait:?}");
            }
        };
        let Some((addr, pid)) = parse_ready(&line) else {
            // The guard said why on stderr (ours) and exits, or is killed.
            let _ = guard.kill();
            let _ = guard.wait();
            bail!(
                "the private redis-server did not start (is redis-server installed? \
                 Debian, Ubuntu: sudo apt-get install redis-server)"
            );
        };
        Ok(OwnRedis {
            guard,
            stdin,
            addr,
            pid,
        })
    }

    /// The URL chinwagd nodes join with.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Where Redis listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `redis-server` process id (for its CPU time and memory).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `used_memory` from `INFO memory`: the bytes Redis's allocator holds
    /// for data and buffers.
    pub fn used_memory(&self) -> Option<u64> {
        let info = command(self.addr, &["INFO", "memory"]).ok()?;
        info_field(&info, "used_memory")?.parse().ok()
    }

    /// How many `XADD` and `XREAD` calls Redis has served so far.
    pub fn stream_calls(&self) -> Option<StreamCalls> {
        stream_calls(self.addr)
    }

    /// Stops Redis (the guard sends it SIGTERM, then SIGKILL) and removes
    /// its directory; true if the guard finished in time.
    pub fn stop(mut self) -> bool {
        self.shut()
    }

    fn shut(&mut self) -> bool {
        let Some(stdin) = self.stdin.take() else {
            return true;
        };
        drop(stdin);
        let started = Instant::now();
        while started.elapsed() < STOP_TIMEOUT + Duration::from_secs(2) {
            if let Ok(Some(_)) = self.guard.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The guard is stuck: end both ourselves (the directory stays).
        signal(self.pid, "KILL");
        let _ = self.guard.kill();
        let _ = self.guard.wait();
        false
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.shut();
    }
}

/// Calls to the stream commands a cluster uses, from `INFO commandstats`:
/// each node's writer appends with `XADD`, each node's applier reads
/// with (blocking) `XREAD`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCalls {
    /// `XADD` calls.
    pub xadd: u64,
    /// Microseconds Redis spent in them.
    pub xadd_usec: u64,
    /// `XREAD` calls.
    pub xread: u64,
}

impl StreamCalls {
    /// The calls between `before` and `self`.
    pub fn since(self, before: StreamCalls) -> StreamCalls {
        StreamCalls {
            xadd: self.xadd.saturating_sub(before.xadd),
            xadd_usec: self.xadd_usec.saturating_sub(before.xadd_usec),
            xread: self.xread.saturating_sub(before.xread),
        }
    }
}

/// [`StreamCalls`] of the Redis at `addr`.
pub fn stream_calls(addr: SocketAddr) -> Option<StreamCalls> {
    let info = command(addr, &["INFO", "commandstats"]).ok()?;
    // `cmdstat_xadd:calls=12,usec=34,usec_per_call=2.83,…`; absent until
    // the command was first called.
    let stat = |name: &str, key: &str| -> u64 {
        info_field(&info, &format!("cmdstat_{name}"))
            .and_then(|fields| {
                fields
                    .split(',')
                    .find_map(|field| field.strip_prefix(key)?.strip_prefix('='))
            })
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    Some(StreamCalls {
        xadd: stat("xadd", "calls"),
        xadd_usec: stat("xadd", "usec"),
        xread: stat("xread", "calls"),
    })
}

/// `(addr, pid)` from the guard's `redis on ADDR pid PID` line.
fn parse_ready(line: &str) -> Option<(SocketAddr, u32)> {
    let rest = line.trim().strip_prefix(READY)?;
    let (addr, pid) = rest.split_once(" pid ")?;
    Some((addr.parse().ok()?, pid.parse().ok()?))
}

/// The value of `key` in an `INFO` reply (`key:value` lines).
fn info_field<'a>(info: &'a str, key: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// Sends one command to Redis at `addr` and returns its reply: the text
/// of a simple string, integer or bulk string. An error reply is an error.
///
/// # Errors
///
/// Redis did not answer within two seconds, answered an error, or with a
/// reply of another kind (an array).
pub fn command(addr: SocketAddr, words: &[&str]) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, COMMAND_TIMEOUT)
        .with_context(|| format!("cannot connect to Redis at {addr}"))?;
    stream.set_read_timeout(Some(COMMAND_TIMEOUT))?;
    stream.set_write_timeout(Some(COMMAND_TIMEOUT))?;
    let mut request = format!("*{}\r\n", words.len());
    for word in words {
        request.push_str(&format!("${}\r\n{word}\r\n", word.len()));
    }
    stream.write_all(request.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    reader.read_line(&mut head)?;
    let head = head.trim_end();
    match head.split_at_checked(1) {
        Some(("+" | ":", text)) => Ok(text.to_owned()),
        Some(("-", text)) => bail!("Redis answered {:?}: {text}", words.first()),
        Some(("$", len)) => {
            let len: usize = len.parse().context("bad bulk length from Redis")?;
            let mut body = vec![0; len + 2];
            reader.read_exact(&mut body)?;
            body.truncate(len);
            Ok(String::from_utf8_lossy(&body).into_owned())
        }
        _ => bail!("unexpected reply from Redis: {head:?}"),
    }
}

/// The guard itself (run as `chinwag-bench redis-guard`): makes a private
/// directory, starts Redis on a free port in it, prints `redis on ADDR pid
/// PID`, waits for stdin to close, stops Redis and removes the directory.
///
/// # Errors
///
/// No directory, or Redis did not start on any of a few ports.
pub fn guard() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("chinwag-redis-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .context("cannot make a directory for redis-server")?;
    let mut started = None;
    for _ in 0..PORT_TRIES {
        let port = free_port()?;
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(dir.path().join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context(
                "cannot run redis-server (Debian, Ubuntu: sudo apt-get install redis-server)",
            )?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if answers(&mut child, addr) {
            started = Some((child, addr));
            break;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    let Some((mut child, addr)) = started else {
        bail!("redis-server did not answer on any of {PORT_TRIES} free ports");
    };
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{READY}{addr} pid {}", child.id())?;
        stdout.flush()?;
    }
    // Until our parent closes the pipe: on purpose, or by dying.
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
    signal(child.id(), "TERM");
    let stopping = Instant::now();
    while stopping.elapsed() < STOP_TIMEOUT {
        if let Ok(Some(_)) = child.try_wait() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    // `dir` is removed as it drops.
    Ok(())
}

/// Waits until Redis answers `PING`; false if it exited or stayed silent.
fn answers(child: &mut Child, addr: SocketAddr) -> bool {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if command(addr, &["PING"]).is_ok_and(|reply| reply == "PONG") {
            return true;
        }
        // Nothing to wait on but the port itself; the deadline decides.
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ready_line_and_info_fields_read_back() {
        let (addr, pid) = parse_ready("redis on 127.0.0.1:6390 pid 4242\n").expect("parsed");
        assert_eq!(addr, SocketAddr::from(([127, 0, 0, 1], 6390)));
        assert_eq!(pid, 4242);
        assert_eq!(parse_ready("something else"), None);
        let info = "# Memory\r\nused_memory:1034592\r\nused_memory_human:1010.34K\r\n";
        assert_eq!(info_field(info, "used_memory"), Some("1034592"));
        assert_eq!(info_field(info, "used_memory_peak"), None);
        let stats = "# Commandstats\r\ncmdstat_xadd:calls=12,usec=34,usec_per_call=2.83,rejected_calls=0\r\n";
        assert_eq!(
            info_field(stats, "cmdstat_xadd"),
            Some("calls=12,usec=34,usec_per_call=2.83,rejected_calls=0")
        );
    }
}
