"""Control groups: a memory and a process limit that hold for a submission and everything it starts.

Resource limits (``setrlimit``) are per process, and ``RLIMIT_NPROC`` is not
enforced for root; a cgroup counts the app and all its children together and
holds for root too. Both kernel interfaces are supported:

- cgroup v1, a hierarchy per controller (``memory``, ``pids``):
  ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes``, so swap
  can't take the app past it), ``pids.max``; OOM kills in
  ``memory.oom_control``, refused forks in ``pids.events``, the peak in
  ``memory.max_usage_in_bytes``.
- cgroup v2, one unified hierarchy: ``memory.max`` (and ``memory.swap.max``
  at 0), ``pids.max``; ``oom_kill`` in ``memory.events``, refused forks in
  ``pids.events``, the peak in ``memory.peak`` where the kernel has it (5.19
  and later). The controllers must be enabled in the grader's own group
  (``cgroup.subtree_control``); the kernel refuses that while the group
  itself holds processes, so a grader in the root group of a container gets
  a reason instead of a group (``create`` says which).

v1 is used where its ``memory`` and ``pids`` controllers are mounted, else v2.
Groups are made below the grader's own, so an instructor's limits on the
grader still hold for the apps. Each grading process (one submission) gets a
parent group, ``streamgrade-PID``, holding the limits for all its servers
together, and each server a group of its own inside it (``app-PORT``) with
the same limits, so the report can say which server was stopped.
"""

from __future__ import annotations

import atexit
import errno
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CONTROLLERS = ("memory", "pids")
UNIFIED = "unified"  # the key of a v2 group's single folder in ``dirs``
REMOVE_ATTEMPTS = 50  # rmdir waits for the kernel to let go of the dead tasks
PREFIX = "streamgrade-"


@dataclass(frozen=True)
class Hierarchy:
    """Where this process's own groups are: one folder per v1 controller, or the v2 folder."""

    version: int  # 1 or 2; 0 when there is none to use
    dirs: dict[str, Path] = field(default_factory=dict)
    problem: str = ""


