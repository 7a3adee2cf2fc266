//! TLS with rustls (ring provider): the handshake, trust on first use, and
//! the [`Channel`] both threads use afterwards.
//!
//! Trust: a certificate that verifies against the system's roots (or the
//! `--ca` file) is accepted. Otherwise, unless `--ca` was given, the
//! server is known by the SHA-256 fingerprint of its certificate, as ssh
//! knows hosts: a fingerprint remembered in `known_servers` is accepted
//! silently, a different one is refused loudly, a new one is refused with
//! [`Refusal::Unknown`] so the caller can ask the user and connect again.
//! The handshake's signature is checked in every case, so the server
//! proves it holds the certificate's key.
//!
//! Sharing: the reader thread owns reading the socket and the main thread
//! sends. Each takes the session's lock only to move bytes through
//! rustls, never across a blocking read; ciphertext is written under a
//! second lock taken before the session's is released, so records reach
//! the socket in the order rustls made them.

use std::io::{self, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use parking_lot::{Mutex, MutexGuard};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};

use crate::known_servers::{Entry, KnownServers, fingerprint};

/// How long the handshake may take; a server that stalls it is given up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What to trust, for one server.
#[derive(Debug)]
pub(crate) struct Trust {
    /// `host:port` as the user wrote it: the key in `known_servers`.
    pub(crate) server: String,
    /// The host, for SNI and name checks.
    pub(crate) host: String,
    /// `--ca FILE`: trust only this authority, and never on first use.
    pub(crate) ca: Option<PathBuf>,
    /// The remembered fingerprints.
    pub(crate) known: KnownServers,
}

/// Why a handshake was refused on our side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The certificate does not verify and was never seen: ask the user.
    Unknown {
        fingerprint: String,
        /// Why it does not verify, in words.
        why: String,
    },
    /// The certificate does not verify and differs from the remembered one.
    Changed { fingerprint: String, known: Entry },
}

/// A failed handshake.
#[derive(Debug)]
pub(crate) enum Failure {
    Refused(Refusal),
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure::Failed(error)
    }
}

/// The verifier: the authorities first, then the remembered fingerprint.
#[derive(Debug)]
struct Verifier {
    /// `None` when the system has no roots at all.
    authorities: Option<Arc<WebPkiServerVerifier>>,
    /// `--ca` was given: its verdict is final.
    strict: bool,
    pinned: Option<Entry>,
    algorithms: WebPkiSupportedAlgorithms,
    /// What the last handshake refused, for the caller to act on.
    refusal: Mutex<Option<Refusal>>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let why = match &self.authorities {
            Some(authorities) => {
                match authorities.verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    now,
                ) {
                    Ok(verified) => return Ok(verified),
                    Err(error) if self.strict => return Err(error),
                    Err(error) => describe(&error),
                }
            }
            None => "this system has no trusted certificate authorities".to_owned(),
        };
        let seen = fingerprint(end_entity);
        let refusal = match &self.pinned {
            Some(known) if known.fingerprint == seen => return Ok(ServerCertVerified::assertion()),
            Some(known) => Refusal::Changed {
                fingerprint: seen,
                known: known.clone(),
            },
            None => Refusal::Unknown {
                fingerprint: seen,
                why,
            },
        };
        *self.refusal.lock() = Some(refusal);
        Err(rustls::Error::General(
            "the server's certificate is not trusted".to_owned(),
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Why a certificate does not verify, in a few words.
fn describe(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "it is not signed by an authority this system trusts (self-signed?)".to_owned()
        }
        rustls::Error::InvalidCertificate(CertificateError::Expired) => "it has expired".to_owned(),
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "it is not made out to this host name".to_owned(),
        // webpki's name for a self-signed certificate that says it is an
        // authority (what `openssl req -x509` makes by default).
        other if other.to_string().contains("CaUsedAsEndEntity") => {
            "it is self-signed (it vouches for itself)".to_owned()
        }
        other => other.to_string(),
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The authorities to check against: the `--ca` file, else the system's.
fn roots(ca: Option<&Path>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .with_context(|| format!("cannot read the CA file {}", path.display()))?;
            for cert in certs {
                let cert = cert.with_context(|| format!("bad PEM in {}", path.display()))?;
                roots
                    .add(cert)
                    .with_context(|| format!("bad certificate in {}", path.display()))?;
            }
            if roots.is_empty() {
                bail!("the CA file {} holds no certificate", path.display());
            }
        }
        None => {
            // Unreadable entries are skipped: one bad file in the system's
            // store must not stop us, and trust on first use remains.
            let found = rustls_native_certs::load_native_certs();
            let _ = roots.add_parsable_certificates(found.certs);
        }
    }
    Ok(roots)
}

