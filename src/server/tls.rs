//! TLS for the built-in server: a rustls server configuration (ALPN `h2` and `http/1.1`) from a
//! generated identity or from PEM files, optionally requiring client certificates.
//!
//! Input: [`Identity`] and an optional client CA file. Output: a [`TlsSetup`], and for a generated
//! identity a [`CaFile`] for the one process that should trust it.
//!
//! A generated identity is a fresh CA (`loadplan serve CA`, may sign only end certificates) and a
//! server certificate signed by it for `localhost`, `127.0.0.1` and `::1`, ECDSA P-256 both. The
//! CA's private key lives only in this function and is dropped once the server certificate is
//! signed, so trusting that CA trusts this one server and nothing else. Private keys never reach
//! stdout, stderr or an error message: errors about a key file name the file and the kind of
//! problem only. The crypto is ring for rustls and rcgen alike (the one provider compiled in).

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::pem::PemError;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

/// The names a generated server certificate is valid for.
const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Where the server's certificate and key come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    /// A CA and a server certificate made at start; the CA certificate is published.
    Generated,
    /// A certificate chain (PEM, leaf first) and its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    Files { cert: PathBuf, key: PathBuf },
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} from {path}: {problem}")]
    Read {
        what: &'static str,
        path: PathBuf,
        problem: String,
    },
    #[error("{path} holds no {what}")]
    Empty { what: &'static str, path: PathBuf },
    #[error("the client CA in {path} is not usable: {problem}")]
    ClientCa { path: PathBuf, problem: String },
    #[error("the certificate and key do not make a TLS server: {0}")]
    Config(#[from] rustls::Error),
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write the CA certificate to {path}: {source}")]
    CaFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the temporary folder {0} is not a plain UTF-8 path: set TMPDIR to one")]
    CaPath(PathBuf),
}

/// What the server needs to speak TLS, and the CA certificate (PEM) to publish when the identity
/// was generated.
pub struct TlsSetup {
    pub config: Arc<ServerConfig>,
    pub ca_pem: Option<String>,
}

/// Builds the server configuration. `client_ca`, when given, makes client certificates signed by
/// that CA mandatory.
pub fn setup(identity: &Identity, client_ca: Option<&Path>) -> Result<TlsSetup, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (chain, key, ca_pem) = match identity {
        Identity::Generated => {
            let (chain, key, ca_pem) = generate()?;
            (chain, key, Some(ca_pem))
        }
        Identity::Files { cert, key } => {
            (certificates(cert, "certificates")?, private_key(key)?, None)
        }
    };
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => builder.with_client_cert_verifier(client_verifier(path, provider)?),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsSetup {
        config: Arc::new(config),
        ca_pem,
    })
}

/// A fresh CA and a server certificate signed by it: (chain, server key, CA certificate PEM).
fn generate() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String), rcgen::Error>
{
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "loadplan serve CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let mut server = CertificateParams::new(SERVER_NAMES.map(String::from).to_vec())?;
    server
        .distinguished_name
        .push(DnType::CommonName, "loadplan serve");
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    let server_key = KeyPair::generate()?;
    let server_cert = server.signed_by(&server_key, &issuer)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    Ok((vec![server_cert.der().clone()], key, ca_cert.pem()))
}

/// Every certificate in a PEM file; at least one.
fn certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path, what)?;
    crate::pem::certificates(&bytes).map_err(|e| pem_error(e, path, what, what))
}

/// The first private key in a PEM file. Errors tell only the kind of problem: a key file's
/// content is a secret.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path, "the private key")?;
    crate::pem::private_key(&bytes).map_err(|e| {
        let none = "private key (PKCS#8, PKCS#1 or SEC1 PEM)";
        pem_error(e, path, "the private key", none)
    })
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    crate::files::read_pem(path).map_err(|e| TlsError::Read {
        what,
        path: path.to_path_buf(),
        problem: e.to_string(),
    })
}

/// `what` names the file's content in read errors, `none` what an empty file lacks.
fn pem_error(e: PemError, path: &Path, what: &'static str, none: &'static str) -> TlsError {
    match e {
        PemError::Empty(_) => TlsError::Empty {
            what: none,
            path: path.to_path_buf(),
        },
        other => TlsError::Read {
            what,
            path: path.to_path_buf(),
            problem: other.to_string(),
        },
    }
}

