//! HTTPS and WSS built in (rustls). A browser gives a page the camera and the microphone only in
//! a secure context, so a school's server needs TLS: either this, with the certificate and key
//! files (PEM) named in the configuration, or a reverse proxy (deploy/nginx). The files are read
//! at start, where a bad one stops the start naming its key, and again whenever they change on
//! disk: a renewed certificate (certbot, acme.sh) is served from the next connection on, without
//! a restart. A renewal that does not load (a half-written file) keeps the certificate in force
//! and says why.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

/// How often the files are looked at for a renewal.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// The certificate chain and the private key, PEM files. `TONGBU_HTTP_TLS_CERT`,
/// `TONGBU_HTTP_TLS_KEY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why the certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate {path} (TONGBU_HTTP_TLS_CERT): {reason}; give a PEM file with the certificate chain, the server's own first")]
    Cert { path: String, reason: String },
    #[error("cannot read the private key {path} (TONGBU_HTTP_TLS_KEY): {reason}; give the PEM file of the certificate's key (PKCS#8, PKCS#1 or SEC1)")]
    Key { path: String, reason: String },
    #[error("the key {key} (TONGBU_HTTP_TLS_KEY) does not fit the certificate {cert} (TONGBU_HTTP_TLS_CERT): {reason}")]
    Mismatch {
        cert: String,
        key: String,
        reason: String,
    },
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Reads and checks the files.
pub fn load(files: &TlsFiles) -> Result<CertifiedKey, TlsError> {
    let shown = |p: &Path| p.display().to_string();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| TlsError::Cert {
            path: shown(&files.cert),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Cert {
            path: shown(&files.cert),
            reason: "it holds no certificate".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Key {
        path: shown(&files.key),
        reason: e.to_string(),
    })?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| TlsError::Mismatch {
        cert: shown(&files.cert),
        key: shown(&files.key),
        reason: e.to_string(),
    })
}

/// When the files were last changed (None: cannot tell).
fn stamp(files: &TlsFiles) -> Option<(SystemTime, SystemTime)> {
    let at = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((at(&files.cert)?, at(&files.key)?))
}

/// The certificate in force, swapped when the files change.
pub struct Certificate {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
    loaded: RwLock<Option<(SystemTime, SystemTime)>>,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

impl Certificate {
    /// Loads the files; the acceptor for the listener, and the certificate to keep watching.
    pub fn start(files: &TlsFiles) -> Result<(TlsAcceptor, Arc<Certificate>), TlsError> {
        let stamped = stamp(files);
        let key = load(files)?;
        let cert = Arc::new(Certificate {
            files: files.clone(),
            current: RwLock::new(Arc::new(key)),
            loaded: RwLock::new(stamped),
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Cert {
                path: files.cert.display().to_string(),
                reason: e.to_string(),
            })?
            .with_no_client_auth()
            .with_cert_resolver(cert.clone());
        // HTTP/1.1 only: the listener speaks it (WebSocket upgrades included).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok((TlsAcceptor::from(Arc::new(config)), cert))
    }

    /// Loads the files again if they changed since last loaded; says whether it swapped.
    pub fn reload_if_changed(&self) -> bool {
        let now = stamp(&self.files);
        if now.is_none() || now == *self.loaded.read().unwrap_or_else(|e| e.into_inner()) {
            return false;
        }
        match load(&self.files) {
            Ok(key) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
                *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = now;
                info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                true
            }
            Err(e) => {
                // Likely caught half-written: tried again at the next look.
                warn!("keeping the TLS certificate in force: {e}");
                false
            }
        }
    }

    /// Looks at the files every [`RELOAD_EVERY`] for as long as the server runs.
    pub async fn watch(self: Arc<Self>) {
        let mut tick = tokio::time::interval(RELOAD_EVERY);
        loop {
            tick.tick().await;
            let cert = self.clone();
            // File reads off the async workers.
            let _ = tokio::task::spawn_blocking(move || cert.reload_if_changed()).await;
        }
    }
}
