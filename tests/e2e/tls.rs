//! HTTPS and HTTP/2 end to end, against servers loadplan did not write: a real nginx with HTTPS
//! and HTTP/2 on loopback (certificates made by the `openssl` command, not by loadplan), and the
//! built-in server requiring client certificates. Checks what each connection policy opens, that
//! the protocol asked for is the one that arrives (nginx's access log says), that verification
//! is on by default and fails as counted `tls` errors with their message, and that a scheme
//! pointed at the wrong kind of port is a counted error, never a hang.

use std::path::Path;
use std::time::{Duration, Instant};

use super::util::{self, NginxServer, Serve, every_cell, openssl, u};

/// A certificate authority and a server certificate for 127.0.0.1 and localhost, made with
/// the `openssl` command in `dir`: `ca.pem`, `server.pem`, `server.key`.
pub fn certificates(dir: &Path, key: &str) {
    let newkey: &[&str] = match key {
        "ec" => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
        _ => &["-newkey", "rsa:2048"],
    };
    let args = |rest: &[&str]| -> Vec<String> { rest.iter().map(|s| (*s).to_string()).collect() };
    let mut ca = args(&["req", "-x509"]);
    ca.extend(args(newkey));
    ca.extend(args(&[
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=loadplan test CA",
    ]));
    openssl(dir, &ca.iter().map(String::as_str).collect::<Vec<_>>());
    let mut req = args(&["req"]);
    req.extend(args(newkey));
    req.extend(args(&[
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]));
    openssl(dir, &req.iter().map(String::as_str).collect::<Vec<_>>());
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .expect("write ext.cnf");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

/// An nginx of its own on 127.0.0.1: HTTPS with HTTP/2 on `tls_port`, plain HTTP on `port`, one
/// line per request in `access.log` saying which protocol it came by (`util::NginxServer`).
pub struct Nginx {
    server: NginxServer,
    pub port: u16,
    pub tls_port: u16,
}

/// A free port on 127.0.0.1 (bound and released: nginx binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Nginx {
    /// Starts nginx serving `dir`'s `server.pem`/`server.key`.
    pub fn start(dir: &Path) -> Nginx {
        let (port, tls_port) = (free_port(), free_port());
        let d = dir.display();
        let server = format!(
            "    listen 127.0.0.1:{port};\n    listen 127.0.0.1:{tls_port} ssl http2;\n\
             \x20   ssl_certificate {d}/server.pem; ssl_certificate_key {d}/server.key;"
        );
        let ready = || std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_ok();
        let server = NginxServer::start(dir, &server, |_| {}, ready);
        Nginx {
            server,
            port,
            tls_port,
        }
    }

    /// The access log's protocol column, one entry per request so far.
    pub fn protocols(&self) -> Vec<String> {
        self.server.protocols()
    }
}

/// Runs `plan` (written to `dir`) and returns its summary; the run must not crash or hang.
fn run(dir: &Path, name: &str, plan: &str) -> (util::Output, serde_json::Value) {
    let file = util::write_plan(dir, &format!("{name}.yaml"), plan);
    let out = dir.join(format!("out-{name}"));
    let o = util::run_plan(dir, &file, &out);
    assert!(o.code == 0 || o.code == 1, "{name}: {o:?}");
    assert!(!o.stderr.contains("panicked"), "{o:?}");
    let s = util::summary(&out, name);
    (o, s)
}

fn errors(c: &serde_json::Value) -> u64 {
    c["errors"]
        .as_object()
        .expect("errors")
        .values()
        .map(u)
        .sum()
}

