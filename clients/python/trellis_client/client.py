"""The client: calls of every shape over a connection it keeps and replaces as needed."""

from __future__ import annotations

import math
import random
import re
import socket
import ssl
import threading
import time
from typing import Iterable, Iterator, Mapping, Sequence

from ._proto import health_pb2
from .connection import DEFAULT_INITIAL_WINDOW, Connection, _Stream
from .framing import DEFAULT_MAX_FRAME_SIZE
from .status import RpcError, StatusCode
from .tls import ALPN_PROTOCOL, TLSChannel, make_context

#: Stands for "the client's default timeout" in call signatures.
DEFAULT = object()

MAX_METADATA_BYTES = 8192
_KEY = re.compile(r"[a-z0-9._-]+\Z")
_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 5.0

_HEALTH = "/trellis.v1.HealthService/"


class Client:
    """A client for one Trellis server.

    It connects lazily, on the first call, and keeps one connection for all calls, which
    run concurrently on their own streams; it is safe to use from several threads. When
    the server sends GoAway or the connection is lost, calls in flight end as the
    protocol says and the next call connects again, with exponential backoff and jitter
    while connecting fails (``connect_attempts`` tries per call).

    ``timeout`` is the default deadline of a call, in seconds (None for none); each call
    may override it. ``token`` is sent as ``authorization: Bearer TOKEN`` on every call.
    ``cert_file``/``key_file`` give a client certificate, for the agent listener.
    Failures of every kind, connecting included, raise RpcError.
    """

    def __init__(
        self,
        host: str,
        port: int,
        ca_file: str,
        token: str | None = None,
        server_name: str | None = None,
        timeout: float | None = 30.0,
        *,
        connect_timeout: float = 10.0,
        connect_attempts: int = 3,
        cert_file: str | None = None,
        key_file: str | None = None,
        metadata: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        initial_window: int = DEFAULT_INITIAL_WINDOW,
    ):
        self.host = host
        self.port = port
        self.server_name = server_name or host
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.connect_attempts = max(1, connect_attempts)
        self.max_frame_size = max_frame_size
        self.initial_window = initial_window
        self._context = make_context(ca_file, cert_file, key_file)
        self._metadata = _pairs(metadata)
        if token:
            self._metadata.append(("authorization", f"Bearer {token}"))
        _check_metadata(self._metadata)
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._closed = False

    @property
    def peer(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    # -- connections --------------------------------------------------------------------

    def connect(self) -> Connection:
        """Returns the current connection, connecting first if there is no usable one."""
        return self._connection(None)

    def _connection(self, deadline: float | None) -> Connection:
        with self._lock:
            if self._closed:
                raise RpcError(StatusCode.CANCELLED, "rpc: client is closed")
            if self._conn is not None and self._conn.usable:
                return self._conn
            step = _BACKOFF_FIRST
            for attempt in range(1, self.connect_attempts + 1):
                try:
                    self._conn = self._dial(deadline)
                    return self._conn
                except ssl.SSLCertVerificationError as error:
                    # Retrying cannot fix a certificate the CA does not vouch for.
                    raise RpcError(
                        StatusCode.UNAVAILABLE,
                        f"tls: handshake with {self.peer} failed: certificate verification "
                        f"failed: {error.verify_message}",
                    ) from error
                except (OSError, ssl.SSLError) as error:
                    last = error
                wait = random.uniform(0, step)
                step = min(step * 2, _BACKOFF_MAX)
                if attempt == self.connect_attempts:
                    break
                if deadline is not None and time.monotonic() + wait >= deadline:
                    break
                time.sleep(wait)
            raise RpcError(StatusCode.UNAVAILABLE, f"rpc: connect to {self.peer} failed: {last}")

    def _dial(self, deadline: float | None) -> Connection:
        limit = time.monotonic() + self.connect_timeout
        if deadline is not None:
            limit = min(limit, deadline)
        sock = socket.create_connection(
            (self.host, self.port), timeout=max(0.001, limit - time.monotonic())
        )
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            channel = TLSChannel(self._context, self.server_name)
            channel.handshake(sock, limit)
            if channel.alpn_protocol not in (None, ALPN_PROTOCOL):
                raise ssl.SSLError(f"server chose ALPN protocol {channel.alpn_protocol!r}")
        except BaseException:
            sock.close()
            raise
        conn = Connection(
            sock,
            channel,
            peer=self.peer,
            max_frame_size=self.max_frame_size,
            initial_window=self.initial_window,
        )
        conn.start()
        return conn

    def close(self) -> None:
        """Cancels the calls in flight and closes the connection; the client is then unusable."""
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ping(self, timeout: float = 5.0) -> float:
        """Pings the server on stream 0; returns the round-trip time in seconds."""
        return self._connection(time.monotonic() + timeout).ping(timeout)

    # -- calls ------------------------------------------------------------------------

    def open(self, method: str, timeout=DEFAULT, metadata=None) -> _Stream:
        """Opens a stream for ``method`` ("/package.Service/Method"), the raw building block.

        The returned stream has ``send(bytes)``, ``half_close()``, ``receive()`` (bytes
        or None at the end), ``cancel()`` and ``status``.
        """
        if timeout is DEFAULT:
            timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        extra = _pairs(metadata)
        # A call's own authorization or request-id replaces the client's.
        own = {k for k, _ in extra} & {"authorization", "request-id"}
        pairs = [p for p in self._metadata if p[0] not in own] + extra
        _check_metadata(pairs)
        # One retry covers a connection that began going away between the two steps.
        for attempt in (1, 2):
            conn = self._connection(deadline)
            timeout_ms = 0
            if deadline is not None:
                timeout_ms = max(1, math.ceil((deadline - time.monotonic()) * 1000))
            try:
                return conn.open_stream(method, pairs, timeout_ms, deadline)
            except RpcError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def unary(self, method: str, request, response_type, timeout=DEFAULT, metadata=None):
        """Makes a unary call and returns the response; raises RpcError on failure."""
        stream = self.open(method, timeout, metadata)
        stream.send(request.SerializeToString())
        stream.half_close()
        return _single_response(stream, response_type)

    def server_stream(
        self, method: str, request, response_type, timeout=DEFAULT, metadata=None
    ) -> "ResponseStream":
        """Starts a server-streaming call; iterate the result for the responses.

        Closing the iterator (``close()``, leaving a ``with`` block, or dropping it before
        its end) cancels the call. Iteration raises RpcError if the call fails.
        """
        stream = self.open(method, timeout, metadata)
        stream.send(request.SerializeToString())
        stream.half_close()
        return ResponseStream(stream, response_type)

    def client_stream(
        self, method: str, requests: Iterable, response_type, timeout=DEFAULT, metadata=None
    ):
        """Sends every request of ``requests``, half-closes and returns the one response.

        If the server ends the call early, sending stops and its status is raised.
        """
        stream = self.open(method, timeout, metadata)
        try:
            for request in requests:
                stream.send(request.SerializeToString())
        except RpcError:
            raise
        except BaseException:
            stream.cancel("rpc: the request iterator failed")
            raise
        stream.half_close()
        return _single_response(stream, response_type)

    def bidi_stream(
        self, method: str, response_type, requests: Iterable | None = None,
        timeout=DEFAULT, metadata=None,
    ) -> "BidiStream":
        """Starts a bidirectional call.

        Either pass ``requests`` (sent from a background thread, then half-closed) or call
        ``send()`` and ``done_writing()`` on the result. Iterate it for the responses.
        """
        call = BidiStream(self.open(method, timeout, metadata), response_type)
        if requests is not None:
            threading.Thread(target=call._send_all, args=(requests,), daemon=True).start()
        return call

    # -- health -----------------------------------------------------------------------

    def health_check(self, service: str = "", timeout=DEFAULT) -> str:
        """Returns the serving status of ``service`` (empty: the server) by name.

        The name is the ServingStatus without its prefix: "SERVING", "NOT_SERVING" or
        "UNKNOWN". An unknown service raises RpcError(NOT_FOUND).
        """
        response = self.unary(
            _HEALTH + "Check",
            health_pb2.HealthCheckRequest(service=service),
            health_pb2.HealthCheckResponse,
            timeout,
        )
        return _status_name(response.status)

    def health_watch(self, service: str = "", timeout=None) -> "ResponseStream":
        """Watches the serving status: yields the status name now and on every change."""
        stream = self.server_stream(
            _HEALTH + "Watch",
            health_pb2.HealthCheckRequest(service=service),
            health_pb2.HealthCheckResponse,
            timeout,
        )
        stream._transform = lambda response: _status_name(response.status)
        return stream


class ResponseStream(Iterator):
    """The responses of a streaming call, as an iterator.

    ``cancel()`` (or ``close()``) abandons the call; so does leaving a ``with`` block
    and dropping the iterator before it is exhausted. After the end, ``code`` holds the
    call's StatusCode.
    """

    def __init__(self, stream: _Stream, response_type, transform=None):
        self._stream = stream
        self._type = response_type
        self._transform = transform

    def __iter__(self) -> "ResponseStream":
        return self

    def __next__(self):
        data = self._stream.receive()
        if data is None:
            status = self._stream.status
            if status.ok:
                raise StopIteration
            raise RpcError.from_status(status)
        try:
            response = self._type.FromString(data)
        except Exception:
            self._stream.cancel("rpc: undecodable response")
            raise RpcError(
                StatusCode.INTERNAL,
                f"rpc: cannot decode {self._type.DESCRIPTOR.full_name} from {self._stream.method}",
            ) from None
        return self._transform(response) if self._transform else response

    @property
    def stream_id(self) -> int:
        return self._stream.id

    @property
    def code(self) -> StatusCode | None:
        """The call's status code once it has ended, else None."""
        status = self._stream.status
        return None if status is None else status.code

    def cancel(self) -> bool:
        """Cancels the call; returns False if it had already ended."""
        return self._stream.cancel()

    close = cancel

    def __enter__(self) -> "ResponseStream":
        return self

    def __exit__(self, *exc) -> None:
        self.cancel()

    def __del__(self) -> None:
        stream = getattr(self, "_stream", None)
        if stream is not None:
            stream.abandon()


class BidiStream(ResponseStream):
    """A bidirectional call: ``send()`` requests, ``done_writing()``, iterate responses."""

    def send(self, request) -> None:
        """Sends one request, waiting for flow-control credit if needed."""
        self._stream.send(request.SerializeToString())

    def done_writing(self) -> None:
        """Half-closes: no more requests follow."""
        self._stream.half_close()

    def _send_all(self, requests: Iterable) -> None:
        try:
            for request in requests:
                self.send(request)
            self.done_writing()
        except RpcError:
            pass  # the call has ended; the reader sees its status
        except BaseException:
            self._stream.cancel("rpc: the request iterator failed")
            raise


def _single_response(stream: _Stream, response_type):
    first = stream.receive()
    if first is None:
        if stream.status.ok:
            raise RpcError(StatusCode.INTERNAL, f"rpc: {stream.method} ended without a response")
        raise RpcError.from_status(stream.status)
    second = stream.receive()
    if second is not None:
        stream.cancel("rpc: more than one response")
        raise RpcError(StatusCode.INTERNAL, f"rpc: {stream.method} sent more than one response")
    if not stream.status.ok:
        raise RpcError.from_status(stream.status)
    try:
        return response_type.FromString(first)
    except Exception:
        raise RpcError(
            StatusCode.INTERNAL,
            f"rpc: cannot decode {response_type.DESCRIPTOR.full_name} from {stream.method}",
        ) from None


def _status_name(value: int) -> str:
    try:
        name = health_pb2.ServingStatus.Name(value)
    except ValueError:
        return "UNKNOWN"
    return name.removeprefix("SERVING_STATUS_")


def _pairs(metadata) -> list[tuple[str, str]]:
    if metadata is None:
        return []
    if isinstance(metadata, Mapping):
        return list(metadata.items())
    return [tuple(p) for p in metadata]


def _check_metadata(pairs: list[tuple[str, str]]) -> None:
    """Raises ValueError for metadata the server would refuse (docs/protocol.md section 8)."""
    size = 0
    seen = set()
    for key, value in pairs:
        if not _KEY.match(key):
            raise ValueError(f"metadata: invalid key {key!r}")
        if key.startswith("trellis-"):
            raise ValueError(f"metadata: key {key!r} is reserved")
        if "\x00" in value:
            raise ValueError(f"metadata: value of {key!r} contains NUL")
        if key in ("authorization", "request-id"):
            if key in seen:
                raise ValueError(f"metadata: {key!r} given more than once")
            seen.add(key)
        size += len(key.encode()) + len(value.encode())
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"metadata: {size} bytes exceeds the limit of {MAX_METADATA_BYTES}")
