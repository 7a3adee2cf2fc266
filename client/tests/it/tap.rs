//! A relay between the client and the real server, on `127.0.0.1:0`: it
//! forwards every byte both ways unchanged, and it can (1) tell the test
//! exactly which lines the client sent, which no server shows, and (2)
//! cut the client's side of a connection while the server's side stays
//! open, which is what a dead network path looks like to the server (it
//! keeps the user, and their name, until keepalive gives up). The server
//! is still the real one; the relay is a cable the test can cut.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crossbeam_channel::{Receiver, Sender};

use crate::harness::TIMEOUT;

/// One relayed connection.
struct Relayed {
    client: TcpStream,
    upstream: TcpStream,
    /// Every byte the client sent.
    sent: Mutex<Vec<u8>>,
    /// The client's side was cut on purpose: do not pass its end on.
    cut: AtomicBool,
    /// Receives once the client→server direction has ended.
    client_done: Receiver<()>,
}

/// The relay; it stops accepting when dropped, and closes what it holds.
pub(crate) struct Tap {
    addr: SocketAddr,
    accepted: Receiver<Arc<Relayed>>,
    seen: Vec<Arc<Relayed>>,
    stop: Arc<AtomicBool>,
}

impl Tap {
    /// Relays every connection made to [`Tap::addr`] to `upstream`.
    pub(crate) fn start(upstream: SocketAddr) -> Tap {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the tap");
        let addr = listener.local_addr().expect("tap address");
        let (accepted_tx, accepted) = crossbeam_channel::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        thread::spawn(move || {
            for client in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(upstream) = TcpStream::connect(upstream) else {
                    // The server is down: the client sees its connection
                    // close, as it would without the tap.
                    continue;
                };
                if accepted_tx.send(relay(client, upstream)).is_err() {
                    return;
                }
            }
        });
        Tap {
            addr,
            accepted,
            seen: Vec::new(),
            stop,
        }
    }

    /// Where the client should connect.
    pub(crate) fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// The `n`th connection (from 0), waiting for it to be made.
    fn nth(&mut self, n: usize) -> Arc<Relayed> {
        while self.seen.len() <= n {
            match self.accepted.recv_timeout(TIMEOUT) {
                Ok(relayed) => self.seen.push(relayed),
                Err(_) => panic!("the client never made connection {n} through the tap"),
            }
        }
        Arc::clone(&self.seen[n])
    }

    /// Every line the client sent on connection `n`, once the client has
    /// closed it.
    pub(crate) fn sent(&mut self, n: usize) -> Vec<String> {
        let relayed = self.nth(n);
        assert!(
            relayed.client_done.recv_timeout(TIMEOUT).is_ok(),
            "the client never closed connection {n}"
        );
        let bytes = relayed.sent.lock().expect("sent").clone();
        String::from_utf8_lossy(&bytes)
            .split_terminator('\n')
            .map(|line| line.trim_end_matches('\r').to_owned())
            .collect()
    }

    /// Cuts connection `n` on the client's side only: the client sees it
    /// drop, the server still holds it.
    pub(crate) fn cut(&mut self, n: usize) {
        let relayed = self.nth(n);
        relayed.cut.store(true, Ordering::SeqCst);
        let _ = relayed.client.shutdown(Shutdown::Both);
    }

    /// Closes the server's side of connection `n` (after [`Tap::cut`]: the
    /// server notices that the user has gone).
    pub(crate) fn release(&mut self, n: usize) {
        let _ = self.nth(n).upstream.shutdown(Shutdown::Both);
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake `accept` so the thread sees the flag.
        let _ = TcpStream::connect(self.addr);
        for relayed in self.seen.drain(..).chain(self.accepted.try_iter()) {
            let _ = relayed.client.shutdown(Shutdown::Both);
            let _ = relayed.upstream.shutdown(Shutdown::Both);
        }
    }
}

/// Starts the two copying threads of one connection.
fn relay(client: TcpStream, upstream: TcpStream) -> Arc<Relayed> {
    let (done_tx, client_done) = crossbeam_channel::bounded(1);
    let relayed = Arc::new(Relayed {
        client,
        upstream,
        sent: Mutex::new(Vec::new()),
        cut: AtomicBool::new(false),
        client_done,
    });
    let up = Arc::clone(&relayed);
    thread::spawn(move || client_to_server(&up, &done_tx));
    let down = Arc::clone(&relayed);
    thread::spawn(move || {
        let mut buffer = [0; 4096];
        loop {
            match (&down.upstream).read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if (&down.client).write_all(&buffer[..n]).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = down.client.shutdown(Shutdown::Write);
    });
    relayed
}

fn client_to_server(relayed: &Relayed, done: &Sender<()>) {
    let mut buffer = [0; 4096];
    loop {
        match (&relayed.client).read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                relayed
                    .sent
                    .lock()
                    .expect("sent")
                    .extend_from_slice(&buffer[..n]);
                if (&relayed.upstream).write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    if !relayed.cut.load(Ordering::SeqCst) {
        let _ = relayed.upstream.shutdown(Shutdown::Write);
    }
    let _ = done.send(());
}
