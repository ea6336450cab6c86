"""The client against a real trellisd (see trellisd.py): what docs/protocol.md promises."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from trellis_client import DEFAULT, Client, RpcError, StatusCode, echo_pb2, health_pb2

ECHO = "/trellis.echo.v1.EchoService/"
CLIENT_DIR = Path(__file__).resolve().parents[1]


def echo(client, payload=b"", timeout=DEFAULT, **fields):
    request = echo_pb2.EchoRequest(payload=payload, **fields)
    return client.unary(ECHO + "Echo", request, echo_pb2.EchoResponse, timeout=timeout)


# -- health ----------------------------------------------------------------------------


def test_check_reports_serving(client):
    assert client.health_check() == "SERVING"


def test_check_of_a_served_service_reports_serving(client):
    assert client.health_check("trellis.v1.HealthService") == "SERVING"


def test_check_needs_no_token(trellisd):
    with trellisd.client(token=None) as client:
        assert client.health_check() == "SERVING"


def test_check_of_an_unknown_service_is_not_found(client):
    with pytest.raises(RpcError) as error:
        client.health_check("trellis.v1.NoSuchService")
    assert error.value.code is StatusCode.NOT_FOUND


def test_an_unknown_method_is_unimplemented(client):
    with pytest.raises(RpcError) as error:
        client.unary("/trellis.v1.NoSuchService/Nope", health_pb2.HealthCheckRequest(),
                     health_pb2.HealthCheckResponse)
    assert error.value.code is StatusCode.UNIMPLEMENTED
    assert client.health_check() == "SERVING"  # a call error leaves the connection usable


def test_the_server_selects_the_trellis_alpn_protocol(client):
    assert client.connect()._channel.alpn_protocol == "trellis/1"


def test_a_ping_is_answered(client):
    assert client.ping(timeout=5) < 5


def test_the_cli_check_prints_serving(trellisd):
    result = subprocess.run(
        [sys.executable, "-m", "trellis_client", "check", "--server",
         f"127.0.0.1:{trellisd.port}", "--ca", trellisd.ca_file],
        cwd=CLIENT_DIR, capture_output=True, text=True, timeout=30,
    )
    assert (result.returncode, result.stdout) == (0, "SERVING\n"), result.stderr


def test_the_cli_watch_prints_serving_first(trellisd):
    proc = subprocess.Popen(
        [sys.executable, "-m", "trellis_client", "watch", "--server",
         f"127.0.0.1:{trellisd.port}", "--ca", trellisd.ca_file],
        cwd=CLIENT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        timer = threading.Timer(30, proc.kill)
        timer.start()
        first = proc.stdout.readline()
        timer.cancel()
        assert first == "SERVING\n", proc.stderr.read() if proc.poll() is not None else ""
    finally:
        proc.kill()
        proc.wait(5)


# -- echo: every call shape ---------------------------------------------------------------


def test_echo_returns_the_payload(client):
    payload = os.urandom(3000)
    response = client.unary(ECHO + "Echo", echo_pb2.EchoRequest(payload=payload),
                            echo_pb2.EchoResponse, metadata={"request-id": "python-echo-1"})
    assert response.payload == payload


def test_echo_without_a_token_is_unauthenticated(trellisd):
    with trellisd.client(token=None) as client:
        with pytest.raises(RpcError) as error:
            client.unary(ECHO + "Echo", echo_pb2.EchoRequest(), echo_pb2.EchoResponse)
    assert error.value.code is StatusCode.UNAUTHENTICATED


def test_echo_with_an_unknown_token_is_unauthenticated(trellisd):
    with trellisd.client(token="not-a-token") as client:
        with pytest.raises(RpcError) as error:
            client.unary(ECHO + "Echo", echo_pb2.EchoRequest(), echo_pb2.EchoResponse)
    assert error.value.code is StatusCode.UNAUTHENTICATED


def test_expand_streams_a_thousand_kilobyte_messages_through_flow_control(client):
    responses = client.server_stream(
        ECHO + "Expand", echo_pb2.EchoRequest(count=1000, response_size=1024),
        echo_pb2.EchoResponse,
    )
    sequences = []
    for response in responses:
        assert len(response.payload) == 1024
        sequences.append(response.sequence)
    assert sequences == list(range(1000))
    assert responses.code is StatusCode.OK


def test_a_slow_reader_of_expand_still_gets_everything(client):
    responses = client.server_stream(
        ECHO + "Expand", echo_pb2.EchoRequest(count=300, response_size=1024),
        echo_pb2.EchoResponse,
    )
    time.sleep(0.5)  # the server fills the window and must wait for credit
    assert [r.sequence for r in responses] == list(range(300))


def test_collect_concatenates_the_requests(client):
    parts = [os.urandom(100 + i) for i in range(20)]
    response = client.client_stream(
        ECHO + "Collect", (echo_pb2.EchoRequest(payload=p) for p in parts), echo_pb2.EchoResponse
    )
    assert response.payload == b"".join(parts)
    assert response.sequence == 20


def test_collect_of_more_than_a_window_waits_for_credit(client):
    parts = [os.urandom(30_000) for _ in range(10)]  # 300 kB against a 64 KiB window
    response = client.client_stream(
        ECHO + "Collect", (echo_pb2.EchoRequest(payload=p) for p in parts), echo_pb2.EchoResponse
    )
    assert response.payload == b"".join(parts)
    assert response.sequence == 10


def test_collect_of_no_requests_answers_empty(client):
    response = client.client_stream(ECHO + "Collect", iter(()), echo_pb2.EchoResponse)
    assert (response.payload, response.sequence) == (b"", 0)


def test_chat_answers_each_request_as_it_arrives(client):
    chat = client.bidi_stream(ECHO + "Chat", echo_pb2.EchoResponse)
    for i in range(5):
        payload = f"message {i}".encode()
        chat.send(echo_pb2.EchoRequest(payload=payload))
        assert next(chat).payload == payload  # answered before the client half-closes
    chat.done_writing()
    assert list(chat) == []
    assert chat.code is StatusCode.OK


def test_chat_with_a_request_iterator(client):
    payloads = [os.urandom(5000) for _ in range(50)]
    chat = client.bidi_stream(
        ECHO + "Chat", echo_pb2.EchoResponse,
        requests=(echo_pb2.EchoRequest(payload=p) for p in payloads),
    )
    assert [r.payload for r in chat] == payloads


def test_concurrent_calls_share_the_connection(client):
    results = []

    def call():
        results.append(echo(client, b"x", delay_ms=500).payload)

    threads = [threading.Thread(target=call) for _ in range(8)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [b"x"] * 8
    assert time.monotonic() - start < 3.5  # in flight together, not one after another


# -- deadlines and cancellation -------------------------------------------------------------


def test_a_deadline_shorter_than_the_delay_is_deadline_exceeded(client):
    start = time.monotonic()
    with pytest.raises(RpcError) as error:
        client.unary(ECHO + "Echo", echo_pb2.EchoRequest(delay_ms=2000), echo_pb2.EchoResponse,
                     timeout=0.2)
    assert error.value.code is StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - start < 1.5
    assert echo(client, b"after").payload == b"after"


def test_the_server_enforces_timeout_ms_itself(client):
    # timeout_ms 300 and no local deadline: only the server's Close can end the call.
    stream = client.connect().open_stream(ECHO + "Echo", client._metadata, 300, None)
    stream.send(echo_pb2.EchoRequest(delay_ms=5000).SerializeToString())
    stream.half_close()
    start = time.monotonic()
    assert stream.receive() is None
    assert stream.status.code is StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - start < 3


def test_cancelling_expand_midway_leaves_the_connection_usable(client):
    conn = client.connect()
    responses = client.server_stream(
        ECHO + "Expand", echo_pb2.EchoRequest(count=100_000, response_size=1024),
        echo_pb2.EchoResponse,
    )
    for i, response in enumerate(responses):
        if i == 50:
            break
    assert responses.cancel()
    assert responses.code is StatusCode.CANCELLED
    assert echo(client, b"still here").payload == b"still here"
    assert client.connect() is conn


# -- errors at the connection level -----------------------------------------------------------


def test_a_wrong_ca_fails_verification_clearly(trellisd, tmp_path):
    other = tmp_path / "other-ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(tmp_path / "k.pem"), "-out", str(other), "-days", "1",
         "-subj", "/CN=not the trellis CA"],
        check=True, capture_output=True,
    )
    with Client("127.0.0.1", trellisd.port, str(other)) as client:
        with pytest.raises(RpcError) as error:
            client.health_check()
    assert error.value.code is StatusCode.UNAVAILABLE
    assert "certificate verification failed" in error.value.message


def test_a_frame_above_the_servers_limit_ends_the_connection_and_the_client_reconnects(trellisd):
    with trellisd.client(max_frame_size=8 * 1024 * 1024) as client:
        first = client.connect()
        with pytest.raises(RpcError) as error:
            client.unary(ECHO + "Echo", echo_pb2.EchoRequest(payload=bytes(5 * 1024 * 1024)),
                         echo_pb2.EchoResponse, timeout=10)
        # RESOURCE_EXHAUSTED from the GoAway, or UNAVAILABLE if the reset overtook it.
        assert error.value.code in (StatusCode.RESOURCE_EXHAUSTED, StatusCode.UNAVAILABLE)
        assert echo(client, b"again").payload == b"again"
        assert client.connect() is not first


# -- graceful shutdown --------------------------------------------------------------------------


def test_on_sigterm_watch_sees_not_serving_then_ends_and_new_calls_are_unavailable(fresh_trellisd):
    client = fresh_trellisd.client()
    watch = client.health_watch()
    assert next(watch) == "SERVING"
    conn = client.connect()

    fresh_trellisd.terminate()
    signalled = time.monotonic()
    seen, ended = [], None
    try:
        for status in watch:
            seen.append(status)
    except RpcError as error:
        ended = error.code
    elapsed = time.monotonic() - signalled

    assert seen == ["NOT_SERVING"]
    assert ended is None  # Close{OK} right after NOT_SERVING (docs/protocol.md section 12)
    assert elapsed < 10 + 5  # the drain timeout, with a margin
    # The GoAway and the watch's end may arrive in either order.
    until = time.monotonic() + 5
    while conn.goaway is None and not conn.closed and time.monotonic() < until:
        time.sleep(0.02)
    goaway = conn.goaway
    assert goaway is not None and goaway[1].code is StatusCode.OK
    assert goaway[0] >= watch.stream_id  # the watch was let finish, not refused

    with pytest.raises(RpcError) as error:
        client.health_check(timeout=5)
    assert error.value.code is StatusCode.UNAVAILABLE
    assert fresh_trellisd.wait(15) is not None, "trellisd did not exit after draining"
    client.close()


def test_while_draining_calls_in_flight_finish_and_a_late_open_is_unavailable(fresh_trellisd):
    client = fresh_trellisd.client()
    conn = client.connect()
    slow = {}

    def call():
        slow["reply"] = echo(client, b"in flight", delay_ms=1500, timeout=20)

    thread = threading.Thread(target=call)
    thread.start()
    until = time.monotonic() + 5
    while conn.active_streams == 0 and time.monotonic() < until:
        time.sleep(0.01)
    time.sleep(0.2)  # let the Open reach the server before the signal
    fresh_trellisd.terminate()
    until = time.monotonic() + 5
    while conn.goaway is None and time.monotonic() < until:
        time.sleep(0.01)
    assert conn.goaway is not None and conn.goaway[1].code is StatusCode.OK

    # A client should open nothing after GoAway; this one does, to see the server refuse it.
    with conn._lock:
        saved, conn._goaway = conn._goaway, None
    late = conn.open_stream(ECHO + "Echo", client._metadata, 5000, time.monotonic() + 5)
    with conn._lock:
        conn._goaway = saved
    late.send(echo_pb2.EchoRequest(payload=b"late").SerializeToString())
    late.half_close()
    assert late.receive() is None
    assert late.status.code is StatusCode.UNAVAILABLE

    thread.join(20)
    assert slow["reply"].payload == b"in flight"
    assert fresh_trellisd.wait(15) is not None, "trellisd did not exit after draining"
    client.close()
