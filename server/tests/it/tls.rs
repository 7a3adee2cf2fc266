//! The TLS listener: `openssl s_client -quiet` chats with a plain TCP user;
//! a rustls client checks the certificate against the one kept in the data
//! directory and its logged fingerprint; given PEM files work; stalled and
//! garbage handshakes end within the name timeout and give their slot back.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::harness::{Server, key, on_path};

const LINE_TIMEOUT: Duration = Duration::from_secs(10);

/// A chat client over rustls that trusts exactly one certificate.
struct TlsClient {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    pending: Vec<u8>,
}

impl TlsClient {
    fn connect(addr: SocketAddr, trusted: CertificateDer<'static>) -> TlsClient {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(trusted).expect("a usable certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").expect("a server name");
        let session = rustls::ClientConnection::new(Arc::new(config), name).expect("a session");
        let socket = TcpStream::connect(addr).expect("connect");
        socket
            .set_read_timeout(Some(LINE_TIMEOUT))
            .expect("read timeout");
        TlsClient {
            stream: rustls::StreamOwned::new(session, socket),
            pending: Vec::new(),
        }
    }

    fn send(&mut self, line: &str) {
        self.stream
            .write_all(format!("{line}\n").as_bytes())
            .expect("write over TLS");
    }

    /// The protocol content of the next line (see `harness::key`).
    fn next_key(&mut self) -> String {
        let deadline = Instant::now() + LINE_TIMEOUT;
        loop {
            if let Some(at) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=at).collect();
                let text = String::from_utf8(line).expect("UTF-8");
                return key(text.trim_end()).expect("a server line");
            }
            assert!(Instant::now() < deadline, "no line over TLS in time");
            let mut buf = [0u8; 4096];
            let n = self.stream.read(&mut buf).expect("read over TLS");
            assert!(n > 0, "TLS connection closed while a line was expected");
            self.pending.extend_from_slice(&buf[..n]);
        }
    }

    fn expect(&mut self, want: &str) {
        assert_eq!(self.next_key(), want);
    }

    /// Names itself and skips the menu up to a `/ping` barrier.
    fn login(&mut self, name: &str) {
        self.expect("HELLO chinwag/2");
        self.send(name);
        self.expect(&format!("WELCOME {name}"));
        self.send("/ping in");
        while self.next_key() != "OK ping in" {}
    }
}

fn certificate(path: &std::path::Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(path).expect("a PEM certificate")
}

#[test]
fn a_self_signed_certificate_is_kept_logged_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let args = [
        "--data",
        data,
        "--tls-bind",
        "127.0.0.1:0",
        "--tls-self-signed",
    ];
    let server = Server::start_with(&args);
    let cert = certificate(&dir.path().join("tls-cert.pem"));
    let fingerprint = server::tls::fingerprint(&cert);
    assert!(
        server.stderr_text().contains(&fingerprint),
        "the fingerprint {fingerprint} is not in the log"
    );
    let mut tls = TlsClient::connect(server.tls_addr(), cert.clone());
    tls.login("tina");
    let mut plain = server.login("paul");
    plain.send("/chat tina");
    plain.expect("OK chat tina");
    tls.expect("REQUEST paul");
    tls.send("yes");
    tls.expect("CHAT paul");
    tls.expect("OK accept paul");
    plain.expect("CHAT tina");
    tls.send("over TLS, in order: 1");
    tls.send("over TLS, in order: 2");
    plain.expect("MSG tina over TLS, in order: 1");
    plain.expect("MSG tina over TLS, in order: 2");
    plain.send("and back in clear");
    tls.expect("MSG paul and back in clear");
    drop(tls);
    drop(server);
    // The same certificate after a restart.
    let server = Server::start_with(&args);
    let mut again = TlsClient::connect(server.tls_addr(), cert);
    again.login("tina");
}

#[test]
fn openssl_s_client_chats_with_a_plain_tcp_user() {
    assert!(
        on_path("openssl"),
        "this test needs openssl (Debian: apt-get install openssl)"
    );
    let server = Server::start_with(&["--tls-bind", "127.0.0.1:0", "--tls-self-signed"]);
    let mut openssl = OpenSsl::connect(server.tls_addr());
    openssl.expect("HELLO chinwag/2");
    openssl.send("olga");
    openssl.expect("WELCOME olga");
    let mut plain = server.login("pete");
    openssl.send("/chat pete");
    plain.expect("REQUEST olga");
    plain.send("yes");
    plain.expect_all(&["CHAT olga", "OK accept olga"]);
    openssl.send("hello from openssl");
    plain.expect("MSG olga hello from openssl");
    plain.send("hello from tcp");
    openssl.expect_eventually("MSG pete hello from tcp");
    openssl.send("/exit");
    openssl.expect_eventually("BYE exit");
    plain.expect("ENDED olga disconnected");
}