def read_text(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return None


def find_hierarchy(mounts: str | None = None, own: str | None = None) -> Hierarchy:
    """The hierarchy to use, from the text of ``/proc/self/mounts`` and ``/proc/self/cgroup``."""
    mounts = read_text("/proc/self/mounts") if mounts is None else mounts
    own = read_text("/proc/self/cgroup") if own is None else own
    if mounts is None or own is None:
        return Hierarchy(0, problem="/proc can't be read")
    v1: dict[str, Path] = {}
    v2: Path | None = None
    try:
        for line in mounts.splitlines():
            _, where, kind, options, *_ = line.split()
            if kind == "cgroup":
                for option in options.split(","):
                    if option in CONTROLLERS:
                        v1[option] = Path(where)
            elif kind == "cgroup2":
                v2 = Path(where)
        paths: dict[str, str] = {}
        for line in own.splitlines():
            number, names, path = line.split(":", 2)
            for name in names.split(",") if names else [UNIFIED if number == "0" else ""]:
                paths[name] = path
    except ValueError:
        return Hierarchy(0, problem="/proc/self/mounts or /proc/self/cgroup can't be understood")
    if all(name in v1 for name in CONTROLLERS):
        return Hierarchy(1, {name: v1[name] / paths.get(name, "/").lstrip("/") for name in CONTROLLERS})
    if v2 is not None and UNIFIED in paths:
        return Hierarchy(2, {UNIFIED: v2 / paths[UNIFIED].lstrip("/")})
    missing = [name for name in CONTROLLERS if name not in v1]
    return Hierarchy(0, problem=f"no cgroup v1 {' or '.join(missing)} controller and no cgroup v2 is mounted")


def controller_dirs() -> dict[str, Path]:
    """This process's own groups (see ``Hierarchy.dirs``); empty where there are none."""
    return find_hierarchy().dirs


@dataclass
class Cgroup:
    """A group in each controller (v1) or in the unified hierarchy (v2); the launcher joins it."""

    dirs: dict[str, Path]
    memory_bytes: int
    processes: int
    version: int = 1

    @property
    def _memory(self) -> Path:
        return self.dirs[UNIFIED if self.version == 2 else "memory"]

    @property
    def _pids(self) -> Path:
        return self.dirs[UNIFIED if self.version == 2 else "pids"]

    @classmethod
    def create(
        cls, name: str, memory_bytes: int, processes: int, parent: Cgroup | Hierarchy | None = None
    ) -> tuple[Cgroup | None, str]:
        """A new group ``name`` below ``parent`` (by default the grader's own) with the limits set.

        Returns the group, or None and the reason there is none.
        """
        if not isinstance(parent, Cgroup):
            hierarchy = parent or find_hierarchy()
            if not hierarchy.version:
                return None, hierarchy.problem
            for folder in hierarchy.dirs.values():
                remove_stale(folder)
            parent = cls(hierarchy.dirs, 0, 0, hierarchy.version)
        group = cls(
            {key: folder / name for key, folder in parent.dirs.items()}, memory_bytes, processes, parent.version
        )
        try:
            if group.version == 2:
                parent.delegate()
            for folder in group.dirs.values():
                folder.mkdir()
            group.set_limits()
        except OSError as error:
            group.remove()
            return None, f"cgroups can't be made here ({error.strerror or error}{_whose(error)})"
        return group, ""

    def delegate(self) -> None:
        """v2: let this group's children use the memory and pids controllers (raises OSError if it can't)."""
        folder = self.dirs[UNIFIED]
        available = (read_text(folder / "cgroup.controllers") or "").split()
        missing = [name for name in CONTROLLERS if name not in available]
        if missing:
            raise OSError(0, f"the cgroup v2 {' and '.join(missing)} controller is not available in {folder}")
        enabled = (read_text(folder / "cgroup.subtree_control") or "").split()
        wanted = [name for name in CONTROLLERS if name not in enabled]
        if wanted:
            try:
                write(folder / "cgroup.subtree_control", " ".join(f"+{name}" for name in wanted))
            except OSError as error:
                # EBUSY: the group holds processes itself (v2 has no controllers for such a group's children).
                reason = (
                    f"{error.strerror}: can't enable {' and '.join(wanted)} for groups below {folder}; "
                    "run the grader in a group of its own with them delegated"
                )
                raise OSError(error.errno, reason) from None

    def set_limits(self) -> None:
        if self.version == 2:
            write(self._memory / "memory.max", self.memory_bytes)
            if (self._memory / "memory.swap.max").exists():  # swap is apart in v2: none, or it swaps past the limit
                write(self._memory / "memory.swap.max", 0)
            write(self._pids / "pids.max", self.processes)
            return
        hierarchical = self._memory / "memory.use_hierarchy"
        if read_text(hierarchical) == "0\n":  # old kernels: children must count in this group too
            write(hierarchical, 1)
        write(self._memory / "memory.limit_in_bytes", self.memory_bytes)
        swap_limit = self._memory / "memory.memsw.limit_in_bytes"
        if swap_limit.exists():  # swap counted too, or the app could swap past the limit
            write(swap_limit, self.memory_bytes)
        write(self._pids / "pids.max", self.processes)

    def join_command_value(self) -> list[str]:
        """The cgroup.procs files the launcher writes its pid to."""
        return [str(folder / "cgroup.procs") for folder in self.dirs.values()]

    def pids(self) -> set[int]:
        found: set[int] = set()
        for folder in self.dirs.values():
            try:
                found |= {int(line) for line in (folder / "cgroup.procs").read_text().split()}
            except (OSError, ValueError):
                continue
        return found

    def kill_all(self) -> bool:
        """Kill every process in the group at once (v2's ``cgroup.kill``, Linux 5.14+); False where there is none."""
        kill_file = self.dirs.get(UNIFIED, Path("/nonexistent")) / "cgroup.kill"
        if self.version != 2 or not kill_file.exists():
            return False
        try:
            write(kill_file, 1)
        except OSError:
            return False
        return True

    def oom_kills(self) -> int:
        """How many of the group's processes the kernel killed for going over the memory limit."""
        if self.version == 2:
            return counter(self._memory / "memory.events", "oom_kill")
        return counter(self._memory / "memory.oom_control", "oom_kill")

    def process_limit_hits(self) -> int:
        """How many times a fork or a new thread was refused at the process limit."""
        return counter(self._pids / "pids.events", "max")

    def peak_memory(self) -> int:
        """The most memory the group held at once, in bytes; 0 where the kernel doesn't keep it."""
        text = read_text(self._memory / ("memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"))
        try:
            return int(text) if text else 0
        except ValueError:
            return 0

    def remove(self) -> None:
        """Remove the group; call once its processes are dead (and its children removed)."""
        for folder in self.dirs.values():
            for _ in range(REMOVE_ATTEMPTS):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)  # the last task is still leaving the group


