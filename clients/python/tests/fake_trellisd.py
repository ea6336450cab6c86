"""A stand-in for trellisd that checks the integration harness itself.

It speaks just enough of docs/protocol.md (dev mode, HealthService, EchoService, flow
control, deadlines, Cancel, GoAway on SIGTERM) for tests/test_integration.py to run
before the real server exists:

    TRELLISD=tests/fake_trellisd_bin python -m pytest tests/test_integration.py

It is a test double, not a reference server: the real trellisd is the one the
integration tests are written for.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trellis_client import echo_pb2, frame_pb2, health_pb2  # noqa: E402
from trellis_client.framing import FrameDecoder, FrameError, encode_frame  # noqa: E402

WINDOW = 65536
DRAIN_TIMEOUT = 10.0


def make_pki(data: Path) -> None:
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=data, check=True, capture_output=True)

    if (data / "ca.pem").exists():
        return
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.tmp", "-days", "2",
            "-subj", "/CN=fake trellis CA")
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (data / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.tmp", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    (data / "admin.token").write_text(secrets.token_hex(16) + "\n")
    os.rename(data / "ca.tmp", data / "ca.pem")


class Server:
    def __init__(self, args):
        self.token = (args.data / "admin.token").read_text().strip()
        self.echo = args.enable_echo
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(args.data / "server.pem", args.data / "server.key")
        self.context.set_alpn_protocols(["trellis/1"])
        host, port = args.listen.rsplit(":", 1)
        self.listener = socket.create_server((host, int(port)))
        self.lock = threading.Condition()
        self.serving = True
        self.connections: list[Conn] = []

    def run(self):
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.accept, args=(raw,), daemon=True).start()

    def accept(self, raw):
        try:
            raw.settimeout(10)
            tls = self.context.wrap_socket(raw, server_side=True)
            tls.settimeout(None)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        conn = Conn(self, tls)
        with self.lock:
            if not self.serving:
                tls.close()
                return
            self.connections.append(conn)
        conn.run()

    def drain(self):
        self.listener.close()
        with self.lock:
            conns = list(self.connections)
        for conn in conns:
            conn.goaway(0, "shutting down")
        with self.lock:
            self.serving = False
            self.lock.notify_all()
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while time.monotonic() < deadline and any(c.streams for c in conns):
            time.sleep(0.05)
        for conn in conns:
            for stream in list(conn.streams.values()):
                stream.finish(14, "server shutting down")
            conn.close()


class Conn:
    def __init__(self, server, tls):
        self.server = server
        self.tls = tls
        self.wlock = threading.Lock()
        self.streams: dict[int, Stream] = {}
        self.highest = 0
        self.draining = False

    def send(self, stream_id, **kind):
        data = encode_frame(frame_pb2.Frame(stream_id=stream_id, **kind))
        with self.wlock:
            try:
                self.tls.sendall(data)
            except OSError:
                pass

    def goaway(self, code, message):
        self.draining = True
        self.send(0, go_away=frame_pb2.GoAway(last_stream_id=self.highest, code=code,
                                             message=message))

    def close(self):
        try:
            self.tls.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.tls.close()

    def run(self):
        decoder = FrameDecoder()
        try:
            while True:
                data = self.tls.recv(65536)
                if not data:
                    break
                for frame in decoder.feed(data):
                    self.dispatch(frame)
        except FrameError as error:
            self.goaway(error.code, error.message)
        except OSError:
            pass
        for stream in list(self.streams.values()):
            stream.cancelled.set()
            with stream.cond:
                stream.done = True
                stream.cond.notify_all()
        self.streams.clear()
        self.close()

    def dispatch(self, frame):
        kind = frame.WhichOneof("kind")
        sid = frame.stream_id
        if kind == "ping":
            self.send(0, pong=frame_pb2.Pong(payload=frame.ping.payload))
            return
        if kind == "open":
            if sid <= self.highest:
                raise FrameError(3, f"rpc: stream {sid} is not above {self.highest}")
            self.highest = sid
            self.open(sid, frame.open)
            return
        stream = self.streams.get(sid)
        if stream is None:
            if kind in ("message", "half_close") and sid > self.highest:
                self.send(sid, close=frame_pb2.Close(
                    code=9, message=f"rpc: stream {sid} was never opened"))
            return
        if kind == "message":
            stream.deliver(frame.message.data)
        elif kind == "half_close":
            stream.deliver(None)
        elif kind == "credit":
            with stream.cond:
                stream.window += frame.credit.bytes
                stream.cond.notify_all()
        elif kind == "cancel":
            stream.cancelled.set()
            self.streams.pop(sid, None)
            with stream.cond:
                stream.done = True
                stream.cond.notify_all()

    def open(self, sid, open_):
        if self.draining:
            self.send(sid, close=frame_pb2.Close(code=14, message="rpc: server is draining"))
            return
        metadata = {e.key: e.value for e in open_.metadata}
        service, _, method = open_.method[1:].partition("/")
        handler = HANDLERS.get((service, method))
        if handler is None or (service.startswith("trellis.echo") and not self.server.echo):
            self.send(sid, close=frame_pb2.Close(code=12, message=f"rpc: unknown method {open_.method}"))
            return
        if service != "trellis.v1.HealthService":
            if metadata.get("authorization") != f"Bearer {self.server.token}":
                self.send(sid, close=frame_pb2.Close(code=16, message="rpc: a valid token is required"))
                return
        stream = Stream(self, sid)
        self.streams[sid] = stream
        if open_.timeout_ms:
            timer = threading.Timer(open_.timeout_ms / 1000, stream.finish, (4, "rpc: deadline exceeded"))
            timer.daemon = True
            timer.start()
        threading.Thread(target=stream.run, args=(handler,), daemon=True).start()


class Stream:
    def __init__(self, conn, sid):
        self.conn = conn
        self.sid = sid
        self.cond = threading.Condition()
        self.inbox = []
        self.window = WINDOW
        self.uncredited = 0
        self.done = False
        self.cancelled = threading.Event()

    def deliver(self, data):
        with self.cond:
            self.inbox.append(data)
            self.cond.notify_all()

    def recv(self):
        """The next request bytes; None after HalfClose; raises Gone when the call ended."""
        with self.cond:
            while not self.inbox and not self.done:
                self.cond.wait(0.1)
            if self.done:
                raise Gone
            data = self.inbox.pop(0)
            if data is not None:
                self.uncredited += len(data)
                if self.uncredited >= WINDOW // 2:
                    self.conn.send(self.sid, credit=frame_pb2.Credit(bytes=self.uncredited))
                    self.uncredited = 0
            return data

    def send(self, data: bytes):
        with self.cond:
            while self.window <= 0 and not self.done:
                self.cond.wait(0.1)
            if self.done:
                raise Gone
            self.window -= len(data)
            self.conn.send(self.sid, message=frame_pb2.Message(data=data))

    def sleep(self, ms):
        if self.cancelled.wait(ms / 1000) or self.done:
            raise Gone

    def finish(self, code=0, message=""):
        with self.cond:
            if self.done:
                return
            self.done = True
            self.cond.notify_all()
        self.conn.streams.pop(self.sid, None)
        self.conn.send(self.sid, close=frame_pb2.Close(code=code, message=message))

    def run(self, handler):
        try:
            handler(self)
            self.finish()
        except Gone:
            pass
        except RpcFailure as failure:
            self.finish(failure.code, failure.message)


class Gone(Exception):
    pass


class RpcFailure(Exception):
    def __init__(self, code, message):
        self.code, self.message = code, message


def one_request(stream, type_):
    first = stream.recv()
    if first is None:
        raise RpcFailure(3, "rpc: expected one request message, got none")
    if stream.recv() is not None:
        raise RpcFailure(3, "rpc: expected one request message, got more")
    return type_.FromString(first)


def health_status(stream, request):
    if request.service not in ("", "trellis.v1.HealthService", "trellis.echo.v1.EchoService"):
        raise RpcFailure(5, f"health: unknown service {request.service}")
    server = stream.conn.server
    return health_pb2.SERVING_STATUS_SERVING if server.serving else health_pb2.SERVING_STATUS_NOT_SERVING


def check(stream):
    request = one_request(stream, health_pb2.HealthCheckRequest)
    stream.send(health_pb2.HealthCheckResponse(status=health_status(stream, request)).SerializeToString())


def watch(stream):
    request = one_request(stream, health_pb2.HealthCheckRequest)
    server = stream.conn.server
    last = None
    while True:
        status = health_status(stream, request)
        if status != last:
            stream.send(health_pb2.HealthCheckResponse(status=status).SerializeToString())
            last = status
        if not server.serving:
            return
        with server.lock:
            server.lock.wait(0.1)
        if stream.done:
            raise Gone


def echo(stream):
    request = one_request(stream, echo_pb2.EchoRequest)
    stream.sleep(request.delay_ms)
    stream.send(echo_pb2.EchoResponse(payload=request.payload).SerializeToString())


def expand(stream):
    request = one_request(stream, echo_pb2.EchoRequest)
    stream.sleep(request.delay_ms)
    payload = b"e" * request.response_size
    for i in range(request.count):
        stream.send(echo_pb2.EchoResponse(payload=payload, sequence=i).SerializeToString())


def collect(stream):
    parts = []
    while (data := stream.recv()) is not None:
        parts.append(echo_pb2.EchoRequest.FromString(data).payload)
    stream.send(echo_pb2.EchoResponse(payload=b"".join(parts), sequence=len(parts)).SerializeToString())


def chat(stream):
    while (data := stream.recv()) is not None:
        request = echo_pb2.EchoRequest.FromString(data)
        stream.sleep(request.delay_ms)
        stream.send(echo_pb2.EchoResponse(payload=request.payload).SerializeToString())


HANDLERS = {
    ("trellis.v1.HealthService", "Check"): check,
    ("trellis.v1.HealthService", "Watch"): watch,
    ("trellis.echo.v1.EchoService", "Echo"): echo,
    ("trellis.echo.v1.EchoService", "Expand"): expand,
    ("trellis.echo.v1.EchoService", "Collect"): collect,
    ("trellis.echo.v1.EchoService", "Chat"): chat,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev", action="store_true")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--agent-listen")
    parser.add_argument("--enable-echo", action="store_true")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    make_pki(args.data)
    server = Server(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threading.Thread(target=server.run, daemon=True).start()
    print(f"fake trellisd listening on {args.listen}", flush=True)
    stop.wait()
    server.drain()


if __name__ == "__main__":
    main()
