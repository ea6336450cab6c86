"""One connection to a server: its streams, its reader and writer threads.

Threads
    The reader thread receives bytes, decrypts them, decodes frames and hands each to
    its stream (or handles it, for stream 0). The writer thread alone writes the socket:
    every other thread only queues encoded frames. Application threads block only on
    their own stream's condition variable, never on the socket.

Locks, always taken in this order and never the other way round:
    ``Connection._lock`` (the stream table, stream ids, GoAway state), then
    ``_Stream._cond`` (one stream's state), then ``Connection._wcond`` (the write queue).
    Nothing waits for I/O while holding any of them.
"""

from __future__ import annotations

import collections
import logging
import os
import socket
import struct
import threading
import time

from ._proto import frame_pb2
from .framing import (
    DEFAULT_MAX_FRAME_SIZE,
    FrameDecoder,
    FrameError,
    FrameTooLargeError,
    encode_frame,
)
from .status import RpcError, Status, StatusCode

log = logging.getLogger("trellis_client")

#: The window every stream starts with, per direction (docs/protocol.md section 10).
DEFAULT_INITIAL_WINDOW = 65536
_MAX_STREAM_ID = 2**32 - 1
_MAX_WINDOW = 2**31 - 1


def _frame(stream_id: int, **kind) -> frame_pb2.Frame:
    return frame_pb2.Frame(stream_id=stream_id, **kind)