fn client_verifier(
    path: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let bad = |problem: String| TlsError::ClientCa {
        path: path.to_path_buf(),
        problem,
    };
    let mut roots = RootCertStore::empty();
    for cert in certificates(path, "CA certificates")? {
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| bad(e.to_string()))
}

/// The generated CA's certificate in a PEM file of a private folder (0700, the file 0600), both
/// removed when this is dropped.
#[derive(Debug)]
pub struct CaFile {
    path: PathBuf,
}

impl CaFile {
    pub fn write(pem: &str) -> Result<CaFile, TlsError> {
        let dir = std::env::temp_dir().join(format!(
            "loadplan-serve-{}-{:016x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        if dir.to_str().is_none_or(|s| s.contains(['\n', '\r'])) {
            return Err(TlsError::CaPath(dir));
        }
        let error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TlsError::CaFile { path, source }
        };
        // `create`, not `create_all`: the folder must be new, hence ours alone.
        DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(error(&dir))?;
        let ca = CaFile {
            path: dir.join("ca.pem"),
        };
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&ca.path)
            .and_then(|mut f| f.write_all(pem.as_bytes()))
            .map_err(error(&ca.path))?;
        Ok(ca)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::pem::PemObject;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_generated_identity_verifies_for_its_names_only() {
        let (chain, _, ca_pem) = generate().expect("generate");
        let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("CA PEM");
        let mut roots = RootCertStore::empty();
        roots.add(ca).expect("CA");
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .expect("verifier");
        let now = rustls::pki_types::UnixTime::now();
        for (name, ok) in [
            ("localhost", true),
            ("127.0.0.1", true),
            ("::1", true),
            ("example.com", false),
            ("127.0.0.2", false),
        ] {
            let name = rustls::pki_types::ServerName::try_from(name).expect("name");
            let got = verifier.verify_server_cert(&chain[0], &[], &name, &[], now);
            assert_eq!(got.is_ok(), ok, "{name:?}: {got:?}");
        }
    }

    #[test]
    fn setups_offer_h2_and_http1() {
        let setup = setup(&Identity::Generated, None).expect("setup");
        assert_eq!(
            setup.config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(setup.ca_pem.is_some());
    }

    #[test]
    fn bad_files_are_named_and_keys_never_quoted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = "-----BEGIN PRIVATE KEY-----\nSECRETSECRET!!\n-----END PRIVATE KEY-----\n";
        let key = dir.path().join("key.pem");
        std::fs::write(&key, secret).expect("write");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").expect("write");
        let missing = dir.path().join("missing.pem");
        let table = [
            (
                empty.clone(),
                key.clone(),
                "empty.pem holds no certificates",
            ),
            (missing.clone(), key.clone(), "missing.pem"),
        ];
        for (cert, key, want) in table {
            let e = setup(&Identity::Files { cert, key }, None)
                .err()
                .expect("an error")
                .to_string();
            assert!(e.contains(want), "{e}");
        }
        let (_, _, ca_pem) = generate().expect("generate");
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, ca_pem).expect("write");
        for key in [key, empty, missing] {
            let e = setup(
                &Identity::Files {
                    cert: cert.clone(),
                    key: key.clone(),
                },
                None,
            )
            .err()
            .expect("an error")
            .to_string();
            assert!(e.contains(&*key.to_string_lossy()), "{e}");
            assert!(!e.contains("SECRET"), "{e}");
        }
        let e = setup(&Identity::Generated, Some(&dir.path().join("empty.pem")))
            .err()
            .expect("an error")
            .to_string();
        assert!(e.contains("holds no CA certificates"), "{e}");
    }

    #[test]
    fn the_ca_file_is_private_and_removed() {
        let ca = CaFile::write("pem\n").expect("write");
        let path = ca.path().to_path_buf();
        let dir = path.parent().expect("a folder").to_path_buf();
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!((mode(&dir), mode(&path)), (0o700, 0o600));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "pem\n");
        drop(ca);
        assert!(!dir.exists());
    }
}
