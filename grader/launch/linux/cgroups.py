"""A control group per app: a memory and a process limit that hold for everything it starts.

Resource limits (``setrlimit``) are per process, and ``RLIMIT_NPROC`` is not
enforced for root; a cgroup counts the app and all its children together and
holds for root too. Only cgroup v1's ``memory`` and ``pids`` hierarchies are
used (what the machines this was built on have); where they are missing or
not writable, ``create`` says why and the grader goes on with rlimits alone.
The group is made below the grader's own, so an instructor's limits on the
grader still hold for the apps.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

CONTROLLERS = ("memory", "pids")
REMOVE_ATTEMPTS = 50  # rmdir waits for the kernel to let go of the dead tasks


def controller_dirs() -> dict[str, Path]:
    """Where this process's own v1 cgroup is, for each controller that is mounted."""
    mounts: dict[str, Path] = {}
    try:
        with open("/proc/self/mounts", encoding="utf-8") as lines:
            for line in lines:
                _, where, kind, options, *_ = line.split()
                if kind == "cgroup":
                    for option in options.split(","):
                        if option in CONTROLLERS:
                            mounts[option] = Path(where)
        own: dict[str, str] = {}
        with open("/proc/self/cgroup", encoding="utf-8") as lines:
            for line in lines:
                _, names, path = line.rstrip("\n").split(":", 2)
                for name in names.split(","):
                    own[name] = path
    except (OSError, ValueError):
        return {}
    return {name: mounts[name] / own.get(name, "/").lstrip("/") for name in mounts}


@dataclass
class Cgroup:
    """The app's group in each controller; the launcher joins it before starting anything."""

    dirs: dict[str, Path]
    memory_bytes: int
    processes: int

    @classmethod
    def create(cls, name: str, memory_bytes: int, processes: int) -> tuple[Cgroup | None, str]:
        """A new group with the limits set, or None and the reason there is none."""
        parents = controller_dirs()
        missing = [name for name in CONTROLLERS if name not in parents]
        if missing:
            return None, f"no cgroup v1 {' or '.join(missing)} controller is mounted"
        for parent in parents.values():
            remove_stale(parent)
        dirs = {controller: parent / name for controller, parent in parents.items()}
        group = cls(dirs, memory_bytes, processes)
        try:
            for folder in dirs.values():
                folder.mkdir()
            write(dirs["memory"] / "memory.limit_in_bytes", memory_bytes)
            swap_limit = dirs["memory"] / "memory.memsw.limit_in_bytes"
            if swap_limit.exists():  # swap counted too, or the app could swap past the limit
                write(swap_limit, memory_bytes)
            write(dirs["pids"] / "pids.max", processes)
        except OSError as error:
            group.remove()
            return None, f"cgroups can't be made here ({error.strerror or error})"
        return group, ""

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

    def oom_kills(self) -> int:
        """How many of the group's processes the kernel killed for going over the memory limit."""
        return counter(self.dirs["memory"] / "memory.oom_control", "oom_kill")

    def process_limit_hits(self) -> int:
        """How many times a fork or a new thread was refused at the process limit."""
        return counter(self.dirs["pids"] / "pids.events", "max")

    def peak_memory(self) -> int:
        try:
            return int((self.dirs["memory"] / "memory.max_usage_in_bytes").read_text())
        except (OSError, ValueError):
            return 0

    def remove(self) -> None:
        """Remove the group; call once its processes are dead."""
        for folder in self.dirs.values():
            for _ in range(REMOVE_ATTEMPTS):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)  # the last task is still leaving the group


def remove_stale(parent: Path) -> None:
    """Groups left by a grader that was killed (``streamgrade-PID-...`` whose PID is gone): empty, so removable."""
    for folder in parent.glob("streamgrade-*"):
        owner = folder.name.split("-")[1]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            try:
                folder.rmdir()
            except OSError:
                continue  # still holds a process, or not ours to remove


def write(path: Path, value: int) -> None:
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
