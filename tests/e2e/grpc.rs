//! gRPC end to end against a server loadplan did not write: Python's `grpcio` (Debian's
//! python3-grpcio) with generic handlers and message classes built from a descriptor in Python
//! (no protoc, no generated code). The server counts the calls it answered; loadplan's counts,
//! per method, must equal them under every model and the open model; a method that fails every
//! tenth call with UNAVAILABLE gives `grpc_status` errors with that name and the server's message.

use std::path::Path;

use super::util::{self, cell, every_cell, u};

const PROTO: &str = r#"syntax = "proto3";
package shop;
message AddItem { string sku = 1; int32 quantity = 2; }
message Cart { string sku = 1; int32 total = 2; }
service Carts {
  rpc Add(AddItem) returns (Cart);
  rpc List(AddItem) returns (stream Cart);
  rpc Flaky(AddItem) returns (Cart);
  rpc Remove(AddItem) returns (Cart);
}
"#;

/// `Add` answers `{sku, total: quantity × 2}` and checks the `x-sku` metadata when sent;
/// `List` streams `quantity` carts; `Flaky` fails every tenth call with UNAVAILABLE. A line on
/// stdin asks for the counts, printed as JSON.
const SERVER: &str = r#"
import json, sys, threading
from concurrent import futures
import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

f = descriptor_pb2.FileDescriptorProto(name="shop.proto", package="shop", syntax="proto3")
for name, second in (("AddItem", "quantity"), ("Cart", "total")):
    m = f.message_type.add(name=name)
    m.field.add(name="sku", json_name="sku", number=1, type=9, label=1)
    m.field.add(name=second, json_name=second, number=2, type=5, label=1)
pool = descriptor_pool.DescriptorPool()
pool.Add(f)
def cls(name):
    d = pool.FindMessageTypeByName(name)
    get = getattr(message_factory, "GetMessageClass", None)
    return get(d) if get else message_factory.MessageFactory(pool).GetPrototype(d)
AddItem, Cart = cls("shop.AddItem"), cls("shop.Cart")

counts = {"Add": 0, "List": 0, "Flaky": 0, "bad_metadata": 0}
lock = threading.Lock()

def count(name):
    with lock:
        counts[name] += 1
        return counts[name]

def add(req, ctx):
    count("Add")
    md = dict(ctx.invocation_metadata())
    if "x-sku" in md and md["x-sku"] != req.sku:
        count("bad_metadata")
    return Cart(sku=req.sku, total=req.quantity * 2)

def lst(req, ctx):
    count("List")
    for i in range(req.quantity):
        yield Cart(sku="%s-%d" % (req.sku, i), total=i)

def flaky(req, ctx):
    if count("Flaky") % 10 == 0:
        ctx.abort(grpc.StatusCode.UNAVAILABLE, "shedding load")
    return Cart(sku=req.sku, total=1)

def unary(fn):
    return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=AddItem.FromString, response_serializer=Cart.SerializeToString)

handler = grpc.method_handlers_generic_handler("shop.Carts", {
    "Add": unary(add),
    "List": grpc.unary_stream_rpc_method_handler(lst, request_deserializer=AddItem.FromString, response_serializer=Cart.SerializeToString),
    "Flaky": unary(flaky),
})
server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
server.add_generic_rpc_handlers((handler,))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
for line in sys.stdin:
    with lock:
        print(json.dumps(counts), flush=True)
"#;

/// The Python grpcio server, stopped by its pid however the test ends.
struct GrpcServer {
    server: util::PyServer,
    port: u16,
}

impl GrpcServer {
    fn start(dir: &Path) -> GrpcServer {
        let server = util::PyServer::start(dir, "server.py", SERVER, &[]);
        let port = server.port();
        GrpcServer { server, port }
    }

    fn counts(&mut self) -> serde_json::Value {
        let line = self.server.ask("counts");
        serde_json::from_str(&line).expect("JSON counts")
    }
}

