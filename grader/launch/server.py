"""Run an app under uvicorn in a child process, and stop it with everything it started.

The app never runs in the grader's process: a learner's module can't patch the
grader, and a blocked event loop blocks only the app. The grader binds the
listening socket itself and hands it to the app's process, so the port is
known before the child starts and two apps started at once never race for a
port. The socket belongs to the grader's network namespace even when the app
runs in a new one without any network: the app can accept connections on it,
and open none.

The child is the launcher (``_launch.py``), which applies the sandbox the
``Policy`` asks for and starts the server; ``RunningApp.stop`` kills every
process the app started, daemons included, and says what the sandbox saw.
"""

from __future__ import annotations

import contextlib
import json
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from grader.launch.linux import cgroups, forkserver, reaper
from grader.launch.linux.cgroups import Cgroup
from grader.launch.linux.forkserver import Launched, StatusPipe
from grader.launch.sandbox import MIB, Policy, Protections, describe, size_text

# Import, build the app and answer one request: a few hundred ms for a normal
# app; 20 s leaves room for a loaded machine and a slow import.
DEFAULT_START_TIMEOUT = 20.0
# Keep this much of the start and of the end of a server's output. A server
# that floods its log costs the grader at most twice this in memory.
LOG_HEAD_BYTES = 32 * 1024
LOG_TAIL_BYTES = 32 * 1024
# The only variables of the grader's environment an app under limits sees.
KEPT_VARIABLES = {"PATH", "LANG", "LANGUAGE", "TZ"}


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


@dataclass
class RunningApp:
    """A started server: where to reach it, how to observe it, and what it was allowed to do."""

    process: Launched | subprocess.Popen[bytes]  # the launcher (grader/launch/linux/_launch.py)
    base_url: str
    log: CapturedLog
    policy: Policy = field(default_factory=Policy)
    protections: Protections = field(default_factory=Protections)
    cgroup: Cgroup | None = None
    root: Path | None = None  # where the isolated app's file-system view is mounted
    server_pid: int | None = None  # the uvicorn process, as the grader sees it
    incidents: list[str] = field(default_factory=list)  # what the sandbox saw, for the report
    leftovers: int = 0  # processes still there after the sweep (should stay 0)
    status: StatusPipe | None = None
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
        launcher = self.process.pid
        server = self.server_pid
        init = parent_of(server) if server and self.policy.isolated else None
        started = reaper.living(reaper.descendants([launcher] + ([server] if server else []))) - {server, init}
        killed = set()
        if self.cgroup is not None:
            self.cgroup.kill_all()  # v2: the kernel kills the whole group at once, wherever its processes went
            killed |= reaper.kill_descendants(launcher, extra=self.cgroup.pids())
        killed |= reaper.kill_descendants(launcher, extra=[server] if server else [])
        with contextlib.suppress(ProcessLookupError):
            os.killpg(launcher, signal.SIGKILL)
        self.process.kill()
        self.process.wait()
        if self.status is not None:
            self.status.close()
        if self.cgroup is not None:
            killed |= reaper.kill_descendants(launcher, extra=self.cgroup.pids())
        reaper.reap(killed)
        self.leftovers = len(reaper.living(killed | (self.cgroup.pids() if self.cgroup else set())))
        self.log.wait_closed(timeout=2.0)
        self.incidents = self._incidents(len(started))
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.root is not None:
            with contextlib.suppress(OSError):
                self.root.rmdir()

    def _incidents(self, started: int) -> list[str]:
        limits, said = self.policy.limits, []
        code = self.process.returncode
        if self.cgroup is not None and self.cgroup.oom_kills():
            said.append(f"The kernel stopped your app at the {size_text(limits.memory)} memory limit "
                        "(it used more memory than any streaming solution needs).")  # fmt: skip
        elif self.policy.limited and self.cgroup is None and "MemoryError" in self.log.text():
            said.append(f"Your app ran out of memory at the {size_text(limits.memory)} limit (MemoryError).")
        if self.cgroup is not None and self.cgroup.process_limit_hits():
            said.append(f"Your app tried to run more than {limits.processes} processes and threads at once; "
                        f"{self.cgroup.process_limit_hits()} of its attempts were refused.")  # fmt: skip
        if code == -signal.SIGXCPU:
            said.append(f"Your server was stopped at the {limits.cpu_seconds} s CPU-time limit.")
        if started:
            said.append(f"{started} process{'es' if started != 1 else ''} your app started "
                        f"{'were' if started != 1 else 'was'} still running when grading ended; "
                        "the grader stopped them.")  # fmt: skip
        if self.log.total_bytes > LOG_HEAD_BYTES + LOG_TAIL_BYTES:
            said.append(f"Your server printed {self.log.total_bytes / MIB:.1f} MiB of output; "
                        f"the report keeps the first {LOG_HEAD_BYTES // 1024} KiB and the last "
                        f"{LOG_TAIL_BYTES // 1024} KiB.")  # fmt: skip
        if self.leftovers:
            said.append(f"{self.leftovers} of the processes your app started could not be stopped.")
        return said