class Connection:
    """A TLS (or, for tests, plain) connection carrying many streams.

    Create it with a connected socket and a channel whose handshake is done, then call
    ``start()``. It is usable for new streams until it receives a GoAway, runs out of
    stream ids, fails or is closed; ``usable`` says which.
    """

    def __init__(
        self,
        sock: socket.socket,
        channel,
        *,
        peer: str = "",
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        initial_window: int = DEFAULT_INITIAL_WINDOW,
    ):
        self.peer = peer
        self.max_frame_size = max_frame_size
        self.initial_window = initial_window
        self._sock = sock
        self._channel = channel
        self._decoder = FrameDecoder(max_frame_size)

        self._lock = threading.Lock()
        # Protected by _lock.
        self._streams: dict[int, _Stream] = {}
        self._next_stream_id = 1
        self._goaway: tuple[int, Status] | None = None
        self._ended: Status | None = None
        self._pings: dict[int, threading.Event] = {}

        self._wcond = threading.Condition(threading.Lock())
        # Protected by _wcond, except that _abandon appends to _out without it (a deque
        # append is atomic) so that it can run from a finaliser.
        self._out: collections.deque[bytes] = collections.deque()
        self._flush_requested = False
        self._writer_done = False
        # Ids of streams abandoned by a finaliser, appended without a lock and drained by
        # _reap_abandoned.
        self._abandoned: collections.deque[int] = collections.deque()

        self._reader = threading.Thread(target=self._read_loop, name=f"trellis-read {peer}")
        self._writer = threading.Thread(target=self._write_loop, name=f"trellis-write {peer}")
        self._reader.daemon = True
        self._writer.daemon = True

    def start(self) -> None:
        self._sock.settimeout(None)
        self._reader.start()
        self._writer.start()

    # -- state -----------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Whether new streams may be opened here."""
        with self._lock:
            return self._usable_locked()

    def _usable_locked(self) -> bool:
        return (
            self._ended is None
            and self._goaway is None
            and self._next_stream_id <= _MAX_STREAM_ID
        )

    @property
    def goaway(self) -> tuple[int, Status] | None:
        """The last_stream_id and status of the GoAway received, if any."""
        with self._lock:
            return self._goaway

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._ended is not None

    @property
    def active_streams(self) -> int:
        with self._lock:
            return len(self._streams)

    # -- streams ---------------------------------------------------------------

    def open_stream(self, method: str, metadata, timeout_ms: int, deadline: float | None):
        """Opens a stream and queues its Open frame.

        Raises RpcError(UNAVAILABLE) when the connection takes no new streams.
        """
        self._reap_abandoned()
        entries = [frame_pb2.MetadataEntry(key=k, value=v) for k, v in metadata]
        with self._lock:
            if not self._usable_locked():
                raise RpcError(StatusCode.UNAVAILABLE, self._unusable_reason_locked())
            stream_id = self._next_stream_id
            self._next_stream_id += 1
            stream = _Stream(self, stream_id, method, deadline)
            self._streams[stream_id] = stream
            # Queued under _lock so that Opens reach the wire in id order.
            self._enqueue(
                _frame(
                    stream_id,
                    open=frame_pb2.Open(method=method, metadata=entries, timeout_ms=timeout_ms),
                )
            )
        return stream

    def _unusable_reason_locked(self) -> str:
        if self._ended is not None:
            return f"rpc: connection to {self.peer} is closed: {self._ended.message}"
        if self._goaway is not None:
            return f"rpc: connection to {self.peer} is going away: {self._goaway[1].message}"
        return f"rpc: connection to {self.peer} has used all stream ids"

    def _reap_abandoned(self) -> None:
        while self._abandoned:
            stream_id = self._abandoned.popleft()
            with self._lock:
                stream = self._streams.get(stream_id)
            if stream is not None:
                stream._finish(Status(StatusCode.CANCELLED, "rpc: abandoned"), send_cancel=False,
                               drop_inbox=True)

    def _forget(self, stream_id: int) -> None:
        with self._lock:
            self._streams.pop(stream_id, None)
            drained = self._ended is None and self._goaway is not None and not self._streams
        if drained:
            # Nothing left to wait for on a connection that is going away.
            self.close()

    # -- keepalive -------------------------------------------------------------

    def ping(self, timeout: float) -> float:
        """Sends a Ping and returns the round-trip time in seconds.

        Raises RpcError(DEADLINE_EXCEEDED) when no Pong arrives in time and
        RpcError(UNAVAILABLE) when the connection ends first.
        """
        payload = struct.unpack(">Q", os.urandom(8))[0]
        arrived = threading.Event()
        with self._lock:
            if self._ended is not None:
                raise RpcError(StatusCode.UNAVAILABLE, self._unusable_reason_locked())
            self._pings[payload] = arrived
        start = time.monotonic()
        self._enqueue(_frame(0, ping=frame_pb2.Ping(payload=payload)))
        arrived.wait(timeout)
        with self._lock:
            # The Pong handler removes the entry; _end only wakes the waiter.
            answered = self._pings.pop(payload, None) is None
            ended = self._ended
        if not answered and ended is not None:
            raise RpcError(StatusCode.UNAVAILABLE, ended.message)
        if not answered:
            raise RpcError(StatusCode.DEADLINE_EXCEEDED, f"rpc: no pong from {self.peer}")
        return time.monotonic() - start

    # -- writing ---------------------------------------------------------------

    def _enqueue(self, frame: frame_pb2.Frame) -> None:
        data = encode_frame(frame, self.max_frame_size)
        with self._wcond:
            self._out.append(data)
            self._wcond.notify()

    def _abandon(self, stream_id: int) -> None:
        """Queues a Cancel without blocking on any lock; safe from a finaliser."""
        self._out.append(encode_frame(_frame(stream_id, cancel=frame_pb2.Cancel())))
        self._abandoned.append(stream_id)
        if self._wcond.acquire(blocking=False):
            try:
                self._wcond.notify()
            finally:
                self._wcond.release()
        # Otherwise the writer picks the frame up on its next periodic wake.

    def _write_loop(self) -> None:
        try:
            while True:
                with self._wcond:
                    while not self._out and not self._flush_requested and not self._writer_done:
                        self._wcond.wait(0.5)
                    chunks = list(self._out)
                    self._out.clear()
                    self._flush_requested = False
                    stopping = self._writer_done
                if chunks or not stopping:
                    data = self._channel.encrypt(chunks)
                    if data:
                        self._sock.sendall(data)
                if stopping:
                    return
        except OSError as error:
            self._end(Status(StatusCode.UNAVAILABLE, f"rpc: write to {self.peer} failed: {error}"))

    # -- reading ---------------------------------------------------------------

    def _read_loop(self) -> None:
        try:
            while True:
                data = self._sock.recv(262144)
                if not data:
                    self._end_by_peer()
                    return
                plaintext, wants_flush = self._channel.decrypt(data)
                if wants_flush:
                    with self._wcond:
                        self._flush_requested = True
                        self._wcond.notify()
                if plaintext:
                    for frame in self._decoder.feed(plaintext):
                        self._dispatch(frame)
        except FrameError as error:
            self._protocol_error(error.code, error.message)
        except OSError as error:
            if not self.closed:
                self._end(Status(StatusCode.UNAVAILABLE, f"rpc: read from {self.peer} failed: {error}"))
        except Exception as error:  # a bug here must not leave callers waiting forever
            log.exception("trellis_client: reader failed")
            self._end(Status(StatusCode.INTERNAL, f"rpc: reader failed: {error}"))

    def _dispatch(self, frame: frame_pb2.Frame) -> None:
        if self._abandoned:
            self._reap_abandoned()
        kind = frame.WhichOneof("kind")
        sid = frame.stream_id
        if sid == 0:
            if kind == "ping":
                self._enqueue(_frame(0, pong=frame_pb2.Pong(payload=frame.ping.payload)))
            elif kind == "pong":
                with self._lock:
                    waiter = self._pings.pop(frame.pong.payload, None)
                if waiter is not None:
                    waiter.set()
            elif kind == "go_away":
                self._on_goaway(frame.go_away)
            else:
                raise FrameError(StatusCode.INVALID_ARGUMENT, f"rpc: {kind} frame on stream 0")
            return

        if kind not in ("message", "close", "credit"):
            raise FrameError(
                StatusCode.INVALID_ARGUMENT, f"rpc: {kind} frame from the server on stream {sid}"
            )
        with self._lock:
            stream = self._streams.get(sid)
        if stream is None:
            return  # finished or never ours: ignored (docs/protocol.md section 4.3)
        if kind == "message":
            stream._on_message(frame.message.data)
        elif kind == "close":
            stream._finish(Status.from_close(frame.close), send_cancel=False)
        else:
            stream._on_credit(frame.credit.bytes)

    def _on_goaway(self, goaway) -> None:
        status = Status(StatusCode.from_wire(goaway.code), goaway.message)
        with self._lock:
            self._goaway = (goaway.last_stream_id, status)
            refused = [s for sid, s in self._streams.items() if sid > goaway.last_stream_id]
            empty = not self._streams
        log.debug(
            "trellis_client: goaway",
            extra={"peer.address": self.peer, "goaway.last_stream_id": goaway.last_stream_id},
        )
        for stream in refused:
            stream._finish(
                Status(
                    StatusCode.UNAVAILABLE,
                    f"rpc: stream {stream.id} was not processed by {self.peer} "
                    f"(going away: {goaway.message}); safe to retry",
                ),
                send_cancel=False,
            )
        if empty:
            self.close()

    def _protocol_error(self, code: StatusCode, message: str) -> None:
        """Ends the connection because the server broke the protocol."""
        with self._lock:
            last = self._next_stream_id - 1
        try:
            self._enqueue(
                _frame(0, go_away=frame_pb2.GoAway(last_stream_id=last, code=code, message=message))
            )
        except Exception:
            pass
        self._end(Status(StatusCode.INTERNAL, f"rpc: protocol error from {self.peer}: {message}"))

    def _end_by_peer(self) -> None:
        with self._lock:
            goaway = self._goaway
        if goaway is not None and not goaway[1].ok:
            status = Status(goaway[1].code, f"rpc: {self.peer} closed the connection: {goaway[1].message}")
        else:
            status = Status(StatusCode.UNAVAILABLE, f"rpc: connection to {self.peer} lost")
        self._end(status)

    # -- ending ----------------------------------------------------------------

    def _end(self, status: Status) -> None:
        """Marks the connection ended, fails every unfinished stream with ``status``."""
        with self._lock:
            if self._ended is not None:
                return
            self._ended = status
            streams = list(self._streams.values())
            self._streams.clear()
            pings = list(self._pings.values())
            self._abandoned.clear()
        for stream in streams:
            stream._finish(status, send_cancel=False)
        for waiter in pings:
            waiter.set()
        with self._wcond:
            self._writer_done = True
            self._wcond.notify()
        if threading.current_thread() is not self._writer and self._writer.is_alive():
            # Lets the last frames (a GoAway, Cancels) leave before the socket closes.
            self._writer.join(1.0)
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    def close(self) -> None:
        """Cancels every unfinished stream and closes the connection."""
        with self._lock:
            streams = list(self._streams.values())
        for stream in streams:
            stream.cancel(f"rpc: connection to {self.peer} closed by the client")
        self._end(Status(StatusCode.UNAVAILABLE, f"rpc: connection to {self.peer} closed by the client"))
        if threading.current_thread() is not self._reader and self._reader.is_alive():
            self._reader.join(1.0)


