//! TLS trust, end to end, against `openssl s_server` as the TLS endpoint:
//! these tests are about the handshake and what the client trusts (the
//! question on first use, the fingerprint it shows and remembers, the
//! loud refusal of a changed certificate, `--ca`), not about chatting;
//! the few protocol lines the test types into `s_server` only show that
//! data flows once trusted. Certificates are made with `openssl req` in a
//! scratch directory. Chatting over TLS with the real server is in `v2.rs`.

use std::fs;
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;

use crossbeam_channel::Receiver;
use expectrl::ControlCode;

use crate::harness::{TIMEOUT, outputs, run_pipe, scratch_dir};
use crate::term::Term;

fn openssl(args: &[&str]) -> String {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is needed by the TLS tests (apt-get install openssl)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A self-signed certificate and its key, as `chinwagd --tls-self-signed`
/// would make.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("self.pem"), dir.join("self.key"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-days",
        "2",
        "-keyout",
        path(&key),
        "-out",
        path(&cert),
    ]);
    (cert, key)
}

/// A certificate authority, and a certificate it signed for 127.0.0.1.
/// Returns the authority's certificate, the server's and its key.
fn authority_and_server(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (ca, ca_key) = (dir.join("ca.pem"), dir.join("ca.key"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=chinwag test CA",
        "-days",
        "2",
        "-keyout",
        path(&ca_key),
        "-out",
        path(&ca),
    ]);
    let (request, key, cert) = (
        dir.join("srv.csr"),
        dir.join("srv.key"),
        dir.join("srv.pem"),
    );
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        path(&key),
        "-out",
        path(&request),
    ]);
    let extensions = dir.join("ext.cnf");
    fs::write(
        &extensions,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .expect("write extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        path(&request),
        "-CA",
        path(&ca),
        "-CAkey",
        path(&ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        path(&extensions),
        "-out",
        path(&cert),
    ]);
    (ca, cert, key)
}

/// `openssl x509 -fingerprint -sha256` of `cert`: what the client must show.
fn fingerprint(cert: &Path) -> String {
    let text = openssl(&[
        "x509",
        "-noout",
        "-fingerprint",
        "-sha256",
        "-in",
        path(cert),
    ]);
    let (_, hex) = text.trim().split_once('=').expect("Fingerprint=…");
    hex.to_owned()
}

/// `openssl s_server` on a free port: what it receives is on its stdout
/// (among its own reports), what we write to its stdin goes to the client.
struct TlsEndpoint {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    port: u16,
    seen: Vec<String>,
}

