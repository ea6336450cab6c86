"""Starts and stops a real trellisd for the integration tests.

The binary is $TRELLISD, or <repo>/.build/debug/trellisd. A missing binary fails the
tests that need it (it never skips them): the Makefile builds it before running them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from trellis_client import Client

REPO = Path(__file__).resolve().parents[3]
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def binary() -> Path:
    return Path(os.environ.get("TRELLISD") or REPO / ".build" / "debug" / "trellisd")


def free_ports(n: int) -> list[int]:
    """Ports free on loopback now: bound to 0 together (so distinct), read, then released."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Trellisd:
    """One trellisd process in dev mode with its own data directory and ports."""

    def __init__(self, workdir: Path, *extra: str):
        self.path = binary()
        if not (self.path.is_file() and os.access(self.path, os.X_OK)):
            pytest.fail(
                f"trellisd not found at {self.path}: build it (swift build --product trellisd) "
                "or point TRELLISD at the binary",
                pytrace=False,
            )
        self.data = workdir / "data"
        self.data.mkdir(parents=True)
        self.log_path = workdir / "trellisd.log"
        self.port, self.agent_port = free_ports(2)
        self.args = [
            str(self.path), "--dev", "--data", str(self.data),
            "--listen", f"127.0.0.1:{self.port}",
            "--agent-listen", f"127.0.0.1:{self.agent_port}",
            "--enable-echo", *extra,
        ]
        self.proc: subprocess.Popen | None = None

    @property
    def ca_file(self) -> str:
        return str(self.data / "ca.pem")

    @property
    def token(self) -> str:
        return (self.data / "admin.token").read_text().strip()

    def start(self) -> "Trellisd":
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"trellisd exited with {self.proc.returncode} before it was ready\n"
                    f"command: {' '.join(self.args)}\n{self.log_tail()}",
                    pytrace=False,
                )
            if self._files_ready() and self._accepting():
                return
            time.sleep(0.05)
        self.stop()
        pytest.fail(
            f"trellisd was not ready within {READY_TIMEOUT:.0f} s (ca.pem, admin.token and "
            f"127.0.0.1:{self.port} accepting)\ncommand: {' '.join(self.args)}\n{self.log_tail()}",
            pytrace=False,
        )

    def _files_ready(self) -> bool:
        try:
            ca = (self.data / "ca.pem").read_text()
            token = (self.data / "admin.token").read_text()
        except OSError:
            return False
        return "-----END CERTIFICATE-----" in ca and token.strip() != ""

    def _accepting(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def client(self, **kwargs) -> Client:
        kwargs.setdefault("token", self.token)
        return Client("127.0.0.1", self.port, self.ca_file, **kwargs)

    def terminate(self) -> None:
        """Sends SIGTERM: the graceful shutdown of docs/protocol.md section 12."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "--- trellisd log (tail) ---\n" + "\n".join(text[-lines:])
