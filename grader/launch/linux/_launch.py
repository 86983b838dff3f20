"""The app's launcher: puts the app in its sandbox, starts it, and outlives it to clean up.

Runs in a child of the grader (never in the grader itself), single-threaded,
so it can fork and change namespaces safely::

    launcher (child subreaper; in the app's cgroup)
      └─ [isolate] init: PID 1 of a new PID namespace, builds the file-system view
           └─ server: limits set, its own user, runs grader.launch._serve (uvicorn + the app)

Without root, ``isolate`` makes a user namespace first (``userns.py``), in
which the grader's user is root: init builds the same view, and the server
runs as that root with every capability given up instead of as a user of
its own.

The launcher tells the grader the server's pid (as the grader sees it) on
the status pipe, then waits. When the server ends, the launcher kills what
it left behind (in a PID namespace the kernel does it when init exits),
reports how the server ended, and ends the same way. The grader sweeps the
tree again when it stops the app.

The server holds no file descriptor but its stdio, the listening socket and
a "ready" pipe, which it writes to once its sandbox is in place and just
before the app's code runs: an exit before that is the sandbox's failure,
after it the app's, whatever the exit code (the app can't forge either).

Usage: python -P -m grader.launch.linux._launch SPEC_JSON
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
import traceback
from dataclasses import dataclass

from grader.launch.linux import cgroups, libc, reaper
from grader.launch.linux.rlimits import apply_rlimits
from grader.launch.sandbox import SETUP_FAILED, UID_BASE
from grader.launch.spec import LaunchSpec

PR_SET_PDEATHSIG = 1
M_ARENA_MAX = -8  # mallopt's parameter number
# Building the file-system view takes milliseconds; copying a large app folder, a few seconds.
FIND_SERVER_TIMEOUT = 60.0


@dataclass
class Launch:
    """A launch under way: what was asked, and what the launcher set up for it."""

    spec: LaunchSpec
    ready_read: int = -1  # the server writes b"1" here just before the app's code runs
    ready_write: int = -1
    uid: int | None = None  # the isolated server's own user (0 inside a user namespace: see userns.py)


def main(argv: list[str]) -> None:
    """A new interpreter's entry point: the spec arrives as JSON."""
    run(LaunchSpec.from_json(argv[0]))


def run(spec: LaunchSpec) -> None:
    """Set up the sandbox, start the server, wait for it and end like it. Never returns."""
    reaper.become_subreaper()
    state = Launch(spec)
    state.ready_read, state.ready_write = os.pipe()
    try:
        if spec.cgroup_procs:
            cgroups.join(spec.cgroup_procs)
        if spec.level == "isolate":
            from grader.launch.linux import jail

            if spec.user_namespace:
                from grader.launch.linux import userns

                # Without root: a user namespace first, where this user is root (the only id it may map).
                userns.enter(jail.NAMESPACES)
                state.uid = 0
            else:
                # A user per server, unique among the launchers alive (their pids are):
                # its process count and anything it leaves are its own.
                state.uid = UID_BASE + os.getpid()
                jail.unshare(jail.NAMESPACES)
    except Exception:
        setup_failed(state)
    if spec.level == "isolate":
        launch_isolated(state)
    launch(state)


def setup_failed(state: Launch | None = None) -> None:
    """Say which step failed, on the app's log, and exit; in the launcher, also on the status pipe."""
    traceback.print_exc()
    print("streamgrade: the app's sandbox could not be set up (see above)", file=sys.stderr, flush=True)
    if state is not None:
        report(state, exit=SETUP_FAILED, setup_failed=True)
    os._exit(SETUP_FAILED)


def report(state: Launch, **fields: object) -> None:
    """A line on the status pipe: the server's pid when it starts, how it ended when it ends."""
    os.write(state.spec.status_fd, (json.dumps(fields) + "\n").encode())


def launch(state: Launch) -> None:
    """Without namespaces: the server is the launcher's child; its orphans come back here."""
    server = os.fork()
    if server == 0:
        run_server(state)
    os.close(state.ready_write)
    report(state, pid=server)
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == server:
            break
    reaper.kill_descendants(os.getpid())
    end_like(state, status)


