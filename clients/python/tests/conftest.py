"""Fixtures: a shared trellisd for most integration tests, a fresh one for those that stop it."""

from pathlib import Path

import pytest

from trellisd import Trellisd


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).name.startswith("test_integration"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def trellisd(tmp_path_factory):
    server = Trellisd(tmp_path_factory.mktemp("trellisd")).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_trellisd(tmp_path):
    server = Trellisd(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def client(trellisd):
    with trellisd.client() as client:
        yield client


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Adds the server's log to the report of a failed integration test."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for name in ("trellisd", "fresh_trellisd"):
            server = item.funcargs.get(name) if hasattr(item, "funcargs") else None
            if server is not None:
                report.sections.append((f"{name} log", server.log_tail()))