class _Stream:
    """One call on a connection, as the client sees it.

    States: open (frames accepted) and finished (``status`` set: a Close arrived, the
    client cancelled, the deadline passed or the connection ended). Messages received
    before the end stay readable after it. All fields are protected by ``_cond``.
    """

    def __init__(self, conn: Connection, stream_id: int, method: str, deadline: float | None):
        self.conn = conn
        self.id = stream_id
        self.method = method
        self.deadline = deadline
        self._cond = threading.Condition(threading.Lock())
        self._inbox: collections.deque[bytes] = collections.deque()
        self.status: Status | None = None
        self._half_closed = False
        self._send_window = conn.initial_window
        # The server's window as this side accounts it: initial + credited - received.
        self._peer_window = conn.initial_window
        self._uncredited = 0

    # -- from the reader thread -------------------------------------------------

    def _on_message(self, data: bytes) -> None:
        with self._cond:
            if self.status is not None:
                return
            if self._peer_window <= 0:
                violated = True
            else:
                violated = False
                self._peer_window -= len(data)
                self._inbox.append(data)
                self._cond.notify_all()
        if violated:
            self._finish(
                Status(
                    StatusCode.RESOURCE_EXHAUSTED,
                    f"rpc: {self.conn.peer} sent on stream {self.id} beyond its flow-control window",
                ),
                send_cancel=True,
            )

    def _on_credit(self, amount: int) -> None:
        with self._cond:
            if self.status is None:
                self._send_window = min(self._send_window + amount, _MAX_WINDOW)
                self._cond.notify_all()

    def _finish(self, status: Status, *, send_cancel: bool, drop_inbox: bool = False) -> bool:
        """Ends the stream with ``status`` unless it has ended; returns whether it did."""
        with self._cond:
            if self.status is not None:
                return False
            self.status = status
            if drop_inbox:
                self._inbox.clear()
            if send_cancel:
                self.conn._enqueue(_frame(self.id, cancel=frame_pb2.Cancel()))
            self._cond.notify_all()
        self.conn._forget(self.id)
        return True

    # -- from the application -----------------------------------------------------

    def _remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()

    def _expire(self) -> None:
        self._finish(
            Status(StatusCode.DEADLINE_EXCEEDED, f"rpc: deadline exceeded for {self.method}"),
            send_cancel=True,
            drop_inbox=True,
        )

    def send(self, data: bytes) -> None:
        """Sends one message, first waiting while the send window is not positive.

        Raises RpcError with the stream's status when the stream has ended (the server
        may end a call early), and RESOURCE_EXHAUSTED for a message too large for a frame.
        """
        try:
            frame = encode_frame(
                _frame(self.id, message=frame_pb2.Message(data=data)), self.conn.max_frame_size
            )
        except FrameTooLargeError as error:
            self._finish(Status(StatusCode.RESOURCE_EXHAUSTED, str(error)), send_cancel=True)
            raise RpcError(StatusCode.RESOURCE_EXHAUSTED, str(error)) from None
        expired = False
        with self._cond:
            while self.status is None and self._send_window <= 0:
                remaining = self._remaining()
                if remaining is not None and remaining <= 0:
                    expired = True
                    break
                self._cond.wait(remaining)
            if not expired and self.status is None:
                if self._half_closed:
                    raise RuntimeError(f"rpc: stream {self.id} is half-closed")
                self._send_window -= len(data)
                with self.conn._wcond:
                    self.conn._out.append(frame)
                    self.conn._wcond.notify()
                return
        if expired:
            self._expire()
        raise RpcError.from_status(self.status)

    def half_close(self) -> None:
        """Tells the server no more messages follow; a no-op once ended or half-closed."""
        with self._cond:
            if self.status is None and not self._half_closed:
                self._half_closed = True
                self.conn._enqueue(_frame(self.id, half_close=frame_pb2.HalfClose()))

    def receive(self) -> bytes | None:
        """Returns the next response message, or None when the stream has ended.

        Waits until the deadline; when it passes, cancels the stream and ends it with
        DEADLINE_EXCEEDED. Grants credit for what it returns.
        """
        expired = False
        with self._cond:
            while not self._inbox and self.status is None:
                remaining = self._remaining()
                if remaining is not None and remaining <= 0:
                    expired = True
                    break
                self._cond.wait(remaining)
            if self._inbox:
                data = self._inbox.popleft()
                self._uncredited += len(data)
                if self.status is None and self._uncredited >= self.conn.initial_window // 2:
                    grant, self._uncredited = self._uncredited, 0
                    self._peer_window += grant
                    self.conn._enqueue(_frame(self.id, credit=frame_pb2.Credit(bytes=grant)))
                return data
        if expired:
            self._expire()
        return None

    def cancel(self, message: str = "rpc: cancelled by the client") -> bool:
        """Abandons the call; returns False when it had already ended."""
        return self._finish(Status(StatusCode.CANCELLED, message), send_cancel=True, drop_inbox=True)

    def abandon(self) -> None:
        """Cancels from a finaliser: queues the Cancel without taking the stream's lock."""
        if self.status is None:
            self.conn._abandon(self.id)
