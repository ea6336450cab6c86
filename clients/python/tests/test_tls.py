"""The TLS channel against a scripted TLS server in this process (no trellisd)."""

import socket
import ssl
import subprocess
import threading

import pytest

from trellis_client import Client, RpcError, StatusCode, frame_pb2, health_pb2
from trellis_client.framing import FrameDecoder, encode_frame


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA."""
    d = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "other"):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "1",
                 "-subj", f"/CN=test {ca}", cwd=d)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "ext.cnf", cwd=d)
    return d


class TLSHealthServer:
    """Answers every HealthService/Check with SERVING; records the ALPN the client offered."""

    def __init__(self, pki, alpn=("trellis/1",)):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(pki / "server.pem", pki / "server.key")
        if alpn:
            self.context.set_alpn_protocols(list(alpn))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.selected_alpn = []
        self.errors = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(raw,), daemon=True).start()

    def _connection(self, raw):
        try:
            with self.context.wrap_socket(raw, server_side=True) as tls:
                self.selected_alpn.append(tls.selected_alpn_protocol())
                decoder = FrameDecoder()
                while True:
                    data = tls.recv(65536)
                    if not data:
                        return
                    for frame in decoder.feed(data):
                        if frame.WhichOneof("kind") == "half_close":
                            reply = health_pb2.HealthCheckResponse(
                                status=health_pb2.SERVING_STATUS_SERVING).SerializeToString()
                            tls.sendall(encode_frame(frame_pb2.Frame(
                                stream_id=frame.stream_id, message=frame_pb2.Message(data=reply))))
                            tls.sendall(encode_frame(frame_pb2.Frame(
                                stream_id=frame.stream_id, close=frame_pb2.Close())))
        except (OSError, ssl.SSLError) as error:
            self.errors.append(error)

    def close(self):
        self.listener.close()


@pytest.fixture
def server(pki):
    server = TLSHealthServer(pki)
    yield server
    server.close()


def test_a_check_over_tls_offers_alpn_and_verifies_the_server(pki, server):
    with Client("127.0.0.1", server.port, str(pki / "ca.pem")) as client:
        assert client.health_check() == "SERVING"
        assert client.health_check() == "SERVING"  # the same connection, stream 2
        assert client.connect().usable
    assert server.selected_alpn == ["trellis/1"]


def test_a_server_without_alpn_is_accepted(pki):
    server = TLSHealthServer(pki, alpn=())
    try:
        with Client("127.0.0.1", server.port, str(pki / "ca.pem")) as client:
            assert client.health_check() == "SERVING"
    finally:
        server.close()


def test_a_wrong_ca_fails_verification_with_a_clear_error(pki, server):
    with Client("127.0.0.1", server.port, str(pki / "other.pem")) as client:
        with pytest.raises(RpcError) as error:
            client.health_check()
    assert error.value.code is StatusCode.UNAVAILABLE
    assert "certificate verification failed" in error.value.message
    assert f"127.0.0.1:{server.port}" in error.value.message


def test_a_name_the_certificate_does_not_cover_fails_verification(pki, server):
    with Client("127.0.0.1", server.port, str(pki / "ca.pem"), server_name="example.org") as c:
        with pytest.raises(RpcError) as error:
            c.health_check()
    assert "certificate verification failed" in error.value.message


def test_a_refused_connection_is_unavailable_after_the_retries(pki):
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with Client("127.0.0.1", port, str(pki / "ca.pem"), connect_attempts=2) as client:
        with pytest.raises(RpcError) as error:
            client.health_check()
    assert error.value.code is StatusCode.UNAVAILABLE
    assert "connect to" in error.value.message
