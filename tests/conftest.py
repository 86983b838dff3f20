"""Shared fixtures: real uvicorn servers on 127.0.0.1, and files to serve.

Every server runs in a child process and is reached over TCP: in-process
transports (httpx.ASGITransport, TestClient) buffer the body and lose the
timing these tests are about.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from grader.launch import RunningApp, resolve_target, running_app
from grader.samplefile import write_sample_file

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_APP = ROOT / "reference" / "app.py"
STARTER_APP = ROOT / "starter" / "app.py"

# Not a multiple of the usual chunk sizes, so an off-by-one at the end shows.
SMALL_FILE_SIZE = 8 * 1024 * 1024 + 12345
# The size the contract names for the memory bound.
LARGE_FILE_SIZE = 256 * 1024 * 1024


@dataclass(frozen=True)
class SampleFile:
    path: Path
    size: int
    sha256: str

    def read(self) -> bytes:
        return self.path.read_bytes()


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
def reference_no_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    yield from serve(REFERENCE_APP, tmp_path_factory.mktemp("empty") / "missing.bin")


@pytest.fixture(scope="session")
def starter(small_file: SampleFile) -> Iterator[RunningApp]:
    yield from serve(STARTER_APP, small_file.path)


@dataclass(frozen=True)
class Recording:
    """A response and every chunk of its body with its arrival time (seconds after sending)."""

    response: httpx.Response
    chunks: list[tuple[float, bytes]]

    @property
    def body(self) -> bytes:
        return b"".join(chunk for _, chunk in self.chunks)

    @property
    def times(self) -> list[float]:
        return [at for at, _ in self.chunks]


def record(client: httpx.Client, url: str, **kwargs) -> Recording:
    started = time.perf_counter()
    chunks = []
    with client.stream("GET", url, **kwargs) as response:
        for chunk in response.iter_raw():
            chunks.append((time.perf_counter() - started, chunk))
    return Recording(response, chunks)


def ctrl_c_reaches_it() -> dict:
    """Popen options under which SIGINT is Ctrl-C to the child, even where this run ignores it.

    A shell that starts a job in the background without job control (as a CI
    runner may) sets SIGINT to ignored, and children inherit that: Python
    then installs no KeyboardInterrupt handler, and a test's Ctrl-C does nothing.
    """
    if os.name != "posix":
        return {}
    return {"preexec_fn": lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
