//! The HTTP client's start-up (TLS and the system resolver), paid once per process before any
//! cell's clock starts.
//!
//! The first handshake a process makes pays for what the crypto library sets up on first use
//! (the crypto library's random generator and CPU dispatch, each key exchange's and signature's
//! code and tables, rustls' and webpki's first parses): measured with aws-lc-rs, the provider
//! before ring, 62–130 ms of the first
//! connection's `tls` (or `connect`) phase against a loopback nginx that curl reached in 0.2 ms.
//! That is client start-up, not server time. So when a process builds its TLS configuration
//! (before its users meet at the start gate, in every host and in each worker process before it
//! reports ready), it runs one complete handshake in memory against a throwaway server of its
//! own, with the same provider and an ECDSA P-256 chain made for the purpose, and starts and
//! finishes every key exchange group the provider offers. Measured which part matters: the key
//! exchanges alone took a debug build's first handshake from 61–131 ms to 2–11 ms, the in-memory
//! handshake alone to 4–35 ms, both together to 1.5 ms (the warm figure), on a busy machine.
//!
//! Likewise the first name a process resolves loads the system resolver (NSS modules,
//! `/etc/hosts`, `resolv.conf`): each target host name that goes to the resolver is looked up
//! once per process when its workload is prepared, so `dns` times a lookup, not a library load.
//! `localhost` and `.invalid` names never reach the resolver (`connect.rs`) and are skipped.
//!
//! Input: the crypto provider; target host names. Output: nothing but a warm process. The TLS
//! part opens no socket and reads no file; never fails a run (a warm-up that cannot run leaves
//! the cost where it was).

use std::collections::BTreeSet;
use std::net::ToSocketAddrs;
use std::sync::{Arc, Mutex, Once};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, ConnectionCommon, RootCertStore, ServerConfig, ServerConnection,
};

/// The name the throwaway server's certificate is made for (`.invalid`: never a real host).
const NAME: &str = "warm-up.invalid";

/// Warms this process's TLS client once, however many configurations it builds.
pub fn once(provider: &Arc<CryptoProvider>) {
    static WARM: Once = Once::new();
    WARM.call_once(|| {
        exchanges(provider);
        // A warm-up that cannot run only leaves the first handshake slower.
        let _ = handshake(provider);
    });
}

/// Looks `host` up once in this process, when it is a name the system resolver answers.
pub fn resolver(host: &url::Host<String>, port: u16) {
    let Some(name) = resolved_name(host) else {
        return;
    };
    static DONE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let first = DONE.lock().map(|mut d| d.insert(name.clone()));
    if first.unwrap_or(false) {
        // A name that does not resolve fails when the cell connects, as a counted error.
        let _ = (name.as_str(), port).to_socket_addrs();
    }
}

/// The name the resolver would be asked for `host`: `None` for addresses, `localhost` and
/// `.invalid` names, which `connect.rs` answers itself.
fn resolved_name(host: &url::Host<String>) -> Option<String> {
    let url::Host::Domain(d) = host else {
        return None;
    };
    let name = d.trim_end_matches('.').to_ascii_lowercase();
    let own = |tld: &str| name == tld || name.ends_with(&format!(".{tld}"));
    (!own("localhost") && !own("invalid")).then_some(name)
}

/// Starts and completes each key exchange group of `provider` (a hybrid group's completion with
/// a public key rather than a ciphertext fails: its start, the client's part, has run).
fn exchanges(provider: &CryptoProvider) {
    for group in &provider.kx_groups {
        if let (Ok(ours), Ok(theirs)) = (group.start(), group.start()) {
            let _ = ours.complete(theirs.pub_key());
        }
    }
}

/// One TLS handshake in memory between a client and a server of this process, both on
/// `provider`, the client verifying the server's chain as it would a target's.
fn handshake(provider: &Arc<CryptoProvider>) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|e| err(&e))?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_key = KeyPair::generate().map_err(|e| err(&e))?;
    let ca_cert = ca.self_signed(&ca_key).map_err(|e| err(&e))?;
    let issuer = Issuer::new(ca, ca_key);
    let leaf = CertificateParams::new(vec![NAME.to_string()]).map_err(|e| err(&e))?;
    let leaf_key = KeyPair::generate().map_err(|e| err(&e))?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(|e| err(&e))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));

    let server = ServerConfig::builder_with_provider(Arc::clone(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&e))?
        .with_no_client_auth()
        .with_single_cert(vec![leaf_cert.der().clone()], key)
        .map_err(|e| err(&e))?;
    let mut roots = RootCertStore::empty();
    roots.add(ca_cert.der().clone()).map_err(|e| err(&e))?;
    let client = ClientConfig::builder_with_provider(Arc::clone(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(NAME).map_err(|e| err(&e))?;
    let mut client = ClientConnection::new(Arc::new(client), name).map_err(|e| err(&e))?;
    let mut server = ServerConnection::new(Arc::new(server)).map_err(|e| err(&e))?;
    // A TLS 1.3 handshake is two flights each way; a few more turns cost nothing.
    for _ in 0..8 {
        pass(&mut *client, &mut *server)?;
        server.process_new_packets().map_err(|e| err(&e))?;
        pass(&mut *server, &mut *client)?;
        client.process_new_packets().map_err(|e| err(&e))?;
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
    }
    Err("the warm-up handshake did not finish".into())
}

/// Moves what `from` has to send into `to`.
fn pass<F, T>(from: &mut ConnectionCommon<F>, to: &mut ConnectionCommon<T>) -> Result<(), String> {
    let mut bytes = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut bytes).map_err(|e| e.to_string())?;
    }
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        if to.read_tls(&mut rest).map_err(|e| e.to_string())? == 0 {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_the_resolver_answers_are_looked_up() {
        let domain = |d: &str| url::Host::Domain(d.to_string());
        let cases = [
            (domain("api.example.com."), Some("api.example.com")),
            (domain("API.Example.com"), Some("api.example.com")),
            (domain("localhost"), None),
            (domain("web.localhost"), None),
            (domain("nothing.invalid"), None),
            (url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST), None),
        ];
        for (host, want) in cases {
            assert_eq!(resolved_name(&host).as_deref(), want, "{host:?}");
        }
    }

    #[test]
    fn the_warm_up_handshake_completes() {
        let provider = super::super::tls::provider();
        exchanges(&provider);
        assert_eq!(handshake(&provider), Ok(()));
    }
}
