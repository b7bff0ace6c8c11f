//! Where live metrics go: `--export prometheus=URL` read into a [`Target`], with its credentials
//! from the environment (`LOADPLAN_EXPORT_BEARER`, or `LOADPLAN_EXPORT_USER` and
//! `LOADPLAN_EXPORT_PASSWORD`) or from the URL's userinfo, in that order.
//!
//! Input: the flag's text and an environment to read. Output: a target whose URL holds no
//! credential, the header that carries them, and the URL as it may be shown ([`display`]: no
//! userinfo, no query string). Must not put a credential into any message, `Debug` included.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper::header::HeaderValue;

/// What `--export` says, as given: kept opaque so that no `Debug` print or parse error of the
/// command line ever echoes a credential in it.
#[derive(Clone)]
pub struct ExportArg(String);

impl ExportArg {
    pub fn new(text: &str) -> ExportArg {
        ExportArg(text.to_string())
    }
}

impl fmt::Debug for ExportArg {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.0.split_once('=') {
            Some((kind, url)) => write!(f, "{kind}={}", display_text(url)),
            None => f.write_str("…"),
        }
    }
}

/// The protocols loadplan exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Prometheus remote write 1.0: protobuf, snappy.
    Prometheus,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Prometheus => "prometheus",
        }
    }
}

/// One endpoint to push to.
#[derive(Clone)]
pub struct Target {
    pub kind: Kind,
    /// The URL without userinfo.
    pub url: url::Url,
    /// The URL as it may be shown: [`display`].
    pub display: String,
    /// The `Authorization` header, marked sensitive.
    pub authorization: Option<HeaderValue>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("Target")
            .field("kind", &self.kind)
            .field("url", &self.display)
            .field("authorization", &self.authorization.is_some())
            .finish()
    }
}

pub const BEARER_VAR: &str = "LOADPLAN_EXPORT_BEARER";
pub const USER_VAR: &str = "LOADPLAN_EXPORT_USER";
pub const PASSWORD_VAR: &str = "LOADPLAN_EXPORT_PASSWORD";

/// Why an `--export` target was refused. Shows the URL as [`display`] does: never a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("--export `{0}`: write KIND=URL, e.g. prometheus=http://127.0.0.1:9090/api/v1/write")]
    Form(String),
    #[error("--export {0}=…: unknown kind `{0}` (known: prometheus)")]
    Kind(String),
    #[error("--export prometheus=…: not a URL: {0}")]
    Url(url::ParseError),
    #[error("--export prometheus=…: the URL must be http:// or https:// with a host")]
    Scheme,
    #[error("--export {shown}: {from} holds characters a header cannot carry")]
    Header { shown: String, from: &'static str },
}

impl Target {
    /// `prometheus=URL`, credentials read through `env`. Errors show the URL as [`display`]s.
    pub fn parse(
        arg: &ExportArg,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Target, TargetError> {
        let text = arg.0.trim();
        let Some((kind, url_text)) = text.split_once('=') else {
            return Err(TargetError::Form(display_text(text)));
        };
        let shown = display_text(url_text);
        let kind = match kind.trim() {
            "prometheus" => Kind::Prometheus,
            other => return Err(TargetError::Kind(other.to_string())),
        };
        let mut url = url::Url::parse(url_text.trim()).map_err(TargetError::Url)?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(TargetError::Scheme);
        }
        let user = decoded(url.username());
        let password = url.password().map(decoded);
        // Taken out before anything may show or send the URL.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let display = display(&url);
        let present = |k: &str| env(k).filter(|v| !v.is_empty());
        let credentials = if let Some(token) = present(BEARER_VAR) {
            Some((format!("Bearer {token}"), BEARER_VAR))
        } else if let Some(user) = present(USER_VAR) {
            let password = env(PASSWORD_VAR).unwrap_or_default();
            let basic = BASE64.encode(format!("{user}:{password}"));
            Some((format!("Basic {basic}"), USER_VAR))
        } else if !user.is_empty() || password.is_some() {
            let basic = BASE64.encode(format!("{user}:{}", password.unwrap_or_default()));
            Some((format!("Basic {basic}"), "the URL's userinfo"))
        } else {
            None
        };
        let authorization = match credentials {
            None => None,
            Some((value, from)) => {
                let mut h = HeaderValue::from_str(&value).map_err(|_| TargetError::Header {
                    shown: shown.clone(),
                    from,
                })?;
                h.set_sensitive(true);
                Some(h)
            }
        };
        Ok(Target {
            kind,
            url,
            display,
            authorization,
        })
    }