def launch_isolated(state: Launch) -> None:
    """Namespaces already unshared: the next child is PID 1 of the new PID namespace."""
    read_end, write_end = os.pipe()
    init = os.fork()
    if init == 0:
        os.close(read_end)
        run_init(state, write_end)
    os.close(write_end)
    os.close(state.ready_write)
    server, init_status = find_child(init)
    if server is None:
        if init_status is None:  # still building after the timeout: give up on it
            os.kill(init, signal.SIGKILL)
            os.waitpid(init, 0)
        report(state, exit=SETUP_FAILED, setup_failed=True)
        os._exit(SETUP_FAILED)
    report(state, pid=server, uid=state.uid)
    _, init_status = os.waitpid(init, 0)
    server_status = os.read(read_end, 64)
    end_like(state, int(server_status) if server_status else init_status)


def find_child(parent: int) -> tuple[int | None, int | None]:
    """``parent``'s first child as seen from here, or (None, its wait status) if it ended first."""
    deadline = time.monotonic() + FIND_SERVER_TIMEOUT
    while time.monotonic() < deadline:
        for pid in reaper.children_of(parent):
            return pid, None
        ended, status = os.waitpid(parent, os.WNOHANG)
        if ended == parent:
            return None, status
        time.sleep(0.002)
    return None, None


def run_init(state: Launch, status_pipe: int) -> None:
    """PID 1: build the app's view of the files, start the server, reap, and report how it ended."""
    from grader.launch.linux import jail

    try:
        os.close(state.spec.status_fd)
        reaper._prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the launcher killed: the whole namespace goes
        # An isolated launch always has both (the spec's builder and run() set them): a bug otherwise.
        assert state.spec.root is not None and state.uid is not None, "isolation without a root or a user"
        jail.build_root(state.spec.root, state.spec.readonly, state.spec.app_dir, state.uid)
    except Exception:
        setup_failed()
    server = os.fork()
    if server == 0:
        os.close(status_pipe)
        run_server(state)
    os.close(state.ready_write)
    while True:  # as init, every orphan in the namespace is ours to reap
        pid, status = os.waitpid(-1, 0)
        if pid == server:
            os.write(status_pipe, str(status).encode())
            os._exit(0)  # and the kernel kills everything left in the namespace


def keep_only(fds: list[int]) -> None:
    """Close every inherited descriptor but stdio and ``fds`` (the app must not reach the grader's pipes)."""
    keep = sorted({0, 1, 2, *fds})
    for low, high in zip(keep, [*keep[1:], os.sysconf("SC_OPEN_MAX")], strict=True):
        os.closerange(low + 1, high)


def run_server(state: Launch) -> None:
    """The server's process: limits, user, then uvicorn with the app. Never returns."""
    try:
        keep_only([state.spec.fd, state.ready_write])
        reaper._prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if state.spec.level != "off":
            # Few malloc arenas: each reserves 64 MiB of address space (see sandbox.ADDRESS_SPACE_HEADROOM).
            libc.libc().mallopt(M_ARENA_MAX, 2)
            uid = state.uid if state.spec.level == "isolate" else None
            # RLIMIT_NPROC counts per user, and per user namespace: the server's own either way.
            apply_rlimits(state.spec.limits, cgroup_memory=bool(state.spec.cgroup_procs), own_user=uid is not None)
            if uid is not None:
                from grader.launch.linux import userns

                userns.drop_bounding_set()  # nothing it executes gains a capability, root inside or not
                if not state.spec.user_namespace:  # an unprivileged gid_map denies setgroups
                    os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                userns.drop_capabilities()  # root inside a user namespace keeps them through setuid(0)
            reaper.forbid_new_privileges()
            if uid is not None:
                from grader.launch.linux import seccomp

                seccomp.install()
        os.chdir(state.spec.work_dir or state.spec.app_dir)
        os.write(state.ready_write, b"1")
        os.close(state.ready_write)
    except Exception:
        setup_failed()
    from grader.launch._serve import main as serve

    code = 0
    try:
        serve([str(state.spec.fd), state.spec.app_dir, state.spec.import_string])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def end_like(state: Launch, status: int) -> None:
    """Say how the server ended, then exit the same way (killed by a signal, or with its exit code)."""
    reached_app = os.read(state.ready_read, 1) == b"1"
    report(state, exit=os.waitstatus_to_exitcode(status), setup_failed=not reached_app)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if number not in (signal.SIGKILL, signal.SIGSTOP):  # those can't be caught, nor reset
            signal.signal(number, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [number])
        os.kill(os.getpid(), number)
        os._exit(128 + number)  # a signal that doesn't end a process
    os._exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main(sys.argv[1:])
