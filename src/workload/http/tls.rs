//! The client's TLS configuration, built once per process from a scenario's [`TlsSettings`]:
//! the system's trusted roots plus the plan's `tls.ca` (and the built-in server's authority), or
//! no verification at all with `insecure`; a client certificate for mutual TLS; ALPN offering
//! what `http` asks for. Sessions are resumed from rustls' in-memory cache.
//!
//! Input: settings (PEM text). Output: a rustls [`ClientConfig`]. Must not log or show any key.

use std::cell::Cell;
use std::sync::{Arc, OnceLock};

use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::plan::http::{HttpVersion, TlsSettings};

/// The crypto provider every TLS configuration of loadplan uses: ring, the one compiled in,
/// offering its SHA-256 cipher suites first (AES-128-GCM first of all, as browsers do; the server
/// still chooses). rustls' default puts AES-256-GCM-SHA384 first, and a TLS 1.3 handshake derives
/// its keys with some twenty HMACs of the suite's hash: with SHA-384 they were a quarter of a new
/// connection's instructions here, where SHA-256 runs on the processor's SHA extensions.
pub fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    // A stable sort: each group keeps rustls' order.
    provider.cipher_suites.sort_by_key(|s| {
        use rustls::CipherSuite as C;
        matches!(
            s.suite(),
            C::TLS13_AES_256_GCM_SHA384
                | C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
                | C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
        )
    });
    Arc::new(provider)
}

/// The system's trusted roots, read once per process. Where the system has none (a minimal
/// container), the list is empty and only the plan's `tls.ca` is trusted: certificates of public
/// services then fail as `UnknownIssuer`, counted as `tls` errors, and the run says why.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// How many roots the system trust store holds (0 where there is none), for the run's notes.
pub fn system_root_count() -> usize {
    system_roots().len()
}

/// The ALPN protocols to offer for `version`.
fn alpn(version: HttpVersion) -> Vec<Vec<u8>> {
    match version {
        HttpVersion::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
        HttpVersion::Http2 => vec![b"h2".to_vec()],
    }
}

/// The client configuration for `settings`; errors are about the settings, never quote a key.
pub fn config(settings: &TlsSettings, version: HttpVersion) -> Result<ClientConfig, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if settings.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(Arc::clone(&provider))))
    } else {
        let mut roots = RootCertStore::empty();
        // A system root that rustls cannot use is skipped, as every TLS client does.
        let _ = roots.add_parsable_certificates(system_roots().iter().cloned());
        for pem in &settings.ca_pem {
            let certs =
                crate::pem::certificates(pem.as_bytes()).map_err(|e| format!("the CA {e}"))?;
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("a CA certificate is not usable: {e}"))?;
            }
        }
        builder.with_root_certificates(roots)
    };
    let mine = match &settings.client {
        None => None,
        Some(id) => {
            let (certs, key) = crate::pem::identity(id.cert_pem.as_bytes(), id.key_pem.as_bytes())
                .map_err(|e| format!("the client certificate: {e}"))?;
            let certified = CertifiedKey::from_der(certs, key, &provider)
                .map_err(|e| format!("the client certificate: {e}"))?;
            Some(SingleCertAndKey::from(certified))
        }
    };
    let mut config = builder.with_client_cert_resolver(Arc::new(Noting(mine)));
    config.alpn_protocols = alpn(version);
    // Built before any cell's clock starts: so is the crypto's start-up (`warm.rs`).
    super::warm::once(&provider);
    Ok(config)
}

/// What a server's TLS handshake asked of the client about a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// Nothing: no client certificate was asked for.
    Nothing,
    /// A certificate, and the plan has none.
    NoCertificate,
    /// A certificate, and the plan's `tls.client_cert` was sent.
    CertificateSent,
}

thread_local! {
    /// What a server asked of this thread's latest TLS handshake step.
    static ASKED: Cell<Asked> = const { Cell::new(Asked::Nothing) };
}

/// What a server asked for in a handshake step on this thread since the last call (which this
/// call forgets). rustls asks the resolver during a poll of the handshake, so a caller that asks
/// right after each poll learns about its own handshake.
pub fn asked() -> Asked {
    ASKED.replace(Asked::Nothing)
}

/// The plan's client certificate, if any, as rustls' `with_client_auth_cert` and
/// `with_no_client_auth` give it, and a note of each server that asks for one: a server that
/// then refuses the connection says why only in an alert that its reset can overtake (see
/// `connect.rs`).
#[derive(Debug)]
struct Noting(Option<SingleCertAndKey>);