    /// The `Host` header: the host, and the port when the URL names one.
    pub fn host_header(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        }
    }

    /// The request target: path and query.
    pub fn path_and_query(&self) -> String {
        match self.url.query() {
            Some(q) => format!("{}?{q}", self.url.path()),
            None => self.url.path().to_string(),
        }
    }
}

/// A URL as it may be shown: scheme, host, port and path; no userinfo, no query (which may hold
/// a key), no fragment.
pub fn display(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// [`display`] of a text that may not even be a URL: shown only when it is an http(s) URL with
/// a host (anything else might be a credential typed in the wrong place).
fn display_text(text: &str) -> String {
    match url::Url::parse(text.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => display(&u),
        _ => "…".into(),
    }
}

fn decoded(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn auth(t: &Target) -> Option<String> {
        t.authorization
            .as_ref()
            .map(|h| h.to_str().expect("ascii").to_string())
    }

    #[test]
    fn credentials_come_from_the_environment_then_the_url_and_are_never_shown() {
        let arg = ExportArg::new("prometheus=https://u%40x:p%3Aw@m.example:9443/api/v1/write?k=s");
        let t = Target::parse(&arg, env(&[])).expect("target");
        assert_eq!(t.display, "https://m.example:9443/api/v1/write");
        assert_eq!(
            auth(&t),
            Some(format!("Basic {}", BASE64.encode("u@x:p:w")))
        );
        assert_eq!(t.host_header(), "m.example:9443");
        assert_eq!(t.path_and_query(), "/api/v1/write?k=s");
        assert!(
            t.authorization
                .as_ref()
                .is_some_and(HeaderValue::is_sensitive)
        );
        for shown in [format!("{t:?}"), format!("{arg:?}")] {
            assert!(
                !shown.contains("p%3Aw") && !shown.contains("u%40x"),
                "{shown}"
            );
        }
        let t = Target::parse(&arg, env(&[(BEARER_VAR, "tok")])).expect("bearer");
        assert_eq!(auth(&t).as_deref(), Some("Bearer tok"));
        let t = Target::parse(&arg, env(&[(USER_VAR, "a"), (PASSWORD_VAR, "b")])).expect("basic");
        assert_eq!(auth(&t), Some(format!("Basic {}", BASE64.encode("a:b"))));
        let plain = ExportArg::new("prometheus=http://127.0.0.1:9090/api/v1/write");
        assert_eq!(
            Target::parse(&plain, env(&[]))
                .expect("plain")
                .authorization,
            None
        );
    }

    #[test]
    fn bad_targets_are_refused_without_their_secrets() {
        let cases = [
            ("http://127.0.0.1/w", "KIND=URL"),
            ("influx=http://127.0.0.1/w", "unknown kind"),
            ("prometheus=ftp://user:hunter2@h/w", "http:// or https://"),
            ("prometheus=user:hunter2@nowhere", "http:// or https://"),
            ("prometheus=http://user:hunter2@[::1", "not a URL"),
        ];
        for (text, want) in cases {
            let e = Target::parse(&ExportArg::new(text), env(&[]))
                .expect_err(text)
                .to_string();
            assert!(e.contains(want), "{text}: {e}");
            assert!(!e.contains("hunter2"), "{text}: {e}");
        }
        let e = Target::parse(
            &ExportArg::new("prometheus=http://h/w"),
            env(&[(BEARER_VAR, "bad\nvalue")]),
        )
        .expect_err("newline")
        .to_string();
        assert!(e.contains(BEARER_VAR) && !e.contains("bad"), "{e}");
    }
}
