"""The sandbox an app runs in: process-tree kill, log cap, limits, isolation, and what the report says.

Each test starts a small app that does one thing a careless or hostile
submission does, then looks at what the grader saw and at the machine. Every
process these apps start is a `sleep 120` with a marker in its environment,
so a process the grader failed to stop is found, and ends by itself anyway.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from grader.batch.config import ConfigError, load_config
from grader.launch.linux import backend, cgroups, reaper, userns
from grader.launch.linux.backend import detect_isolation, start_app
from grader.launch.sandbox import MIB, Limits, Policy, describe
from grader.launch.server import AppStartError, resolve_target

SMALL = Limits(memory=256 * MIB, cpu_seconds=60, file_size=MIB, open_files=128, processes=64)


def write_app(folder: Path, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(source)
    return folder / "app.py"


def marked(marker: str) -> set[int]:
    """Processes with ``marker`` in their environment (the sleeps the test apps start)."""
    found = set()
    needle = marker.encode()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/environ", "rb") as environ:
                    if needle in environ.read():
                        found.add(int(entry.name))
            except OSError:
                continue
    return reaper.living(found)


def running_marked(marker: str, timeout: float = 10.0) -> set[int]:
    """The marked processes, once there are any: a daemon forked at import may exec its sleep after the app serves."""
    deadline = time.monotonic() + timeout
    while not (found := marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.01)  # polling /proc: no event tells a test that another process has exec'd
    return found


SLEEPER = """
import os
def sleeper():
    os.execvpe("sleep", ["sleep", "120"], {"STREAMGRADE_TEST": "%s", "PATH": "/usr/bin:/bin"})
"""

cgroups_available = pytest.mark.skipif(
    cgroups.Cgroup.create(f"streamgrade-probe-{os.getpid()}", 64 * MIB, 64)[0] is None,
    reason="no writable cgroup v1 memory and pids controllers here",
)


@pytest.fixture(autouse=True, scope="module")
def _remove_probe_cgroup():
    yield
    group = cgroups.Cgroup(
        {name: path / f"streamgrade-probe-{os.getpid()}" for name, path in cgroups.controller_dirs().items()}, 0, 0
    )
    group.remove()


isolation = pytest.mark.skipif(not detect_isolation()[0], reason=f"isolation not available: {detect_isolation()[1]}")


# -- in every mode, a learner's check included ---------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("level", ["off", "limits"])
def test_a_daemon_the_app_leaves_behind_is_stopped_with_it(tmp_path, level):
    marker = uuid.uuid4().hex
    source = (
        SLEEPER % marker
        + """
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        sleeper()
    os._exit(0)
from fastapi import FastAPI
app = FastAPI()
"""
    )
    app = start_app(resolve_target(str(write_app(tmp_path, source))), policy=Policy(level, SMALL))
    try:  # stopped even when an assertion fails: an app left running outlives the test run
        assert running_marked(marker), "the daemon should be running while the app runs"
    finally:
        app.stop()
    assert marked(marker) == set()
    assert app.leftovers == 0
    assert any("1 process your app started was still running" in said for said in app.incidents)


@pytest.mark.slow
@cgroups_available
def test_an_app_that_kills_its_launcher_still_has_its_tree_stopped(tmp_path):
    # Its server dies with the launcher; what it started is orphaned to the fork server, which kills it
    # at once (else it stays in its cgroup, where stop() finds it).
    marker = uuid.uuid4().hex
    source = (
        SLEEPER % marker
        + """
import signal
if os.fork() == 0:
    sleeper()
from fastapi import FastAPI
app = FastAPI()
@app.get("/kill-launcher")
def kill_launcher():
    os.kill(os.getppid(), signal.SIGKILL)
    return "done"
"""
    )
    app = start_app(resolve_target(str(write_app(tmp_path, source))), policy=Policy("limits", SMALL))
    try:
        assert running_marked(marker), "the sleeper runs"
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"{app.base_url}/kill-launcher", timeout=10)
        app.process.wait(timeout=10)
    finally:
        app.stop()
    assert marked(marker) == set()


@pytest.mark.slow
def test_the_check_command_leaves_nothing_behind_an_app_that_kills_its_launcher(tmp_path):
    # Without a cgroup to find them, the grading process adopts the orphans (a subreaper) and sweeps them.
    marker = uuid.uuid4().hex
    source = (
        SLEEPER % marker
        + """
