//! The data directory across a restart, checked once after the main run
//! (the soak's own server keeps everything in memory, `--data none`): a
//! second server on a fresh directory gets a registered name and three
//! room messages, is stopped with SIGTERM and started again on the same
//! directory; then a wrong password is refused, the right one signs in,
//! and `/join` replays exactly those three messages, oldest first.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chinwag_bench_lib::own_server::{Launch, OwnServer};
use common::{ErrorCode, HistoryKind, OkReply, ServerLine};

use crate::wire::{Incoming, Wire};

/// How long any one step may take.
const STEP: Duration = Duration::from_secs(10);
const NAME: &str = "Keeper";
const PASSWORD: &str = "pw.keeper.restart";
const ROOM: &str = "Attic";
/// What is said in the room before the restart.
const SAID: [&str; 3] = ["first, before the restart", "  second  ", "third: ✓ 日本"];

/// Runs the check; `Err` says what went wrong.
pub(crate) fn check() -> Result<(), String> {
    let dir = tempfile::Builder::new()
        .prefix("chinwag-soak-")
        .tempdir()
        .map_err(|e| format!("cannot make a data directory: {e}"))?;
    let data = dir.path().display().to_string();
    let mut server = start(&data)?;
    let mut keeper = Client::connect(server.addr())?;
    keeper.send(&format!(
        "{NAME}\r\n/register {PASSWORD}\r\n/join {ROOM}\r\n"
    ))?;
    keeper.expect(
        |line| matches!(line, ServerLine::Welcome(n) if **n == *NAME),
        "WELCOME",
    )?;
    keeper.expect_ok(|ok| matches!(ok, OkReply::Register(name) if **name == *NAME))?;
    keeper.expect_ok(|ok| matches!(ok, OkReply::Join(..)))?;
    for text in SAID {
        keeper.send(&format!("{text}\r\n"))?;
    }
    keeper.send("/quit\r\n")?;
    keeper.expect(|line| matches!(line, ServerLine::Bye(..)), "BYE")?;
    stop(&mut server, "the first start")?;

    let mut server = start(&data)?;
    let mut back = Client::connect(server.addr())?;
    back.send(&format!("{NAME}\r\nwrong.password\r\n"))?;
    back.expect(
        |line| matches!(line, ServerLine::Password(n) if **n == *NAME),
        "PASSWORD",
    )?;
    back.expect(
        |line| matches!(line, ServerLine::Err(ErrorCode::BadPassword, _)),
        "ERR bad-password",
    )?;
    back.send(&format!(
        "{NAME}\r\n{PASSWORD}\r\n/join {}\r\n",
        ROOM.to_lowercase()
    ))?;
    back.expect(
        |line| matches!(line, ServerLine::Password(n) if **n == *NAME),
        "PASSWORD",
    )?;
    back.expect(
        |line| matches!(line, ServerLine::Welcome(n) if **n == *NAME),
        "WELCOME",
    )?;
    for text in SAID {
        back.expect(
            |line| {
                matches!(line, ServerLine::History(h) if *h.from == *NAME
                    && *h.text == *text && h.kind == HistoryKind::Msg)
            },
            &format!("HISTORY … {NAME} {text}"),
        )?;
    }
    back.expect_ok(|ok| matches!(ok, OkReply::Join(_, 1)))?;
    back.send("/quit\r\n")?;
    back.expect(|line| matches!(line, ServerLine::Bye(..)), "BYE")?;
    stop(&mut server, "the restart")
}

fn start(data: &str) -> Result<OwnServer, String> {
    OwnServer::start(&Launch {
        flags: vec!["--data".to_owned(), data.to_owned()],
        env: vec![("RUST_LOG", "error".to_owned())],
        scan_stderr: true,
        start_timeout: STEP,
        stop_timeout: Duration::from_secs(5),
    })
    .map_err(|e| format!("cannot start a server on {data}: {e:#}"))
}

fn stop(server: &mut OwnServer, which: &str) -> Result<(), String> {
    let stopped = server.stop();
    let errors = stopped.stderr.map_or(0, |log| log.n_errors);
    match stopped.status {
        Some(status) if status.success() && errors == 0 => Ok(()),
        status => Err(format!(
            "the server of {which} ended {status:?} with {errors} ERROR lines"
        )),
    }
}

/// One connection, read line by line; prose and the echo offer skipped.
struct Client {
    wire: Wire,
    seen: Vec<String>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Result<Client, String> {
        let wire = Wire::connect(addr).map_err(|e| format!("connect: {e}"))?;
        Ok(Client {
            wire,
            seen: Vec::new(),
        })
    }

    fn send(&mut self, text: &str) -> Result<(), String> {
        self.wire
            .send(text.as_bytes())
            .map_err(|e| format!("send: {e}"))
    }

    /// Reads until a line that is not `HELLO` or `INFO`; it must pass `test`.
    fn expect(&mut self, test: impl Fn(&ServerLine) -> bool, what: &str) -> Result<(), String> {
        let until = Instant::now() + STEP;
        loop {
            let text = match self.wire.next(until) {
                Some(Incoming::Line(text)) => text,
                Some(Incoming::Telnet(_)) => continue,
                other => {
                    return Err(format!(
                        "expected {what}, got {other:?} after {:?}",
                        self.seen
                    ));
                }
            };
            self.seen.push(text.clone());
            let line = ServerLine::parse(&text).map_err(|e| format!("{e}: {text:?}"))?;
            match line {
                ServerLine::Hello(_) | ServerLine::Info(_) => {}
                line if test(&line) => return Ok(()),
                _ => {
                    return Err(format!(
                        "expected {what}, got {text:?} after {:?}",
                        self.seen
                    ));
                }
            }
        }
    }

    fn expect_ok(&mut self, test: impl Fn(&OkReply) -> bool) -> Result<(), String> {
        self.expect(
            |line| matches!(line, ServerLine::Ok(ok) if test(ok)),
            "an OK",
        )
    }
}
