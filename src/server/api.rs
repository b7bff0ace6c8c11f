//! A small stateful JSON API, for flow demos and for tests that compare the server's counts
//! with loadplan's: log in, then list and fetch items.
//!
//! | request | answers |
//! |---|---|
//! | `POST /login` `{"user": "user7", "password": "pass-7"}` | 200 `{"token": "<32 hex digits>"}` and `Set-Cookie: session=<token>`; 401 for an unknown user or a wrong password; 400 for a body that is not such JSON (up to 16 KiB) |
//! | `GET /items` | 200 `[{"id": 1, "name": "anvil"}, …]`, the 20 items |
//! | `GET /items/{id}` | 200 `{"id": 7, "name": "globe"}`; 404 for an id outside 1–20 |
//! | `GET /stats` | 200, the counts below; needs no login |
//!
//! **Users**: `user1` … `user1000`, each with the password `pass-` and the same number (`user7`
//! / `pass-7`), so a demo CSV lists them plainly. Names are exact: no leading zeros, no spaces.
//!
//! **Sessions**: every successful login opens a new session with a random 128-bit token
//! (`fastrand`: unguessable enough for a demo, not cryptographic). `/items` accepts it as
//! `Authorization: Bearer <token>` or as the `session` cookie, and answers 401 without a valid
//! one (before looking at the id). The newest 100,000 sessions stay valid, so memory stays
//! bounded however long a load test logs in.
//!
//! **Counts** at `GET /stats`: `{"logins": {"user7": 2, …}, "login_failures": 0,
//! "item_fetches": {"7": 5, …}, "item_list_fetches": 3, "unauthorized": 0, "sessions": 2}`.
//! `logins` counts successful logins per user and `item_fetches` successful (200)
//! `GET /items/{id}` per id, both listing only non-zero entries in numeric order;
//! `item_list_fetches` counts successful `GET /items`, `unauthorized` the 401s of `/items`, and
//! `sessions` the sessions currently valid.
//!
//! Input: requests routed here by [`super::routes`]. Output: JSON responses. It must not panic:
//! the session table sits behind a lock whose poisoning is ignored (a session table is valid
//! after any interrupted update), counters are atomics, and the item bodies are built once.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{PoisonError, RwLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Body;
use hyper::header::{
    ALLOW, AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderMap, HeaderValue, SET_COOKIE,
    WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::routes::{Payload, response, text};

/// Users are `user1` … `user{USERS}`.
pub const USERS: u16 = 1000;
/// How many sessions stay valid: the oldest is forgotten when a login would open one more.
const MAX_SESSIONS: usize = 100_000;
const MAX_LOGIN_BODY: usize = 16 * 1024;

/// The catalogue: item `id` is `ITEM_NAMES[id - 1]`.
const ITEM_NAMES: [&str; 20] = [
    "anvil", "bucket", "candle", "drum", "easel", "flute", "globe", "harp", "inkwell", "jar",
    "kettle", "lamp", "mirror", "needle", "oar", "pipe", "quill", "rope", "saw", "trowel",
];

/// The API's state, shared by every connection of one server.
pub struct Api {
    sessions: RwLock<Sessions>,
    /// Successful logins, indexed by user number − 1.
    logins: Box<[AtomicU64]>,
    login_failures: AtomicU64,
    /// Successful fetches, indexed by item id − 1.
    item_fetches: Box<[AtomicU64]>,
    item_list_fetches: AtomicU64,
    unauthorized: AtomicU64,
    list_body: Bytes,
    item_bodies: Box<[Bytes]>,
}

/// Open sessions: token → user number, and the tokens oldest first for eviction.
struct Sessions {
    user_of: HashMap<u128, u16>,
    oldest_first: VecDeque<u128>,
    limit: usize,
}

impl Sessions {
    fn open(&mut self, user: u16) -> u128 {
        if self.oldest_first.len() >= self.limit {
            if let Some(old) = self.oldest_first.pop_front() {
                self.user_of.remove(&old);
            }
        }
        let token = fastrand::u128(..);
        // A repeated 128-bit draw would hand one session to two logins; rather than check,
        // accept the odds (2^-64 after 2^32 logins) and keep the table consistent either way.
        if self.user_of.insert(token, user).is_none() {
            self.oldest_first.push_back(token);
        }
        token
    }
}

#[derive(Deserialize)]
struct Credentials<'a> {
    #[serde(borrow)]
    user: Cow<'a, str>,
    #[serde(borrow)]
    password: Cow<'a, str>,
}

