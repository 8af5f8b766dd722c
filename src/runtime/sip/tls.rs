//! TLS for SIP (RFC 3261 §26): the listener's configuration from PEM files (a certificate
//! chain and its key, and optionally the CA whose client certificates it requires), the
//! trunk's (its certificate checked against the host's CA store, or a given CA, for the
//! trunk's host name or IP address), and the reason a handshake failed in words. rustls with
//! the ring provider does the work.

use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{CertificateError, ClientConfig, Error, RootCertStore, ServerConfig};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The certificates of a PEM file (a chain, or the CAs to trust).
fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{what} `{shown}`: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what} `{shown}`: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what} `{shown}` holds no PEM certificate"));
    }
    Ok(certs)
}

/// The trust store of a CA file.
fn roots(path: &Path, what: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path, what)? {
        roots
            .add(cert)
            .map_err(|e| format!("{what} `{}`: {e}", path.display()))?;
    }
    Ok(roots)
}

/// The listener's configuration: `cert` (PEM, the chain, ours first) and `key` (PEM, PKCS#8,
/// PKCS#1 or SEC1); with `client_ca`, only clients presenting a certificate that CA signed
/// finish the handshake (mutual TLS).
///
/// # Errors
///
/// A file that cannot be read or holds no certificate or key, a key that does not fit.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, String> {
    let chain = certificates(cert, "--tls-cert")?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("--tls-key `{}`: {e}", key.display()))?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match client_ca {
        Some(ca) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots(ca, "--tls-client-ca")?),
                provider(),
            )
            .build()
            .map_err(|e| format!("--tls-client-ca `{}`: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("--tls-cert and --tls-key: {e}"))?;
    Ok(Arc::new(config))
}

/// The trunk's client configuration: its certificate verified against `ca` (PEM) when given,
/// else against the host's CA store ([`system_roots`]).
///
/// # Errors
///
/// A CA file that cannot be read or holds no certificate.
pub fn client_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let roots = match ca {
        Some(ca) => roots(ca, "--trunk-ca")?,
        None => system_roots(),
    };
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The host's trusted CAs, as OpenSSL-based SIP servers take them: the system bundle, or
/// `SSL_CERT_FILE` / `SSL_CERT_DIR` when set. On a host without any (a bare container),
/// Mozilla's roots as compiled in by webpki-roots, said on stderr.
fn system_roots() -> RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _unparsable) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map_or_else(|| "none found".to_string(), ToString::to_string);
        crate::errln!(
            "ivrc: no CA certificates on this host ({why}): the trunk's certificate is checked \
             against Mozilla's roots (webpki-roots); --trunk-ca FILE names a CA instead"
        );
        roots.roots = webpki_roots::TLS_SERVER_ROOTS.to_vec();
    }
    roots
}

/// The name a trunk's certificate must carry: the host of `host` (`HOST:PORT`, `[v6]:PORT`
/// or `HOST`), a DNS name or an IP address.
///
/// # Errors
///
/// A host that is neither.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let bare = match host.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() && (h.starts_with('[') || !h.contains(':')) => h,
        _ => host,
    };
    let bare = bare.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string())
        .map_err(|_| format!("`{bare}` is not a host name or IP address a certificate can name"))
}

/// Why a handshake failed, in words, with rustls's own error after them.
pub fn reason(e: &std::io::Error) -> String {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<Error>()) else {
        return e.to_string();
    };
    let words = match tls {
        Error::InvalidCertificate(c) => match c {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "the certificate is not for this host"
            }
            CertificateError::UnknownIssuer => "the certificate is signed by an unknown CA",
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the certificate has expired"
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the certificate is not valid yet"
            }
            CertificateError::Revoked => "the certificate is revoked",
            _ => "the certificate was refused",
        },
        Error::NoCertificatesPresented => "the peer presented no certificate",
        Error::AlertReceived(_) => "the peer refused the handshake",
        _ => "",
    };
    if words.is_empty() {
        tls.to_string()
    } else {
        format!("{words} ({tls})")
    }
}

#[cfg(test)]
mod tests {
    use super::server_name;

    #[test]
    fn the_name_checked_is_the_trunk_host() {
        let name = |h: &str| server_name(h).map(|n| n.to_str().into_owned());
        assert_eq!(name("sip.example.com:5061"), Ok("sip.example.com".into()));
        assert_eq!(name("127.0.0.1:5061"), Ok("127.0.0.1".into()));
        assert_eq!(name("[::1]:5061"), Ok("::1".into()));
        assert_eq!(name("provider.test"), Ok("provider.test".into()));
        assert!(name("bad host:5061").is_err());
    }
}