import signal
if os.fork() == 0:
    sleeper()
os.kill(os.getppid(), signal.SIGKILL)
from fastapi import FastAPI
app = FastAPI()
"""
    )
    app_path = write_app(tmp_path, source)
    command = [
        sys.executable,
        "-m",
        "grader",
        "check",
        str(app_path),
        "--sandbox",
        "limits",
        "--no-html",
        "--exercise",
        "chat",
        "--start-timeout",
        "5",
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert marked(marker) == set()


@pytest.mark.slow
def test_a_log_flood_costs_at_most_the_head_and_the_tail(tmp_path):
    source = """
import sys
line = b"x" * 1023 + b"\\n"
for _ in range(50 * 1024):
    sys.stderr.buffer.write(line)
sys.stderr.flush()
from fastapi import FastAPI
app = FastAPI()
"""
    app = start_app(resolve_target(str(write_app(tmp_path, source))))
    app.stop()
    assert app.log.total_bytes == 50 * MIB
    assert len(app.log.text()) < 70 * 1024
    assert "bytes of output left out" in app.log.text()
    assert any("printed 50.0 MiB of output" in said for said in app.incidents)


# -- limits ----------------------------------------------------------------------


@pytest.mark.slow
def test_under_limits_the_app_sees_none_of_the_graders_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTRUCTOR_TOKEN", "secret-value")
    source = """
import os
from fastapi import FastAPI
app = FastAPI()
@app.get("/env")
def env():
    return dict(os.environ)
"""
    target = resolve_target(str(write_app(tmp_path, source)))
    app = start_app(target, policy=Policy("limits", SMALL))
    try:
        seen = httpx.get(f"{app.base_url}/env", timeout=10).json()
    finally:
        app.stop()
    assert "INSTRUCTOR_TOKEN" not in seen
    assert seen["PATH"] == os.environ["PATH"]


@pytest.mark.slow
def test_the_cpu_limit_stops_a_busy_app_and_says_so(tmp_path):
    source = "while True:\n    pass\n"
    target = resolve_target(str(write_app(tmp_path, source)))
    with pytest.raises(AppStartError) as caught:
        start_app(target, policy=Policy("limits", Limits(cpu_seconds=1)), start_timeout=30)
    assert "stopped at the 1 s CPU-time limit" in str(caught.value)


ALLOCATES = """
blocks = [b"\\x01" * (64 * 2**20) for _ in range(48)]  # 3 GiB, every page touched
from fastapi import FastAPI
app = FastAPI()
"""


@pytest.mark.slow
@cgroups_available
def test_the_cgroup_memory_limit_stops_an_app_that_takes_gigabytes(tmp_path):
    target = resolve_target(str(write_app(tmp_path, ALLOCATES)))
    with pytest.raises(AppStartError) as caught:
        start_app(target, policy=Policy("limits", SMALL))
    assert str(caught.value).startswith("The kernel stopped your app at the 256 MiB memory limit")


TAKES_ON_REQUEST = """
from fastapi import FastAPI
app = FastAPI()
held = []
@app.get("/take")
def take():
    held.append(b"\\x01" * (160 * 2**20))  # every page touched
    return len(held)
"""


def first_to_end(apps: list, timeout: float) -> None:
    """Return once one of ``apps`` has ended, or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for app in apps:
            with contextlib.suppress(subprocess.TimeoutExpired):
                app.process.wait(timeout=0.05)
                return


