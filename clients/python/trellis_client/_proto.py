"""Loads the protobuf modules that gen.sh generates from proto/.

The generated modules import one another by their proto path
(``from trellis.v1 import ..._pb2``), so their folder goes on ``sys.path``
and they are imported under that same top-level name, ``trellis``.
"""

import os
import sys

_GEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_gen")

if not os.path.isdir(os.path.join(_GEN, "trellis")):
    raise ImportError(
        f"trellis_client: generated protobuf modules are missing from {_GEN}; "
        "run clients/python/gen.sh first"
    )
if _GEN not in sys.path:
    sys.path.insert(0, _GEN)

from trellis.echo.v1 import echo_pb2  # noqa: E402
from trellis.v1 import health_pb2  # noqa: E402
from trellis.wire.v1 import frame_pb2  # noqa: E402

__all__ = ["echo_pb2", "frame_pb2", "health_pb2"]