fn request<'a>(c: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    c["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .find(|r| r["name"] == name)
}

#[test]
fn calls_counted_as_the_server_counts_them_and_statuses_as_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("shop.proto"), PROTO).expect("write the proto");
    let mut server = GrpcServer::start(d);
    let steps = r#"
      - name: add
        request: { grpc: { proto: shop.proto, method: shop.Carts/Add, message: { sku: a-1, quantity: 3 } } }
        expect: { code: OK, json: { "$.total": 6 } }
        capture: { sku: { json: "$.sku" } }
      - request: { grpc: { proto: shop.proto, method: shop.Carts/List, message: { sku: b, quantity: 4 }, metadata: { x-sku: "${sku}" } } }
        expect: { json: { "$[3].sku": "b-3" } }"#;
    let plan = util::write_plan(
        d,
        "grpc.yaml",
        &format!(
            r#"version: 1
name: grpc
base: http://127.0.0.1:{port}
defaults: {{ timeout: 5s }}
scenarios:
  - name: calls
    flow:{steps}
    repeat: 10
    models: [sequential, threads, async, processes]
    concurrency: 2
  - name: open
    flow:{steps}
    rate: 40/s
    duration: 500ms
    models: [async]
    concurrency: 4
  - name: flaky
    targets: [ {{ grpc: {{ proto: shop.proto, method: shop.Carts/Flaky, message: {{ sku: f }} }} }} ]
    repeat: 100
    models: [async]
    concurrency: 4
    thresholds: [ "error_rate < 20%" ]
"#,
            port = server.port
        ),
    );
    let out = d.join("out");
    let o = util::run_plan(d, &plan, &out);
    assert_eq!(o.code, 0, "{o:?}");
    let s = util::summary(&out, "grpc");
    let counts = server.counts();

    let cells = every_cell(&s);
    let counted = |name: &str| -> u64 {
        cells
            .iter()
            .filter_map(|c| request(c, name))
            .map(|r| u(&r["operations"]))
            .sum()
    };
    // The step named `add` goes by its name, the unnamed one by its method.
    assert_eq!(counted("add"), u(&counts["Add"]), "{counts}");
    assert_eq!(counted("shop.Carts/List"), u(&counts["List"]), "{counts}");
    assert_eq!(counted("shop.Carts/Flaky"), u(&counts["Flaky"]), "{counts}");
    assert_eq!(
        u(&counts["bad_metadata"]),
        0,
        "the captured sku went out as metadata"
    );
    for model in ["sequential", "threads", "async", "processes"] {
        let c = cell(&s, "calls", model);
        assert_eq!(u(&c["operations"]), 10, "{model}: {c}");
        assert_eq!(u(&c["successes"]), 10, "{model}: {c}");
        let k = &c["connections"];
        assert_eq!(k["protocols"]["HTTP/2"], u(&k["opened"]), "{model}: {k}");
        // Each iteration: one unary answer and four streamed messages.
        assert_eq!(u(&k["events"]), 50, "{model}: {k}");
        assert_eq!(u(&k["first_event_us"]["count"]), 20, "{model}: {k}");
    }
    let open = cell(&s, "open", "async");
    assert!(u(&open["operations"]) > 0, "{open}");
    assert_eq!(u(&open["operations"]), u(&open["successes"]), "{open}");

    let flaky = cell(&s, "flaky", "async");
    let failed = u(&flaky["errors"]["grpc_status"]);
    assert_eq!(u(&flaky["operations"]), 100, "{flaky}");
    assert!((8..=12).contains(&failed), "10 % ± 2 points: {flaky}");
    assert_eq!(u(&flaky["successes"]) + failed, 100, "{flaky}");
    let messages = flaky["error_messages"]["grpc_status"].to_string();
    assert!(
        messages.contains("UNAVAILABLE: shedding load"),
        "{messages}"
    );
}