@pytest.mark.slow
@cgroups_available
def test_the_memory_limit_holds_for_a_submissions_servers_together(tmp_path):
    # Each server alone stays under the 256 MiB limit; two of them together don't.
    apps = []
    try:
        for name in ("one", "two"):
            apps.append(
                start_app(
                    resolve_target(str(write_app(tmp_path / name, TAKES_ON_REQUEST))), policy=Policy("limits", SMALL)
                )
            )
        for app in apps:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{app.base_url}/take", timeout=30)
        # The kernel's kill closes the server's socket before its parent can reap it:
        # wait for the death the failed request announced, not only look once.
        first_to_end(apps, timeout=20)
        alive = [app.is_alive() for app in apps]
    finally:
        for app in apps:
            app.stop()
    # Per server, each would stay under the limit: together, the kernel stops one of them at least
    # (two, when the first one's memory was not freed before the second asked for more).
    assert False in alive, "a server was stopped at the limit they share"
    for stopped in (app for app, living in zip(apps, alive, strict=True) if not living):
        assert any("at the 256 MiB memory limit" in said for said in stopped.incidents)


@pytest.mark.slow
def test_without_a_cgroup_the_address_space_cap_stops_it(tmp_path, monkeypatch):
    monkeypatch.setattr("grader.launch.linux.backend.cgroups.app_group", lambda *args: (None, "none in this test"))
    target = resolve_target(str(write_app(tmp_path, ALLOCATES)))
    with pytest.raises(AppStartError) as caught:
        start_app(target, policy=Policy("limits", SMALL))
    assert "ran out of memory at the 256 MiB limit (MemoryError)" in str(caught.value)
    assert "MemoryError" in caught.value.log


@pytest.mark.slow
@cgroups_available
def test_the_process_limit_holds_for_root_too(tmp_path):
    marker = uuid.uuid4().hex
    source = (
        SLEEPER % marker
        + """
refused = 0
for _ in range(200):
    try:
        if os.fork() == 0:
            sleeper()
    except OSError:
        refused += 1
from fastapi import FastAPI
app = FastAPI()
@app.get("/refused")
async def count():  # async: no worker thread, the process limit is used up
    return refused
"""
    )
    app = start_app(resolve_target(str(write_app(tmp_path, source))), policy=Policy("limits", SMALL))
    try:
        refused = httpx.get(f"{app.base_url}/refused", timeout=10).json()
        running = len(marked(marker))
    finally:
        app.stop()
    assert refused > 0
    assert running < SMALL.processes
    assert marked(marker) == set()
    assert any(f"more than {SMALL.processes} processes" in said for said in app.incidents)


# -- isolation -------------------------------------------------------------------

