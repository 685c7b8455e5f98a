//! TLS to PostgreSQL on rustls, by libpq's `sslmode` rules: which checks each mode makes, the
//! CA, client certificate and revocation files it reads, and, when a handshake fails, a reason
//! an operator can act on. A failure is final: nothing here falls back to cleartext.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Kind, Result};
use crate::pg::{RootCert, SslMode, Tls};

/// The certificate a server presented, kept for doctor and status.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerCert {
    pub subject: String,
    pub not_after: chrono::DateTime<chrono::Utc>,
}

impl PeerCert {
    pub fn days_left(&self, now: chrono::DateTime<chrono::Utc>) -> i64 {
        (self.not_after - now).num_days()
    }

    fn parse(der: &[u8]) -> Option<PeerCert> {
        use x509_cert::der::Decode;
        let cert = x509_cert::Certificate::from_der(der).ok()?;
        let tbs = cert.tbs_certificate;
        let secs = tbs.validity.not_after.to_unix_duration().as_secs();
        Some(PeerCert {
            subject: tbs.subject.to_string(),
            not_after: chrono::DateTime::from_timestamp(secs as i64, 0)?,
        })
    }
}

/// A connector for one connection, and the slot where the server's certificate lands.
pub struct Connector {
    pub make: MakeRustlsConnect,
    seen: Arc<Mutex<Option<CertificateDer<'static>>>>,
}

impl Connector {
    /// The certificate the server presented, once the handshake has reached it.
    pub fn peer(&self) -> Option<PeerCert> {
        let der = self.seen.lock().ok()?.clone()?;
        PeerCert::parse(&der)
    }
}

/// Builds the connector `tls` asks for; `server` names the connection in messages. Files are
/// read, and a private key readable by others is refused, before any connection is made.
pub fn connector(tls: &Tls, server: &str) -> Result<Connector> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let inner = if tls.checks_chain() {
        Some(chain_verifier(tls, server, provider.clone())?)
    } else {
        None
    };
    let seen = Arc::new(Mutex::new(None));
    let verifier = Arc::new(Verifier {
        inner,
        check_name: tls.mode == SslMode::VerifyFull,
        seen: seen.clone(),
        provider: provider.clone(),
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal("cannot set up TLS").source(e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&tls.cert, &tls.key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            check_key_mode(key, server)?;
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| file_error(server, "sslcert", cert, e))?;
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| file_error(server, "sslkey", key, e))?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                Error::config(format!(
                    "{server}: sslcert {} does not match sslkey {}",
                    cert.display(),
                    key.display()
                ))
                .source(e)
            })?
        }
        _ => {
            return Err(Error::config(format!(
                "{server}: sslcert and sslkey must be set together"
            )));
        }
    };
    Ok(Connector {
        make: MakeRustlsConnect::new(config),
        seen,
    })
}

/// libpq refuses a key that group or others can read (root-owned keys may be 0640).
fn check_key_mode(key: &Path, server: &str) -> Result<()> {
    let meta = std::fs::metadata(key).map_err(|e| file_error(server, "sslkey", key, e))?;
    let allowed = if meta.uid() == 0 { 0o037 } else { 0o077 };
    if meta.mode() & allowed != 0 {
        return Err(Error::new(
            Kind::Permission,
            format!(
                "{server}: the private key {} is readable by others (mode {:o})",
                key.display(),
                meta.mode() & 0o777
            ),
        )
        .hint(format!(
            "chmod 600 {}; libpq refuses such a key too",
            key.display()
        )));
    }
    Ok(())
}

fn file_error(
    server: &str,
    setting: &str,
    path: &Path,
    e: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::config(format!(
        "{server}: cannot read {setting} {}",
        path.display()
    ))
    .source(e)
    .hint(format!("point {setting} at a readable PEM file"))
}

fn chain_verifier(
    tls: &Tls,
    server: &str,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>> {
    let mut roots = RootCertStore::empty();
    match &tls.root_cert {
        None => {
            return Err(Error::config(format!(
                "{server}: sslmode \"{}\" needs sslrootcert, and HOME is not set",
                tls.mode.name()
            ))
            .hint("set sslrootcert to the CA file, or \"system\" for the operating system's trust store"));
        }
        Some(RootCert::System) => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(Error::config(format!(
                    "{server}: the system trust store holds no certificate"
                ))
                .hint("install ca-certificates, or set sslrootcert to a CA file"));
            }
        }
        Some(RootCert::File(path)) => {
            if !path.exists() {
                return Err(Error::config(format!(
                    "{server}: the root certificate file {} does not exist",
                    path.display()
                ))
                .hint(
                    "set sslrootcert to the CA that issued the server's certificate, or \"system\"",
                ));
            }
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| file_error(server, "sslrootcert", path, e))?;
            roots.add_parsable_certificates(certs);
            if roots.is_empty() {
                return Err(Error::config(format!(
                    "{server}: sslrootcert {} holds no CA certificate",
                    path.display()
                )));
            }
        }
    }
    let mut builder = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider);
    if let Some(crl) = &tls.crl {
        let crls = CertificateRevocationListDer::pem_file_iter(crl)
            .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| file_error(server, "sslcrl", crl, e))?;
        builder = builder.with_crls(crls).only_check_end_entity_revocation();
    }
    builder
        .build()
        .map_err(|e| Error::config(format!("{server}: the TLS settings cannot be used")).source(e))
}

