//! What `loadplan try` shows of each request: method, URL, headers and body sent; status,
//! headers and body received; the error, if any. Recorded by a session only when asked
//! ([`super::Session::trace_on`]), never during a measured run.
//!
//! Input: a request as built and its response as read. Output: [`Traced`], text already masked
//! (every value of the environment, the data row or a capture shown as its `${NAME}`) and bodies
//! cut to [`BODY_SHOWN`] bytes. Must not print: `cmd/` does.

use bytes::Bytes;
use hyper::HeaderMap;

use super::check::Mask;

/// The most of a body `try` shows, in bytes.
pub const BODY_SHOWN: usize = 2048;

/// A header value is cut here.
const HEADER_SHOWN: usize = 200;

/// One request and its response, as `try` shows them.
#[derive(Debug, Clone, Default)]
pub struct Traced {
    /// The request's name (its statistics' name).
    pub name: String,
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: String,
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: String,
    /// Why the request failed (a check, a capture, a connection), if it did.
    pub error: Option<String>,
}

/// A header map as text, masked.
pub fn headers(h: &HeaderMap, mask: &Mask) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            let text = String::from_utf8_lossy(v.as_bytes());
            (k.as_str().to_string(), mask.show(&text, HEADER_SHOWN))
        })
        .collect()
}

/// A body as text, masked and cut.
pub fn body(b: &Bytes, mask: &Mask) -> String {
    // A margin past the cut keeps a secret that straddles it whole for the mask.
    let head = &b[..b.len().min(BODY_SHOWN * 2)];
    let mut shown = mask.show(&String::from_utf8_lossy(head), BODY_SHOWN);
    if head.len() < b.len() && !shown.ends_with(" bytes in all)") {
        shown.push_str(&format!("… ({} bytes in all)", b.len()));
    }
    shown
}
