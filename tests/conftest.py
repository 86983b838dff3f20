"""Shared fixtures: real uvicorn servers on 127.0.0.1, the reference in process, and files to serve.

A server runs in a child process and is reached over TCP wherever a test
judges what only a socket shows: when each piece arrives, chunked framing,
memory, a client going away. An in-process client (httpx.ASGITransport)
waits for the whole body before it returns anything, so it serves the tests
of content, status and headers only; they need no server and run fast.
helpers.py has what tests share besides fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from helpers import LARGE_FILE_SIZE, REFERENCE_APP, SMALL_FILE_SIZE, STARTER_APP, SampleFile, app_module

from grader.launch import RunningApp, resolve_target, running_app, shutdown
from grader.samplefile import write_sample_file

# A test that asks for one of these starts a server: it must carry the slow
# marker, so that `pytest -m "not slow"` stays fast.
SERVER_FIXTURES = {"reference", "reference_large", "starter"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("slow") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "These tests start a server but are not marked @pytest.mark.slow:\n  " + "\n  ".join(unmarked)
        )


@pytest.fixture(scope="session", autouse=True)
def _launch_helpers_stopped() -> Iterator[None]:
    """The backend's helpers (on Linux, the fork server apps are started from) end with the session, after its servers.

    Left to the interpreter's exit, the fork server's process and channel were
    collected still open (a ResourceWarning after the summary).
    """
    yield
    shutdown()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> SampleFile:
    path = tmp_path_factory.mktemp("files") / "sample data.bin"
    return SampleFile(path, SMALL_FILE_SIZE, write_sample_file(path, SMALL_FILE_SIZE))


@pytest.fixture(scope="session")
def large_file(tmp_path_factory: pytest.TempPathFactory) -> SampleFile:
    path = tmp_path_factory.mktemp("files") / "large.bin"
    return SampleFile(path, LARGE_FILE_SIZE, write_sample_file(path, LARGE_FILE_SIZE))


def serve(app_file: Path, bigfile: Path) -> Iterator[RunningApp]:
    with running_app(resolve_target(str(app_file)), env={"BIGFILE_PATH": str(bigfile)}) as app:
        yield app


@pytest.fixture(scope="session")
def reference(small_file: SampleFile) -> Iterator[RunningApp]:
    yield from serve(REFERENCE_APP, small_file.path)


@pytest.fixture(scope="session")
def reference_large(large_file: SampleFile) -> Iterator[RunningApp]:
    yield from serve(REFERENCE_APP, large_file.path)


@pytest.fixture(scope="session")
def starter(small_file: SampleFile) -> Iterator[RunningApp]:
    yield from serve(STARTER_APP, small_file.path)


@pytest.fixture
async def reference_in_process(
    small_file: SampleFile, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the reference app running in this process, its lifespan run as a server runs it.

    LifespanManager sends the startup and shutdown events that ASGITransport
    alone never sends, so an app that opens something at startup works here too.
    """
    monkeypatch.setenv("BIGFILE_PATH", str(small_file.path))
    app = app_module(REFERENCE_APP).app
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://reference") as client,
    ):
        yield client
