"""The Linux backend: launchers forked from a fork server, a sandbox, exact readings from /proc.

The child the grader starts is the launcher (``_launch.py``), which applies
the sandbox the ``Policy`` asks for and starts the server; ``LinuxApp.stop``
kills every process the app started, daemons included, and says what the
sandbox saw.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from grader.launch.linux import cgroups, forkserver, procmem, reaper, userns
from grader.launch.linux.cgroups import Cgroup
from grader.launch.linux.forkserver import Launched, StatusPipe
from grader.launch.sandbox import Policy, describe, size_text
from grader.launch.server import (
    DEFAULT_START_TIMEOUT,
    AppStartError,
    AppTarget,
    CapturedLog,
    RunningApp,
    app_environment,
    listening_socket,
    started_or_stopped,
)
from grader.launch.spec import LaunchSpec

NAME = "linux"


@dataclass
class LinuxApp(RunningApp):
    cgroup: Cgroup | None = None
    root: Path | None = None  # where the isolated app's file-system view is mounted
    status: StatusPipe | None = None
    init_pid: int | None = None  # an isolated app's PID 1 (ours, like the launcher: not measured)

    def app_processes(self) -> set[int]:
        """The app's processes but its server: below the launcher (which adopts orphans) and in its cgroup."""
        found = reaper.tree_below(self.process.pid)
        if self.cgroup is not None:
            found |= self.cgroup.pids()
        return found - {self.process.pid, self.server_pid, self.init_pid}

    def _stop_processes(self) -> int:
        launcher = self.process.pid
        server = self.server_pid
        init = reaper.parent_of(server) if server and self.policy.isolated else None
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
        self.leftovers = len(reaper.still_running(killed | (self.cgroup.pids() if self.cgroup else set())))
        return len(started)

    def _cleanup(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.root is not None:
            with contextlib.suppress(OSError):
                self.root.rmdir()

    def setup_failed(self) -> bool:
        if self.status is None:
            return False
        self.status.exit_code()  # reads how it ended, if the launcher said
        return self.status.setup_failed

    def _sandbox_incidents(self) -> list[str]:
        limits, said = self.policy.limits, []
        if self.cgroup is not None and self.cgroup.oom_kills():
            said.append(
                f"The kernel stopped your app at the {size_text(limits.memory)} memory limit "
                "(it used more memory than any streaming solution needs)."
            )
        elif self.policy.limited and self.cgroup is None and "MemoryError" in self.log.text():
            said.append(f"Your app ran out of memory at the {size_text(limits.memory)} limit (MemoryError).")
        if self.cgroup is not None and self.cgroup.process_limit_hits():
            said.append(
                f"Your app tried to run more than {limits.processes} processes and threads at once; "
                f"{self.cgroup.process_limit_hits()} of its attempts were refused."
            )
        if self.process.returncode == -signal.SIGXCPU:
            said.append(f"Your server was stopped at the {limits.cpu_seconds} s CPU-time limit.")
        return said


def launcher_command(spec: LaunchSpec) -> list[str]:
    # -P: no working folder on sys.path (it would be mounted into the app's view).
    return [sys.executable, "-P", "-m", "grader.launch.linux._launch", spec.to_json()]


def start_app(
    target: AppTarget,
    env: Mapping[str, str | None] | None = None,
    start_timeout: float = DEFAULT_START_TIMEOUT,
    policy: Policy | None = None,
    readonly: list[Path] | None = None,
    workdir: Path | None = None,
) -> RunningApp:
    """Start ``target`` in its sandbox and return once it answers HTTP; raise AppStartError otherwise."""
    policy = policy or Policy()
    listener, port = listening_socket()
    status_read, status_write = os.pipe()
    cgroup, cgroup_problem = None, "not requested"
    if policy.limited:
        cgroup, cgroup_problem = cgroups.app_group(f"app-{port}", policy.limits.memory, policy.limits.processes)
    root = jail_root() if policy.isolated else None
    rootless = policy.isolated and os.geteuid() != 0  # isolated through a user namespace (userns.py)
    spec = LaunchSpec(
        app_dir=str(target.app_dir),
        import_string=target.import_string,
        level=policy.level,
        limits=policy.limits,
        cgroup_procs=cgroup.join_command_value() if cgroup else [],
        root=str(root) if root else None,
        readonly=[str(path) for path in readonly or []],
        work_dir=str(workdir or target.app_dir),
        user_namespace=rootless,
    )
    status = StatusPipe(status_read)
    try:
        process = launch(
            spec, app_environment(policy, env), workdir or target.app_dir, listener.fileno(), status_write, status
        )
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
    # Launched by the fork server (a subreaper that sweeps what a killed launcher leaves), or swept
    # by a grading process that adopts orphans (limits, isolate): nothing the app starts escapes.
    protections = describe(
        policy,
        isolated=policy.isolated,
        cgroup=cgroup is not None,
        cgroup_problem=cgroup_problem,
        isolation_problem=policy.isolation_problem,
        as_root=os.getuid() == 0,
        adopted=isinstance(process, Launched),
        own_user=not rootless,
    )
    app = LinuxApp(
        process,
        f"http://127.0.0.1:{port}",
        CapturedLog(process.stdout),
        meter=_no_meter,
        backend=NAME,
        policy=policy,
        protections=protections,
        cgroup=cgroup,
        root=root,
        status=status,
    )
    try:
        first = status.read_line(start_timeout)
        app.server_pid = int(first["pid"]) if first and "pid" in first else None
        if app.server_pid is not None and policy.isolated:
            app.init_pid = reaper.parent_of(app.server_pid)
    except BaseException:
        app.stop()
        raise
    app.meter = procmem.ProcMeter(app.app_processes, app.pid)
    return started_or_stopped(app, start_timeout)


class _NoMeter:
    """Until the server's pid is known."""

    sample_period = procmem.MEMORY_SAMPLE_PERIOD
    cpu_resolution = 1e-9

    def reset_peak(self) -> bool:
        return False

    def memory(self) -> procmem.MemorySample:
        raise ProcessLookupError("the server has not started")

    def cpu_seconds(self) -> float:
        return 0.0

    def process_count(self) -> int:
        return 0

    def wakeups(self) -> int:
        return 0


_no_meter = _NoMeter()


def jail_root() -> Path:
    """An empty folder to mount an isolated app's view on (the mounts live in the app's namespace only)."""
    reaper.remove_stale_folders("root")
    return reaper.private_folder("root")


def launch(
    spec: LaunchSpec, env: dict[str, str], cwd: Path, listener: int, status_write: int, status: StatusPipe
) -> Launched | subprocess.Popen[bytes]:
    """Fork the launcher from the fork server; start a new interpreter where that fails."""
    log_read, log_write = os.pipe()
    try:
        pid = forkserver.shared().spawn(spec, env, str(cwd), listener, status_write, log_write)
    except forkserver.Refused:
        os.close(log_read)
        raise  # not a failure to fall back from: this process may not start this app
    except OSError:
        os.close(log_read)
    else:
        return Launched(pid, open(log_read, "rb"), status)
    finally:
        os.close(log_write)
    return subprocess.Popen(
        launcher_command(spec.with_fds(listener, status_write)),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        pass_fds=[listener, status_write],
        start_new_session=True,  # its own process group: one signal stops them all
    )


_detected: dict[str, tuple[bool, str]] = {}


def detect_isolation() -> tuple[bool, str]:
    """Whether apps can be isolated here: one trial launch, remembered for the process."""
    if "isolate" not in _detected:
        _detected["isolate"] = _try_isolation()
    return _detected["isolate"]


def _try_isolation() -> tuple[bool, str]:
    """Grade-like trial: start an empty app isolated, the way every app will be, and ask it for a page.

    Without root the app is isolated through a user namespace, where the
    kernel allows one (``userns.py``); the trial is what shows it works.
    """
    rootless = os.geteuid() != 0
    if rootless:
        refused = userns.problem()
        if refused:
            note = userns.apparmor_note()  # where AppArmor also refuses unconfined programs outright
            return False, f"needs root or unprivileged user namespaces: {refused}" + (f". {note}" if note else "")
    import httpx

    with tempfile.TemporaryDirectory(prefix="streamgrade-trial-") as folder:
        with open(os.path.join(folder, "app.py"), "w", encoding="utf-8") as source:
            source.write("from fastapi import FastAPI\napp = FastAPI()\n")
        try:
            app = start_app(AppTarget(Path(folder), "app:app", "trial"), policy=Policy("isolate"), start_timeout=30)
        except AppStartError as error:
            lines = [line for line in error.log.splitlines() if line.strip()]
            return False, _without_root((lines[-2] if len(lines) > 1 else str(error))[:300], rootless)
        try:
            httpx.get(f"{app.base_url}/openapi.json", timeout=10, trust_env=False).raise_for_status()
        except httpx.HTTPError as error:
            return False, _without_root(f"an isolated app started but did not answer ({error})", rootless)
        finally:
            app.stop()
    return True, ""


def _without_root(failure: str, rootless: bool) -> str:
    """A failed trial's reason; without root, that it was tried in a user namespace (and what AppArmor does)."""
    if not rootless:
        return failure
    said = f"the grader runs as an ordinary user, and isolating an app in a user namespace failed: {failure}"
    note = userns.apparmor_note()
    return f"{said}. {note}" if note else said


def resolve_level(requested: str) -> tuple[str, str]:
    """The level to use for ``requested`` ("auto" picks the strongest available) and, if lower, why."""
    if requested in ("off", "limits"):
        return requested, ""
    ok, problem = detect_isolation()
    if ok:
        return "isolate", ""
    if requested == "isolate":
        raise RuntimeError(f"isolation was required but is not available here: {problem}")
    return "limits", problem


def prepare(*, share: bool = False, floor: str = "off", trusted: Iterable[str] = ()) -> None:
    forkserver.shared().start(share=share, floor=floor, trusted=trusted)


def shutdown() -> None:
    forkserver.shared().stop()


def child_environment() -> dict[str, str]:
    address = forkserver.shared().address()
    return {forkserver.ADDRESS_VARIABLE: address} if address else {}


def own_helpers() -> list[int]:
    return [forkserver.shared().pid or 0]


def adopt_orphans() -> None:
    reaper.become_subreaper()


def keep_secrets() -> None:
    reaper.forbid_inspection()


def end_with_parent(parent: int) -> None:
    reaper.end_with_parent(parent)


def stop_orphans(known: Iterable[int] = ()) -> None:
    reaper.reap(reaper.kill_trees(reaper.stray_children(known)))