SEES = """
import ctypes, os, socket, subprocess
from fastapi import FastAPI
app = FastAPI()

def detaches(port):
    # The sockets it was handed belong to the grader's network: detach one (connect to AF_UNSPEC) and dial out.
    libc = ctypes.CDLL(None, use_errno=True)
    for name in os.listdir("/proc/self/fd"):
        try:
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue
        try:
            if sock.family == socket.AF_INET:
                libc.connect(sock.fileno(), (ctypes.c_char * 16)(), 16)
                sock.connect(("127.0.0.1", port))
                return True
        except OSError:
            pass
        finally:
            sock.close()
    return False

def pipes():
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("pipe:"):
                found.append(int(name))
        except OSError:
            pass  # the listing's own descriptor, closed meanwhile
    return sorted(found)

def capabilities(status):
    status = status.decode() if isinstance(status, bytes) else status
    return int(next(line for line in status.splitlines() if line.startswith("CapEff:")).split()[1], 16)

def makes_namespace():
    # A user namespace of its own would give it every capability again (and a way out of its view).
    libc = ctypes.CDLL(None, use_errno=True)
    child = os.fork()
    if child == 0:
        os._exit(0 if libc.unshare(0x10000000) == 0 else 1)
    return os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0

def refused_calls():
    # The seccomp filter's other refusals: keyrings (a user id's, outside any namespace) and io_uring.
    import platform
    from grader.launch.linux.seccomp import ARCHITECTURES
    numbers = ARCHITECTURES[platform.machine()][1]
    libc = ctypes.CDLL(None, use_errno=True)
    params = ctypes.create_string_buffer(120)
    calls = {
        "add_key": (b"user", b"streamgrade", b"x", 1, -2),  # into the process keyring
        "keyctl": (0, -2, 0),  # KEYCTL_GET_KEYRING_ID
        "io_uring_setup": (1, params),
    }
    said = {}
    for name, arguments in calls.items():
        ctypes.set_errno(0)
        said[name] = ctypes.get_errno() if libc.syscall(numbers[name], *arguments) == -1 else 0
    with socket.socket() as sock:  # a send that connects on the way (EPERM, not ENETUNREACH: the filter's)
        try:
            sock.sendto(b"x", 0x20000000, ("127.0.0.1", 9))  # MSG_FASTOPEN
            said["fastopen"] = 0
        except OSError as error:
            said["fastopen"] = error.errno
    return said

def remounts(path):
    # Without capabilities no mount call works, so the read-only binds stay read-only.
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.mount(None, path.encode(), None, 32 | 4096, None) == 0  # MS_REMOUNT | MS_BIND, writable

@app.get("/sees")
def sees(port: int, secret: str, results: str, served: str):
    def reaches():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    def writes(path):
        try:
            with open(path, "a") as file:
                file.write("tampered")
            return True
        except OSError:
            return False
    import grader
    return {
        "uid": os.getuid(),
        "network": reaches(),
        "secret_visible": os.path.exists(secret),
        "results_writable": writes(results),
        "grader_writable": writes(os.path.join(os.path.dirname(grader.__file__), "__init__.py")),
        "pids": sorted(int(name) for name in os.listdir("/proc") if name.isdigit()),
        "own_folder_writable": writes("scratch.txt"),
        "pipes": pipes(),
        "detaches": detaches(port),
        "capabilities": capabilities(open("/proc/self/status").read()),
        "exec_capabilities": capabilities(subprocess.run(["cat", "/proc/self/status"], capture_output=True).stdout),
        "makes_namespace": makes_namespace(),
        "remounts": remounts(served),
        "refused_calls": refused_calls(),
        "served_writable": writes(os.path.join(served, "tampered.txt")),
    }
"""


