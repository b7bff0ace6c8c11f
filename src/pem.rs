//! PEM files: certificates and private keys, read and checked.
//!
//! Input: the bytes of a PEM file. Output: DER certificates or a private key, or an error that
//! names what is wrong without ever quoting the file (a key file's content is a secret). Used by
//! the plan stage (client TLS settings, checked at load), the HTTP client (which builds its TLS
//! configuration from the same bytes) and the built-in server. Does no I/O.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// What is wrong with a PEM file; the file's content is never part of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    #[error("holds no {0}")]
    Empty(&'static str),
    #[error("is not valid PEM ({0})")]
    Invalid(&'static str),
    #[error("the private key does not belong to the certificate")]
    Mismatch,
    #[error("the key is not usable: {0}")]
    Unusable(String),
    /// The certificate cannot be read as a client certificate (so neither checked against its
    /// key nor sent).
    #[error("is not usable: {0}")]
    Certificate(String),
}

/// Every certificate in a PEM file; at least one.
pub fn certificates(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PemError::Invalid(kind(&e)))?;
    if certs.is_empty() {
        return Err(PemError::Empty("certificate"));
    }
    Ok(certs)
}

/// The first private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(bytes: &[u8]) -> Result<PrivateKeyDer<'static>, PemError> {
    PrivateKeyDer::from_pem_slice(bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => PemError::Empty("private key (PKCS#8, PKCS#1 or SEC1 PEM)"),
        other => PemError::Invalid(kind(&other)),
    })
}

/// A certificate chain and its key, checked to belong together.
pub fn identity(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), PemError> {
    let certs = certificates(cert_pem)?;
    let key = private_key(key_pem)?;
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| std::sync::Arc::new(rustls::crypto::ring::default_provider()));
    let signing = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| PemError::Unusable(e.to_string()))?;
    CertifiedKey::new(certs.clone(), signing)
        .keys_match()
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                PemError::Mismatch
            }
            // The certificate itself could not be read to compare: say that, not a mismatch.
            rustls::Error::InvalidCertificate(c) => PemError::Certificate(certificate_words(&c)),
            other => PemError::Unusable(other.to_string()),
        })?;
    Ok((certs, key))
}

/// Why a certificate cannot be used, in words. The commonest case has a fix to give: an X.509
/// v1 certificate, which `openssl x509 -req` makes unless given extensions.
fn certificate_words(c: &rustls::CertificateError) -> String {
    // rustls passes the webpki errors it has no variant for as `Other`.
    let webpki = match c {
        rustls::CertificateError::Other(rustls::OtherError(e)) => e.downcast_ref::<webpki::Error>(),
        _ => None,
    };
    match webpki {
        Some(webpki::Error::UnsupportedCertVersion) => "it is an X.509 version 1 certificate, and TLS needs version 3 (sign it with extensions, e.g. `openssl x509 -req … -extfile client.cnf`)".into(),
        _ => c.to_string(),
    }
}

/// Whether `name` can be sent as SNI and verified: a DNS name or an IP address.
pub fn is_server_name(name: &str) -> bool {
    rustls::pki_types::ServerName::try_from(name).is_ok()
}

/// The kind of a PEM error, in words that never quote the input.
fn kind(e: &pem::Error) -> &'static str {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a section has no end line",
        pem::Error::IllegalSectionStart { .. } => "a section start line is malformed",
        pem::Error::Base64Decode(_) => "a section is not valid base64",
        pem::Error::Io(_) => "it cannot be read",
        pem::Error::NoItemsFound => "nothing found",
        _ => "unreadable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated() -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        let cert = params.self_signed(&key).expect("cert");
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn identities_are_checked_and_never_quoted() {
        let (cert, key) = generated();
        let (_, other_key) = generated();
        assert!(identity(cert.as_bytes(), key.as_bytes()).is_ok());
        let cases: [(&str, &str, PemError); 4] = [
            (&cert, &other_key, PemError::Mismatch),
            ("", &key, PemError::Empty("certificate")),
            (
                &cert,
                "no key here",
                PemError::Empty("private key (PKCS#8, PKCS#1 or SEC1 PEM)"),
            ),
            (
                "-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----\n",
                &key,
                PemError::Invalid("a section is not valid base64"),
            ),
        ];
        for (c, k, want) in cases {
            let e = identity(c.as_bytes(), k.as_bytes()).expect_err("refused");
            assert_eq!(e, want);
            assert!(!e.to_string().contains("PRIVATE KEY-----"));
        }
    }
}
