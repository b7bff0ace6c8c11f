//! One request of a scenario, built once per process: everything without a run-time variable is
//! built here, once (method, URI forms, headers, body); what holds variables is rendered per
//! operation from the iteration's values.
//!
//! Input: a resolved [`RequestTemplate`] (absolute URL). Output: a [`PreparedRequest`] that
//! makes a hyper request for HTTP/1.1 or HTTP/2. Errors name the URL as written and the header,
//! never a value.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};

use super::ResolveError;
use super::check::Checks;
use super::grpc::GrpcReader;
use crate::plan::requests::{RequestTemplate, WebSocketCall};
use crate::plan::text::Text;

pub struct PreparedRequest {
    /// Its statistics' index.
    pub stats: usize,
    pub method: Method,
    pub endpoint: usize,
    uri: UriForm,
    /// Headers without variables, the Host header among them.
    headers: HeaderMap,
    /// Headers with variables, rendered per request.
    dynamic_headers: Vec<(HeaderName, Text)>,
    body: Body,
    pub checks: Checks,
    /// The URL for the cookie jar (without variables: the path's shape is enough for it).
    pub cookie_url: url::Url,
    /// A gRPC call: how its response is read.
    pub grpc: Option<GrpcReader>,
    /// A WebSocket step: this request is its upgrade; what its messages send.
    pub websocket: Option<WebSocketCall>,
}

enum UriForm {
    /// Origin form (HTTP/1.1: the Host header carries the authority) and absolute form
    /// (HTTP/2: `:scheme` and `:authority` come from it).
    Static { path: Uri, absolute: Uri },
    /// The whole URL, its path and query holding variables; `origin` bytes are fixed.
    Dynamic { url: Text, origin: usize },
}

enum Body {
    Static(Bytes),
    Dynamic(Text),
}

/// Why a request could not be built from this iteration's values.
pub struct Unbuildable(pub String);

impl PreparedRequest {
    /// Prepares `t`; `endpoint` is where its connection goes (chosen by the caller from the
    /// URL's origin).
    pub fn new(t: &RequestTemplate, endpoint: usize) -> Result<PreparedRequest, ResolveError> {
        let err = |reason: String| ResolveError {
            display: t.display.clone(),
            reason,
        };
        let sample =
            url::Url::parse(&t.url.render(|_| Some("1"))).map_err(|e| err(e.to_string()))?;
        let origin = sample.origin().ascii_serialization();
        let uri = match t.url.as_static() {
            Some(u) => {
                let url = url::Url::parse(&u).map_err(|e| err(e.to_string()))?;
                UriForm::Static {
                    path: path_and_query(&url)
                        .parse()
                        .map_err(|e: hyper::http::uri::InvalidUri| err(e.to_string()))?,
                    absolute: url
                        .as_str()
                        .parse()
                        .map_err(|e: hyper::http::uri::InvalidUri| err(e.to_string()))?,
                }
            }
            None => UriForm::Dynamic {
                url: t.url.clone(),
                origin: origin.len(),
            },
        };
        let host_header = match (sample.host_str(), sample.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => return Err(err("the URL has no host".into())),
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            hyper::header::HOST,
            HeaderValue::from_str(&host_header).map_err(|e| err(e.to_string()))?,
        );
        headers.insert(
            hyper::header::USER_AGENT,
            HeaderValue::from_static(concat!("loadplan/", env!("CARGO_PKG_VERSION"))),
        );
        let mut dynamic_headers = Vec::new();
        for (k, v) in &t.headers {
            // Header values may hold secrets: errors name the header, never the value.
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| err(format!("invalid header name `{k}`")))?;
            match v.as_static() {
                Some(s) => {
                    let value = HeaderValue::from_str(&s)
                        .map_err(|_| err(format!("invalid value for header `{k}`")))?;
                    headers.insert(name, value);
                }
                None => dynamic_headers.push((name, v.clone())),
            }
        }
        let body = match (&t.body, &t.grpc) {
            (_, Some(g)) => Body::Static(Bytes::from(g.frame.clone())),
            (None, None) => Body::Static(Bytes::new()),
            (Some(b), None) => match b.as_static() {
                Some(s) => Body::Static(Bytes::from(s)),
                None => Body::Dynamic(b.clone()),
            },
        };
        let grpc = match &t.grpc {
            Some(g) => Some(GrpcReader::new(g, t.check.grpc_code).map_err(err)?),
            None => None,
        };
        let mut cookie_url = sample;
        cookie_url.set_query(None);
        Ok(PreparedRequest {
            stats: t.stats,
            method: Method::from_bytes(t.method.as_bytes()).map_err(|e| err(e.to_string()))?,
            endpoint,
            uri,
            headers,
            dynamic_headers,
            body,
            checks: Checks::new(&t.check).map_err(err)?,
            cookie_url,
            grpc,
            websocket: t.websocket.clone(),
        })
    }

    /// The body with `vars` filled in (for `loadplan try`, which shows it).
    pub fn body_bytes(&self, vars: &[Option<String>]) -> Bytes {
        match &self.body {
            Body::Static(b) => b.clone(),
            Body::Dynamic(t) => Bytes::from(t.render(|n| vars.get(n).and_then(|v| v.as_deref()))),
        }
    }

    /// The request for HTTP/2 (`h2`) or HTTP/1.1, its variables filled from `vars`. Its headers
    /// go into `spare`, an empty map whose memory is reused (an earlier response's): hyper takes
    /// each request whole, so a fresh map would cost two allocations per request.
    pub fn build(
        &self,
        h2: bool,
        vars: &[Option<String>],
        cookie: Option<HeaderValue>,
        spare: HeaderMap,
    ) -> Result<Request<Full<Bytes>>, Unbuildable> {
        let get = |n: usize| vars.get(n).and_then(|v| v.as_deref());
        let body = match &self.body {
            Body::Static(b) => b.clone(),
            Body::Dynamic(t) => Bytes::from(t.render(get)),
        };
        let mut r = Request::new(Full::new(body));
        *r.method_mut() = self.method.clone();
        *r.headers_mut() = if spare.capacity() == 0 {
            self.headers.clone()
        } else {
            let mut headers = spare;
            if !headers.is_empty() {
                headers.clear();
            }
            for (name, value) in &self.headers {
                headers.append(name.clone(), value.clone());
            }
            headers
        };
        for (name, value) in &self.dynamic_headers {
            let v = HeaderValue::from_str(&value.render(get)).map_err(|_| {
                Unbuildable(format!("header `{name}`: its value with variables filled in is not a valid header value"))
            })?;
            r.headers_mut().insert(name.clone(), v);
        }
        if let Some(c) = cookie {
            r.headers_mut().insert(hyper::header::COOKIE, c);
        }
        let uri = match &self.uri {
            UriForm::Static { path, absolute } => {
                if h2 {
                    absolute.clone()
                } else {
                    path.clone()
                }
            }
            UriForm::Dynamic { url, origin } => {
                let full = url.render(get);
                let text = if h2 {
                    full.as_str()
                } else {
                    full.get(*origin..).unwrap_or("/")
                };
                text.parse::<Uri>().map_err(|_| {
                    Unbuildable("the URL with variables filled in is not a valid URL".into())
                })?
            }
        };
        *r.uri_mut() = uri;
        if h2 {
            *r.version_mut() = hyper::Version::HTTP_2;
            r.headers_mut().remove(hyper::header::HOST);
        }
        Ok(r)
    }
}

/// A URL's path and query, the origin form of a request.
fn path_and_query(url: &url::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}
