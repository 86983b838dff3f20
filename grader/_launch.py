"""The app's launcher: puts the app in its sandbox, starts it, and outlives it to clean up.

Runs in a child of the grader (never in the grader itself), single-threaded,
so it can fork and change namespaces safely::

    launcher (child subreaper; in the app's cgroup)
      └─ [isolate] init: PID 1 of a new PID namespace, builds the file-system view
           └─ server: limits set, its own user, runs grader._serve (uvicorn + the app)

The launcher tells the grader the server's pid (as the grader sees it) on
the status pipe, then waits. When the server ends, the launcher kills what
it left behind (in a PID namespace the kernel does it when init exits) and
ends the same way the server did, so the grader sees the server's exit
status. The grader sweeps the tree again when it stops the app.

Usage: python -P -m grader._launch SPEC_JSON | --trial
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import tempfile
import time
import traceback

from grader import cgroups, reaper
from grader.sandbox import SETUP_FAILED, Limits, apply_rlimits

PR_SET_PDEATHSIG = 1
M_ARENA_MAX = -8  # mallopt's parameter number
FIND_SERVER_TIMEOUT = 10.0


def main(argv: list[str]) -> None:
    if argv == ["--trial"]:
        trial()
    spec = json.loads(argv[0])
    reaper.become_subreaper()
    try:
        if spec.get("cgroup_procs"):
            cgroups.join(spec["cgroup_procs"])
        if spec["level"] == "isolate":
            from grader import jail

            jail.unshare(jail.NAMESPACES)
    except Exception:
        setup_failed(spec)
    if spec["level"] == "isolate":
        launch_isolated(spec)
    launch(spec)


def setup_failed() -> None:
    traceback.print_exc()
    print(
        "streamgrade: the app's sandbox could not be set up (see above)",
        file=sys.stderr,
        flush=True,
    )
    os._exit(SETUP_FAILED)


def report(spec: dict, **fields: int) -> None:
    """A line on the status pipe: the server's pid when it starts, the exit status when it ends."""
    os.write(spec["status_fd"], (json.dumps(fields) + "\n").encode())


def close_status(spec: dict) -> None:
    """The init and server processes don't hold the status pipe: its end means the launcher's end."""
    os.close(spec["status_fd"])


def launch(spec: dict) -> None:
    """Without namespaces: the server is the launcher's child; its orphans come back here."""
    server = os.fork()
    if server == 0:
        run_server(spec)
    report(spec, pid=server)
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == server:
            break
    reaper.kill_descendants(os.getpid())
    end_like(spec, status)


def launch_isolated(spec: dict) -> None:
    """Namespaces already unshared: the next child is PID 1 of the new PID namespace."""
    read_end, write_end = os.pipe()
    init = os.fork()
    if init == 0:
        os.close(read_end)
        run_init(spec, write_end)
    os.close(write_end)
    server = find_child(init)
    if server is None:
        os.waitpid(init, 0)
        report(spec, exit=SETUP_FAILED)
        os._exit(SETUP_FAILED)
    report(spec, pid=server)
    _, init_status = os.waitpid(init, 0)
    server_status = os.read(read_end, 64)
    end_like(spec, int(server_status) if server_status else init_status)


def find_child(parent: int) -> int | None:
    """The pid, as seen from here, of ``parent``'s first child; None if ``parent`` ended first."""
    deadline = time.monotonic() + FIND_SERVER_TIMEOUT
    while time.monotonic() < deadline:
        for pid, ppid in reaper.parent_map().items():
            if ppid == parent:
                return pid
        if os.waitpid(parent, os.WNOHANG)[0] == parent:
            return None
        time.sleep(0.002)
    return None


def run_init(spec: dict, status_pipe: int) -> None:
    """PID 1: build the app's view of the files, start the server, reap, and report how it ended."""
    from grader import jail

    try:
        close_status(spec)
        reaper._prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the launcher killed: the whole namespace goes
        jail.build_root(spec["root"], spec["readonly"], spec["app_dir"], spec["uid"])
    except Exception:
        setup_failed()
    server = os.fork()
    if server == 0:
        run_server(spec)
    while True:  # as init, every orphan in the namespace is ours to reap
        pid, status = os.waitpid(-1, 0)
        if pid == server:
            os.write(status_pipe, str(status).encode())
            os._exit(0)  # and the kernel kills everything left in the namespace


def run_server(spec: dict) -> None:
    """The server's process: limits, user, then uvicorn with the app. Never returns."""
    try:
        if spec["level"] != "isolate":  # under isolate, init closed it already
            close_status(spec)
        reaper._prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if spec["level"] != "off":
            # Few malloc arenas: each reserves 64 MiB of address space (see sandbox.ADDRESS_SPACE_HEADROOM).
            ctypes.CDLL(None).mallopt(M_ARENA_MAX, 2)
            uid = spec.get("uid") if spec["level"] == "isolate" else None
            apply_rlimits(Limits(**spec["limits"]), cgroup_memory=bool(spec.get("cgroup_procs")),
                          count_processes=uid is not None or os.getuid() != 0)  # fmt: skip
            if uid is not None:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            reaper.forbid_new_privileges()
        os.chdir(spec["app_dir"])
    except Exception:
        setup_failed()
    if spec.get("trial"):
        import fastapi  # noqa: F401  (the app's imports work as its user, in its view of the files)
        import uvicorn  # noqa: F401

        os._exit(0)
    from grader._serve import main as serve

    code = 0
    try:
        serve([str(spec["fd"]), spec["app_dir"], spec["import_string"]])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def end_like(spec: dict, status: int) -> None:
    """Say how the server ended, then exit the same way (killed by a signal, or with its exit code)."""
    report(spec, exit=os.waitstatus_to_exitcode(status))
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if number not in (signal.SIGKILL, signal.SIGSTOP):  # those can't be caught, nor reset
            signal.signal(number, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [number])
        os.kill(os.getpid(), number)
        os._exit(128 + number)  # a signal that doesn't end a process
    os._exit(os.waitstatus_to_exitcode(status))


def trial() -> None:
    """Isolate a do-nothing app: exit 0 if every step works here, else say which failed."""
    with tempfile.TemporaryDirectory(prefix="streamgrade-trial-") as scratch:
        app_dir, root = os.path.join(scratch, "app"), os.path.join(scratch, "root")
        os.mkdir(app_dir)
        os.mkdir(root)
        read_end, write_end = os.pipe()
        spec = {"level": "isolate", "trial": True, "app_dir": app_dir, "root": root, "readonly": [],
                "uid": int(os.environ.get("STREAMGRADE_TRIAL_UID", "2000000")), "status_fd": write_end,
                "limits": Limits().__dict__}  # fmt: skip
        child = os.fork()
        if child == 0:
            os.close(read_end)
            main([json.dumps(spec)])
        os.close(write_end)
        _, status = os.waitpid(child, 0)
    sys.exit(0 if os.waitstatus_to_exitcode(status) == 0 else 1)


if __name__ == "__main__":
    main(sys.argv[1:])