def _whose(error: OSError) -> str:
    """Why a refusal is expected: an ordinary user gets cgroups only where v2 is delegated to it."""
    if error.errno in (errno.EACCES, errno.EPERM) and os.geteuid() != 0:
        return "; the grader runs as an ordinary user, and no cgroup v2 group is delegated to it"
    return ""


class Submission:
    """This grading process's parent group: the limits hold for all its servers together.

    A grading process grades one submission; it starts three to six servers,
    one per exercise, at once. A group per server alone would let a
    submission hold three times the memory limit.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._group: Cgroup | None = None

    def app_group(self, name: str, memory_bytes: int, processes: int) -> tuple[Cgroup | None, str]:
        """A group for one server inside the submission's, made with the submission's on first use."""
        with self._lock:
            if self._group is None:  # tried again each time: a failure may have been passing
                self._group, problem = Cgroup.create(f"{PREFIX}{os.getpid()}", memory_bytes, processes)
                if self._group is None:
                    return None, problem
                atexit.register(self.remove)
            elif (self._group.memory_bytes, self._group.processes) != (memory_bytes, processes):
                # One grading uses one set of limits; a process that grades with others (tests) gets them.
                self._group.memory_bytes, self._group.processes = memory_bytes, processes
                try:
                    self._group.set_limits()
                except OSError as error:
                    return None, f"cgroups can't be made here ({error.strerror or error})"
            return Cgroup.create(name, memory_bytes, processes, parent=self._group)

    def remove(self) -> None:
        with self._lock:
            if self._group is not None:
                for folder in self._group.dirs.values():
                    for child in folder.glob("app-*"):
                        Cgroup({"x": child}, 0, 0).remove()
                self._group.remove()
                self._group = None


_submission = Submission()


def app_group(name: str, memory_bytes: int, processes: int) -> tuple[Cgroup | None, str]:
    """A server's group inside this grading process's submission group (see ``Submission``)."""
    return _submission.app_group(name, memory_bytes, processes)


def remove_stale(parent: Path) -> None:
    """Groups left by a grader that was killed (``streamgrade-PID...`` whose PID is gone): empty, so removable."""
    for folder in parent.glob(f"{PREFIX}*"):
        owner = folder.name.split("-")[1]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            for child in folder.glob("app-*"):
                try:
                    child.rmdir()
                except OSError:
                    continue
            try:
                folder.rmdir()
            except OSError:
                continue  # still holds a process, or not ours to remove


def write(path: Path, value: int | str) -> None:
    with open(path, "w", encoding="ascii") as file:
        file.write(str(value))


def counter(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def join(procs_files: list[str]) -> None:
    """Move this process into the group (its children are born there)."""
    for path in procs_files:
        with open(path, "w", encoding="ascii") as file:
            file.write(str(os.getpid()))