/// Where a request to the API goes.
#[derive(Debug, PartialEq)]
enum Route {
    Login,
    Stats,
    Items,
    /// `/items/{id}`: the item's index in the catalogue, if there is such an item.
    Item(Option<usize>),
    NotFound,
}

impl Route {
    fn of(path: &str) -> Route {
        match path {
            "/login" => Route::Login,
            "/stats" => Route::Stats,
            "/items" => Route::Items,
            _ => match path.strip_prefix("/items/") {
                Some(id) => Route::Item(item_index(id)),
                None => Route::NotFound,
            },
        }
    }
}

impl Default for Api {
    fn default() -> Api {
        Api::new()
    }
}

impl Api {
    pub fn new() -> Api {
        Api::with_session_limit(MAX_SESSIONS)
    }

    fn with_session_limit(limit: usize) -> Api {
        // The names are plain lowercase words: nothing to escape.
        let items: Vec<String> = ITEM_NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| format!(r#"{{"id":{},"name":"{name}"}}"#, i + 1))
            .collect();
        Api {
            sessions: RwLock::new(Sessions {
                user_of: HashMap::new(),
                oldest_first: VecDeque::new(),
                limit,
            }),
            logins: (0..USERS).map(|_| AtomicU64::new(0)).collect(),
            login_failures: AtomicU64::new(0),
            item_fetches: ITEM_NAMES.iter().map(|_| AtomicU64::new(0)).collect(),
            item_list_fetches: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
            list_body: Bytes::from(format!("[{}]", items.join(","))),
            item_bodies: items.into_iter().map(Bytes::from).collect(),
        }
    }

    /// Answers a request for any path the synthetic endpoints do not claim.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Payload>
    where
        B: Body,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let route = Route::of(req.uri().path());
        let method = req.method();
        match route {
            Route::NotFound => text(StatusCode::NOT_FOUND, "not found\n"),
            Route::Login if method == Method::POST => self.login(req.into_body()).await,
            Route::Login => method_not_allowed("POST"),
            _ if method != Method::GET && method != Method::HEAD => method_not_allowed("GET, HEAD"),
            Route::Stats => self.stats(),
            Route::Items | Route::Item(_) if self.session(req.headers()).is_none() => {
                self.unauthorized.fetch_add(1, Relaxed);
                let mut r = json(
                    StatusCode::UNAUTHORIZED,
                    Payload::from_static(
                        r#"{"error":"log in first: POST /login, then send Authorization: Bearer <token> or the session cookie"}"#,
                    ),
                );
                r.headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                r
            }
            Route::Items => {
                self.item_list_fetches.fetch_add(1, Relaxed);
                json(StatusCode::OK, self.list_body.clone().into())
            }
            Route::Item(index) => match index {
                Some(i) if i < self.item_bodies.len() => {
                    self.item_fetches[i].fetch_add(1, Relaxed);
                    json(StatusCode::OK, self.item_bodies[i].clone().into())
                }
                _ => json(
                    StatusCode::NOT_FOUND,
                    Payload::from_static(r#"{"error":"no such item: ids run from 1 to 20"}"#),
                ),
            },
        }
    }

    async fn login<B>(&self, body: B) -> Response<Payload>
    where
        B: Body,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let bytes = match Limited::new(body, MAX_LOGIN_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return bad_login_body(),
        };
        let Ok(credentials) = serde_json::from_slice::<Credentials>(&bytes) else {
            return bad_login_body();
        };
        let Some(user) = check(&credentials.user, &credentials.password) else {
            self.login_failures.fetch_add(1, Relaxed);
            return json(
                StatusCode::UNAUTHORIZED,
                Payload::from_static(r#"{"error":"unknown user or wrong password"}"#),
            );
        };
        let token = self
            .sessions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .open(user);
        if let Some(count) = self.logins.get(usize::from(user - 1)) {
            count.fetch_add(1, Relaxed);
        }
        let mut r = json(
            StatusCode::OK,
            format!(r#"{{"token":"{token:032x}"}}"#).into(),
        );
        let cookie = format!("session={token:032x}; Path=/; HttpOnly; SameSite=Strict");
        if let Ok(cookie) = HeaderValue::try_from(cookie) {
            r.headers_mut().insert(SET_COOKIE, cookie);
        }
        r
    }

    /// The user whose session the request carries, by bearer token or `session` cookie.
    fn session(&self, headers: &HeaderMap) -> Option<u16> {
        let sessions = self.sessions.read().unwrap_or_else(PoisonError::into_inner);
        bearer(headers)
            .into_iter()
            .chain(session_cookies(headers))
            .filter_map(parse_token)
            .find_map(|token| sessions.user_of.get(&token).copied())
    }

    fn stats(&self) -> Response<Payload> {
        let stats = Stats {
            logins: Counts {
                prefix: "user",
                counts: &self.logins,
            },
            login_failures: self.login_failures.load(Relaxed),
            item_fetches: Counts {
                prefix: "",
                counts: &self.item_fetches,
            },
            item_list_fetches: self.item_list_fetches.load(Relaxed),
            unauthorized: self.unauthorized.load(Relaxed),
            sessions: self
                .sessions
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .user_of
                .len(),
        };
        match serde_json::to_vec(&stats) {
            Ok(body) => json(StatusCode::OK, Bytes::from(body).into()),
            Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "cannot write stats\n"),
        }
    }
}

/// The user number of a known user with the right password: `user<N>` / `pass-<N>`.
fn check(user: &str, password: &str) -> Option<u16> {
    let digits = user.strip_prefix("user")?;
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = digits.parse::<u16>().ok()?;
    ((1..=USERS).contains(&n) && password.strip_prefix("pass-") == Some(digits)).then_some(n)
}

/// The index of item `id` (1–20) in the catalogue.
fn item_index(id: &str) -> Option<usize> {
    if id.starts_with(['0', '+']) {
        return None;
    }
    let id = id.parse::<usize>().ok()?;
    (1..=ITEM_NAMES.len()).contains(&id).then(|| id - 1)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Every `session=` cookie value: HTTP/2 clients may split cookies over several headers.
fn session_cookies(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix("session="))
}

fn parse_token(s: &str) -> Option<u128> {
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(s, 16).ok()
}

fn json(status: StatusCode, body: Payload) -> Response<Payload> {
    let mut r = response(status, body);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn bad_login_body() -> Response<Payload> {
    json(
        StatusCode::BAD_REQUEST,
        Payload::from_static(
            r#"{"error":"the body must be JSON like {\"user\": \"user1\", \"password\": \"pass-1\"}, up to 16 KiB"}"#,
        ),
    )
}

fn method_not_allowed(allow: &'static str) -> Response<Payload> {
    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

#[derive(Serialize)]
struct Stats<'a> {
    logins: Counts<'a>,
    login_failures: u64,
    item_fetches: Counts<'a>,
    item_list_fetches: u64,
    unauthorized: u64,
    sessions: usize,
}

/// Counters as a JSON object `{"<prefix><i + 1>": count}`, non-zero ones only, in index order.
struct Counts<'a> {
    prefix: &'static str,
    counts: &'a [AtomicU64],
}

impl Serialize for Counts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (i, count) in self.counts.iter().enumerate() {
            let n = count.load(Relaxed);
            if n > 0 {
                map.serialize_entry(&format!("{}{}", self.prefix, i + 1), &n)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    /// Request headers: name, value.
    type Headers = [(&'static str, String)];

    /// One request to `api`: status, headers and body as text.
    async fn call(
        api: &Api,
        method: &str,
        uri: &str,
        headers: &Headers,
        body: &str,
    ) -> (u16, HeaderMap, String) {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let req = req
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .expect("a valid test request");
        let resp = api.handle(req).await;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("infallible").to_bytes();
        let body = String::from_utf8(body.to_vec()).expect("utf-8");
        (parts.status.as_u16(), parts.headers, body)
    }

    async fn login(api: &Api, user: &str, password: &str) -> (u16, HeaderMap, String) {
        let body = serde_json::json!({ "user": user, "password": password }).to_string();
        call(api, "POST", "/login", &[], &body).await
    }

    /// Logs `user` in and returns the token.
    async fn token(api: &Api, user: &str, password: &str) -> String {
        let (status, _, body) = login(api, user, password).await;
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        v["token"].as_str().expect("a token").to_string()
    }

    async fn stats(api: &Api) -> serde_json::Value {
        let (status, _, body) = call(api, "GET", "/stats", &[], "").await;
        assert_eq!(status, 200);
        serde_json::from_str(&body).expect("json")
    }

    #[test]
    fn the_users_rule() {
        let table = [
            ("user1", "pass-1", Some(1)),
            ("user7", "pass-7", Some(7)),
            ("user1000", "pass-1000", Some(1000)),
            ("user7", "pass-8", None),
            ("user7", "pass-07", None),
            ("user07", "pass-07", None),
            ("user0", "pass-0", None),
            ("user1001", "pass-1001", None),
            ("user70000", "pass-70000", None),
            ("user+7", "pass-+7", None),
            ("user", "pass-", None),
            ("User7", "pass-7", None),
            ("user7 ", "pass-7 ", None),
            ("", "", None),
        ];
        for (user, password, want) in table {
            assert_eq!(check(user, password), want, "{user:?} / {password:?}");
        }
    }

    #[test]
    fn routes_and_ids() {
        let table = [
            ("/login", Route::Login),
            ("/stats", Route::Stats),
            ("/items", Route::Items),
            ("/items/1", Route::Item(Some(0))),
            ("/items/20", Route::Item(Some(19))),
            ("/items/21", Route::Item(None)),
            ("/items/0", Route::Item(None)),
            ("/items/01", Route::Item(None)),
            ("/items/+1", Route::Item(None)),
            ("/items/", Route::Item(None)),
            ("/items/x", Route::Item(None)),
            ("/itemsx", Route::NotFound),
            ("/", Route::NotFound),
        ];
        for (path, want) in table {
            assert_eq!(Route::of(path), want, "{path}");
        }
    }

    #[test]
    fn tokens_are_32_hex_digits() {
        let table = [
            ("0123456789abcdef0123456789ABCDEF", true),
            ("0123456789abcdef0123456789abcde", false),
            ("0123456789abcdef0123456789abcdef0", false),
            ("+123456789abcdef0123456789abcdef", false),
            ("g123456789abcdef0123456789abcdef", false),
            ("", false),
        ];
        for (s, valid) in table {
            assert_eq!(parse_token(s).is_some(), valid, "{s:?}");
        }
    }

    #[tokio::test]
    async fn login_answers() {
        let api = Api::new();
        let table: &[(&str, &str, u16)] = &[
            ("GET", "", 405),
            ("POST", "", 400),
            ("POST", "not json", 400),
            ("POST", r#"{"user": "user1"}"#, 400),
            ("POST", r#"{"user": "user1", "password": "nope"}"#, 401),
            ("POST", r#"{"user": "nobody", "password": "pass-1"}"#, 401),
            ("POST", r#"{"user": "user1", "password": "pass-1"}"#, 200),
            (
                "POST",
                r#"{"user": "user\u0031", "password": "pass-1", "x": 1}"#,
                200,
            ),
        ];
        for &(method, body, want) in table {
            let (status, headers, text) = call(&api, method, "/login", &[], body).await;
            assert_eq!(status, want, "{method} {body}: {text}");
            if want == 200 {
                assert_eq!(headers[CONTENT_TYPE], "application/json");
                let v: serde_json::Value = serde_json::from_str(&text).expect("json");
                let token = v["token"].as_str().expect("token");
                assert!(parse_token(token).is_some(), "{token}");
                let cookie = headers[SET_COOKIE].to_str().expect("ascii");
                assert!(cookie.starts_with(&format!("session={token};")), "{cookie}");
            }
        }
        let too_big = format!(
            r#"{{"user": "user1", "password": "{}"}}"#,
            "x".repeat(20_000)
        );
        assert_eq!(call(&api, "POST", "/login", &[], &too_big).await.0, 400);
        let s = stats(&api).await;
        assert_eq!(s["logins"], serde_json::json!({ "user1": 2 }));
        assert_eq!(s["login_failures"], 2);
        assert_eq!(s["sessions"], 2);
    }

    #[tokio::test]
    async fn items_need_a_session() {
        let api = Api::new();
        let t1 = token(&api, "user1", "pass-1").await;
        let t2 = token(&api, "user2", "pass-2").await;
        let header = |name, value: String| [(name, value)];
        let bearer = header("authorization", format!("Bearer {t1}"));
        let lower = header("authorization", format!("bearer {t2}"));
        let cookie = header("cookie", format!("theme=dark; session={t2}"));
        let unknown = header("authorization", format!("Bearer {}", "0".repeat(32)));
        let both = [unknown[0].clone(), cookie[0].clone()];
        let none = header("cookie", "session=nope".into());
        let scheme_only = header("authorization", "Bearer".into());
        // method, uri, request headers, status, a part of the body
        let table: &[(&str, &str, &Headers, u16, &str)] = &[
            ("GET", "/items", &[], 401, "log in first"),
            ("GET", "/items/7", &[], 401, "log in first"),
            ("GET", "/items/99", &[], 401, "log in first"),
            ("GET", "/items", &unknown, 401, ""),
            ("GET", "/items", &scheme_only, 401, ""),
            ("GET", "/items", &none, 401, ""),
            (
                "GET",
                "/items",
                &bearer,
                200,
                r#"{"id":20,"name":"trowel"}]"#,
            ),
            (
                "GET",
                "/items/7",
                &bearer,
                200,
                r#"{"id":7,"name":"globe"}"#,
            ),
            ("GET", "/items/7", &lower, 200, "globe"),
            ("GET", "/items/7", &cookie, 200, "globe"),
            ("GET", "/items/1", &both, 200, "anvil"),
            ("HEAD", "/items/1", &cookie, 200, ""),
            ("GET", "/items/21", &cookie, 404, "no such item"),
            ("POST", "/items", &cookie, 405, ""),
        ];
        for &(method, uri, headers, want, contains) in table {
            let (status, resp_headers, body) = call(&api, method, uri, headers, "").await;
            assert_eq!(status, want, "{method} {uri} {headers:?}: {body}");
            assert!(body.contains(contains), "{method} {uri}: {body}");
            if want == 401 {
                assert_eq!(resp_headers[WWW_AUTHENTICATE], "Bearer");
            }
        }
        let list: serde_json::Value =
            serde_json::from_str(&call(&api, "GET", "/items", &bearer, "").await.2).expect("json");
        assert_eq!(list.as_array().map(Vec::len), Some(ITEM_NAMES.len()));
        let s = stats(&api).await;
        assert_eq!(s["logins"], serde_json::json!({ "user1": 1, "user2": 1 }));
        assert_eq!(s["item_fetches"], serde_json::json!({ "1": 2, "7": 3 }));
        assert_eq!(s["item_list_fetches"], 2);
        assert_eq!(s["unauthorized"], 6);
    }

    #[tokio::test]
    async fn the_oldest_sessions_expire() {
        let api = Api::with_session_limit(2);
        let first = token(&api, "user1", "pass-1").await;
        let second = token(&api, "user1", "pass-1").await;
        let third = token(&api, "user3", "pass-3").await;
        for (token, want) in [(first, 401), (second, 200), (third, 200)] {
            let auth = [("authorization", format!("Bearer {token}"))];
            let got = call(&api, "GET", "/items/1", &auth, "").await;
            assert_eq!(got.0, want);
        }
        assert_eq!(stats(&api).await["sessions"], 2);
    }

    #[tokio::test]
    async fn a_poisoned_lock_still_serves() {
        let api = std::sync::Arc::new(Api::new());
        let held = std::sync::Arc::clone(&api);
        let _ = std::thread::spawn(move || {
            let _guard = held.sessions.write();
            panic!("poison the session lock");
        })
        .join();
        assert!(api.sessions.is_poisoned());
        let t = token(&api, "user5", "pass-5").await;
        let auth = [("authorization", format!("Bearer {t}"))];
        assert_eq!(call(&api, "GET", "/items", &auth, "").await.0, 200);
        assert_eq!(stats(&api).await["sessions"], 1);
    }
}
