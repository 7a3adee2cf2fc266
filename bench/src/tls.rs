//! The generator's TLS client side: a rustls configuration that trusts
//! exactly one certificate (the server's self-signed one, read from its
//! data directory, or a PEM file given with `--tls-trust`), with the full
//! certificate and signature checks, and the server name every session
//! asks for. The event loop (`net.rs`) drives the sessions.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::ClientConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

/// The name every session asks for: chinwagd's self-signed certificate is
/// made for `localhost` (and the loopback addresses).
const SERVER_NAME: &str = "localhost";

/// The file `--tls-self-signed` keeps its certificate in, in the data
/// directory.
pub(crate) const SELF_SIGNED_CERT: &str = "tls-cert.pem";

/// How the generator's connections speak TLS.
#[derive(Debug, Clone)]
pub(crate) struct TlsClient {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl TlsClient {
    /// Trusts the first certificate in the PEM file `path`, and nothing else.
    ///
    /// # Errors
    ///
    /// The file cannot be read, holds no certificate, or the certificate
    /// is not usable as a trust anchor.
    pub(crate) fn trusting(path: &Path) -> anyhow::Result<TlsClient> {
        let cert = CertificateDer::from_pem_file(path)
            .with_context(|| format!("cannot read a certificate from {}", path.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(cert)
            .with_context(|| format!("the certificate in {} cannot be trusted", path.display()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("no TLS protocol version")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsClient {
            config: Arc::new(config),
            name: ServerName::try_from(SERVER_NAME).context("a server name")?,
        })
    }

    /// A new session, handshake not yet started.
    ///
    /// # Errors
    ///
    /// rustls refuses the configuration (it does not for ours).
    pub(crate) fn session(&self) -> Result<rustls::ClientConnection, rustls::Error> {
        rustls::ClientConnection::new(Arc::clone(&self.config), self.name.clone())
    }
}
