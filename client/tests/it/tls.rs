//! TLS trust, end to end, against the real server's TLS listener with
//! certificates made by `openssl req` in a scratch directory (a
//! self-signed one, and an authority with a certificate it signed): the
//! question on first use, the fingerprint the client shows and remembers,
//! the loud refusal of a changed certificate, `--ca`. Chatting over TLS
//! with the server's own self-signed certificate is in `v2.rs`.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use expectrl::ControlCode;

use crate::harness::{ServerProcess, scratch_dir};
use crate::script::{outputs, run_pipe};
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

pub(crate) fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A self-signed certificate and its key, as `chinwagd --tls-self-signed`
/// would make.
pub(crate) fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
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

/// The real server with this certificate on a TLS listener (and a plain
/// one it does not need), memory only.
fn tls_server(cert: &Path, key: &Path) -> ServerProcess {
    let args = [
        "--data",
        "none",
        "--tls-bind",
        "127.0.0.1:0",
        "--tls-cert",
        path(cert),
        "--tls-key",
        path(key),
    ];
    ServerProcess::start(&args, true)
}

/// `HOST:PORT` of the server's TLS listener.
fn address(server: &ServerProcess) -> String {
    server.tls_addr.expect("listening tls on").to_string()
}

fn known_servers(data: &Path) -> PathBuf {
    data.join("chinwag").join("known_servers")
}

#[test]
fn a_new_certificate_is_shown_asked_about_and_remembered() {
    let dir = scratch_dir("tofu");
    let (cert, key) = self_signed(&dir);
    let expected = fingerprint(&cert);
    let server = tls_server(&cert, &key);
    let url = format!("chinwags://{}", address(&server));
    let data = dir.join("data");
    let envs = [("XDG_DATA_HOME", path(&data))];
    let mut term = Term::spawn_at(&url, &["--name", "alice"], &dir.join("h"), &envs);
    term.expect("cannot be verified");
    term.expect("self-signed");
    term.expect(&expected);
    term.expect("[y/N] ");
    term.send("y\r");
    term.expect("connected; choose a name");
    term.expect("welcome, alice!");
    term.expect_empty_prompt("menu> ");
    term.control(ControlCode::EndOfTransmission);
    assert_eq!(term.exit_code(), 0);

    let file = known_servers(&data);
    let text = fs::read_to_string(&file).expect("known_servers written");
    assert_eq!(text, format!("{} {expected}\n", address(&server)));
    let mode = fs::metadata(&file).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // Remembered: the next connection is accepted without a question,
    // also where none could be asked.
    let output = run_pipe(&url, &[], "alice\n", &envs);
    let (stdout, stderr) = outputs(&output);
    assert!(stdout.contains("-!- welcome, alice!"), "{stdout}\n{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn saying_no_sends_nothing_and_remembers_nothing() {
    let dir = scratch_dir("tofu-no");
    let (cert, key) = self_signed(&dir);
    let server = tls_server(&cert, &key);
    let url = format!("chinwags://{}", address(&server));
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
    let server = tls_server(&cert, &key);
    let data = dir.join("data");
    let envs = [("XDG_DATA_HOME", path(&data))];
    let address = address(&server);

    let output = run_pipe(&address, &["--tls"], "alice\n", &envs);
    let (_, stderr) = outputs(&output);
    assert!(stderr.contains("cannot ask"), "{stderr}");
    assert!(stderr.contains("--trust-new"), "{stderr}");
    assert!(stderr.contains(&expected), "{stderr}");
    assert_eq!(output.status.code(), Some(1));
    assert!(!known_servers(&data).exists());

    let output = run_pipe(&address, &["--tls", "--trust-new"], "alice\n", &envs);
    let (stdout, stderr) = outputs(&output);
    assert!(stdout.contains("-!- welcome, alice!"), "{stdout}\n{stderr}");
    assert!(stderr.contains("trusting"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let text = fs::read_to_string(known_servers(&data)).expect("known_servers");
    assert_eq!(text, format!("{address} {expected}\n"));
}

#[test]
fn a_changed_certificate_is_refused_loudly() {
    let dir = scratch_dir("tofu-changed");
    let (cert, key) = self_signed(&dir);
    let expected = fingerprint(&cert);
    let server = tls_server(&cert, &key);
    let data = dir.join("data");
    let file = known_servers(&data);
    fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    let old = "AB:".repeat(31) + "AB";
    fs::write(&file, format!("# mine\n{} {old}\n", address(&server))).expect("write");
    let envs = [("XDG_DATA_HOME", path(&data))];
    // --trust-new never overrides a changed certificate.
    let url = format!("chinwags://{}", address(&server));
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
    let server = tls_server(&cert, &key);
    let data = dir.join("data");
    let envs = [("XDG_DATA_HOME", path(&data))];
    let output = run_pipe(&address(&server), &["--ca", path(&ca)], "alice\n", &envs);
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
    let server = tls_server(&cert, &key);
    let data = dir.join("data");
    let envs = [("XDG_DATA_HOME", path(&data))];
    let args = ["--ca", path(&ca), "--trust-new"];
    let output = run_pipe(&address(&server), &args, "alice\n", &envs);
    let (_, stderr) = outputs(&output);
    assert!(stderr.contains("TLS handshake failed"), "{stderr}");
    assert!(!stderr.contains("trusting"), "{stderr}");
    assert_eq!(output.status.code(), Some(1));
    assert!(!known_servers(&data).exists());
}
