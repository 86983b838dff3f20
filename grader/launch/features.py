"""What this system offers for launching and measuring an app, found out once, in one place.

The rest of the grader asks here instead of testing ``sys.platform``: a
facility is used when it is present, whatever the system is called, and a
test can take one away to see that the grader copes (see
tests/test_portable.py).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import signal
import socket
from dataclasses import dataclass

BACKEND_VARIABLE = "STREAMGRADE_BACKEND"  # "linux" or "portable"; unset: the best this system has
BACKENDS = ("linux", "portable")


@dataclass(frozen=True)
class Features:
    fork: bool  # os.fork: the fork server and the launcher's namespaces
    proc: bool  # /proc with per-process status, schedstat and clear_refs
    seqpacket: bool  # AF_UNIX SOCK_SEQPACKET: the fork server's channel
    pidfd: bool  # os.pidfd_open and signal.pidfd_send_signal: watching launchers we did not start
    resource: bool  # the resource module: rlimits
    pass_fds: bool  # a child can inherit a socket by descriptor number (POSIX)
    share_socket: bool  # socket.share / fromshare (Windows): a child gets the socket another way
    process_groups: bool  # os.killpg: one signal stops a process group (POSIX)
    clock_tick: float | None  # seconds per clock tick (1/CLK_TCK), where the system has sysconf

    def missing_for_linux(self) -> list[str]:
        """What the Linux backend needs and this system lacks."""
        needs = {
            "os.fork": self.fork,
            "/proc": self.proc,
            "SOCK_SEQPACKET": self.seqpacket,
            "pidfd": self.pidfd,
            "the resource module": self.resource,
        }
        return [name for name, present in needs.items() if not present]


@functools.cache
def detect() -> Features:
    return Features(
        fork=hasattr(os, "fork"),
        proc=os.path.exists("/proc/self/status") and os.path.exists("/proc/self/clear_refs"),
        seqpacket=hasattr(socket, "AF_UNIX") and hasattr(socket, "SOCK_SEQPACKET"),
        pidfd=hasattr(os, "pidfd_open") and hasattr(signal, "pidfd_send_signal"),
        resource=importlib.util.find_spec("resource") is not None,
        pass_fds=os.name == "posix",
        share_socket=hasattr(socket.socket, "share"),
        process_groups=hasattr(os, "killpg"),
        clock_tick=1 / os.sysconf("SC_CLK_TCK") if "SC_CLK_TCK" in getattr(os, "sysconf_names", {}) else None,
    )


class BackendError(RuntimeError):
    """The backend asked for can't run here (a usage error, said plainly)."""


@functools.cache
def backend_name() -> str:
    """The backend to use: the one asked for in ``STREAMGRADE_BACKEND``, else Linux's where it can run."""
    asked = os.environ.get(BACKEND_VARIABLE, "").strip().lower()
    if asked and asked not in BACKENDS:
        raise BackendError(f"{BACKEND_VARIABLE}={asked!r}: expected one of {', '.join(BACKENDS)}")
    missing = detect().missing_for_linux()
    if asked == "linux" and missing:
        raise BackendError(f"{BACKEND_VARIABLE}=linux: this system has no {', '.join(missing)}")
    if asked:
        return asked
    return "portable" if missing else "linux"