#[test]
fn nginx_over_https_and_http2_with_every_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    certificates(d, "rsa");
    let nginx = Nginx::start(d);
    let head = format!(
        "version: 1\nbase: https://127.0.0.1:{}\ndefaults: {{ timeout: 5s, tls: {{ ca: ca.pem }} }}\n",
        nginx.tls_port
    );

    // Every model, keep-alive: one connection (and one handshake) per user, no error.
    let (_, s) = run(
        d,
        "every-model",
        &format!(
            "{head}name: every-model\nscenarios:\n  - name: auto\n    targets: [/]\n    duration: 600ms\n    models: [sequential, threads, async, processes]\n    concurrency: 3\n"
        ),
    );
    for c in every_cell(&s) {
        let users = u(&c["concurrency"]);
        let conns = &c["connections"];
        assert_eq!(errors(c), 0, "{c}");
        assert!(u(&c["operations"]) > users, "{c}");
        assert_eq!(u(&conns["opened"]), users, "one connection per user: {c}");
        assert_eq!(u(&conns["tls_handshakes"]), users, "{c}");
        assert_eq!(
            u(&conns["protocols"]["HTTP/2"]),
            users,
            "ALPN picked h2: {c}"
        );
        assert!(u(&conns["tls_us"]["count"]) == users, "{c}");
    }

    // The protocol asked for is the one that arrives.
    for (version, want) in [("\"2\"", "HTTP/2.0"), ("\"1.1\"", "HTTP/1.1")] {
        let before = nginx.protocols().len();
        let (_, s) = run(
            d,
            "protocol",
            &format!(
                "{head}name: protocol\nscenarios:\n  - name: p\n    targets: [/]\n    http: {version}\n    repeat: 30\n    models: [async]\n    concurrency: 2\n"
            ),
        );
        std::fs::remove_dir_all(d.join("out-protocol")).expect("clean");
        let arrived = nginx.protocols();
        assert_eq!(arrived.len() - before, 30, "{arrived:?}");
        assert!(arrived[before..].iter().all(|p| p == want), "{arrived:?}");
        assert_eq!(errors(every_cell(&s)[0]), 0);
    }

    // A new connection and handshake for every request.
    let (_, s) = run(
        d,
        "per-request",
        &format!(
            "{head}name: per-request\nscenarios:\n  - name: p\n    targets: [/]\n    connection: per-request\n    repeat: 40\n    models: [threads, async]\n    concurrency: 4\n"
        ),
    );
    for c in every_cell(&s) {
        assert_eq!(errors(c), 0, "{c}");
        assert_eq!(u(&c["connections"]["opened"]), 40, "{c}");
        assert_eq!(u(&c["connections"]["tls_handshakes"]), 40, "{c}");
    }

    // Sixteen users share one HTTP/2 connection.
    let (_, s) = run(
        d,
        "shared",
        &format!(
            "{head}name: shared\nscenarios:\n  - name: p\n    targets: [/]\n    http: \"2\"\n    connections: 1\n    repeat: 320\n    models: [threads, async]\n    concurrency: 16\n"
        ),
    );
    for c in every_cell(&s) {
        assert_eq!(errors(c), 0, "{c}");
        assert_eq!(u(&c["operations"]), 320);
        assert_eq!(u(&c["connections"]["opened"]), 1, "{c}");
    }
    // Worker processes split the cell's connections as they split its users: 3 over 2 workers
    // is 2 and 1, never 3 each.
    let (_, s) = run(
        d,
        "split",
        &format!(
            "{head}name: split\nscenarios:\n  - name: p\n    targets: [/]\n    http: \"2\"\n    connections: 3\n    repeat: 320\n    models: [processes]\n    workers: 2\n    concurrency: 16\n"
        ),
    );
    for c in every_cell(&s) {
        assert_eq!(errors(c), 0, "{c}");
        assert_eq!(u(&c["connections"]["opened"]), 3, "{c}");
    }
}

/// The longest a first connection's `connect` and `tls` phases may take on loopback nginx: far
/// above a warm handshake (about 1 ms in a debug build, a fifth of that optimised), far below the
/// 60–170 ms a process's first handshake cost when the crypto's start-up was paid inside it.
const FIRST_CONNECTION_CEILING_US: u64 = 20_000;

#[test]
fn client_start_up_is_not_booked_as_the_first_connections_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    certificates(d, "rsa");
    let nginx = Nginx::start(d);
    // Each model in a run of its own, so that its first cell's connections are the first its
    // process (and, for `processes`, each worker process) opens.
    for model in ["sequential", "threads", "async", "processes"] {
        let name = format!("first-{model}");
        let plan = format!(
            "version: 1\nname: {name}\nbase: https://127.0.0.1:{}\ndefaults: {{ timeout: 5s, tls: {{ ca: ca.pem }} }}\n\
             scenarios:\n  - name: first\n    targets: [/]\n    repeat: 20\n    models: [{model}]\n    concurrency: 2\n",
            nginx.tls_port
        );
        // The machine may be busy with other work: a first connection slowed by the scheduler
        // once is not start-up, so the best of three runs is what is checked; a start-up paid
        // inside the first connection slows it in every run.
        let mut seen = Vec::new();
        for attempt in 0..3 {
            let (_, s) = run(d, &name, &plan);
            std::fs::remove_dir_all(d.join(format!("out-{name}"))).expect("clean");
            let c = every_cell(&s)[0];
            assert_eq!(errors(c), 0, "{c}");
            let conns = &c["connections"];
            assert_eq!(u(&conns["tls_handshakes"]), u(&c["concurrency"]), "{c}");
            let worst = (u(&conns["connect_us"]["max"]), u(&conns["tls_us"]["max"]));
            seen.push(worst);
            if worst.0 < FIRST_CONNECTION_CEILING_US && worst.1 < FIRST_CONNECTION_CEILING_US {
                break;
            }
            assert!(
                attempt < 2,
                "{model}: the first connections' slowest (connect, tls) in µs, run by run: {seen:?}"
            );
        }
    }
}

