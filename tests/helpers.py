"""What several test modules share: paths, sample files, recordings, process options.

Test modules import from here, never from conftest.py (pytest's fixture
file, not a module to import) nor from one another (a test module imported
by another runs its module-level code twice and ties the two together).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx

from grader.exercises.chat.recording import ChatRecording
from grader.recording import AppRecording, Chunk, Exchange, StartRecording

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_APP = ROOT / "reference" / "app.py"
STARTER_APP = ROOT / "starter" / "app.py"
# The learner-style apps the grader's verdicts are tested on.
BANK = Path(__file__).resolve().parent / "bank"

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


def batch(
    submissions: Path, out: Path, config: Path, *options: str, timeout: float = 600
) -> subprocess.CompletedProcess:
    """`streamgrade batch` on a folder of submissions, as a teacher runs it."""
    command = [
        sys.executable,
        "-m",
        "grader",
        "batch",
        str(submissions),
        "--out",
        str(out),
        "--config",
        str(config),
        *options,
    ]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def statuses(results_file: Path) -> dict[str, str]:
    """Each check's status in a results.json."""
    return {check["id"]: check["status"] for check in json.loads(results_file.read_text())["checks"]}


@functools.cache
def app_module(path: Path) -> ModuleType:
    """The app file imported in this process, once: for in-process tests through httpx.ASGITransport."""
    spec = importlib.util.spec_from_file_location(f"in_process_{path.stem}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Synthetic recordings for the checks' unit tests: a chat reply of six tokens
# DELAY seconds apart, as the probe would have recorded it.
DELAY = 0.2
PROMPT = "a b c d e f"  # six tokens


def stream(times_and_data: list[tuple[float, bytes]], content_type: str = "text/plain; charset=utf-8") -> Exchange:
    return Exchange(
        "GET",
        "/",
        status=200,
        headers=[("content-type", content_type)],
        chunks=[Chunk(at, data) for at, data in times_and_data],
        ended_at=times_and_data[-1][0],
    )


def paced_tokens(first: float = 0.002, delay: float = DELAY) -> list[tuple[float, bytes]]:
    tokens = [b"a ", b"b ", b"c ", b"d ", b"e ", b"f"]
    return [(first + index * delay, token) for index, token in enumerate(tokens)]


def chat_app(solo: Exchange, busy: list[float] | None = None) -> AppRecording:
    chat = ChatRecording(
        delay=DELAY,
        content=[],
        solo_prompt=PROMPT,
        solo=solo,
        concurrent=[],
        idle_latencies=[0.002] * 3,
        busy_latencies=busy or [0.002] * 8,
        validation=[],
    )
    return AppRecording("app", StartRecording(True, 0.5), recordings={"chat": chat})
