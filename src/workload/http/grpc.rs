//! A gRPC call's response, read: its status (from the trailers, or from the head of a
//! trailers-only response) and its messages as JSON (the protobuf JSON mapping, through
//! prost-reflect), for `expect` and `capture` to read like a JSON body.
//!
//! Input: a resolved [`GrpcCall`] (its compiled descriptors), then each response's head, kept
//! body and trailers. Output: the call's status and the messages' JSON: one message as an
//! object, a server-streaming call's as an array. Must not panic on what a server sends: a
//! malformed message is a `body` error with what was wrong, never its bytes.

use hyper::HeaderMap;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};

use crate::plan::grpc::{GrpcCall, code_name};

/// How one call's responses are read, built once per process.
pub(super) struct GrpcReader {
    output: Option<MessageDescriptor>,
    streaming: bool,
    /// The status the call must end with.
    pub expect: u32,
}

impl GrpcReader {
    pub(super) fn new(call: &GrpcCall, expect: Option<u32>) -> Result<GrpcReader, String> {
        let output = if call.descriptors.is_empty() {
            None
        } else {
            let pool = DescriptorPool::decode(call.descriptors.as_slice())
                .map_err(|e| format!("gRPC descriptors: {e}"))?;
            Some(
                pool.get_message_by_name(&call.output)
                    .ok_or_else(|| format!("gRPC descriptors have no message `{}`", call.output))?,
            )
        };
        Ok(GrpcReader {
            output,
            streaming: call.server_streaming,
            expect: expect.unwrap_or(0),
        })
    }

    /// The messages of `body` as JSON text: an object, or an array for a server-streaming call.
    pub(super) fn json(&self, body: &[u8]) -> Result<String, String> {
        let Some(desc) = &self.output else {
            return Ok(String::new());
        };
        let mut values = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            let Some((&[flag, a, b, c, d], after)) = rest.split_first_chunk::<5>() else {
                return Err("a gRPC message broke off in its prefix".into());
            };
            if flag != 0 {
                return Err("a compressed gRPC message (loadplan asks for none)".into());
            }
            let len = usize::try_from(u32::from_be_bytes([a, b, c, d])).unwrap_or(usize::MAX);
            if after.len() < len {
                return Err(format!(
                    "a gRPC message of {len} bytes broke off after {} (or was cut at the kept limit)",
                    after.len()
                ));
            }
            let (message, next) = after.split_at(len);
            let m = DynamicMessage::decode(desc.clone(), message)
                .map_err(|e| format!("a response message is not a `{}`: {e}", desc.full_name()))?;
            values.push(serde_json::to_value(&m).map_err(|e| e.to_string())?);
            rest = next;
        }
        let value = if self.streaming {
            serde_json::Value::Array(values)
        } else {
            values.pop().unwrap_or(serde_json::Value::Null)
        };
        Ok(value.to_string())
    }
}

/// The call's status and message: from the trailers, or the head of a trailers-only response;
/// `None` when neither has `grpc-status`.
pub(super) fn status(head: &HeaderMap, trailers: Option<&HeaderMap>) -> Option<(u32, String)> {
    let from = trailers
        .filter(|t| t.contains_key("grpc-status"))
        .unwrap_or(head);
    let code = from
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let message = from
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .map(percent_decoded)
        .unwrap_or_default();
    Some((code, message))
}

/// A status in words: `UNAVAILABLE: try later`.
pub(super) fn describe(code: u32, message: &str) -> String {
    if message.is_empty() {
        code_name(code)
    } else {
        let cut: String = message.chars().take(200).collect();
        format!("{}: {cut}", code_name(code))
    }
}

/// `grpc-message` is percent-encoded UTF-8; a bad escape is kept as written.
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).and_then(|&b| hex(b)),
            bytes.get(i + 2).and_then(|&b| hex(b)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for &(k, v) in pairs {
            h.insert(k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn status_from_trailers_or_a_trailers_only_head() {
        type Pairs = &'static [(&'static str, &'static str)];
        type Case = (Pairs, Option<Pairs>, Option<(u32, &'static str)>);
        let table: &[Case] = &[
            (&[], Some(&[("grpc-status", "0")]), Some((0, ""))),
            (
                &[],
                Some(&[("grpc-status", "14"), ("grpc-message", "try%20later%21")]),
                Some((14, "try later!")),
            ),
            (
                &[("grpc-status", "5"), ("grpc-message", "no")],
                None,
                Some((5, "no")),
            ),
            (&[("grpc-status", "5")], Some(&[]), Some((5, ""))),
            (&[], Some(&[]), None),
            (&[], None, None),
            (&[], Some(&[("grpc-status", "x")]), None),
            (
                &[],
                Some(&[("grpc-status", "3"), ("grpc-message", "100%")]),
                Some((3, "100%")),
            ),
        ];
        for &(head, trailers, want) in table {
            let t = trailers.map(headers);
            let got = status(&headers(head), t.as_ref());
            assert_eq!(
                got.as_ref().map(|(c, m)| (*c, m.as_str())),
                want,
                "{head:?} {trailers:?}"
            );
        }
        assert_eq!(describe(14, "down"), "UNAVAILABLE: down");
        assert_eq!(describe(0, ""), "OK");
    }

    #[test]
    fn messages_become_json() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("t.proto"),
            "syntax = \"proto3\";\npackage t;\nmessage M { string sku = 1; int32 total = 2; }\nservice S { rpc U(M) returns (M); rpc L(M) returns (stream M); }\n",
        )
        .expect("write");
        let unary = crate::plan::grpc::resolve(dir.path(), "t.proto", "t.S/U", None).expect("u");
        let list = crate::plan::grpc::resolve(dir.path(), "t.proto", "t.S/L", None).expect("l");
        let m = [0u8, 0, 0, 0, 7, 10, 3, b'a', b'-', b'1', 16, 2];
        let r = GrpcReader::new(&unary, None).expect("reader");
        assert_eq!(r.json(&m).expect("json"), r#"{"sku":"a-1","total":2}"#);
        let r = GrpcReader::new(&list, Some(14)).expect("reader");
        assert_eq!(r.expect, 14);
        let two: Vec<u8> = m.iter().chain(&m).copied().collect();
        assert_eq!(
            r.json(&two).expect("json"),
            r#"[{"sku":"a-1","total":2},{"sku":"a-1","total":2}]"#
        );
        assert_eq!(r.json(&[]).expect("json"), "[]");
        assert!(r.json(&m[..8]).expect_err("cut").contains("broke off"));
        assert!(
            r.json(&[1, 0, 0, 0, 0])
                .expect_err("flag")
                .contains("compressed")
        );
    }
}
