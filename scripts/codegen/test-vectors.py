#!/usr/bin/env python3
"""Prints the protobuf encodings that Tests/TrellisWireTests/ProtocVectorTests.swift
compares the generated Swift encoders with, as produced by Google's Python protobuf
runtime (the version in scripts/requirements.txt) from the same .proto files.

Usage: scripts/codegen/test-vectors.py   (needs protoc and python3 with protobuf)
"""
import os
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
out = tempfile.mkdtemp()
subprocess.run(
    ["protoc", "-I", os.path.join(root, "proto"), "-I", os.path.join(root, "scripts/codegen/test-protos"),
     "--python_out=" + out, "trellis/wire/v1/frame.proto", "trellis/v1/health.proto",
     "trellis/testing/v1/coverage.proto"],
    check=True,
)
sys.path.insert(0, out)
from trellis.wire.v1 import frame_pb2 as w  # noqa: E402
from trellis.v1 import health_pb2 as h  # noqa: E402
from trellis.testing.v1 import coverage_pb2 as t  # noqa: E402

vectors = {}
vectors["open"] = w.Frame(stream_id=1, open=w.Open(
    method="/trellis.v1.HealthService/Check",
    metadata=[w.MetadataEntry(key="authorization", value="Bearer t0ken"),
              w.MetadataEntry(key="request-id", value="r-42")],
    timeout_ms=30000))
vectors["message"] = w.Frame(stream_id=3, message=w.Message(data=bytes([0, 1, 2, 0xFF])))
vectors["halfClose"] = w.Frame(stream_id=3, half_close=w.HalfClose())
vectors["close"] = w.Frame(stream_id=5, close=w.Close(
    code=5, message="environment “staging” not found",
    details=[w.ErrorDetail(reason="NOT_FOUND", subject="metadata.name", description="no such environment",
                           metadata=[w.MetadataEntry(key="env.name", value="staging")])]))
vectors["goAway"] = w.Frame(go_away=w.GoAway(last_stream_id=4294967295, code=14, message="shutting down"))
vectors["ping"] = w.Frame(ping=w.Ping(payload=18446744073709551615))
vectors["healthResponse"] = h.HealthCheckResponse(status=h.SERVING_STATUS_NOT_SERVING)
vectors["scalars"] = t.Scalars(
    i32=-1, i64=-9223372036854775808, u32=4294967295, u64=1, s32=-2147483648, s64=-3, f32=7, f64=8,
    sf32=-9, sf64=-10, flt=1.5, dbl=-2.25, flag=True, text="héllo 🌍", blob=b"\x00\x01", color=t.COLOR_GREEN,
    ping=w.Ping(payload=300))
vectors["collections"] = t.Collections(
    ints=[1, -1, 300], names=["a", "", "ü"], blobs=[b"", b"\xff"], colors=[t.COLOR_RED, t.COLOR_UNSPECIFIED],
    flags=[True, False], doubles=[0.5], word="oneof")

for name, message in vectors.items():
    # Map fields are left out: Python does not promise an order for them.
    print(f'"{name}": "{message.SerializeToString().hex()}",')
