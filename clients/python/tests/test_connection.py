"""The client's stream machinery against a scripted peer over a socketpair (no TLS, no trellisd)."""

import threading
import time

import pytest

from fakes import connected_pair, length_prefix
from trellis_client import Client, RpcError, StatusCode, echo_pb2, frame_pb2, health_pb2

HEALTH_CHECK = "/trellis.v1.HealthService/Check"
EXPAND = "/trellis.echo.v1.EchoService/Expand"
COLLECT = "/trellis.echo.v1.EchoService/Collect"
CHAT = "/trellis.echo.v1.EchoService/Chat"
SERVING = health_pb2.HealthCheckResponse(status=health_pb2.SERVING_STATUS_SERVING)


@pytest.fixture
def pair():
    conn, peer = connected_pair()
    yield conn, peer
    conn.close()
    peer.close()


@pytest.fixture
def client(pair):
    """A Client whose connection is the scripted pair's."""
    conn, peer = pair
    client = Client("fake", 1, ca_file=_any_ca(), token="secret")
    client._conn = conn
    yield client, peer
    client.close()


def _any_ca() -> str:
    import ssl

    return ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"


def _in_thread(fn, *args):
    result = {}

    def run():
        try:
            result["value"] = fn(*args)
        except BaseException as error:  # handed to the test thread
            result["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_a_unary_call_pipelines_open_message_and_half_close(client):
    client, peer = client
    thread, result = _in_thread(client.health_check)

    opened = peer.next()
    assert opened.stream_id == 1
    assert opened.open.method == HEALTH_CHECK
    assert ("authorization", "Bearer secret") in [(e.key, e.value) for e in opened.open.metadata]
    assert 29_000 <= opened.open.timeout_ms <= 30_000
    message = peer.next()
    assert message.WhichOneof("kind") == "message"
    assert health_pb2.HealthCheckRequest.FromString(message.message.data).service == ""
    assert peer.next().WhichOneof("kind") == "half_close"

    peer.respond(1, SERVING.SerializeToString())
    thread.join(5)
    assert result == {"value": "SERVING"}


def test_stream_ids_increase_by_one_per_call(client):
    client, peer = client
    for expected in (1, 2, 3):
        thread, _ = _in_thread(client.health_check)
        opened = peer.next_kind("open")
        assert opened.stream_id == expected
        peer.respond(expected, SERVING.SerializeToString())
        thread.join(5)


def test_a_close_with_an_error_raises_its_code_message_and_details(client):
    client, peer = client
    thread, result = _in_thread(client.health_check, "nope")
    peer.next_kind("half_close")
    peer.respond(1, code=5, message="unknown service", details=[
        frame_pb2.ErrorDetail(reason="UNKNOWN_SERVICE", subject="nope", description="d",
                              metadata=[frame_pb2.MetadataEntry(key="k", value="v")]),
    ])
    thread.join(5)
    error = result["error"]
    assert isinstance(error, RpcError)
    assert error.code is StatusCode.NOT_FOUND
    assert error.message == "unknown service"
    assert error.details[0].reason == "UNKNOWN_SERVICE"
    assert error.details[0].metadata == (("k", "v"),)


def test_a_code_outside_the_table_is_reported_as_unknown(client):
    client, peer = client
    thread, result = _in_thread(client.health_check)
    peer.next_kind("half_close")
    peer.respond(1, code=99)
    thread.join(5)
    assert result["error"].code is StatusCode.UNKNOWN


def test_a_unary_call_closed_ok_without_a_response_is_internal(client):
    client, peer = client
    thread, result = _in_thread(client.health_check)
    peer.next_kind("half_close")
    peer.respond(1)
    thread.join(5)
    assert result["error"].code is StatusCode.INTERNAL


def test_a_ping_from_the_server_is_answered_with_the_same_payload(pair):
    conn, peer = pair
    peer.send(0, ping=frame_pb2.Ping(payload=0xDEADBEEF12345678))
    assert peer.next_kind("pong").pong.payload == 0xDEADBEEF12345678


def test_a_client_ping_measures_the_round_trip(pair):
    conn, peer = pair
    thread, result = _in_thread(conn.ping, 5.0)
    ping = peer.next_kind("ping")
    peer.send(0, pong=frame_pb2.Pong(payload=ping.ping.payload))
    thread.join(5)
    assert 0 <= result["value"] < 5


def test_credit_is_granted_as_responses_are_consumed_and_the_server_window_is_honoured(client):
    client, peer = client
    count, size = 200, 1024
    responses = client.server_stream(
        EXPAND, echo_pb2.EchoRequest(count=count, response_size=size), echo_pb2.EchoResponse,
    )
    peer.next_kind("half_close")

    credits = []

    def serve():
        # A well-behaved server: sends while its window is positive, then waits for Credit.
        window = 65536
        for i in range(count):
            while window <= 0:
                frame = peer.next_kind("credit")
                credits.append(frame.credit.bytes)
                window += frame.credit.bytes
            data = echo_pb2.EchoResponse(payload=b"x" * size, sequence=i).SerializeToString()
            peer.send(1, message=frame_pb2.Message(data=data))
            window -= len(data)
        peer.send(1, close=frame_pb2.Close())

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    sequences = [r.sequence for r in responses]
    server.join(5)
    assert sequences == list(range(count))
    assert responses.code is StatusCode.OK
    assert credits and all(c >= 32768 for c in credits)


def test_the_client_waits_for_credit_when_its_send_window_is_used_up(client):
    client, peer = client
    requests = [echo_pb2.EchoRequest(payload=bytes(20_000)) for _ in range(10)]
    size = len(requests[0].SerializeToString())
    thread, result = _in_thread(client.client_stream, COLLECT, iter(requests), echo_pb2.EchoResponse)

    peer.next_kind("open")
    for _ in range(4):  # 65,536 allows four messages of 20,003 bytes: the last one overdraws
        assert peer.next_kind("message")
    with pytest.raises(Exception):
        peer.next(timeout=0.3)
    peer.send(1, credit=frame_pb2.Credit(bytes=4 * size))
    for _ in range(4):
        assert peer.next_kind("message")
    peer.send(1, credit=frame_pb2.Credit(bytes=4 * size))
    for _ in range(2):
        assert peer.next_kind("message")
    peer.next_kind("half_close")
    peer.respond(1, echo_pb2.EchoResponse(sequence=10).SerializeToString())
    thread.join(5)
    assert result["value"].sequence == 10


def test_a_local_deadline_cancels_the_call_and_reports_deadline_exceeded(client):
    client, peer = client
    start = time.monotonic()
    with pytest.raises(RpcError) as error:
        client.health_check(timeout=0.2)
    assert error.value.code is StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - start < 2
    opened = peer.next_kind("open")
    assert 1 <= opened.open.timeout_ms <= 200
    assert peer.next_kind("cancel").stream_id == 1


def test_closing_a_response_stream_sends_cancel_and_later_frames_are_ignored(client):
    client, peer = client
    responses = client.server_stream(EXPAND, echo_pb2.EchoRequest(count=5), echo_pb2.EchoResponse)
    peer.next_kind("half_close")
    peer.send(1, message=frame_pb2.Message(data=b""))
    next(responses)
    responses.close()
    assert peer.next_kind("cancel").stream_id == 1
    assert responses.code is StatusCode.CANCELLED
    peer.respond(1, b"late", code=0)  # in flight: ignored

    thread, result = _in_thread(client.health_check)
    assert peer.next_kind("open").stream_id == 2
    peer.respond(2, SERVING.SerializeToString())
    thread.join(5)
    assert result == {"value": "SERVING"}


def test_dropping_an_unfinished_response_stream_cancels_it(client):
    client, peer = client
    responses = client.server_stream(EXPAND, echo_pb2.EchoRequest(count=5), echo_pb2.EchoResponse)
    peer.next_kind("half_close")
    peer.send(1, message=frame_pb2.Message(data=b""))
    for _ in responses:
        break
    del responses  # the finaliser queues the Cancel
    assert peer.next_kind("cancel", timeout=3).stream_id == 1


def test_a_bidirectional_call_interleaves_requests_and_responses(client):
    client, peer = client
    chat = client.bidi_stream(CHAT, echo_pb2.EchoResponse)
    peer.next_kind("open")
    for word in (b"a", b"b", b"c"):
        chat.send(echo_pb2.EchoRequest(payload=word))
        got = echo_pb2.EchoRequest.FromString(peer.next_kind("message").message.data)
        peer.send(1, message=frame_pb2.Message(
            data=echo_pb2.EchoResponse(payload=got.payload).SerializeToString()))
        assert next(chat).payload == word
    chat.done_writing()
    peer.next_kind("half_close")
    peer.respond(1)
    assert list(chat) == []
    assert chat.code is StatusCode.OK


def test_an_early_close_stops_a_client_stream_with_the_servers_status(client):
    client, peer = client
    requests = (echo_pb2.EchoRequest(payload=bytes(40_000)) for _ in range(100))
    thread, result = _in_thread(client.client_stream, COLLECT, requests, echo_pb2.EchoResponse)
    peer.next_kind("message")
    peer.respond(1, code=7, message="no")
    thread.join(5)
    assert result["error"].code is StatusCode.PERMISSION_DENIED


def test_goaway_fails_streams_above_last_stream_id_and_lets_the_others_finish(client):
    client, peer = client
    first, r1 = _in_thread(client.health_check)
    peer.next_kind("half_close")
    second, r2 = _in_thread(client.health_check)
    assert peer.next_kind("open").stream_id == 2
    conn = client._conn

    peer.send(0, go_away=frame_pb2.GoAway(last_stream_id=1, code=0, message="shutting down"))
    second.join(5)
    assert r2["error"].code is StatusCode.UNAVAILABLE
    assert not conn.usable
    peer.respond(1, SERVING.SerializeToString())
    first.join(5)
    assert r1 == {"value": "SERVING"}


def test_a_lost_connection_fails_unfinished_calls_with_unavailable(client):
    client, peer = client
    thread, result = _in_thread(client.health_check)
    peer.next_kind("half_close")
    peer.close()
    thread.join(5)
    assert result["error"].code is StatusCode.UNAVAILABLE


def test_an_oversized_frame_from_the_server_ends_the_connection_with_goaway(client):
    client, peer = client
    thread, result = _in_thread(client.health_check)
    peer.next_kind("half_close")
    peer.send_raw(length_prefix(5 * 1024 * 1024))
    goaway = peer.next_kind("go_away")
    assert goaway.go_away.code == StatusCode.RESOURCE_EXHAUSTED
    thread.join(5)
    assert result["error"].code is StatusCode.INTERNAL


def test_a_message_beyond_the_window_is_a_flow_control_violation(client):
    client, peer = client
    responses = client.server_stream(EXPAND, echo_pb2.EchoRequest(), echo_pb2.EchoResponse)
    peer.next_kind("half_close")
    full = echo_pb2.EchoResponse(payload=bytes(65532)).SerializeToString()
    assert len(full) == 65536
    peer.send(1, message=frame_pb2.Message(data=full))  # window now 0
    peer.send(1, message=frame_pb2.Message(data=b"\x08\x01"))  # violation
    assert peer.next_kind("cancel").stream_id == 1
    assert len(next(responses).payload) == 65532  # what arrived in time stays readable
    with pytest.raises(RpcError) as error:
        next(responses)
    assert error.value.code is StatusCode.RESOURCE_EXHAUSTED


def test_a_server_sent_open_is_a_protocol_error(client):
    client, peer = client
    peer.send(9, open=frame_pb2.Open(method="/x.Y/Z"))
    assert peer.next_kind("go_away").go_away.code == StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("metadata", [
    {"Upper": "x"}, {"trellis-internal": "x"}, {"ok": "a\x00b"}, {"big": "x" * 9000},
    [("request-id", "a"), ("request-id", "b")],
])
def test_metadata_the_server_would_refuse_is_rejected_before_sending(client, metadata):
    client, peer = client
    with pytest.raises(ValueError):
        client.open(HEALTH_CHECK, metadata=metadata)


def test_a_calls_own_authorization_replaces_the_clients_token(client):
    client, peer = client
    client.open(HEALTH_CHECK, metadata={"authorization": "Bearer other", "request-id": "r1"})
    entries = [(e.key, e.value) for e in peer.next_kind("open").open.metadata]
    assert entries == [("authorization", "Bearer other"), ("request-id", "r1")]
