"""Run an app under uvicorn in a child process, and stop it with everything it started: what every backend shares.

The app never runs in the grader's process: a learner's module can't patch the
grader, and a blocked event loop blocks only the app. The grader binds the
listening socket itself and hands it to the app's process, so the port is
known before the child starts and two apps started at once never race for a
port. The socket belongs to the grader's network namespace even when the app
runs in a new one without any network: the app can accept connections on it,
and open none.

A backend (``linux/backend.py``, ``portable.py``) starts the child and
subclasses ``RunningApp`` with how to stop everything the app started and
what its sandbox saw; this module holds what they share: targets, the
captured log, the app's environment, the wait until it answers.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import urlsplit

from grader.launch.measure import Meter
from grader.launch.sandbox import MIB, Policy, Protections, kept_environment

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

    def __init__(self, message: str, log: str, exit_code: int | None, protections: Protections | None = None) -> None:
        super().__init__(message)
        self.log = log
        self.exit_code = exit_code
        self.protections = protections


class Process(Protocol):
    """The part of ``subprocess.Popen``'s interface a running app's first process offers."""

    # Read-only: Popen's stdout is an IO[bytes] and the fork server's launcher
    # always has one; the grader never assigns these.
    @property
    def pid(self) -> int: ...
    @property
    def returncode(self) -> int | None: ...
    @property
    def stdout(self) -> IO[bytes] | None: ...

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def kill(self) -> None: ...


@dataclass
class RunningApp:
    """A started server: where to reach it, how to measure it, and what it was allowed to do.

    A backend subclasses it with ``_stop_processes`` (and, if it has a
    sandbox, ``_sandbox_incidents`` and ``_setup_failed``).
    """

    process: Process  # the first process the backend started (a launcher, or the server itself)
    base_url: str
    log: CapturedLog
    meter: Meter
    backend: str
    policy: Policy = field(default_factory=Policy)
    protections: Protections = field(default_factory=Protections)
    server_pid: int | None = None  # the uvicorn process, as the grader sees it
    incidents: list[str] = field(default_factory=list)  # what the sandbox saw, for the report
    leftovers: int = 0  # processes still there after the sweep (should stay 0)
    _stopped: bool = False

    @property
    def pid(self) -> int:
        return self.server_pid or self.process.pid

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Kill the server and every process it started, wherever they went; then say what happened."""
        if self._stopped:
            return
        self._stopped = True
        started = self._stop_processes()
        self.log.wait_closed(timeout=2.0)
        self.incidents = self._incidents(started)
        self._cleanup()

    def _stop_processes(self) -> int:
        """Kill everything; how many processes the app had started besides its server."""
        raise NotImplementedError

    def _cleanup(self) -> None:
        """Remove what the backend made for this app (after the incidents are read)."""

    def _sandbox_incidents(self) -> list[str]:
        return []

    def setup_failed(self) -> bool:
        """Whether the server ended before the app's code ran (the sandbox's failure, not the app's)."""
        return False

    def _incidents(self, started: int) -> list[str]:
        said = self._sandbox_incidents()
        if started:
            said.append(
                f"{started} process{'es' if started != 1 else ''} your app started "
                f"{'were' if started != 1 else 'was'} still running when grading ended; "
                "the grader stopped them."
            )
        if self.log.total_bytes > LOG_HEAD_BYTES + LOG_TAIL_BYTES:
            said.append(
                f"Your server printed {self.log.total_bytes / MIB:.1f} MiB of output; "
                f"the report keeps the first {LOG_HEAD_BYTES // 1024} KiB and the last "
                f"{LOG_TAIL_BYTES // 1024} KiB."
            )
        if self.leftovers:
            said.append(f"{self.leftovers} of the processes your app started could not be stopped.")
        return said


def app_environment(policy: Policy, extra: Mapping[str, str | None] | None) -> dict[str, str]:
    """What the app sees in os.environ: under limits, nothing of the grader's (no tokens, no keys).

    A variable ``extra`` maps to None is removed, whoever set it.
    """
    if policy.limited:
        env = kept_environment(os.environ)
        env["MALLOC_ARENA_MAX"] = "2"  # see sandbox.ADDRESS_SPACE_HEADROOM
        if policy.isolated:
            env.update(HOME="/tmp", TMPDIR="/tmp", USER="streamgrade", LOGNAME="streamgrade")
    else:
        env = dict(os.environ)
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave the learner's folder as it was
    return env


def listening_socket() -> tuple[socket.socket, int]:
    """A socket the app will accept connections on, bound by the grader (so its port is known first) and its port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    return listener, listener.getsockname()[1]


def started_or_stopped(app: RunningApp, start_timeout: float) -> RunningApp:
    """Wait until ``app`` answers; if it doesn't, stop it and raise AppStartError saying why."""
    try:
        wait_until_serving(app, start_timeout)
    except AppStartError as error:
        app.stop()
        # What the sandbox saw comes first: it is usually why the app did not start.
        raise AppStartError(
            " ".join([*app.incidents, str(error)]), app.log.text(), error.exit_code, app.protections
        ) from None
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
            if app.setup_failed():
                message = (
                    "The grader could not set up the sandbox the app runs in: a problem with the "
                    "grader or this machine, not with the app (the log says which step failed)."
                )
            else:
                message = f"The server exited with code {app.process.returncode} before it answered any request."
            raise AppStartError(message, app.log.text(), app.process.returncode)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AppStartError(
                f"The server did not answer within {timeout:g} s of starting. Code that runs or waits at import "
                "time is the usual cause; an app that is only slow to start can be given longer with "
                "`--start-timeout SECONDS` (in a batch, `start_timeout` in grading.toml).",
                app.log.text(),
                None,
            )
        if answers_http(app.base_url, min(0.5, remaining)):
            return


# Readiness needs the status line only; an app that sends more, or sends it slowly, is not read further.
STATUS_LINE_CAP = 1024


def answers_http(base_url: str, timeout: float) -> bool:
    """Whether the server answers GET /openapi.json with an HTTP status line within ``timeout`` seconds.

    A plain socket under one deadline, reading at most ``STATUS_LINE_CAP``
    bytes and asking for no compression: an HTTP client would read (and
    decompress) a whole body, and restart its timeout at every byte.
    """
    deadline = time.monotonic() + timeout
    address = urlsplit(base_url)
    request = (
        f"GET /openapi.json HTTP/1.1\r\nHost: {address.netloc}\r\nAccept-Encoding: identity\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    received = b""
    try:
        with socket.create_connection((address.hostname, address.port), timeout=timeout) as connection:
            connection.sendall(request)
            while b"\n" not in received and len(received) < STATUS_LINE_CAP:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                connection.settimeout(remaining)
                data = connection.recv(STATUS_LINE_CAP - len(received))
                if not data:
                    break
                received += data
    except OSError:
        return False
    return received.startswith(b"HTTP/")
