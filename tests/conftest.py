"""Shared fixtures: real uvicorn servers on 127.0.0.1, and files to serve (helpers.py has the rest).

Every server runs in a child process and is reached over TCP: in-process
transports (httpx.ASGITransport, TestClient) buffer the body and lose the
timing these tests are about.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import LARGE_FILE_SIZE, REFERENCE_APP, SMALL_FILE_SIZE, STARTER_APP, SampleFile

from grader.launch import RunningApp, resolve_target, running_app
from grader.samplefile import write_sample_file


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
