"""The frame codec: encoding, reassembly from split reads, and the limits."""

import re
import struct
from pathlib import Path

import pytest

from trellis_client import FrameDecoder, FrameError, StatusCode, encode_frame, frame_pb2, health_pb2
from trellis_client.framing import DEFAULT_MAX_FRAME_SIZE, FrameTooLargeError

PROTOCOL_MD = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"


def frames_sample():
    return [
        frame_pb2.Frame(stream_id=1, open=frame_pb2.Open(
            method="/trellis.v1.HealthService/Check",
            metadata=[frame_pb2.MetadataEntry(key="request-id", value="r-1")],
            timeout_ms=5000,
        )),
        frame_pb2.Frame(stream_id=1, message=frame_pb2.Message(data=b"\x00\x01" * 300)),
        frame_pb2.Frame(stream_id=1, half_close=frame_pb2.HalfClose()),
        frame_pb2.Frame(stream_id=0, ping=frame_pb2.Ping(payload=2**64 - 1)),
        frame_pb2.Frame(stream_id=7, credit=frame_pb2.Credit(bytes=32768)),
    ]


def test_frames_round_trip_through_the_decoder():
    wire = b"".join(encode_frame(f) for f in frames_sample())
    assert FrameDecoder().feed(wire) == frames_sample()


def test_the_length_prefix_is_big_endian_and_counts_the_body_only():
    frame = frame_pb2.Frame(stream_id=1, half_close=frame_pb2.HalfClose())
    data = encode_frame(frame)
    assert data[:4] == struct.pack(">I", len(frame.SerializeToString()))
    assert data[4:] == frame.SerializeToString()


def test_frames_reassemble_from_single_byte_reads():
    wire = b"".join(encode_frame(f) for f in frames_sample())
    decoder = FrameDecoder()
    out = []
    for i in range(len(wire)):
        out += decoder.feed(wire[i : i + 1])
    assert out == frames_sample()
    assert decoder.buffered == 0


def test_a_partial_frame_is_kept_until_the_rest_arrives():
    wire = encode_frame(frames_sample()[0])
    decoder = FrameDecoder()
    assert decoder.feed(wire[:3]) == []
    assert decoder.feed(wire[3:10]) == []
    assert decoder.buffered == 10
    assert decoder.feed(wire[10:] + wire[:5]) == [frames_sample()[0]]
    assert decoder.buffered == 5


def test_a_length_of_zero_is_invalid_argument():
    with pytest.raises(FrameError) as error:
        FrameDecoder().feed(b"\x00\x00\x00\x00")
    assert error.value.code is StatusCode.INVALID_ARGUMENT


def test_a_length_above_the_limit_is_refused_from_the_prefix_alone():
    with pytest.raises(FrameError) as error:
        FrameDecoder().feed(struct.pack(">I", DEFAULT_MAX_FRAME_SIZE + 1))
    assert error.value.code is StatusCode.RESOURCE_EXHAUSTED


def test_a_frame_of_exactly_the_limit_is_accepted():
    # 16 bytes of envelope around the data: stream id, message field and data field.
    frame = frame_pb2.Frame(
        stream_id=2**32 - 1, message=frame_pb2.Message(data=b"x" * (DEFAULT_MAX_FRAME_SIZE - 16))
    )
    data = encode_frame(frame)
    assert len(data) == 4 + DEFAULT_MAX_FRAME_SIZE
    assert FrameDecoder().feed(data) == [frame]


def test_a_smaller_limit_applies_to_receiving_and_sending():
    frame = frame_pb2.Frame(stream_id=1, message=frame_pb2.Message(data=b"x" * 100))
    with pytest.raises(FrameError):
        FrameDecoder(max_frame_size=50).feed(encode_frame(frame))
    with pytest.raises(FrameTooLargeError):
        encode_frame(frame, max_frame_size=50)


def test_a_body_that_does_not_decode_is_invalid_argument():
    with pytest.raises(FrameError) as error:
        FrameDecoder().feed(b"\x00\x00\x00\x02\x12\x05")
    assert error.value.code is StatusCode.INVALID_ARGUMENT


def test_a_frame_without_a_kind_is_invalid_argument():
    body = frame_pb2.Frame(stream_id=3).SerializeToString()
    with pytest.raises(FrameError) as error:
        FrameDecoder().feed(struct.pack(">I", len(body)) + body)
    assert error.value.code is StatusCode.INVALID_ARGUMENT
    with pytest.raises(ValueError):
        encode_frame(frame_pb2.Frame(stream_id=3))


@pytest.mark.parametrize("method", [b"/a\x00b", b"/a\xffb"])
def test_strings_with_nul_or_invalid_utf8_make_a_frame_undecodable(method):
    body = b"\x08\x01\x12" + bytes([len(method) + 2]) + b"\x0a" + bytes([len(method)]) + method
    with pytest.raises(FrameError) as error:
        FrameDecoder().feed(struct.pack(">I", len(body)) + body)
    assert error.value.code is StatusCode.INVALID_ARGUMENT


def test_an_empty_sub_message_still_carries_its_kind():
    data = encode_frame(frame_pb2.Frame(stream_id=1, message=frame_pb2.Message()))
    assert data == bytes.fromhex("00000004 0801 1a00")
    assert FrameDecoder().feed(data)[0].WhichOneof("kind") == "message"


def test_the_worked_example_in_the_protocol_doc_is_what_the_codec_produces():
    text = PROTOCOL_MD.read_text()
    open_frame = encode_frame(frame_pb2.Frame(stream_id=1, open=frame_pb2.Open(
        method="/trellis.v1.HealthService/Check", timeout_ms=5000)))
    request = health_pb2.HealthCheckRequest(service="").SerializeToString()
    message = encode_frame(frame_pb2.Frame(stream_id=1, message=frame_pb2.Message(data=request)))
    half_close = encode_frame(frame_pb2.Frame(stream_id=1, half_close=frame_pb2.HalfClose()))
    named = encode_frame(frame_pb2.Frame(stream_id=1, message=frame_pb2.Message(
        data=health_pb2.HealthCheckRequest(service="trellis.v1.HealthService").SerializeToString())))
    for frame in (open_frame, message, half_close, named):
        # Every byte sequence appears in the doc, grouped as the doc groups it.
        assert _spaced(frame) in _hex_only(text), frame.hex(" ")


def _spaced(data: bytes) -> str:
    return data.hex()


def _hex_only(text: str) -> str:
    """The hex bytes that start the lines of the doc's code blocks, concatenated.

    Annotations after the bytes (separated by three or more spaces) are left out.
    """
    out = []
    for block in text.split("```")[1::2]:
        for line in block.splitlines():
            match = re.match(r"\s*((?:[0-9a-f]{2} {1,2})*[0-9a-f]{2})(?: {3,}|$)", line)
            if match:
                out.append(match.group(1).replace(" ", ""))
    return "".join(out)