/// Checks the chain when asked (webpki checks the name only after the chain, so a name error
/// means the chain passed), the name under verify-full, and always records the certificate.
#[derive(Debug)]
struct Verifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    seen: Arc<Mutex<Option<CertificateDer<'static>>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut slot) = self.seen.lock() {
            *slot = Some(end_entity.clone().into_owned());
        }
        let Some(inner) = &self.inner else {
            return Ok(ServerCertVerified::assertion());
        };
        match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A failed TLS handshake as an operator reads it: the reason and the setting to change.
pub fn explain(e: &tokio_postgres::Error, server: &str, tls: &Tls) -> Option<Error> {
    let text = e.to_string();
    if !text.starts_with("error performing TLS handshake") {
        return None;
    }
    let (reason, hint) = match rustls_error(e) {
        Some(rustls::Error::InvalidCertificate(c)) => certificate(c, tls),
        Some(rustls::Error::AlertReceived(alert)) => (
            format!("the server ended the handshake ({alert:?})"),
            "check sslcert and sslkey: the server may require a client certificate it trusts"
                .to_string(),
        ),
        Some(other) => (
            other.to_string(),
            "check the server's TLS settings".to_string(),
        ),
        None if cause_text(e).contains("server does not support TLS") => (
            "the server does not offer TLS".to_string(),
            format!(
                "turn on ssl at the server; sslmode \"{}\" never falls back to cleartext",
                tls.mode.name()
            ),
        ),
        None => (
            match cause_text(e) {
                c if c.is_empty() => text.clone(),
                c => c,
            },
            "check the server's TLS settings".to_string(),
        ),
    };
    Some(
        Error::new(
            Kind::Permission,
            format!("TLS to {server} failed: {reason}"),
        )
        .source(text)
        .hint(hint),
    )
}

fn certificate(c: &CertificateError, tls: &Tls) -> (String, String) {
    let root = match &tls.root_cert {
        Some(RootCert::File(p)) => p.display().to_string(),
        Some(RootCert::System) => "the system trust store".into(),
        None => "no CA".into(),
    };
    match c {
        CertificateError::NotValidForNameContext { expected, presented } => (
            format!(
                "the certificate is for {}, not {}",
                presented.iter().map(|n| plain_name(n)).collect::<Vec<_>>().join(", "),
                expected.to_str()
            ),
            "connect by a name the certificate holds, or set sslmode = \"verify-ca\" to check the CA only".into(),
        ),
        CertificateError::NotValidForName => (
            "the certificate is not for this host name".into(),
            "connect by a name the certificate holds, or set sslmode = \"verify-ca\" to check the CA only".into(),
        ),
        CertificateError::UnknownIssuer => (
            format!("the certificate is not signed by a CA in {root}"),
            "set sslrootcert to the CA that issued the server's certificate".into(),
        ),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
            match c {
                CertificateError::ExpiredContext { not_after, .. } => format!(
                    "the certificate expired at {}",
                    chrono::DateTime::from_timestamp(not_after.as_secs() as i64, 0)
                        .map_or_else(|| "an unknown time".into(), |t| t.to_rfc3339())
                ),
                _ => "the certificate has expired".into(),
            },
            "the server's certificate must be renewed".into(),
        ),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
            "the certificate is not valid yet".into(),
            "check the clocks of this host and the server".into(),
        ),
        CertificateError::Revoked => (
            "the certificate is revoked".into(),
            "the server's certificate is listed in sslcrl; it must be replaced".into(),
        ),
        other => (format!("the certificate is refused ({other:?})"), format!("check sslrootcert ({root}) and sslcrl")),
    }
}

/// tokio-postgres's own TLS errors carry their reason in the cause, not the message.
fn cause_text(e: &tokio_postgres::Error) -> String {
    std::error::Error::source(e).map_or_else(String::new, ToString::to_string)
}

/// webpki writes presented names as `DnsName("db.example.org")` or `IpAddress(10.0.0.1)`.
fn plain_name(presented: &str) -> &str {
    for prefix in ["DnsName(\"", "IpAddress(", "UniformResourceIdentifier(\""] {
        if let Some(rest) = presented.strip_prefix(prefix) {
            return rest.trim_end_matches(')').trim_end_matches('"');
        }
    }
    presented
}

/// The rustls error under tokio-postgres's TLS error, through the io::Error tokio-rustls wraps.
fn rustls_error(e: &tokio_postgres::Error) -> Option<&rustls::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(r);
        }
        cause = c.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_names_read_as_an_operator_writes_them() {
        assert_eq!(plain_name("DnsName(\"db.example.org\")"), "db.example.org");
        assert_eq!(plain_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(plain_name("DirectoryName"), "DirectoryName");
    }
}
