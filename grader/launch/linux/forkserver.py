"""Start app launchers from a fork server instead of a new interpreter each.

``_forkserver.py`` runs in a child of the grader with uvicorn and FastAPI
imported; ``spawn`` sends it what a launcher needs (its spec, environment,
folder, and the listening socket, status pipe and log pipe as file
descriptors) and gets back the launcher's pid. The launcher is then the fork
server's child, not the grader's, so ``Launched`` stands in for
``subprocess.Popen``: it watches the process through a pidfd and takes its
exit status from the last line the launcher writes on its status pipe (none
means it was killed: SIGKILL).

A batch starts one server and shares it with its grading processes (they
connect to the path in ``STREAMGRADE_FORKSERVER``), so the imports are paid
once per batch. Where the fork server can't be used (it failed to start, or
died), the caller falls back to starting the launcher with
``subprocess.Popen``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable
from typing import BinaryIO

from grader.launch.linux import reaper
from grader.launch.sandbox import kept_environment
from grader.launch.spec import LaunchSpec

STOP_GRACE = 5.0  # for the fork server to kill what it launched when its owner has gone
SPAWN_TIMEOUT = 30.0  # the first spawn waits for the server's imports (about 0.5 s)


class StatusPipe:
    """The launcher's status lines: the server's pid first, its exit status last."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""
        self.closed = False
        self.exit: int | None = None
        self.setup_failed = False  # the server ended before the app's code ran: the sandbox's failure

    def read_line(self, timeout: float) -> dict | None:
        """The next line as JSON, or None at the end of the pipe or after ``timeout`` seconds."""
        while b"\n" not in self._buffer and not self.closed:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(self.fd, 4096)
            if not chunk:
                self.closed = True
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return json.loads(line) if line else None
        except ValueError:
            return None

    def exit_code(self) -> int | None:
        """The exit status the launcher reported, reading what is left without waiting."""
        while (line := self.read_line(timeout=0)) is not None:
            if "exit" in line:
                self.exit, self.setup_failed = line["exit"], bool(line.get("setup_failed"))
        return self.exit

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class Launched:
    """A launcher started by the fork server, with the part of Popen's interface the grader uses."""

    def __init__(self, pid: int, stdout: BinaryIO, status: StatusPipe) -> None:
        self.pid = pid
        self.stdout = stdout
        self.status = status
        self.returncode: int | None = None
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:
            self._pidfd = None  # already gone

    def _ended(self, timeout: float) -> bool:
        if self._pidfd is None:
            return True
        ready, _, _ = select.select([self._pidfd], [], [], timeout)
        return bool(ready)

    def _finish(self) -> int:
        if self.returncode is None:
            code = self.status.exit_code()
            self.returncode = code if code is not None else -signal.SIGKILL
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
        return self.returncode

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        return self._finish() if self._ended(0) else None

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and not self._ended(timeout if timeout is not None else 1e9):
            raise subprocess.TimeoutExpired("launcher", timeout or 0)
        return self._finish()

    def kill(self) -> None:
        if self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)  # no pid reuse can misdirect it


class Refused(RuntimeError):
    """The fork server would not start this app (a level below the batch's, or a malformed request)."""


def fork_server_environment() -> dict[str, str]:
    """No secret (tokens, keys) in it: every app is forked from the fork server, environment block included."""
    return {
        **kept_environment(os.environ),
        **{key: os.environ[key] for key in ("PYTHONPATH", "PYTHONHOME") if key in os.environ},
    }


ADDRESS_VARIABLE = "STREAMGRADE_FORKSERVER"  # a shared server's socket path, for a batch's grading processes


class ForkServer:
    """One per grading process, started on first use (or a batch's, shared); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: socket.socket | None = None
        self._shared_folder: str | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, share: bool = False, floor: str = "off", trusted: Iterable[str] = ()) -> None:
        """Start the server now (its imports then overlap whatever the caller does next).

        ``share``: also let this process's children connect (``address()`` says
        where), asking for apps at level ``floor`` or stronger, or ``off`` for
        an app in one of the ``trusted`` folders (the reference's).
        """
        with self._lock:
            self._start_locked(share, {"floor": floor, "trusted": [str(folder) for folder in trusted]})

    def address(self) -> str | None:
        return os.path.join(self._shared_folder, "forkserver") if self._shared_folder else None

    def _start_locked(self, share: bool = False, policy: dict | None = None) -> None:
        alive = self._channel is not None and (self._process is None or self._process.poll() is None)
        if alive and (not share or self._shared_folder):
            return
        self._close_locked()
        address = os.environ.get(ADDRESS_VARIABLE)
        if address and not share:
            try:  # a batch's grading process: use the batch's server
                channel = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                channel.settimeout(SPAWN_TIMEOUT)
                channel.connect(address)
                self._channel = channel
                return
            except OSError:
                channel.close()  # gone: start one of our own
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        passed = [theirs]
        if share:
            reaper.remove_stale_folders("forkserver", remove=shutil.rmtree)
            self._shared_folder = str(reaper.private_folder("forkserver"))  # mode 700: ours only
            listening = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            listening.bind(os.path.join(self._shared_folder, "forkserver"))
            listening.listen(64)
            passed.append(listening)
        arguments = [str(end.fileno()) for end in passed]
        if share:
            arguments.append(json.dumps(policy or {"floor": "off", "trusted": []}))
        try:
            # Every app is forked from it: it starts with nothing of the grader's environment in its memory.
            self._process = subprocess.Popen(
                [sys.executable, "-P", "-u", "-m", "grader.launch.linux._forkserver", *arguments],
                pass_fds=[end.fileno() for end in passed],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd="/",
                start_new_session=True,
                env=fork_server_environment(),
            )
        finally:
            for end in passed:
                end.close()
        mine.settimeout(SPAWN_TIMEOUT)
        self._channel = mine

    def spawn(self, spec: LaunchSpec, env: dict[str, str], cwd: str, listener: int, status: int, log: int) -> int:
        """Fork a launcher; its pid. Raises OSError if the server can't do it, Refused if it won't."""
        request = json.dumps({"spec": spec.to_json(), "cwd": cwd}).encode()
        # The environment goes in a memfd that only the forked launcher reads: the fork server never
        # holds it, so it can't leave one app's environment in the memory the next is forked with.
        environment = os.memfd_create("streamgrade-environment", os.MFD_CLOEXEC)
        try:
            with open(environment, "wb", closefd=False) as memfd:
                memfd.write(json.dumps(env).encode())
            os.lseek(environment, 0, os.SEEK_SET)
            with self._lock:
                self._start_locked()
                assert self._channel is not None
                try:
                    socket.send_fds(self._channel, [request], [listener, status, log, environment])
                    reply = self._channel.recv(4096)
                except (OSError, TimeoutError):
                    self._close_locked()
                    raise
                if not reply:
                    self._close_locked()
                    raise OSError("the fork server ended")
        finally:
            os.close(environment)
        answer = json.loads(reply)
        if "refused" in answer:
            raise Refused(f"the fork server refused to start the app: {answer['refused']}")
        return int(answer["pid"])

    def _close_locked(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._process is not None:
            try:  # it kills what it launched that still runs, then ends
                self._process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._shared_folder is not None:
            shutil.rmtree(self._shared_folder, ignore_errors=True)
            self._shared_folder = None

    def stop(self) -> None:
        with self._lock:
            self._close_locked()


_server = ForkServer()


def shared() -> ForkServer:
    return _server