fn verifier(trust: &Trust) -> Result<Arc<Verifier>> {
    let provider = provider();
    let roots = roots(trust.ca.as_deref())?;
    let authorities = if roots.is_empty() {
        None
    } else {
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .context("cannot set up certificate checks")?,
        )
    };
    Ok(Arc::new(Verifier {
        authorities,
        strict: trust.ca.is_some(),
        pinned: trust.known.lookup(&trust.server),
        algorithms: provider.signature_verification_algorithms,
        refusal: Mutex::new(None),
    }))
}

/// Runs the TLS handshake on `socket`.
///
/// # Errors
///
/// [`Failure::Refused`] when our checks refused the certificate (the
/// caller may ask the user and connect again), [`Failure::Failed`] for
/// anything else.
pub(crate) fn handshake(socket: &TcpStream, trust: &Trust) -> Result<Channel, Failure> {
    let verifier = verifier(trust)?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(trust.host.clone())
        .map_err(|_| anyhow!("{:?} is not a host name for TLS", trust.host))?;
    let mut session =
        ClientConnection::new(Arc::new(config), name).context("cannot start the TLS session")?;
    socket
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .context("cannot set a timeout")?;
    let mut io = socket;
    let mut result = Ok(());
    while session.is_handshaking() {
        match session.complete_io(&mut io) {
            Ok((0, 0)) => {
                result = Err(io::Error::from(io::ErrorKind::UnexpectedEof));
                break;
            }
            Ok(_) => {}
            Err(error) => {
                result = Err(error);
                break;
            }
        }
    }
    socket
        .set_read_timeout(None)
        .context("cannot clear the timeout")?;
    if let Some(refusal) = verifier.refusal.lock().take() {
        return Err(Failure::Refused(refusal));
    }
    result.map_err(|error| {
        let error = match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                anyhow!("no TLS handshake within {HANDSHAKE_TIMEOUT:?}")
            }
            io::ErrorKind::UnexpectedEof => {
                anyhow!(
                    "the server closed the connection during the TLS handshake (is it a TLS port?)"
                )
            }
            _ => anyhow::Error::from(error),
        };
        Failure::Failed(error.context("TLS handshake failed"))
    })?;
    Ok(Channel {
        session: Mutex::new(session),
        write_order: Mutex::new(()),
    })
}

/// An established TLS session over a socket the caller holds.
#[derive(Debug)]
pub(crate) struct Channel {
    session: Mutex<ClientConnection>,
    /// Held while ciphertext is written; taken before `session` is let go.
    write_order: Mutex<()>,
}

impl Channel {
    /// Decrypts `ciphertext` just read from `socket` (empty: only what is
    /// already buffered), appending the plaintext to `plain`. Returns false
    /// once the server has closed the session.
    ///
    /// # Errors
    ///
    /// A TLS protocol error (the session is over), or writing a reply fails.
    pub(crate) fn receive(
        &self,
        socket: &TcpStream,
        ciphertext: &[u8],
        plain: &mut Vec<u8>,
    ) -> io::Result<bool> {
        let mut rest = ciphertext;
        loop {
            let mut session = self.session.lock();
            if !rest.is_empty() {
                session.read_tls(&mut rest)?;
            }
            let state = match session.process_new_packets() {
                Ok(state) => state,
                Err(error) => {
                    // Send the alert rustls prepared, then give up.
                    let _ = self.flush(session, socket);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, error));
                }
            };
            let n_plain = state.plaintext_bytes_to_read();
            let closed = state.peer_has_closed();
            if n_plain > 0 {
                let start = plain.len();
                plain.resize(start + n_plain, 0);
                session.reader().read_exact(&mut plain[start..])?;
            }
            self.flush(session, socket)?;
            if closed {
                return Ok(false);
            }
            if rest.is_empty() {
                return Ok(true);
            }
        }
    }

    /// Encrypts `bytes` and writes them to `socket`.
    ///
    /// # Errors
    ///
    /// The socket write fails.
    pub(crate) fn send(&self, socket: &TcpStream, bytes: &[u8]) -> io::Result<()> {
        let mut session = self.session.lock();
        session.writer().write_all(bytes)?;
        self.flush(session, socket)
    }

    /// Says goodbye (`close_notify`), best effort.
    pub(crate) fn close(&self, socket: &TcpStream) {
        let mut session = self.session.lock();
        session.send_close_notify();
        let _ = self.flush(session, socket);
    }

    /// Writes whatever rustls has to send. The write lock is taken before
    /// the session lock is released, so a later record never overtakes
    /// this one, and the session is free while the socket write blocks.
    fn flush(
        &self,
        mut session: MutexGuard<'_, ClientConnection>,
        socket: &TcpStream,
    ) -> io::Result<()> {
        if !session.wants_write() {
            return Ok(());
        }
        let mut out = Vec::new();
        while session.wants_write() {
            session.write_tls(&mut out)?;
        }
        let order = self.write_order.lock();
        drop(session);
        let mut socket = socket;
        socket.write_all(&out)?;
        drop(order);
        Ok(())
    }
}
