"""Run an app under uvicorn in a child process, and stop it with everything it started.

The app never runs in the grader's process: a learner's module can't patch the
grader, and a blocked event loop blocks only the app. The grader binds the
listening socket itself and hands it to uvicorn (``--fd``), so the port is
known before the child starts and two apps started at once never race for a
port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

# Import, build the app and answer one request: a few hundred ms for a normal
# app; 20 s leaves room for a loaded machine and a slow import.
DEFAULT_START_TIMEOUT = 20.0
# Keep this much of the start and of the end of a server's output. A server
# that floods its log costs the grader at most twice this in memory.
LOG_HEAD_BYTES = 32 * 1024
LOG_TAIL_BYTES = 32 * 1024


class TargetError(ValueError):
    """The thing to grade can't be found or isn't an app (bad usage, not a bad app)."""


@dataclass(frozen=True)
class AppTarget:
    """Where an app lives: uvicorn imports ``import_string`` with ``app_dir`` on sys.path."""

    app_dir: Path
    import_string: str
    label: str


def resolve_target(spec: str, cwd: Path | None = None) -> AppTarget:
    """Accept a path to a ``.py`` file, a folder holding ``app.py``, or ``module:attribute``."""
    cwd = cwd or Path.cwd()
    path = cwd / spec
    if path.is_dir():
        app_file = path / "app.py"
        if not app_file.is_file():
            raise TargetError(f"{spec}: this folder has no app.py in it")
        return AppTarget(app_file.parent.resolve(), "app:app", str(app_file))
    if path.suffix == ".py" or path.is_file():
        if not path.is_file():
            raise TargetError(f"{spec}: no such file")
        if path.suffix != ".py" or not path.stem.isidentifier():
            raise TargetError(f"{spec}: expected a Python file with a plain name, like app.py")
        return AppTarget(path.parent.resolve(), f"{path.stem}:app", spec)
    module, colon, attribute = spec.partition(":")
    if colon and all(part.isidentifier() for part in module.split(".")) and attribute.isidentifier():
        return AppTarget(cwd.resolve(), spec, spec)
    raise TargetError(f"{spec}: not a file, a folder with app.py, or module:attribute")


class CapturedLog:
    """The head and the tail of a stream, read by a background thread."""

    def __init__(self, stream) -> None:  # a binary file object
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.total_bytes = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream) -> None:
        with stream:
            while chunk := stream.read1(65536):
                with self._lock:
                    self.total_bytes += len(chunk)
                    room = LOG_HEAD_BYTES - len(self._head)
                    if room > 0:
                        self._head += chunk[:room]
                        chunk = chunk[room:]
                    if chunk:
                        self._tail.append(chunk)
                        self._tail_size += len(chunk)
                        while self._tail_size - len(self._tail[0]) >= LOG_TAIL_BYTES:
                            self._tail_size -= len(self._tail.popleft())

    def wait_closed(self, timeout: float) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        """The kept output as text, with a note where the middle was dropped."""
        with self._lock:
            tail = b"".join(self._tail)[-LOG_TAIL_BYTES:]
            dropped = self.total_bytes - len(self._head) - len(tail)
            head = bytes(self._head)
        note = f"\n[... {dropped} bytes of output left out ...]\n" if dropped > 0 else ""
        return (head.decode("utf-8", "replace") + note + tail.decode("utf-8", "replace")).strip()


class AppStartError(RuntimeError):
    """The app did not come up: it crashed, or did not answer in time."""

    def __init__(self, message: str, log: str, exit_code: int | None) -> None:
        super().__init__(message)
        self.log = log
        self.exit_code = exit_code


@dataclass
class RunningApp:
    """A started server: where to reach it and how to observe it."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: CapturedLog

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Kill the server and every process in its session (it leads its own)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.log.wait_closed(timeout=2.0)


def uvicorn_command(target: AppTarget, fd: int) -> list[str]:
    return [sys.executable, "-m", "grader._serve", str(fd), str(target.app_dir), target.import_string]


def start_app(
    target: AppTarget,
    env: Mapping[str, str] | None = None,
    start_timeout: float = DEFAULT_START_TIMEOUT,
) -> RunningApp:
    """Start ``target`` and return once it answers HTTP; raise AppStartError otherwise."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONUNBUFFERED"] = "1"
    child_env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave the learner's folder as it was
    try:
        process = subprocess.Popen(
            uvicorn_command(target, listener.fileno()),
            cwd=target.app_dir,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=[listener.fileno()],
            start_new_session=True,  # its own process group: one signal stops them all
        )
    finally:
        listener.close()  # the child holds its own copy
    app = RunningApp(process, f"http://127.0.0.1:{port}", CapturedLog(process.stdout))
    try:
        wait_until_serving(app, start_timeout)
    except BaseException:
        app.stop()
        raise
    return app


def wait_until_serving(app: RunningApp, timeout: float) -> None:
    """Any HTTP answer, even a 404, means the app imported and serves."""
    deadline = time.monotonic() + timeout
    # The socket already listens, so a request made before uvicorn is ready
    # waits in the kernel's backlog: short attempts, retried, see it quickly.
    while True:
        if not app.is_alive():
            app.log.wait_closed(timeout=2.0)
            raise AppStartError(
                f"The server exited with code {app.process.returncode} before it answered any request.",
                app.log.text(),
                app.process.returncode,
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AppStartError(
                f"The server did not answer within {timeout:g} s of starting.",
                app.log.text(),
                None,
            )
        try:
            httpx.get(f"{app.base_url}/openapi.json", timeout=min(0.5, remaining), trust_env=False)
            return
        except httpx.HTTPError:
            continue


@contextmanager
def running_app(
    target: AppTarget,
    env: Mapping[str, str] | None = None,
    start_timeout: float = DEFAULT_START_TIMEOUT,
) -> Iterator[RunningApp]:
    app = start_app(target, env, start_timeout)
    try:
        yield app
    finally:
        app.stop()