def parent_of(pid: int) -> int | None:
    return reaper.parent_map().get(pid)


def launcher_command(spec: dict) -> list[str]:
    # -P: no working folder on sys.path (it would be mounted into the app's view).
    return [sys.executable, "-P", "-m", "grader.launch.linux._launch", json.dumps(spec)]


def app_environment(policy: Policy, extra: Mapping[str, str] | None) -> dict[str, str]:
    """What the app sees in os.environ: under limits, nothing of the grader's (no tokens, no keys)."""
    if policy.limited:
        env = {key: value for key, value in os.environ.items() if key in KEPT_VARIABLES or key.startswith("LC_")}
        env["MALLOC_ARENA_MAX"] = "2"  # see sandbox.ADDRESS_SPACE_HEADROOM
        if policy.isolated:
            env.update(HOME="/tmp", TMPDIR="/tmp", USER="streamgrade", LOGNAME="streamgrade")
    else:
        env = dict(os.environ)
    env.update(extra or {})
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave the learner's folder as it was
    return env


def start_app(
    target: AppTarget,
    env: Mapping[str, str] | None = None,
    start_timeout: float = DEFAULT_START_TIMEOUT,
    policy: Policy | None = None,
    readonly: list[Path] | None = None,
) -> RunningApp:
    """Start ``target`` in its sandbox and return once it answers HTTP; raise AppStartError otherwise.

    ``readonly``: folders the app must read besides its own (isolation hides everything else).
    """
    policy = policy or Policy()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    status_read, status_write = os.pipe()
    cgroup, cgroup_problem = None, "not requested"
    if policy.limited:
        cgroup, cgroup_problem = cgroups.app_group(f"app-{port}", policy.limits.memory, policy.limits.processes)
    root = jail_root() if policy.isolated else None
    spec = {
        "app_dir": str(target.app_dir),
        "import_string": target.import_string, "level": policy.level, "limits": asdict(policy.limits),
        "cgroup_procs": cgroup.join_command_value() if cgroup else [],
        "root": str(root) if root else None, "readonly": [str(path) for path in readonly or []],
    }  # fmt: skip
    status = StatusPipe(status_read)
    try:
        process = launch(spec, app_environment(policy, env), target.app_dir, listener.fileno(), status_write, status)
    except BaseException:
        status.close()
        if cgroup is not None:
            cgroup.remove()
        if root is not None:
            root.rmdir()
        raise
    finally:
        listener.close()  # the child holds its own copy
        os.close(status_write)
    protections = describe(policy, isolated=policy.isolated, cgroup=cgroup is not None,
                           cgroup_problem=cgroup_problem, isolation_problem=policy.isolation_problem)  # fmt: skip
    app = RunningApp(process, f"http://127.0.0.1:{port}", CapturedLog(process.stdout), policy, protections,
                     cgroup, root, status=status)  # fmt: skip
    try:
        first = status.read_line(start_timeout)
        app.server_pid = int(first["pid"]) if first and "pid" in first else None
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


def jail_root() -> Path:
    """An empty folder to mount an isolated app's view on (the mounts live in the app's namespace only)."""
    reaper.remove_stale_folders("root")
    return reaper.private_folder("root")


def launch(spec: dict, env: dict[str, str], cwd: Path, listener: int, status_write: int,
           status: StatusPipe) -> Launched | subprocess.Popen[bytes]:  # fmt: skip
    """Fork the launcher from the fork server; start a new interpreter where that fails."""
    log_read, log_write = os.pipe()
    try:
        pid = forkserver.shared().spawn(spec, env, str(cwd), listener, status_write, log_write)
    except OSError:
        os.close(log_read)
    else:
        return Launched(pid, open(log_read, "rb"), status)  # noqa: SIM115  (CapturedLog closes it)
    finally:
        os.close(log_write)
    return subprocess.Popen(
        launcher_command({**spec, "fd": listener, "status_fd": status_write}),
        cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        pass_fds=[listener, status_write],
        start_new_session=True,  # its own process group: one signal stops them all
    )  # fmt: skip


def wait_until_serving(app: RunningApp, timeout: float) -> None:
    """Any HTTP answer, even a 404, means the app imported and serves."""
    deadline = time.monotonic() + timeout
    # The socket already listens, so a request made before uvicorn is ready
    # waits in the kernel's backlog: short attempts, retried, see it quickly.
    while True:
        if not app.is_alive():
            app.log.wait_closed(timeout=2.0)
            if app.status is not None:
                app.status.exit_code()  # reads how it ended, if the launcher said
            if app.status is not None and app.status.setup_failed:
                message = ("The grader could not set up the sandbox the app runs in: a problem with the "
                           "grader or this machine, not with the app (the log says which step failed).")  # fmt: skip
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
    policy: Policy | None = None,
) -> Iterator[RunningApp]:
    app = start_app(target, env, start_timeout, policy)
    try:
        yield app
    finally:
        app.stop()
