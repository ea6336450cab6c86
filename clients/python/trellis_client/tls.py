"""TLS for a connection, done on memory buffers.

An ``ssl.SSLObject`` over two ``MemoryBIO``s keeps all socket I/O on plain sockets, so
one thread can read while another writes without two threads ever being inside OpenSSL
with the same connection at once (the channel's lock guarantees that).
"""

from __future__ import annotations

import socket
import ssl
import threading
import time

#: The ALPN protocol id of this protocol version.
ALPN_PROTOCOL = "trellis/1"

# TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3 suites are all AEAD.
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def make_context(ca_file: str, cert_file: str | None = None, key_file: str | None = None):
    """Returns a client context: TLS 1.2+, AEAD ciphers, ALPN, verification against ``ca_file``.

    ``cert_file`` and ``key_file`` give a client certificate, for the agent listener.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_TLS12_CIPHERS)
    context.set_alpn_protocols([ALPN_PROTOCOL])
    context.load_verify_locations(cafile=ca_file)
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


class PlainChannel:
    """A channel that passes bytes through unchanged; for tests over a socketpair."""

    alpn_protocol = None

    def handshake(self, sock: socket.socket, deadline: float) -> None:
        pass

    def encrypt(self, chunks: list[bytes]) -> bytes:
        return b"".join(chunks)

    def decrypt(self, data: bytes) -> tuple[bytes, bool]:
        return data, False


class TLSChannel:
    """The TLS state of one connection.

    ``encrypt`` and ``decrypt`` may be called from different threads; a lock serialises
    them. Bytes that ``decrypt`` makes OpenSSL produce (a key update answer) stay in the
    outgoing buffer and leave with the next ``encrypt``, so that one thread alone writes
    the socket and records keep their order.
    """

    def __init__(self, context: ssl.SSLContext, server_hostname: str):
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._object = context.wrap_bio(
            self._incoming, self._outgoing, server_side=False, server_hostname=server_hostname
        )
        self._lock = threading.Lock()
        self.alpn_protocol: str | None = None

    def handshake(self, sock: socket.socket, deadline: float) -> None:
        """Completes the handshake on a connected socket, raising ssl.SSLError or OSError."""
        while True:
            try:
                self._object.do_handshake()
                break
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                self._flush_quietly(sock)
                raise
            pending = self._outgoing.read()
            if pending:
                sock.sendall(pending)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("TLS handshake timed out")
            sock.settimeout(remaining)
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed during the TLS handshake")
            self._incoming.write(data)
        pending = self._outgoing.read()
        if pending:
            sock.sendall(pending)
        self.alpn_protocol = self._object.selected_alpn_protocol()

    def encrypt(self, chunks: list[bytes]) -> bytes:
        with self._lock:
            for chunk in chunks:
                self._object.write(chunk)
            return self._outgoing.read()

    def decrypt(self, data: bytes) -> tuple[bytes, bool]:
        """Returns the plaintext ``data`` completes and whether output is waiting to be sent."""
        with self._lock:
            self._incoming.write(data)
            out = []
            while True:
                try:
                    chunk = self._object.read(262144)
                except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                    break
                if not chunk:
                    break
                out.append(chunk)
            return b"".join(out), self._outgoing.pending > 0

    def _flush_quietly(self, sock: socket.socket) -> None:
        # Sends the alert that tells the server why the handshake failed.
        try:
            pending = self._outgoing.read()
            if pending:
                sock.sendall(pending)
        except OSError:
            pass
