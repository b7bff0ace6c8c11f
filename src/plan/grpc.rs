//! gRPC calls resolved at plan load: the `.proto` compiled in pure Rust (protox; no `protoc`),
//! the method found, the request message written in YAML checked against its type through the
//! protobuf JSON mapping (prost-reflect) and encoded once, framed as gRPC sends it.
//!
//! Input: a step's `grpc: { proto, method, message }` and the plan's folder. Output: a
//! [`GrpcCall`] (serialisable, for worker processes: the compiled descriptors travel as bytes).
//! Errors say which of `proto`, `method` or `message` is wrong; the caller places them at that
//! key's line and column. It must not send anything, and reads only the `.proto` files (through
//! protox, which resolves their imports beside them).

use std::path::Path;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde::{Deserialize, Serialize};

/// The gRPC status codes by number (index) and name (the canonical upper-case names).
pub const CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The status code named `name` (`UNAVAILABLE`, case-insensitive), or written as its number.
pub fn code(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse::<u32>() {
        return (n < CODES.len() as u32).then_some(n);
    }
    CODES
        .iter()
        .position(|c| c.eq_ignore_ascii_case(name))
        .and_then(|i| u32::try_from(i).ok())
}

/// A status code's name; `CODE 42` for one outside the table.
pub fn code_name(code: u32) -> String {
    usize::try_from(code)
        .ok()
        .and_then(|i| CODES.get(i))
        .map_or_else(|| format!("CODE {code}"), |n| (*n).to_string())
}

/// One gRPC method to call, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrpcCall {
    /// `package.Service/Method`, as written: the request's path and its statistics' name.
    pub method: String,
    /// The compiled `.proto` and its imports (an encoded `FileDescriptorSet`); empty for a plan
    /// re-read from saved results, which reads no files.
    pub descriptors: Vec<u8>,
    /// The full name of the response message type.
    pub output: String,
    /// The server answers with a stream of messages.
    pub server_streaming: bool,
    /// The request message, encoded and framed (compression flag, length, message).
    pub frame: Vec<u8>,
}

/// Which key of `grpc:` an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Proto,
    Method,
    Message,
}

impl Key {
    pub fn as_str(self) -> &'static str {
        match self {
            Key::Proto => "proto",
            Key::Method => "method",
            Key::Message => "message",
        }
    }
}

/// Compiles `proto` (relative to `dir`), finds `method` and encodes `message` for it.
pub fn resolve(
    dir: &Path,
    proto: &str,
    method: &str,
    message: Option<&serde_json::Value>,
) -> Result<GrpcCall, (Key, String)> {
    let (service, name) = split_method(method).map_err(|e| (Key::Method, e))?;
    let path = dir.join(proto);
    if !path.is_file() {
        return Err((
            Key::Proto,
            format!("proto file `{proto}` not found beside the plan"),
        ));
    }
    let folder = path.parent().unwrap_or(dir).to_path_buf();
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut compiler = protox::Compiler::new([&folder])
        .map_err(|e| (Key::Proto, format!("proto `{proto}`: {e}")))?;
    compiler.include_imports(true);
    compiler
        .open_file(&file)
        .map_err(|e| (Key::Proto, format!("proto `{proto}` does not compile: {e}")))?;
    let pool = compiler.descriptor_pool();
    let descriptors = compiler.encode_file_descriptor_set();
    call(&pool, descriptors, method, service, name, message)
}