impl ResolvesClientCert for Noting {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let chosen = self
            .0
            .as_ref()
            .and_then(|c| c.resolve(root_hint_subjects, sigschemes));
        ASKED.set(if chosen.is_some() {
            Asked::CertificateSent
        } else {
            Asked::NoCertificate
        });
        chosen
    }

    fn has_certs(&self) -> bool {
        self.0.is_some()
    }
}

/// `tls.insecure: true`: any certificate is accepted, and so is any handshake signature.
///
/// A handshake signature (TLS 1.3 `CertificateVerify`, TLS 1.2 `ServerKeyExchange`) proves that
/// the server holds the key of the certificate it sent; when nobody checks who issued that
/// certificate, anyone can make a key and a certificate for it, so the proof says nothing about
/// who answered. Checking it anyway cost about 40 % of a new ECDSA connection's instructions (the
/// P-256 arithmetic; 31 % of its CPU, docs/performance.md), work oha's `--insecure` skips too
/// (OpenSSL does not). The handshake's key exchange and its `Finished` messages are still computed and
/// checked, so the connection is encrypted and not tampered with on the way; it is only not known
/// to reach the server meant. Verified connections (without `insecure`) check everything.
#[derive(Debug)]
struct AcceptAnything(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // The same answer as for TLS 1.2: nothing is checked.
        self.verify_tls12_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        // Offered in the ClientHello: the server still picks a scheme it can sign with.
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use rustls::server::{ClientHello, ResolvesServerCert};
    use rustls::{ClientConnection, ServerConfig, ServerConnection, SupportedProtocolVersion};

    const NAME: &str = "target.invalid";

    /// A server whose certificate (issued by the returned CA for [`NAME`]) is not the key it signs
    /// its handshakes with: the impostor a handshake signature exists to catch.
    #[derive(Debug)]
    struct Impostor(Arc<CertifiedKey>);

    impl ResolvesServerCert for Impostor {
        fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            Some(Arc::clone(&self.0))
        }
    }

    fn impostor(version: &'static SupportedProtocolVersion) -> (ServerConfig, String) {
        let provider = provider();
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let ca_key = KeyPair::generate().expect("ca key");
        let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
        let ca_pem = ca_cert.pem();
        let issuer = Issuer::new(ca, ca_key);
        let leaf = CertificateParams::new(vec![NAME.to_string()]).expect("leaf params");
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("leaf cert");
        // Signs with another key than the certificate's.
        let other = KeyPair::generate().expect("other key");
        let other = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(other.serialize_der()));
        let signer = provider
            .key_provider
            .load_private_key(other)
            .expect("signing key");
        let certified = CertifiedKey::new(vec![leaf_cert.der().clone()], signer);
        let server = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .expect("versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Impostor(Arc::new(certified))));
        (server, ca_pem)
    }

    /// Runs a handshake in memory; the first error either side raised, as text.
    fn handshake(client: ClientConfig, server: ServerConfig) -> Result<(), String> {
        let name = ServerName::try_from(NAME).map_err(|e| e.to_string())?;
        let mut client =
            ClientConnection::new(Arc::new(client), name).map_err(|e| e.to_string())?;
        let mut server = ServerConnection::new(Arc::new(server)).map_err(|e| e.to_string())?;
        for _ in 0..8 {
            let mut bytes = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut bytes).map_err(|e| e.to_string())?;
            }
            server
                .read_tls(&mut &bytes[..])
                .map_err(|e| e.to_string())?;
            server.process_new_packets().map_err(|e| e.to_string())?;
            let mut bytes = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut bytes).map_err(|e| e.to_string())?;
            }
            client
                .read_tls(&mut &bytes[..])
                .map_err(|e| e.to_string())?;
            client.process_new_packets().map_err(|e| e.to_string())?;
            if !client.is_handshaking() && !server.is_handshaking() {
                return Ok(());
            }
        }
        Err("the handshake did not finish".into())
    }

    #[test]
    fn insecure_skips_the_handshake_signature_and_verified_checks_it() {
        let versions: [&'static SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        for version in versions {
            let (server, ca_pem) = impostor(version);
            let insecure = TlsSettings {
                insecure: true,
                ..TlsSettings::default()
            };
            let client = config(&insecure, HttpVersion::Http1).expect("insecure config");
            assert_eq!(
                handshake(client, server.clone()),
                Ok(()),
                "{version:?}: insecure"
            );

            let verified = TlsSettings {
                ca_pem: vec![ca_pem],
                ..TlsSettings::default()
            };
            let client = config(&verified, HttpVersion::Http1).expect("verified config");
            let refused = handshake(client, server).expect_err("a signature by another key");
            assert!(
                refused.contains("BadSignature") || refused.contains("signature"),
                "{version:?}: {refused}"
            );
        }
    }
}
