//! The built-in server end to end: `loadplan serve` on port 0 as its own process, spoken to over
//! HTTP/1.1, h2c with prior knowledge, HTTPS with ALPN `h2` and `http/1.1` trusting the CA it
//! prints, and mutual TLS; then stopped with SIGTERM, leaving nothing behind.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper::{Request, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::util::{self, Serve};

/// One client connection, HTTP/1.1 or HTTP/2, over TCP or TLS.
enum Conn {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// What a response said.
struct Reply {
    version: Version,
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

impl Conn {
    async fn open<S>(io: S, h2: bool) -> Result<Conn, hyper::Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(io);
        Ok(if h2 {
            let (send, conn) = http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(conn);
            Conn::H2(send)
        } else {
            let (send, conn) = http1::handshake(io).await?;
            tokio::spawn(conn);
            Conn::H1(send)
        })
    }

    /// Sends `method url` with `headers` and `body`, and reads the whole response.
    async fn send(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Reply, hyper::Error> {
        let mut req = Request::builder().method(method).uri(url);
        if let Conn::H1(_) = self {
            let authority = url.split('/').nth(2).expect("an absolute URL");
            req = req.header("host", authority);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .expect("a valid request");
        let resp = match self {
            Conn::H1(send) => send.send_request(req).await?,
            Conn::H2(send) => send.send_request(req).await?,
        };
        let (parts, body) = resp.into_parts();
        Ok(Reply {
            version: parts.version,
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await?.to_bytes(),
        })
    }

    async fn get(&mut self, url: &str) -> Result<Reply, hyper::Error> {
        self.send("GET", url, &[], "").await
    }
}

/// A TLS client trusting `ca_pem`, offering `alpn`, presenting `identity` if any.
fn tls_client(
    ca_pem: &[u8],
    alpn: &[&[u8]],
    identity: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots
            .add(cert.expect("a CA certificate"))
            .expect("a usable CA");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(vec![cert], key)
            .expect("a client identity"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Connects over TLS as `name`, and opens HTTP/2 if ALPN chose `h2`, HTTP/1.1 otherwise.
async fn tls_conn(
    port: u16,
    connector: &tokio_rustls::TlsConnector,
    name: &str,
) -> Result<(Option<Vec<u8>>, Conn), String> {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(name.to_string()).expect("a server name");
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let h2 = alpn.as_deref() == Some(b"h2");
    let conn = Conn::open(tls, h2).await.map_err(|e| e.to_string())?;
    Ok((alpn, conn))
}

async fn tcp_conn(port: u16, h2: bool) -> Conn {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    Conn::open(tcp, h2).await.expect("handshake")
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

/// A stop that exits 0 and printed nothing more than the lines already read, least of all a key.
fn assert_clean_stop(server: Serve) {
    let (code, out, err) = server.stop();
    assert_eq!(code, Some(0), "stderr: {err}");
    assert_eq!(out, "");
    assert!(!err.contains("PRIVATE KEY"), "{err}");
}

#[test]
fn http1_and_h2c_share_the_plain_port() {
    let server = Serve::start(&[]);
    assert!(server.ca.is_none());
    let base = format!("http://{}", server.addr);
    block_on(async {
        for (h2, version) in [(false, Version::HTTP_11), (true, Version::HTTP_2)] {
            let mut conn = tcp_conn(server.port(), h2).await;
            let r = conn.get(&format!("{base}/hello")).await.expect("/hello");
            assert_eq!((r.version, r.status), (version, StatusCode::OK));
            assert_eq!(r.body, "hello\n");
            let r = conn
                .get(&format!("{base}/bytes?size=200000"))
                .await
                .expect("/bytes");
            assert_eq!(r.body.len(), 200_000, "{version:?}");
            let r = conn
                .get(&format!("{base}/status?code=503"))
                .await
                .expect("/status");
            assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        }
    });
    assert_clean_stop(server);
}

#[test]
fn https_speaks_h2_and_http1_by_alpn_trusting_the_printed_ca() {
    let server = Serve::start(&["--tls"]);
    let ca_path = server.ca.clone().expect("a CA line");
    let ca_dir = ca_path.parent().expect("a folder").to_path_buf();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!((mode(&ca_dir), mode(&ca_path)), (0o700, 0o600));
    }
    let ca = std::fs::read(&ca_path).expect("the CA file");
    assert!(String::from_utf8_lossy(&ca).starts_with("-----BEGIN CERTIFICATE-----"));
    let https = |name: &str| format!("https://{name}:{}/hello", server.port());
    block_on(async {
        // ALPN offered, name verified, version served, ALPN chosen
        type Case<'a> = (&'a [&'a [u8]], &'a str, Version, Option<&'a [u8]>);
        let table: &[Case] = &[
            (
                &[b"h2", b"http/1.1"],
                "127.0.0.1",
                Version::HTTP_2,
                Some(b"h2"),
            ),
            (&[b"h2"], "localhost", Version::HTTP_2, Some(b"h2")),
            (
                &[b"http/1.1"],
                "127.0.0.1",
                Version::HTTP_11,
                Some(b"http/1.1"),
            ),
            (&[], "localhost", Version::HTTP_11, None),
        ];
        for &(offer, name, version, chosen) in table {
            let connector = tls_client(&ca, offer, None);
            let (alpn, mut conn) = tls_conn(server.port(), &connector, name)
                .await
                .expect("a handshake trusting the printed CA");
            assert_eq!(alpn.as_deref(), chosen, "{name} offering {offer:?}");
            let r = conn.get(&https(name)).await.expect("/hello");
            assert_eq!((r.version, r.status), (version, StatusCode::OK));
            assert_eq!(r.body, "hello\n");
        }
        // Only that CA makes the server trusted, and only under its own names.
        let stranger = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
            .expect("a stranger CA");
        let untrusting = tls_client(stranger.cert.pem().as_bytes(), &[b"h2"], None);
        let e = tls_conn(server.port(), &untrusting, "localhost")
            .await
            .err();
        assert!(e.is_some_and(|e| e.contains("certificate")));
        let trusting = tls_client(&ca, &[b"h2"], None);
        let e = tls_conn(server.port(), &trusting, "example.com")
            .await
            .err();
        assert!(e.is_some_and(|e| e.contains("certificate")));
    });
    assert_clean_stop(server);
    assert!(!ca_dir.exists(), "{} outlived the server", ca_dir.display());
}

/// A CA (rcgen) and a client certificate it signed.
fn client_identity(cn: &str) -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, format!("{cn} CA"));
    let ca_key = rcgen::KeyPair::generate().expect("a key");
    let ca_cert = ca.self_signed(&ca_key).expect("a CA");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let mut client = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    client
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    client.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().expect("a key");
    let cert = client
        .signed_by(&key, &issuer)
        .expect("a client certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (ca_cert.pem(), cert.der().clone(), key)
}

#[test]
fn mutual_tls_needs_a_client_certificate_from_the_given_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // The server's own identity from files, made the usual way (the `openssl` command): an RSA
    // CA and a certificate for localhost.
    super::tls::certificates(d, "rsa");
    let (client_ca, cert, key) = client_identity("user1");
    std::fs::write(d.join("client-ca.pem"), client_ca).expect("write");
    let (_, stranger_cert, stranger_key) = client_identity("stranger");

    let path = |name: &str| util::path_str(&d.join(name)).to_string();
    let server = Serve::start(&[
        "--tls",
        "--tls-cert",
        &path("server.pem"),
        "--tls-key",
        &path("server.key"),
        "--client-ca",
        &path("client-ca.pem"),
    ]);
    assert!(server.ca.is_none(), "a given certificate prints no CA line");
    let ca = std::fs::read(d.join("ca.pem")).expect("the CA");
    let url = format!("https://localhost:{}/hello", server.port());
    block_on(async {
        for alpn in [b"h2".as_slice(), b"http/1.1"] {
            let with = tls_client(&ca, &[alpn], Some((cert.clone(), key.clone_key())));
            let (_, mut conn) = tls_conn(server.port(), &with, "localhost")
                .await
                .expect("a handshake with a client certificate");
            let r = conn
                .get(&url)
                .await
                .expect("/hello with a client certificate");
            assert_eq!(r.status, StatusCode::OK);
        }
        // TLS 1.3 lets the client finish its handshake before the server has checked the
        // certificate, so a refusal may surface on the first request instead.
        let clients = [
            ("without a certificate", tls_client(&ca, &[b"h2"], None)),
            (
                "with a certificate from another CA",
                tls_client(&ca, &[b"h2"], Some((stranger_cert, stranger_key))),
            ),
        ];
        for (what, client) in clients {
            let refused = match tls_conn(server.port(), &client, "localhost").await {
                Err(_) => true,
                Ok((_, mut conn)) => conn.get(&url).await.is_err(),
            };
            assert!(refused, "served a client {what}");
        }
    });
    assert_clean_stop(server);
}

async fn login(conn: &mut Conn, base: &str, user: &str, password: &str) -> Reply {
    let body = serde_json::json!({ "user": user, "password": password }).to_string();
    let url = format!("{base}/login");
    conn.send("POST", &url, &[], &body).await.expect("login")
}

#[test]
fn the_api_keeps_sessions_and_counts_across_connections() {
    let server = Serve::start(&[]);
    let base = format!("http://{}", server.addr);
    block_on(async {
        let mut h2 = tcp_conn(server.port(), true).await;
        let mut h1 = tcp_conn(server.port(), false).await;
        let r = login(&mut h2, &base, "user7", "pass-7").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers["content-type"], "application/json");
        let token = r.json()["token"].as_str().expect("a token").to_string();
        let cookie = r.headers["set-cookie"].to_str().expect("ascii");
        let cookie = cookie.split(';').next().expect("name=value").to_string();
        let r = login(&mut h1, &base, "user7", "pass-8").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);

        let bearer = format!("Bearer {token}");
        let items = format!("{base}/items");
        let r = h1.get(&items).await.expect("/items");
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = h1
            .send("GET", &items, &[("authorization", &bearer)], "")
            .await
            .expect("/items");
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()[6], serde_json::json!({ "id": 7, "name": "globe" }));
        for conn in [&mut h1, &mut h2] {
            let r = conn
                .send("GET", &format!("{items}/3"), &[("cookie", &cookie)], "")
                .await
                .expect("/items/3");
            assert_eq!(r.json(), serde_json::json!({ "id": 3, "name": "candle" }));
        }
        let r = h2
            .send(
                "GET",
                &format!("{items}/99"),
                &[("authorization", &bearer)],
                "",
            )
            .await
            .expect("/items/99");
        assert_eq!(r.status, StatusCode::NOT_FOUND);

        let stats = h2
            .get(&format!("{base}/stats"))
            .await
            .expect("/stats")
            .json();
        assert_eq!(
            stats,
            serde_json::json!({
                "logins": { "user7": 1 },
                "login_failures": 1,
                "item_fetches": { "3": 2 },
                "item_list_fetches": 1,
                "unauthorized": 1,
                "sessions": 1,
            })
        );
    });
    assert_clean_stop(server);
}

#[test]
fn certificate_problems_stop_the_server_before_it_prints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.pem");
    let not_a_key = util::write_plan(dir.path(), "key.pem", "-----BEGIN PRIVATE KEY-----\nX\n");
    let (m, k) = (util::path_str(&missing), util::path_str(&not_a_key));
    let table: &[(&[&str], i32, &str)] = &[
        (
            &["--tls", "--tls-cert", m, "--tls-key", k],
            3,
            "missing.pem",
        ),
        (&["--tls", "--client-ca", m], 3, "missing.pem"),
        (&["--tls-cert", m, "--tls-key", k], 2, "--tls"),
        (&["--tls", "--tls-cert", m], 2, "--tls-key"),
    ];
    for &(args, code, says) in table {
        let mut all = vec!["serve", "--addr", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let o = util::loadplan_in(dir.path(), &all, &[], Duration::from_secs(20));
        assert_eq!(o.code, code, "{args:?}: {}", o.stderr);
        assert_eq!(o.stdout, "", "{args:?}");
        assert!(o.stderr.contains(says), "{args:?}: {}", o.stderr);
    }
}
