//! TLS on rustls with ring (no OpenSSL, so the binary stays static and small).
//! tokio-postgres only knows disable/prefer/require; the libpq modes
//! verify-ca and verify-full are the certificate verifiers built here.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::conninfo::{ConnSpec, RootCert, SslMode};
use crate::error::Error;

/// What the server certificate is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Encrypt, but trust any certificate (libpq's prefer/require without a root cert).
    Nothing,
    /// The chain must lead to a trusted root; the host name is not checked.
    Chain,
    /// Chain and host name (verify-full).
    ChainAndName,
}

fn check_for(spec: &ConnSpec) -> Option<Check> {
    match (spec.sslmode, &spec.sslrootcert) {
        (SslMode::Disable, _) => None,
        // libpq: with a root certificate present, require behaves like verify-ca.
        (SslMode::Prefer | SslMode::Require, Some(_)) => Some(Check::Chain),
        (SslMode::Prefer | SslMode::Require, None) => Some(Check::Nothing),
        (SslMode::VerifyCa, _) => Some(Check::Chain),
        (SslMode::VerifyFull, _) => Some(Check::ChainAndName),
    }
}

/// Builds the connector for `spec`, or `None` for `sslmode=disable`. A root
/// certificate file that cannot be used is a configuration error, found
/// before any connection attempt.
pub fn connector(spec: &ConnSpec) -> Result<Option<MakeRustlsConnect>, Error> {
    let Some(check) = check_for(spec) else { return Ok(None) };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS setup: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        Check::Nothing => Arc::new(AcceptAnyCert(provider)),
        Check::Chain | Check::ChainAndName => {
            let roots = Arc::new(root_store(spec.sslrootcert.as_ref().unwrap_or(&RootCert::Bundled))?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| Error::Internal(format!("TLS verifier: {e}")))?;
            if check == Check::Chain {
                Arc::new(IgnoreName(webpki))
            } else {
                webpki
            }
        }
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(MakeRustlsConnect::new(config)))
}

fn root_store(source: &RootCert) -> Result<RootCertStore, Error> {
    let mut store = RootCertStore::empty();
    match source {
        RootCert::Bundled => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        RootCert::File(path) => {
            let bad = |why: String| Error::config("sslrootcert", format!("{}: {why}", path.display()));
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| bad(e.to_string()))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(bad("no usable PEM certificate in the file".into()));
            }
        }
    }
    Ok(store)
}

/// verify-ca: WebPKI checks the chain before the name, so a name mismatch
/// means the chain itself was good.
#[derive(Debug)]
struct IgnoreName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for IgnoreName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// prefer/require without a root certificate: encrypted, not authenticated,
/// exactly as libpq does it. The handshake signatures are still checked.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::conninfo::parse;

    #[test]
    fn modes_map_to_checks() {
        let check = |url: &str| check_for(&parse(url).unwrap());
        assert_eq!(check("postgres://h/d?sslmode=disable"), None);
        assert_eq!(check("postgres://h/d?sslmode=require"), Some(Check::Nothing));
        assert_eq!(
            check("postgres://h/d?sslmode=require&sslrootcert=/ca"),
            Some(Check::Chain)
        );
        assert_eq!(check("postgres://h/d?sslmode=verify-ca"), Some(Check::Chain));
        assert_eq!(check("postgres://h/d?sslmode=verify-full"), Some(Check::ChainAndName));
    }

    #[test]
    fn unreadable_root_cert_is_a_config_error() {
        let spec = parse("postgres://h/d?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem").unwrap();
        let err = connector(&spec).err().unwrap();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }
}