#[test]
fn certificate_and_key_files_are_used() {
    assert!(
        on_path("openssl"),
        "this test needs openssl (Debian: apt-get install openssl)"
    );
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key_file)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl req");
    assert!(made.success());
    let server = Server::start_with(&[
        "--tls-bind",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key_file.to_str().unwrap(),
    ]);
    let mut tls = TlsClient::connect(server.tls_addr(), certificate(&cert));
    tls.login("uma");
}

#[test]
fn stalled_and_garbage_handshakes_end_within_the_name_timeout() {
    let server = Server::start_with(&[
        "--tls-bind",
        "127.0.0.1:0",
        "--tls-self-signed",
        "--name-timeout",
        "1",
        "--max-clients",
        "2",
    ]);
    let mut stalled = TcpStream::connect(server.tls_addr()).unwrap();
    let mut half = TcpStream::connect(server.tls_addr()).unwrap();
    // A record header that promises a ClientHello that never comes.
    half.write_all(&[0x16, 0x03, 0x01, 0x00, 0x64]).unwrap();
    server.wait_for_log("tls=true", 2);
    // Both slots are held while the handshakes hang: a plain client is
    // refused.
    let mut extra = server.connect_raw("extra");
    extra.expect_all(&["ERR server-full", "BYE full"]);
    for (label, stream) in [("stalled", &mut stalled), ("half", &mut half)] {
        expect_closed_without_hello(label, stream);
    }
    // Garbage fails the handshake (the log says so), not the deadline.
    let mut garbage = TcpStream::connect(server.tls_addr()).unwrap();
    garbage.write_all(b"hello, is this chinwag?\r\n").unwrap();
    expect_closed_without_hello("garbage", &mut garbage);
    server.wait_for_log("tls handshake failed", 1);
    // The slots came back.
    let mut late = server.connect("late");
    late.send("late");
    late.expect("WELCOME late");
}

/// Reads until the server closes; it must never send `HELLO` in clear.
fn expect_closed_without_hello(label: &str, stream: &mut TcpStream) {
    stream.set_read_timeout(Some(LINE_TIMEOUT)).unwrap();
    let mut sink = Vec::new();
    match stream.read_to_end(&mut sink) {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(error) => panic!("{label}: not closed: {error}"),
    }
    assert!(!String::from_utf8_lossy(&sink).contains("HELLO"), "{label}");
}

#[test]
fn a_tls_connection_counts_toward_max_clients() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(&[
        "--data",
        dir.path().to_str().unwrap(),
        "--tls-bind",
        "127.0.0.1:0",
        "--tls-self-signed",
        "--max-clients",
        "1",
    ]);
    let mut tls = TlsClient::connect(
        server.tls_addr(),
        certificate(&dir.path().join("tls-cert.pem")),
    );
    tls.login("vera");
    let mut extra = server.connect_raw("extra");
    extra.expect_all(&["ERR server-full", "BYE full"]);
}

/// `openssl s_client -quiet` as a child: its stdout read on a thread.
struct OpenSsl {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl OpenSsl {
    fn connect(addr: SocketAddr) -> OpenSsl {
        let mut child = Command::new("openssl")
            .args(["s_client", "-quiet", "-connect", &addr.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_client");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        OpenSsl { child, lines }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("piped stdin");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("write to openssl");
        stdin.flush().expect("flush to openssl");
    }

    fn next_key(&mut self) -> String {
        let line = self
            .lines
            .recv_timeout(LINE_TIMEOUT)
            .expect("a line from openssl in time");
        key(line.trim_end()).expect("a server line")
    }

    fn expect(&mut self, want: &str) {
        assert_eq!(self.next_key(), want);
    }

    /// Skips the menu's prose and other lines until `want`.
    fn expect_eventually(&mut self, want: &str) {
        while self.next_key() != want {}
    }
}

impl Drop for OpenSsl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