#[test]
fn verification_is_on_by_default_and_insecure_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    certificates(d, "ec");
    let nginx = Nginx::start(d);
    let plan = |name: &str, tls: &str| {
        format!(
            "version: 1\nname: {name}\nbase: https://127.0.0.1:{}\nscenarios:\n  - name: p\n    targets: [/]\n{tls}    repeat: 12\n    timeout: 5s\n    models: [sequential, async, processes]\n    concurrency: 2\n",
            nginx.tls_port
        )
    };

    // Without the CA: every operation is a `tls` error, with rustls' reason.
    let (_, s) = run(d, "unknown-ca", &plan("unknown-ca", ""));
    for c in every_cell(&s) {
        assert_eq!(u(&c["errors"]["tls"]), u(&c["operations"]), "{c}");
        let messages = c["error_messages"]["tls"].to_string();
        assert!(messages.contains("UnknownIssuer"), "{messages}");
    }

    // `insecure: true` connects without the CA, and warns.
    let (o, s) = run(
        d,
        "insecure",
        &plan("insecure", "    tls: { insecure: true }\n"),
    );
    for c in every_cell(&s) {
        assert_eq!(errors(c), 0, "{c}");
    }
    assert!(o.stderr.contains("NOT verified"), "{}", o.stderr);

    // `server_name` picks the name verified: the certificate is not for this one.
    let (_, s) = run(
        d,
        "wrong-name",
        &plan(
            "wrong-name",
            "    tls: { ca: ca.pem, server_name: other.example }\n",
        ),
    );
    for c in every_cell(&s) {
        assert_eq!(u(&c["errors"]["tls"]), u(&c["operations"]), "{c}");
    }
}

#[test]
fn the_wrong_scheme_for_a_port_is_a_counted_error_not_a_hang() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    certificates(d, "ec");
    let nginx = Nginx::start(d);
    let plan = format!(
        "version: 1\nname: wrong-scheme\nscenarios:\n  - name: tls-to-plain\n    targets: [\"https://127.0.0.1:{}/\"]\n    tls: {{ ca: ca.pem }}\n    repeat: 5\n    timeout: 3s\n    models: [async]\n  - name: plain-to-tls\n    targets: [\"http://127.0.0.1:{}/\"]\n    repeat: 5\n    timeout: 3s\n    models: [async]\n",
        nginx.port, nginx.tls_port
    );
    let began = Instant::now();
    let (_, s) = run(d, "wrong-scheme", &plan);
    assert!(began.elapsed() < Duration::from_secs(20));
    let tls_to_plain = util::cell(&s, "tls-to-plain", "async");
    assert_eq!(u(&tls_to_plain["errors"]["tls"]), 5, "{tls_to_plain}");
    let plain_to_tls = util::cell(&s, "plain-to-tls", "async");
    assert_eq!(errors(plain_to_tls), 5, "{plain_to_tls}");
}