@pytest.mark.slow
@isolation
def test_an_isolated_app_has_no_network_no_rights_and_sees_only_its_files(tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    results = tmp_path / "results.json"
    results.write_text("{}")
    results.chmod(0o666)  # writable by anyone: only isolation keeps the app away from it
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    connections = []

    def accept() -> None:
        while not stopped.is_set():
            try:
                connections.append(listener.accept()[0])
            except OSError:
                continue

    stopped = threading.Event()
    watcher = threading.Thread(target=accept, daemon=True)
    watcher.start()
    grader_init = Path(__import__("grader").__file__).read_bytes()

    served = tmp_path / "served"  # shown to the app read-only; writable by anyone outside
    served.mkdir()
    served.chmod(0o777)
    app = start_app(
        resolve_target(str(write_app(tmp_path / "app", SEES))), policy=Policy("isolate", SMALL), readonly=[served]
    )
    try:
        params = {
            "port": listener.getsockname()[1],
            "secret": str(secret),
            "results": str(results),
            "served": str(served),
        }
        seen = httpx.get(f"{app.base_url}/sees", params=params, timeout=10).json()
    finally:
        app.stop()
        stopped.set()
        watcher.join()
        listener.close()
    if os.geteuid() == 0:
        assert seen["uid"] >= 2_000_000
        assert app.protections.not_in_force == []
    else:  # through a user namespace: root inside it, the grader's user outside, and the report says so
        assert seen["uid"] == 0
        missing = {said.split(":")[0] for said in app.protections.not_in_force}
        assert "a user of its own" in missing
        assert missing <= {"a user of its own", "a cgroup for memory and processes"}  # cgroups: where delegated
    assert seen["capabilities"] == 0 and seen["exec_capabilities"] == 0
    assert seen["makes_namespace"] is False
    assert seen["remounts"] is False and seen["served_writable"] is False
    assert set(seen["refused_calls"].values()) == {errno.EPERM}, seen["refused_calls"]
    assert sorted(seen["refused_calls"]) == ["add_key", "fastopen", "io_uring_setup", "keyctl"]
    assert list(served.iterdir()) == []
    assert seen["network"] is False and seen["detaches"] is False and connections == []
    assert seen["pipes"] == [1, 2]  # its output; no pipe to the grader or the launcher
    assert seen["secret_visible"] is False
    assert results.read_text() == "{}"
    if os.geteuid() == 0:
        # Without root the folders on the way to its copy (in its own /tmp) are its own: a write there
        # makes a file in its view, never the real one (asserted above).
        assert seen["results_writable"] is False
    assert seen["grader_writable"] is False
    assert Path(__import__("grader").__file__).read_bytes() == grader_init
    assert seen["own_folder_writable"] is True  # in its copy: the original folder is untouched
    assert not (tmp_path / "app" / "scratch.txt").exists()
    assert (tmp_path / "app" / "app.py").stat().st_uid == os.getuid()
    assert len(seen["pids"]) <= 3  # init, the server, and maybe nothing else
    assert app.protections.level == "isolate"


@pytest.mark.slow
@isolation
def test_an_isolated_daemon_dies_with_its_namespace(tmp_path):
    marker = uuid.uuid4().hex
    source = (
        SLEEPER % marker
        + """
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        sleeper()
    os._exit(0)
from fastapi import FastAPI
app = FastAPI()
"""
    )
    app = start_app(resolve_target(str(write_app(tmp_path, source))), policy=Policy("isolate", SMALL))
    try:  # this test once left its isolated app running when the daemon was not yet there to see
        assert running_marked(marker)
    finally:
        app.stop()
    assert marked(marker) == set()


@isolation
def test_the_process_limit_holds_for_an_isolated_app_with_or_without_root(tmp_path):
    # As root: the server's own user (and a cgroup); without root: RLIMIT_NPROC, which the kernel
    # counts per user namespace (each server has its own).
    marker = uuid.uuid4().hex
    source = (
        SLEEPER % marker
        + """
refused = 0
for _ in range(200):
    try:
        if os.fork() == 0:
            sleeper()
    except OSError:
        refused += 1
from fastapi import FastAPI
app = FastAPI()
@app.get("/refused")
async def count():
    return refused
"""
    )
    app = start_app(resolve_target(str(write_app(tmp_path, source))), policy=Policy("isolate", SMALL))
    try:
        refused = httpx.get(f"{app.base_url}/refused", timeout=10).json()
        running = len(marked(marker))
    finally:
        app.stop()
    assert refused > 0
    assert 0 < running < SMALL.processes
    assert marked(marker) == set()


# -- what the report says ----------------------------------------------------------


def test_the_report_says_which_protections_held():
    off = describe(Policy("off"), isolated=False, cgroup=False, cgroup_problem="", isolation_problem="")
    assert off.level == "off"
    assert any("stopped when grading ends" in text for text in off.in_force)
    assert any("capped" in text for text in off.in_force)

    limited = describe(
        Policy("limits", SMALL, "needs root"),
        isolated=False,
        cgroup=False,
        cgroup_problem="no cgroup v1 memory controller is mounted",
        isolation_problem="needs root",
    )
    assert any("address space capped at 1280 MiB" in text for text in limited.in_force)
    assert any("needs root" in text for text in limited.not_in_force)
    assert any("no cgroup v1 memory controller" in text for text in limited.not_in_force)

    isolated = describe(
        Policy("isolate", Limits()), isolated=True, cgroup=True, cgroup_problem="", isolation_problem=""
    )
    assert isolated.not_in_force == []
    assert any("2 GiB of memory and 256 processes" in text for text in isolated.in_force)
    assert any("a user of its own" in text and "seccomp" in text for text in isolated.in_force)
    assert json.loads(json.dumps(isolated.to_dict()))["level"] == "isolate"

    # Without root, through a user namespace, usually with no cgroup: what held and what did not.
    rootless = describe(
        Policy("isolate", SMALL),
        isolated=True,
        cgroup=False,
        cgroup_problem="cgroups can't be made here (Permission denied)",
        isolation_problem="",
        own_user=False,
    )
    assert [text.split(":")[0] for text in rootless.not_in_force] == [
        "a user of its own",
        "a cgroup for memory and processes",
    ]
    assert any("root only inside a user namespace" in text and "seccomp" in text for text in rootless.in_force)
    assert f"{SMALL.processes} processes and threads for each server" in rootless.in_force
    assert any("address space capped at 1280 MiB" in text for text in rootless.in_force)


def test_without_root_a_kernel_that_refuses_user_namespaces_gives_limits_and_says_why(monkeypatch):
    settings = {userns.MAX_NAMESPACES: "0"}
    monkeypatch.setattr(userns, "_sysctl", settings.get)
    monkeypatch.setattr(backend.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(backend, "_detected", {})
    level, why = backend.resolve_level("auto")
    assert level == "limits"
    assert why == "needs root or unprivileged user namespaces: this kernel allows no user namespaces " + (
        "(/proc/sys/user/max_user_namespaces is 0)"
    )
    with pytest.raises(RuntimeError, match="isolation was required but is not available here"):
        backend.resolve_level("isolate")

    settings.update({userns.MAX_NAMESPACES: "96363", userns.APPARMOR_RESTRICTION: "1"})
    monkeypatch.setattr(userns.subprocess, "run", lambda *_, **__: subprocess.CompletedProcess([], 1))
    monkeypatch.setattr(backend, "_detected", {})
    level, why = backend.resolve_level("auto")
    assert level == "limits"
    assert why.startswith("needs root or unprivileged user namespaces: this system refused to make a user namespace")
    assert "AppArmor restricts unprivileged user namespaces" in why


def test_without_root_a_failed_trial_names_apparmors_restriction_where_it_is_on(monkeypatch):
    settings = {userns.APPARMOR_RESTRICTION: "1"}
    monkeypatch.setattr(userns, "_sysctl", settings.get)
    said = backend._without_root("PermissionError: [Errno 1] mount /tmp/x: Operation not permitted", True)
    assert said.startswith("the grader runs as an ordinary user, and isolating an app in a user namespace failed: ")
    assert "Operation not permitted" in said
    assert "AppArmor restricts unprivileged user namespaces" in said and "`userns,`" in said
    settings.clear()
    assert "AppArmor" not in backend._without_root("PermissionError", True)
    assert backend._without_root("PermissionError", False) == "PermissionError"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[sandbox]\nlevel = "jail"\n', "sandbox.level: expected one of"),
        ("[sandbox]\nmemory_mib = 16\n", "sandbox.memory_mib: expected a whole number from 256"),
        ("[sandbox]\nprocesses = true\n", "sandbox.processes: expected a whole number"),
        ("[sandbox]\nswap = 1\n", "sandbox.swap: unknown"),
        ('sandbox = "isolate"\n', "[sandbox] must be a table"),
    ],
)
def test_a_bad_sandbox_table_is_refused_whole(tmp_path, table, message):
    path = tmp_path / "grading.toml"
    path.write_text(table)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in str(caught.value)


def test_the_sandbox_table_sets_the_limits(tmp_path):
    path = tmp_path / "grading.toml"
    path.write_text('[sandbox]\nlevel = "limits"\nmemory_mib = 2048\ncpu_seconds = 30\n')
    config = load_config(path)
    assert config.sandbox == "limits"
    assert config.limits.memory == 2048 * MIB
    assert config.limits.cpu_seconds == 30
    assert config.limits.processes == Limits().processes


def test_the_sweep_finds_the_same_tree_with_and_without_the_kernels_children_files(monkeypatch):
    """Walked through each process's children, or from one scan of every process where the kernel lists none."""
    # A shell with two children, one of which has a child of its own; "ready" once they all run.
    script = 'sleep 30 & sh -c "sleep 30 & echo ready; wait" & read line'
    with subprocess.Popen(["sh", "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as shell:
        try:
            assert shell.stdout is not None and shell.stdout.readline().strip() == "ready"
            walked = reaper.descendants([shell.pid])
            monkeypatch.setattr(reaper, "has_children_files", lambda: False)
            scanned = reaper.descendants([shell.pid])
            assert len(walked) == 3 and walked == scanned
        finally:
            reaper.kill_trees([shell.pid])
