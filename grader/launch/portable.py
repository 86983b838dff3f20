"""The portable backend: a plain child process, measured and stopped through psutil.

For systems without what the Linux backend needs (macOS, Windows), and on
Linux when asked for (``STREAMGRADE_BACKEND=portable``). The server is the
child itself (``python -m grader.launch._serve``), in a process group of its
own (a new session on POSIX, ``CREATE_NEW_PROCESS_GROUP`` on Windows), and
gets the listening socket the grader bound: by descriptor where children
inherit descriptors, else through ``socket.share`` on its standard input.

Measurements cover the server and every process below it. No kernel peak of
resident memory can be reset here, so the probes' samples (every
``MEMORY_SAMPLE_PERIOD``) make the peak, and the recording says so; CPU time
comes in clock ticks on some systems (``CPU_RESOLUTION``). There is no
sandbox: no limits, no isolation, said in the report. A process that leaves
the app's tree before it is first seen (a double fork at import) can escape
the final sweep; every process seen in the tree is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from grader.launch.features import detect
from grader.launch.measure import MEMORY_SAMPLE_PERIOD, MemorySample
from grader.launch.sandbox import Policy, Protections
from grader.launch.server import (
    DEFAULT_START_TIMEOUT,
    AppTarget,
    CapturedLog,
    RunningApp,
    app_environment,
    listening_socket,
    started_or_stopped,
)

NAME = "portable"
# Seconds: the step in which the system counts a process's CPU time where
# psutil reads it: clock ticks on Linux and macOS (1/CLK_TCK, 10 ms), the
# 15.6 ms scheduler tick on Windows (which has no clock-tick setting). A
# difference of readings this close to a bound can't decide a verdict.
CPU_RESOLUTION = detect().clock_tick or 1 / 64
STOP_WAIT = 5.0  # seconds to wait for killed processes to be gone
# Finding a process's descendants scans every process on the system (about
# 10 ms on Linux): memory samples, taken every 20 ms, reuse the tree found at
# most this long ago and read only its processes.
TREE_REFRESH = 0.2
NO_SANDBOX = (
    "resource limits, a cgroup and isolation: the portable backend has none "
    "(it runs where Linux's fork server and /proc are missing, or when asked for)"
)


class TreeMeter:
    """The server's process tree through psutil (see grader.launch.measure.Meter)."""

    sample_period = MEMORY_SAMPLE_PERIOD
    cpu_resolution = CPU_RESOLUTION

    def __init__(self, server: int) -> None:
        self.server = psutil.Process(server)
        self.seen: dict[int, psutil.Process] = {server: self.server}  # for the final sweep
        self._tree: list[psutil.Process] = [self.server]
        self._found_at = -TREE_REFRESH

    def processes(self, max_age: float = 0.0) -> list[psutil.Process]:
        """The server and its descendants, found at most ``max_age`` s ago (ProcessLookupError once it is gone)."""
        if time.monotonic() - self._found_at >= max_age:
            try:
                self._tree = [self.server, *self.server.children(recursive=True)]
            except psutil.NoSuchProcess:
                raise ProcessLookupError(f"process {self.server.pid} has exited") from None
            self._found_at = time.monotonic()
            for process in self._tree:
                self.seen.setdefault(process.pid, process)
        return self._tree

    def reset_peak(self) -> bool:
        return False  # no system offers it through psutil: the peak is sampled

    def memory(self) -> MemorySample:
        total = 0
        for process in self.processes(max_age=TREE_REFRESH):
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        if not self.server.is_running():
            raise ProcessLookupError(f"process {self.server.pid} has exited")
        return MemorySample(total, None)

    def cpu_seconds(self) -> float:
        total = 0.0
        try:
            processes = self.processes()
        except ProcessLookupError:
            return 0.0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def wakeups(self) -> int:
        total = 0
        try:
            processes = self.processes()
        except ProcessLookupError:
            return 0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                switches = process.num_ctx_switches()
                total += switches.voluntary + switches.involuntary
        return total

    def process_count(self) -> int:
        try:
            return len(self.processes())
        except ProcessLookupError:
            return 0


