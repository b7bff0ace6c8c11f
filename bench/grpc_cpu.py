#!/usr/bin/env python3
"""CPU per gRPC call against CPU per HTTP/2 JSON request, in one plan with interleaved rounds.

Starts a Python grpcio server (Debian's python3-grpcio, descriptors built in Python, no protoc)
and `loadplan serve` (h2c), then runs two plans, taking turns round by round:

- grpc-python: unary `shop.Carts/Add` against the grpcio server;
- grpc-builtin: unary `loadplan.Demo/Echo` against the built-in server;
- json-builtin: `POST /hello` with a JSON body over HTTP/2 (h2c) against the built-in server;
- json-builtin-1ms: the same JSON request to `/io?delay=1ms`, a server about as slow as grpcio here
  (its p50 is 0.4–1.2 ms). A client waiting on a slow server wakes once per answer, and in a
  release build those wake-ups cost more than the request itself, so the fair comparison for the
  gRPC call against grpcio is this cell, not the instant `/hello`.

All async, one worker, 4 users, a fixed count per cell. Prints loadplan's CPU per operation
(user + sys of the runner, the servers not counted) for each cell and round, and the ratios of
the gRPC cells to the JSON cell, round by round. Usage:

    python3 bench/grpc_cpu.py --loadplan target/release/loadplan [--rounds 5] [--repeat 4000]
"""
import argparse, json, os, pathlib, shutil, signal, socket, subprocess, sys, tempfile, time

SERVER = r'''
import sys
from concurrent import futures
import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
f = descriptor_pb2.FileDescriptorProto(name="shop.proto", package="shop", syntax="proto3")
for name, second in (("AddItem", "quantity"), ("Cart", "total")):
    m = f.message_type.add(name=name)
    m.field.add(name="sku", json_name="sku", number=1, type=9, label=1)
    m.field.add(name=second, json_name=second, number=2, type=5, label=1)
pool = descriptor_pool.DescriptorPool(); pool.Add(f)
def cls(n):
    d = pool.FindMessageTypeByName(n)
    g = getattr(message_factory, "GetMessageClass", None)
    return g(d) if g else message_factory.MessageFactory(pool).GetPrototype(d)
AddItem, Cart = cls("shop.AddItem"), cls("shop.Cart")
def add(req, ctx): return Cart(sku=req.sku, total=req.quantity * 2)
h = grpc.method_handlers_generic_handler("shop.Carts", {"Add": grpc.unary_unary_rpc_method_handler(
    add, request_deserializer=AddItem.FromString, response_serializer=Cart.SerializeToString)})
s = grpc.server(futures.ThreadPoolExecutor(max_workers=8)); s.add_generic_rpc_handlers((h,))
print(s.add_insecure_port("127.0.0.1:0"), flush=True); s.start(); s.wait_for_termination()
'''

PROTO = '''syntax = "proto3";
package shop;
message AddItem { string sku = 1; int32 quantity = 2; }
message Cart { string sku = 1; int32 total = 2; }
service Carts { rpc Add(AddItem) returns (Cart); }
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadplan", default="target/release/loadplan")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=4000)
    a = ap.parse_args()
    loadplan = str(pathlib.Path(a.loadplan).resolve())
    d = pathlib.Path(tempfile.mkdtemp(prefix="grpc-cpu-"))
    (d / "server.py").write_text(SERVER)
    (d / "shop.proto").write_text(PROTO)
    shutil.copy(pathlib.Path(__file__).resolve().parent.parent / "plans/protos/demo.proto", d / "demo.proto")
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"
    grpc_server = subprocess.Popen([py, str(d / "server.py")], stdout=subprocess.PIPE, text=True)
    gport = int(grpc_server.stdout.readline())
    bport = free_port()
    builtin = subprocess.Popen([loadplan, "serve", "--addr", f"127.0.0.1:{bport}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        # gRPC calls go to `base`, so each server's gRPC cell is in a plan of its own base; the
        # two plans take turns, round by round.
        plan = f'''version: 1
name: grpc-cpu
base: http://127.0.0.1:{gport}
defaults: {{ timeout: 5s, models: [async], concurrency: 4 }}
scenarios:
  - name: grpc-python
    targets: [ {{ grpc: {{ proto: shop.proto, method: shop.Carts/Add, message: {{ sku: a-1, quantity: 3 }} }} }} ]
    repeat: {a.repeat}
  - name: json-builtin
    targets: [ {{ url: "http://127.0.0.1:{bport}/hello", method: POST, json: {{ sku: a-1, quantity: 3 }} }} ]
    http: "2"
    repeat: {a.repeat}
  - name: json-builtin-1ms
    targets: [ {{ url: "http://127.0.0.1:{bport}/io?delay=1ms", method: POST, json: {{ sku: a-1, quantity: 3 }} }} ]
    http: "2"
    repeat: {a.repeat}
'''
        echo = f'''version: 1
name: grpc-cpu-builtin
base: http://127.0.0.1:{bport}
defaults: {{ timeout: 5s, models: [async], concurrency: 4 }}
scenarios:
  - name: grpc-builtin
    targets: [ {{ grpc: {{ proto: demo.proto, method: loadplan.Demo/Echo, message: {{ text: a-1 }} }} }} ]
    repeat: {a.repeat}
'''
        (d / "main.yaml").write_text(plan)
        (d / "echo.yaml").write_text(echo)
        rows = []
        for r in range(a.rounds):
            for name in ("main", "echo"):
                out = d / f"out-{name}-{r}"
                p = subprocess.run([loadplan, "run", str(d / f"{name}.yaml"), "--out", str(out), "--quiet"],
                                   cwd=d, capture_output=True, text=True)
                if p.returncode != 0:
                    sys.exit(f"round {r} {name}: exit {p.returncode}\n{p.stderr}")
                s = json.loads(next(out.rglob("summary.json")).read_text())
                for sc in s["scenarios"]:
                    for c in sc["cells"]:
                        rows.append((r, sc["name"], c["cpu_seconds"] / c["operations"] * 1e6,
                                     c["latency_us"]["p50"], c["errors"]))
        print("| round | cell | CPU µs per operation | p50 µs |")
        print("|---|---|---|---|")
        for r, name, cpu, p50, errors in rows:
            bad = {k: v for k, v in errors.items() if v}
            print(f"| {r} | {name} | {cpu:.1f} | {p50} |" + (f" errors {bad}" if bad else ""))
        for g, j in (("grpc-python", "json-builtin-1ms"), ("grpc-python", "json-builtin"),
                     ("grpc-builtin", "json-builtin")):
            ratios = sorted(
                next(c for rr, n, c, *_ in rows if rr == r and n == g)
                / next(c for rr, n, c, *_ in rows if rr == r and n == j)
                for r in range(a.rounds))
            print(f"\n{g} / {j}, per round: {', '.join(f'{x:.2f}' for x in ratios)}"
                  f" (median {ratios[len(ratios) // 2]:.2f})")
    finally:
        for p in (grpc_server, builtin):
            os.kill(p.pid, signal.SIGTERM)
            p.wait(timeout=10)


if __name__ == "__main__":
    main()