fn call(
    pool: &DescriptorPool,
    descriptors: Vec<u8>,
    method: &str,
    service: &str,
    name: &str,
    message: Option<&serde_json::Value>,
) -> Result<GrpcCall, (Key, String)> {
    let Some(s) = pool.get_service_by_name(service) else {
        let known: Vec<String> = pool.services().map(|s| s.full_name().to_string()).collect();
        return Err((
            Key::Method,
            format!(
                "unknown service `{service}`; the proto has {}",
                if known.is_empty() {
                    "no service".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    let Some(m) = s.methods().find(|m| m.name() == name) else {
        let known: Vec<String> = s.methods().map(|m| m.name().to_string()).collect();
        return Err((
            Key::Method,
            format!(
                "service `{service}` has no method `{name}` (its methods: {})",
                known.join(", ")
            ),
        ));
    };
    if m.is_client_streaming() {
        return Err((
            Key::Method,
            format!(
                "`{method}` streams from the client: only unary and server-streaming calls are supported"
            ),
        ));
    }
    if message.is_some_and(holds_variable) {
        return Err((
            Key::Message,
            "holds `${…}`: gRPC messages are sent as written (variables go in `metadata`)"
                .to_string(),
        ));
    }
    let input = m.input();
    let value = message
        .cloned()
        .unwrap_or_else(|| serde_json::Value::Object(Default::default()));
    let msg = DynamicMessage::deserialize(input.clone(), value).map_err(|e| {
        (
            Key::Message,
            format!("does not match `{}`: {e}", input.full_name()),
        )
    })?;
    let bytes = msg.encode_to_vec();
    let len = u32::try_from(bytes.len()).map_err(|_| {
        (
            Key::Message,
            "is larger than a gRPC message may be".to_string(),
        )
    })?;
    let mut frame = Vec::with_capacity(5 + bytes.len());
    frame.push(0);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&bytes);
    Ok(GrpcCall {
        method: method.to_string(),
        descriptors,
        output: m.output().full_name().to_string(),
        server_streaming: m.is_server_streaming(),
        frame,
    })
}

/// Whether a string anywhere in `v` holds a `${…}` reference.
fn holds_variable(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains("${"),
        serde_json::Value::Array(a) => a.iter().any(holds_variable),
        serde_json::Value::Object(o) => o.values().any(holds_variable),
        _ => false,
    }
}

/// `package.Service/Method` → (`package.Service`, `Method`).
fn split_method(method: &str) -> Result<(&str, &str), String> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    };
    match method.split_once('/') {
        Some((service, name)) if ok(service) && ok(name) && !name.contains('.') => {
            Ok((service, name))
        }
        _ => Err(format!(
            "`{method}` is not a gRPC method: write `package.Service/Method`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROTO: &str = r#"syntax = "proto3";
package shop;
message AddItem { string sku = 1; int32 quantity = 2; }
message Cart { string sku = 1; int32 total = 2; }
message ListRequest { int32 count = 1; }
service Carts {
  rpc Add(AddItem) returns (Cart);
  rpc List(ListRequest) returns (stream Cart);
  rpc Upload(stream AddItem) returns (Cart);
}
"#;

    #[test]
    fn calls_resolve_or_say_which_key_is_wrong() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("shop.proto"), PROTO).expect("write");
        std::fs::write(
            dir.path().join("broken.proto"),
            "syntax = \"proto3\";\nmessage {",
        )
        .expect("write");
        let ok = resolve(
            dir.path(),
            "shop.proto",
            "shop.Carts/Add",
            Some(&serde_json::json!({"sku": "a-1", "quantity": 2})),
        )
        .expect("resolves");
        // Field 1 "a-1", field 2 = 2, behind the 5-byte frame header.
        assert_eq!(ok.frame, [0, 0, 0, 0, 7, 10, 3, b'a', b'-', b'1', 16, 2]);
        assert_eq!(
            (ok.output.as_str(), ok.server_streaming),
            ("shop.Cart", false)
        );
        let list = resolve(dir.path(), "shop.proto", "shop.Carts/List", None).expect("resolves");
        assert!(list.server_streaming);
        assert_eq!(list.frame, [0, 0, 0, 0, 0]);

        let table: &[(&str, &str, serde_json::Value, Key, &str)] = &[
            (
                "missing.proto",
                "shop.Carts/Add",
                serde_json::json!({}),
                Key::Proto,
                "not found",
            ),
            (
                "broken.proto",
                "shop.Carts/Add",
                serde_json::json!({}),
                Key::Proto,
                "does not compile",
            ),
            (
                "shop.proto",
                "shop.Carts.Add",
                serde_json::json!({}),
                Key::Method,
                "package.Service/Method",
            ),
            (
                "shop.proto",
                "shop.Basket/Add",
                serde_json::json!({}),
                Key::Method,
                "the proto has shop.Carts",
            ),
            (
                "shop.proto",
                "shop.Carts/Remove",
                serde_json::json!({}),
                Key::Method,
                "its methods: Add, List, Upload",
            ),
            (
                "shop.proto",
                "shop.Carts/Upload",
                serde_json::json!({}),
                Key::Method,
                "streams from the client",
            ),
            (
                "shop.proto",
                "shop.Carts/Add",
                serde_json::json!({"skew": 1}),
                Key::Message,
                "does not match `shop.AddItem`",
            ),
            (
                "shop.proto",
                "shop.Carts/Add",
                serde_json::json!({"quantity": "many"}),
                Key::Message,
                "does not match",
            ),
            (
                "shop.proto",
                "shop.Carts/Add",
                serde_json::json!({"sku": "${SKU}"}),
                Key::Message,
                "sent as written",
            ),
        ];
        for (proto, method, message, key, words) in table {
            match resolve(dir.path(), proto, method, Some(message)) {
                Err((k, m)) => {
                    assert_eq!(k, *key, "{proto} {method}: {m}");
                    assert!(m.contains(words), "{proto} {method}: {m}");
                }
                Ok(_) => panic!("{proto} {method} {message} resolved"),
            }
        }
    }

    #[test]
    fn status_codes_by_name_and_number() {
        assert_eq!(code("OK"), Some(0));
        assert_eq!(code("unavailable"), Some(14));
        assert_eq!(code("14"), Some(14));
        assert_eq!(code("17"), None);
        assert_eq!(code("NOPE"), None);
        assert_eq!(code_name(14), "UNAVAILABLE");
        assert_eq!(code_name(99), "CODE 99");
    }
}
