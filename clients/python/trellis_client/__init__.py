"""The reference Python client for the Trellis wire protocol (docs/protocol.md).

Run ``clients/python/gen.sh`` once before importing: it generates the protobuf modules.
Generated messages are available as ``trellis_client.health_pb2``, ``echo_pb2`` and
``frame_pb2``.
"""

from ._proto import echo_pb2, frame_pb2, health_pb2
from .client import DEFAULT, BidiStream, Client, ResponseStream
from .framing import DEFAULT_MAX_FRAME_SIZE, FrameDecoder, FrameError, encode_frame
from .status import ErrorDetail, RpcError, Status, StatusCode

__all__ = [
    "DEFAULT",
    "DEFAULT_MAX_FRAME_SIZE",
    "BidiStream",
    "Client",
    "ErrorDetail",
    "FrameDecoder",
    "FrameError",
    "ResponseStream",
    "RpcError",
    "Status",
    "StatusCode",
    "echo_pb2",
    "encode_frame",
    "frame_pb2",
    "health_pb2",
]