/// A call that must end with a given status passes when it does (`Remove`, which the server
/// does not implement, with `code: UNIMPLEMENTED`); a JSON check on an answer that fails is an
/// `expectation` error, as for HTTP, and fails the run.
#[test]
fn expected_codes_and_failed_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("shop.proto"), PROTO).expect("write the proto");
    let server = GrpcServer::start(d);
    let plan = util::write_plan(
        d,
        "codes.yaml",
        &format!(
            r#"version: 1
name: codes
base: http://127.0.0.1:{port}
defaults: {{ timeout: 5s }}
scenarios:
  - name: unimplemented
    targets: [ {{ grpc: {{ proto: shop.proto, method: shop.Carts/Remove }} }} ]
    expect: {{ code: UNIMPLEMENTED }}
    repeat: 3
    models: [async]
  - name: wrong-total
    targets: [ {{ grpc: {{ proto: shop.proto, method: shop.Carts/Add, message: {{ quantity: 2 }} }} }} ]
    expect: {{ json: {{ "$.total": 5 }} }}
    repeat: 3
    models: [async]
"#,
            port = server.port
        ),
    );
    let out = d.join("out");
    let o = util::run_plan(d, &plan, &out);
    assert_eq!(o.code, 1, "{o:?}");
    let s = util::summary(&out, "codes");
    let c = cell(&s, "unimplemented", "async");
    assert_eq!(u(&c["successes"]), 3, "{c}");
    let w = cell(&s, "wrong-total", "async");
    assert_eq!(u(&w["errors"]["expectation"]), 3, "{w}");
    assert_eq!(u(&w["errors"]["grpc_status"]), 0, "{w}");
}

/// The built-in server's `loadplan.Demo` (the demo plan's proto), over h2c: unary and
/// server-streaming calls succeed, each streamed answer is an event.
#[test]
fn the_builtin_demo_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let proto = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/protos/demo.proto");
    std::fs::copy(proto, d.join("demo.proto")).expect("copy the demo proto");
    // h2c, then HTTP/2 over TLS (ALPN), under every model.
    for (base, name) in [("builtin", "demo"), ("builtin+https", "demo-tls")] {
        let plan = util::write_plan(
            d,
            &format!("{name}.yaml"),
            &format!(
                r#"version: 1
name: {name}
base: {base}
scenarios:
  - name: demo
    flow:
      - request: {{ grpc: {{ proto: demo.proto, method: loadplan.Demo/Echo, message: {{ text: héllo }} }} }}
        expect: {{ json: {{ "$.n": 5, "$.text": héllo }} }}
      - request: {{ grpc: {{ proto: demo.proto, method: loadplan.Demo/Count, message: {{ count: 3 }} }} }}
        expect: {{ json: {{ "$[2].n": 3 }} }}
    repeat: 5
    models: [sequential, threads, async, processes]
    concurrency: 2
"#
            ),
        );
        let out = d.join(format!("out-{name}"));
        let o = util::run_plan(d, &plan, &out);
        assert_eq!(o.code, 0, "{o:?}");
        let s = util::summary(&out, name);
        for model in ["sequential", "threads", "async", "processes"] {
            let c = cell(&s, "demo", model);
            assert_eq!(u(&c["successes"]), 5, "{c}");
            for method in ["loadplan.Demo/Echo", "loadplan.Demo/Count"] {
                let r = request(c, method).unwrap_or_else(|| panic!("{method} in {c}"));
                assert_eq!(u(&r["successes"]), 5, "{r}");
            }
            let k = &c["connections"];
            assert_eq!(u(&k["events"]), 20, "{c}");
            assert!(u(&k["protocols"]["HTTP/2"]) > 0, "{base}: {k}");
            let tls = u(&k["tls_handshakes"]);
            assert_eq!(tls > 0, base == "builtin+https", "{base}: {k}");
        }
    }
}