@dataclass
class PortableApp(RunningApp):
    sweep: list[psutil.Process] = field(default_factory=list)

    def _stop_processes(self) -> int:
        meter = self.meter
        assert isinstance(meter, TreeMeter)
        with contextlib.suppress(ProcessLookupError):
            meter.processes()  # the last look at the tree, while the server still holds it together
        tree = [process for process in meter.seen.values() if process.is_running()]
        started = sum(1 for process in tree if process.pid != self.process.pid)
        if detect().process_groups:
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, signal.SIGKILL)
        for process in tree:
            with contextlib.suppress(psutil.Error):
                process.kill()
        self.process.kill()
        self.process.wait()
        _, alive = psutil.wait_procs(tree, timeout=STOP_WAIT)
        self.leftovers = len(alive)
        return started


def shared(listener: socket.socket, pid: int) -> bytes:
    """``listener`` duplicated for process ``pid``: how Windows hands a socket to a child."""
    if sys.platform != "win32":
        raise OSError("a socket is shared by duplication on Windows only; elsewhere the child inherits it")
    return listener.share(pid)


def server_command(target: AppTarget, fd: str) -> list[str]:
    # -P: no working folder on sys.path; the app's folder goes first there instead (_serve.py).
    return [sys.executable, "-P", "-m", "grader.launch._serve", fd, str(target.app_dir), target.import_string]


def start_app(
    target: AppTarget,
    env: Mapping[str, str | None] | None = None,
    start_timeout: float = DEFAULT_START_TIMEOUT,
    policy: Policy | None = None,
    readonly: list[Path] | None = None,
    workdir: Path | None = None,
) -> RunningApp:
    """Start ``target`` as a plain child process and return once it answers HTTP; AppStartError otherwise."""
    policy = policy or Policy()
    listener, port = listening_socket()
    cwd, environment = workdir or target.app_dir, app_environment(policy, env)
    try:
        if detect().pass_fds:
            process = subprocess.Popen(
                server_command(target, str(listener.fileno())),
                stdin=subprocess.DEVNULL,
                pass_fds=[listener.fileno()],
                start_new_session=True,
                cwd=cwd,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        else:  # Windows: the socket is duplicated into the child, which reads it from its standard input
            process = subprocess.Popen(
                server_command(target, "-"),
                stdin=subprocess.PIPE,
                creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
                cwd=cwd,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            assert process.stdin is not None
            with contextlib.suppress(OSError):
                process.stdin.write(shared(listener, process.pid))
                process.stdin.close()
    finally:
        listener.close()  # the child holds its own copy
    app = PortableApp(
        process,
        f"http://127.0.0.1:{port}",
        CapturedLog(process.stdout),
        meter=TreeMeter(process.pid),
        backend=NAME,
        policy=policy,
        protections=describe(policy),
        server_pid=process.pid,
    )
    return started_or_stopped(app, start_timeout)


def describe(policy: Policy) -> Protections:
    held = Protections(policy.level)
    if policy.limited:
        held.in_force.append("the app's environment holds nothing of the grader's")
        held.not_in_force.append(NO_SANDBOX)
    else:
        held.not_in_force.append("resource limits and isolation (this is a local check, not a batch)")
    held.in_force.append("every process the app started that is still below it is stopped when grading ends")
    held.in_force.append("its output is capped: the first and last 32 KiB are kept")
    return held


def resolve_level(requested: str) -> tuple[str, str]:
    """No sandbox here: "limits" and "auto" run with the grader's environment withheld, and say so."""
    if requested == "isolate":
        raise RuntimeError("isolation was required but is not available here: it needs the Linux backend")
    if requested == "off":
        return "off", ""
    return "limits", "isolation needs the Linux backend"


def prepare(*, share: bool = False, floor: str = "off", trusted: Iterable[str] = ()) -> None:
    """Nothing to start ahead: each server is a new interpreter (so nothing to refuse a level to)."""


def shutdown() -> None:
    """Nothing was started by ``prepare``."""


def child_environment() -> dict[str, str]:
    return {}


def own_helpers() -> list[int]:
    return []


def adopt_orphans() -> None:
    """No subreaper here: each app's tree is swept when it stops."""


def keep_secrets() -> None:
    """No portable way to keep a process of the same user from reading this one (docs/SECURITY.md)."""


def end_with_parent(parent: int) -> None:
    """No portable way to be told of the parent's end: a killed batch's grading process finishes its grade."""


def stop_orphans(known: Iterable[int] = ()) -> None:
    """Kill the trees of this process's children that are not ``known`` (what a killed grading left)."""
    known = set(known)
    with contextlib.suppress(psutil.Error):
        strays = [child for child in psutil.Process().children() if child.pid not in known]
        everything = [*strays, *(below for child in strays for below in _below(child))]
        for process in everything:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(everything, timeout=STOP_WAIT)


def _below(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []
