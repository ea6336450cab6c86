"""A scripted server on the far end of a socket, for tests that need no trellisd."""

from __future__ import annotations

import queue
import socket
import struct
import threading

from trellis_client import frame_pb2
from trellis_client.connection import Connection
from trellis_client.framing import FrameDecoder, encode_frame
from trellis_client.tls import PlainChannel


class FakePeer:
    """The server side of a socketpair: records frames received, sends what a test says."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.frames: queue.Queue = queue.Queue()
        self._decoder = FrameDecoder()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                for frame in self._decoder.feed(data):
                    self.frames.put(frame)
        except OSError:
            pass
        self.frames.put(None)

    def next(self, timeout: float = 5.0) -> frame_pb2.Frame | None:
        """The next frame the client sent; None once the client closed."""
        return self.frames.get(timeout=timeout)

    def next_kind(self, kind: str, timeout: float = 5.0) -> frame_pb2.Frame:
        """Skips frames until one of ``kind`` arrives (Credit and Pong frames interleave)."""
        while True:
            frame = self.next(timeout)
            assert frame is not None, f"connection closed while waiting for {kind}"
            if frame.WhichOneof("kind") == kind:
                return frame

    def send(self, stream_id: int = 0, **kind) -> None:
        self.sock.sendall(encode_frame(frame_pb2.Frame(stream_id=stream_id, **kind)))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def respond(self, stream_id: int, *messages: bytes, code: int = 0, message: str = "",
                details=()) -> None:
        for data in messages:
            self.send(stream_id, message=frame_pb2.Message(data=data))
        self.send(stream_id, close=frame_pb2.Close(code=code, message=message, details=details))

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def connected_pair(**kwargs) -> tuple[Connection, FakePeer]:
    """A started client Connection and the FakePeer at its other end (no TLS)."""
    mine, theirs = socket.socketpair()
    conn = Connection(mine, PlainChannel(), peer="fake", **kwargs)
    conn.start()
    return conn, FakePeer(theirs)


def length_prefix(n: int) -> bytes:
    return struct.pack(">I", n)