#[test]
fn mutual_tls_against_the_built_in_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // A CA for clients and a client certificate it signed, made with openssl.
    client_ca(d, "client-ca", "/CN=loadplan client CA");
    let request = [
        "-keyout",
        "me.key",
        "-out",
        "me.csr",
        "-subj",
        "/CN=loadplan test client",
    ];
    openssl(d, &[&["req"][..], P256_KEY, &request].concat());
    std::fs::write(d.join("client.cnf"), "extendedKeyUsage=clientAuth\n").expect("write");
    sign(d, "client-ca", "me.pem", true);
    // The same request signed without extensions is an X.509 version 1 certificate: refused at
    // load for what it is, not as a key that does not belong to it.
    sign(d, "client-ca", "v1.pem", false);
    let v1 = util::write_plan(
        d,
        "v1.yaml",
        "version: 1\nname: v1\nbase: https://127.0.0.1:9\ndefaults: { tls: { client_cert: v1.pem, client_key: me.key } }\nscenarios:\n  - { name: p, targets: [/], repeat: 1 }\n",
    );
    let o = util::loadplan(d, &["validate", util::path_str(&v1)]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(
        o.stderr
            .contains("v1.pem is not usable: it is an X.509 version 1 certificate"),
        "{}",
        o.stderr
    );
    let server = Serve::start(&[
        "--tls",
        "--client-ca",
        util::path_str(&d.join("client-ca.pem")),
    ]);
    let ca = server.ca.clone().expect("the server's CA");
    std::fs::copy(&ca, d.join("server-ca.pem")).expect("copy the CA");
    let plan = |name: &str, client: &str| {
        format!(
            "version: 1\nname: {name}\nbase: https://{}\ndefaults: {{ tls: {{ ca: server-ca.pem{client} }} }}\nscenarios:\n  - name: p\n    targets: [/hello]\n    repeat: 10\n    timeout: 5s\n    models: [sequential, threads, processes]\n    concurrency: 2\n",
            server.addr
        )
    };
    let (_, s) = run(
        d,
        "with-cert",
        &plan("with-cert", ", client_cert: me.pem, client_key: me.key"),
    );
    for c in every_cell(&s) {
        assert_eq!(errors(c), 0, "{c}");
    }
    let (_, s) = run(d, "without-cert", &plan("without-cert", ""));
    for c in every_cell(&s) {
        assert_eq!(errors(c), u(&c["operations"]), "{c}");
        // The server's alert, or, where its reset overtook the alert, the handshake in which
        // it asked for the certificate: a `tls` error either way.
        assert_eq!(u(&c["errors"]["tls"]), u(&c["operations"]), "{c}");
        let said = c["error_messages"]["tls"].to_string();
        assert!(
            said.contains("CertificateRequired") || said.contains("client certificate"),
            "{said}"
        );
    }
    // A certificate signed by a CA the server does not trust: refused, a `tls` error too.
    client_ca(d, "other-ca", "/CN=another client CA");
    sign(d, "other-ca", "stranger.pem", true);
    let (_, s) = run(
        d,
        "stranger",
        &plan(
            "stranger",
            ", client_cert: stranger.pem, client_key: me.key",
        ),
    );
    for c in every_cell(&s) {
        assert_eq!(u(&c["errors"]["tls"]), u(&c["operations"]), "{c}");
        let said = c["error_messages"]["tls"].to_string();
        assert!(
            said.contains("UnknownCA") || said.contains("was sent tls.client_cert"),
            "{said}"
        );
    }
    let (code, _, _) = server.stop();
    assert_eq!(code, Some(0));
}

/// A P-256 certificate authority `{name}.pem` with its key `{name}.key`, made with openssl.
fn client_ca(d: &Path, name: &str, subject: &str) {
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    let rest = [
        "-keyout", &key, "-out", &pem, "-days", "2", "-subj", subject,
    ];
    openssl(d, &[&["req", "-x509"][..], P256_KEY, &rest].concat());
}

/// A new P-256 key, unencrypted, for `openssl req`.
const P256_KEY: &[&str] = &[
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// `me.csr` signed by CA `ca` into `out`: with `client.cnf`'s extensions (version 3), or
/// without any (version 1).
fn sign(d: &Path, ca: &str, out: &str, extensions: bool) {
    let (key, pem) = (format!("{ca}.key"), format!("{ca}.pem"));
    let mut args = vec![
        "x509",
        "-req",
        "-in",
        "me.csr",
        "-CA",
        &pem,
        "-CAkey",
        &key,
        "-CAcreateserial",
        "-out",
        out,
        "-days",
        "2",
    ];
    if extensions {
        args.extend(["-extfile", "client.cnf"]);
    }
    openssl(d, &args);
}

#[test]
fn builtin_https_is_trusted_by_the_run_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (_, s) = run(
        d,
        "builtin-https",
        "version: 1\nname: builtin-https\nbase: builtin+https\nscenarios:\n  - name: p\n    targets: [/hello, \"/bytes?size=1000\"]\n    repeat: 20\n    models: [sequential, async, processes]\n    concurrency: 2\n",
    );
    for c in every_cell(&s) {
        assert_eq!(errors(c), 0, "{c}");
        assert_eq!(u(&c["operations"]), 40);
        assert_eq!(
            c["connections"]["tls_handshakes"],
            c["connections"]["opened"]
        );
    }
}