impl TlsEndpoint {
    fn start(cert: &Path, key: &Path) -> TlsEndpoint {
        let mut child = Command::new("openssl")
            .args(["s_server", "-accept", "127.0.0.1:0", "-cert", path(cert)])
            .args(["-key", path(key)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = crossbeam_channel::unbounded();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line.trim_end_matches('\r').to_owned()).is_err() {
                    break;
                }
            }
        });
        let mut endpoint = TlsEndpoint {
            child,
            stdin,
            lines,
            port: 0,
            seen: Vec::new(),
        };
        let accept = endpoint.expect("ACCEPT ");
        let port = accept.rsplit(':').next().and_then(|p| p.parse().ok());
        endpoint.port = port.expect("ACCEPT host:port");
        endpoint
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Waits for a line of s_server's stdout starting with `prefix`.
    fn expect(&mut self, prefix: &str) -> String {
        loop {
            match self.lines.recv_timeout(TIMEOUT) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(error) => panic!(
                    "s_server: waited for {prefix:?}: {error}; it said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for a completed handshake.
    fn expect_handshake(&mut self) {
        self.expect("CIPHER is ");
    }

    /// Sends a line to the client (s_server encrypts it).
    fn send(&mut self, line: &str) {
        write!(self.stdin, "{line}\r\n").expect("s_server stdin");
        self.stdin.flush().expect("s_server stdin");
    }

    /// Says `BYE` and closes the connection (s_server's `q` command), as
    /// the real server does.
    fn bye(&mut self) {
        self.send("BYE exit goodbye");
        self.stdin.write_all(b"q\n").expect("s_server stdin");
        self.stdin.flush().expect("s_server stdin");
    }

    /// Plays a server that welcomes `alice` and says goodbye at `/quit`.
    fn welcome_and_bye(&mut self) {
        self.expect_handshake();
        self.send("HELLO chinwag/2 type a name");
        self.expect("alice");
        self.send("WELCOME alice");
        self.expect("/quit");
        self.bye();
    }
}

impl Drop for TlsEndpoint {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn known_servers(data: &Path) -> PathBuf {
    data.join("chinwag").join("known_servers")
}

#[test]
fn a_new_certificate_is_shown_asked_about_and_remembered() {
    let dir = scratch_dir("tofu");
    let (cert, key) = self_signed(&dir);
    let expected = fingerprint(&cert);
    let mut server = TlsEndpoint::start(&cert, &key);
    let url = format!("chinwags://{}", server.address());
    let data = dir.join("data");
    let envs = [("XDG_DATA_HOME", path(&data))];
    let mut term = Term::spawn_at(&url, &["--name", "alice"], &dir.join("h"), &envs);
    term.expect("cannot be verified");
    term.expect("self-signed");
    term.expect(&expected);
    term.expect("[y/N] ");
    term.send("y\r");
    server.expect_handshake();
    server.send("HELLO chinwag/2 type a name");
    term.expect("connected; choose a name");
    server.expect("alice");
    server.send("WELCOME alice");
    term.expect_empty_prompt("menu> ");
    term.control(ControlCode::EndOfTransmission);
    server.expect("/quit");
    server.bye();
    assert_eq!(term.exit_code(), 0);

    let file = known_servers(&data);
    let text = fs::read_to_string(&file).expect("known_servers written");
    assert_eq!(text, format!("{} {expected}\n", server.address()));
    let mode = fs::metadata(&file).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // Remembered: the next connection is accepted without a question,
    // also where none could be asked.
    let data_arg = path(&data).to_owned();
    let client =
        thread::spawn(move || run_pipe(&url, &[], "alice\n", &[("XDG_DATA_HOME", &data_arg)]));
    server.welcome_and_bye();
    let output = client.join().expect("client");
    let (stdout, stderr) = outputs(&output);
    assert!(stdout.contains("-!- welcome, alice!"), "{stdout}\n{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn saying_no_sends_nothing_and_remembers_nothing() {
    let dir = scratch_dir("tofu-no");
    let (cert, key) = self_signed(&dir);
    let server = TlsEndpoint::start(&cert, &key);
    let url = format!("chinwags://{}", server.address());
    let data = dir.join("data");
    let envs = [("XDG_DATA_HOME", path(&data))];
    let mut term = Term::spawn_at(&url, &[], &dir.join("h"), &envs);
    term.expect("[y/N] ");
    term.send("\r");
    term.expect("not trusted; nothing was sent");
    assert_eq!(term.exit_code(), 1);
    assert!(!known_servers(&data).exists());
}

#[test]
fn from_a_pipe_a_new_certificate_needs_trust_new() {
    let dir = scratch_dir("tofu-pipe");
    let (cert, key) = self_signed(&dir);
    let expected = fingerprint(&cert);
    let mut server = TlsEndpoint::start(&cert, &key);
    let data = dir.join("data");
    let envs = [("XDG_DATA_HOME", path(&data))];
    let address = server.address();
    let data_arg = path(&data).to_owned();

    let output = run_pipe(&address, &["--tls"], "alice\n", &envs);
    let (_, stderr) = outputs(&output);
    assert!(stderr.contains("cannot ask"), "{stderr}");
    assert!(stderr.contains("--trust-new"), "{stderr}");
    assert!(stderr.contains(&expected), "{stderr}");
    assert_eq!(output.status.code(), Some(1));
    assert!(!known_servers(&data).exists());

    let client = thread::spawn(move || {
        let envs = [("XDG_DATA_HOME", data_arg.as_str())];
        run_pipe(&address, &["--tls", "--trust-new"], "alice\n", &envs)
    });
    server.welcome_and_bye();
    let output = client.join().expect("client");
    let (stdout, stderr) = outputs(&output);
    assert!(stdout.contains("-!- welcome, alice!"), "{stdout}\n{stderr}");
    assert!(stderr.contains("trusting"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let text = fs::read_to_string(known_servers(&data)).expect("known_servers");
    assert_eq!(text, format!("{} {expected}\n", server.address()));
}

#[test]
fn a_changed_certificate_is_refused_loudly() {
    let dir = scratch_dir("tofu-changed");
    let (cert, key) = self_signed(&dir);
    let expected = fingerprint(&cert);
    let server = TlsEndpoint::start(&cert, &key);
    let data = dir.join("data");
    let file = known_servers(&data);
    fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    let old = "AB:".repeat(31) + "AB";
    fs::write(&file, format!("# mine\n{} {old}\n", server.address())).expect("write");
    let envs = [("XDG_DATA_HOME", path(&data))];
    // --trust-new never overrides a changed certificate.
    let url = format!("chinwags://{}", server.address());
    let output = run_pipe(&url, &["--trust-new"], "alice\n", &envs);
    let (stdout, stderr) = outputs(&output);
    assert!(stdout.is_empty(), "{stdout}");
    for needle in [
        "WARNING: THE SERVER'S CERTIFICATE HAS CHANGED!",
        &old,
        &expected,
        "delete line 2 of",
        path(&file),
    ] {
        assert!(
            stderr.contains(needle),
            "stderr lacks {needle:?}:\n{stderr}"
        );
    }
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn ca_vouches_for_a_server_it_signed() {
    let dir = scratch_dir("ca");
    let (ca, cert, key) = authority_and_server(&dir);
    let mut server = TlsEndpoint::start(&cert, &key);
    let data = dir.join("data");
    let address = server.address();
    let ca_arg = path(&ca).to_owned();
    let data_arg = path(&data).to_owned();
    let client = thread::spawn(move || {
        run_pipe(
            &address,
            &["--ca", &ca_arg],
            "alice\n",
            &[("XDG_DATA_HOME", &data_arg)],
        )
    });
    server.welcome_and_bye();
    let output = client.join().expect("client");
    let (stdout, stderr) = outputs(&output);
    assert!(stdout.contains("-!- welcome, alice!"), "{stdout}\n{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!known_servers(&data).exists(), "nothing to remember");
}

#[test]
fn ca_refuses_a_server_it_did_not_sign_without_asking() {
    let dir = scratch_dir("ca-other");
    let (ca, _, _) = authority_and_server(&dir);
    let (cert, key) = self_signed(&dir);
    let server = TlsEndpoint::start(&cert, &key);
    let data = dir.join("data");
    let envs = [("XDG_DATA_HOME", path(&data))];
    let args = ["--ca", path(&ca), "--trust-new"];
    let output = run_pipe(&server.address(), &args, "alice\n", &envs);
    let (_, stderr) = outputs(&output);
    assert!(stderr.contains("TLS handshake failed"), "{stderr}");
    assert!(!stderr.contains("trusting"), "{stderr}");
    assert_eq!(output.status.code(), Some(1));
    assert!(!known_servers(&data).exists());
}
