"""The frame codec: a 4-byte big-endian length, then an encoded trellis.wire.v1.Frame.

Nothing here does I/O. ``encode_frame`` turns a Frame into bytes for the wire and
``FrameDecoder`` turns arbitrarily split bytes back into Frames, enforcing the limits of
docs/protocol.md section 3.
"""

from __future__ import annotations

import struct

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError

from ._proto import frame_pb2
from .status import StatusCode

#: The default limit on a frame's body, in bytes (inclusive).
DEFAULT_MAX_FRAME_SIZE = 4 * 1024 * 1024
#: Messages nested deeper than this are rejected.
MAX_NESTING_DEPTH = 32

_LENGTH = struct.Struct(">I")


class FrameError(Exception):
    """A connection error found while decoding: the connection must end with a GoAway."""

    def __init__(self, code: StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class FrameTooLargeError(ValueError):
    """A frame to send whose body exceeds the frame size limit."""


def encode_frame(frame: frame_pb2.Frame, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> bytes:
    """Returns the length prefix and the encoded frame.

    Raises FrameTooLargeError when the body exceeds ``max_frame_size`` and ValueError
    when the frame has no kind.
    """
    if frame.WhichOneof("kind") is None:
        raise ValueError("framing: a frame must have a kind")
    body = frame.SerializeToString()
    if len(body) > max_frame_size:
        raise FrameTooLargeError(
            f"framing: frame of {len(body)} bytes exceeds the limit of {max_frame_size}"
        )
    return _LENGTH.pack(len(body)) + body


def check_message(message, depth: int = 1) -> None:
    """Raises ValueError for a string with NUL or nesting beyond MAX_NESTING_DEPTH.

    Invalid UTF-8 never gets this far: the protobuf runtime refuses to decode it.
    """
    if depth > MAX_NESTING_DEPTH:
        raise ValueError(f"nesting deeper than {MAX_NESTING_DEPTH} levels")
    for fd, value in message.ListFields():
        if fd.type == FieldDescriptor.TYPE_STRING:
            values = value if fd.label == FieldDescriptor.LABEL_REPEATED else (value,)
            if any("\x00" in v for v in values):
                raise ValueError(f"string field {fd.full_name} contains NUL")
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            if fd.message_type.GetOptions().map_entry:
                continue
            values = value if fd.label == FieldDescriptor.LABEL_REPEATED else (value,)
            for v in values:
                check_message(v, depth + 1)


class FrameDecoder:
    """Reassembles frames from a byte stream split in any way.

    Feed it every byte received, in order; it returns the complete frames and keeps the
    rest. The length is checked before any body byte is buffered beyond what has arrived,
    so a hostile length costs nothing.
    """

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE):
        self.max_frame_size = max_frame_size
        self._buffer = bytearray()
        self._offset = 0

    @property
    def buffered(self) -> int:
        """Bytes received that are not yet part of a returned frame."""
        return len(self._buffer) - self._offset

    def feed(self, data: bytes) -> list[frame_pb2.Frame]:
        """Adds ``data`` and returns the frames it completes, in order.

        Raises FrameError on the first frame that breaks the rules; the decoder is then
        unusable, as the connection is.
        """
        self._buffer += data
        frames = []
        buf = self._buffer
        while len(buf) - self._offset >= 4:
            (n,) = _LENGTH.unpack_from(buf, self._offset)
            if n == 0:
                raise FrameError(StatusCode.INVALID_ARGUMENT, "framing: frame of length 0")
            if n > self.max_frame_size:
                raise FrameError(
                    StatusCode.RESOURCE_EXHAUSTED,
                    f"framing: frame of {n} bytes exceeds the limit of {self.max_frame_size}",
                )
            start = self._offset + 4
            if len(buf) - start < n:
                break
            frames.append(_decode_body(bytes(buf[start : start + n])))
            self._offset = start + n
        if self._offset:
            del buf[: self._offset]
            self._offset = 0
        return frames


def _decode_body(body: bytes) -> frame_pb2.Frame:
    frame = frame_pb2.Frame()
    try:
        frame.ParseFromString(body)
    except DecodeError as error:
        raise FrameError(StatusCode.INVALID_ARGUMENT, f"framing: undecodable frame: {error}")
    if frame.WhichOneof("kind") is None:
        raise FrameError(StatusCode.INVALID_ARGUMENT, "framing: frame without a kind")
    try:
        check_message(frame)
    except ValueError as error:
        raise FrameError(StatusCode.INVALID_ARGUMENT, f"framing: invalid frame: {error}")
    return frame
