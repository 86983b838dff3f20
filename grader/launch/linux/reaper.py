"""Find and kill every process an app started, daemons included.

An app can leave processes behind that outlive it: a double fork and
``setsid`` take a daemon out of its process group and away from its parent.
A *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``) adopts such orphans
instead of init, so they stay among its descendants, where a sweep of
``/proc`` finds them. The app's launcher is one, the grading process is one
(an app that kills its launcher hands its orphans to the grader), and a batch
is one (a grading process killed at its time limit hands its orphans to the
batch).
"""

from __future__ import annotations

import contextlib
import functools
import os
import select
import signal
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from grader.launch.linux import libc

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
# Each pass kills what the previous scan found; a process forking as fast as
# it can is dead after the pass that finds it, so a few passes always do.
SWEEP_PASSES = 50
# A killed process takes a moment to end (freeing 100 MiB of memory takes
# milliseconds): only one still running after this much is a leftover.
DYING_TIME = 1.0


def _prctl(option: int, value: int) -> bool:
    try:
        return libc.prctl(option, value) == 0
    except (OSError, AttributeError):
        return False  # not Linux, or no prctl: the sweep still finds what stayed in the tree


def become_subreaper() -> bool:
    """Adopt orphaned descendants (so they can't escape a sweep); False where unsupported."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def forbid_new_privileges() -> bool:
    """No set-user-ID program can give this process or its children more rights."""
    return _prctl(PR_SET_NO_NEW_PRIVS, 1)


def end_with_parent(parent: int) -> None:
    """SIGKILL this process when ``parent`` (its parent now) ends, however it ends: a grading process
    must not outlive a killed batch (the batch's fork server kills its apps' launchers as it goes)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the request was made
        os.kill(os.getpid(), signal.SIGKILL)


def forbid_inspection() -> bool:
    """Processes of this user can't read this one's memory, environment or descriptors, nor trace it.

    An app under ``limits`` runs as the grader's user: without this it could
    read ``/proc/PID/environ`` and ``/proc/PID/mem`` of the batch and the
    grading process, and take their file descriptors. (Root with
    ``CAP_SYS_PTRACE`` still can: only ``isolate`` stops root.)
    """
    return _prctl(PR_SET_DUMPABLE, 0)


def parent_map() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    parents = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields:  # else gone meanwhile
            parents[int(entry.name)] = int(fields[1])
    return parents


def children_of(pid: int) -> set[int]:
    """``pid``'s children: from ``/proc/PID/task/*/children`` (no scan of every process) where the kernel has it.

    A process that is gone has none: what it started was orphaned to a subreaper, whose tree is swept.
    """
    try:
        tasks = list(os.scandir(f"/proc/{pid}/task"))
    except OSError:
        return set()
    found: set[int] = set()
    try:
        for task in tasks:
            with open(f"{task.path}/children", "rb") as children:
                found |= {int(child) for child in children.read().split()}
    except (OSError, ValueError):  # a kernel without the file, or a thread that ended meanwhile
        return {child for child, parent in parent_map().items() if parent == pid}
    return found


def tree_below(root: int) -> set[int]:
    """``root``'s descendants (not ``root``), found through each one's children (no scan of every process)."""
    found: set[int] = set()
    stack = [root]
    while stack:
        below = children_of(stack.pop()) - found
        found |= below
        stack.extend(below)
    return found


def descendants(roots: Iterable[int]) -> set[int]:
    """Every process below ``roots`` (not the roots themselves, unless one is below another).

    Walked through each one's children, not a scan of every process: a stop
    sweeps several times, a grade stops twenty-odd servers at once, and a
    scan reads every process's stat file (0.16 s each with 650 processes).
    A kernel without the children files gets one scan for the whole walk.
    """
    roots = set(roots)
    if not has_children_files():
        return below_in(parent_map(), roots)
    found: set[int] = set()
    for root in roots:
        found |= tree_below(root)
    return found


@functools.cache
def has_children_files() -> bool:
    """Whether this kernel lists each task's children (``CONFIG_PROC_CHILDREN``, with checkpoint/restore)."""
    return os.path.exists(f"/proc/self/task/{os.getpid()}/children")


def below_in(parents: dict[int, int], roots: set[int]) -> set[int]:
    """Every process below ``roots`` in a map of pid -> parent pid."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def kill(pids: Iterable[int]) -> int:
    """SIGKILL each of ``pids``; how many were still there to kill."""
    killed = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except (ProcessLookupError, PermissionError):
            pass
    return killed


def kill_descendants(root: int, extra: Iterable[int] = ()) -> set[int]:
    """Kill everything below ``root``, and ``extra`` with everything below them; the pids killed.

    ``root`` itself is left alive: while it lives it adopts whatever is
    orphaned during the sweep (when it is a subreaper), so nothing escapes.
    A killed process may show for a moment before it dies: killing it again
    is harmless.
    """
    killed: set[int] = set()
    extra = set(extra)
    for _ in range(SWEEP_PASSES):
        found = living(descendants([root, *extra]) | extra)
        if not found:
            break
        kill(found)
        killed |= found
    return killed


def kill_trees(roots: Iterable[int]) -> set[int]:
    """Kill ``roots`` and everything below them until nothing is left; the pids killed."""
    roots = set(roots)
    killed: set[int] = set()
    if not roots:
        return killed  # nothing to scan /proc for
    for _ in range(SWEEP_PASSES):
        found = living(descendants(roots) | roots)
        if not found:
            break
        kill(found)
        killed |= found
    return killed


def stray_children(known: Iterable[int]) -> set[int]:
    """This process's children that it didn't start itself: orphans it adopted as a subreaper."""
    me, known = os.getpid(), set(known)
    return {pid for pid, parent in parent_map().items() if parent == me and pid not in known}


def reap(pids: Iterable[int]) -> None:
    """Collect the exit status of killed processes that were orphaned to this process."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def remove_stale_folders(kind: str, remove: Callable[[str], object] = os.rmdir) -> None:
    """Remove ``streamgrade-KIND-PID-*`` folders in the temp folder whose process PID is gone.

    They are left when a grading or a batch is killed before it can clean up.
    """
    for folder in Path(tempfile.gettempdir()).glob(f"streamgrade-{kind}-*"):
        owner = folder.name.split("-")[2]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            try:
                remove(str(folder))
            except OSError:
                continue


def private_folder(kind: str) -> Path:
    """A new mode-700 folder in the temp folder, named so that remove_stale_folders can tell when it is stale."""
    return Path(tempfile.mkdtemp(prefix=f"streamgrade-{kind}-{os.getpid()}-"))


def _stat_fields(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first, then the parent's pid).

    The command name is in parentheses and may itself hold ") ": split after the last one.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return None
    return text[text.rfind(b")") + 2 :].split()


def process_state(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[0].decode() if fields else None


def parent_of(pid: int) -> int | None:
    """``pid``'s parent, from its own stat file (no scan of every process)."""
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def pid_exists(pid: int) -> bool:
    # Z: a zombie; X: dead and being released (seen for a moment while a subreaper that ignores SIGCHLD reaps it).
    return process_state(pid) not in (None, "Z", "X")


def still_running(pids: Iterable[int], timeout: float = DYING_TIME) -> set[int]:
    """Those of ``pids`` (killed) that still run after up to ``timeout`` seconds of waiting for them to end.

    Waits on each one's pidfd, which the kernel makes readable when the
    process ends: no polling, and no wait at all when they are gone already.
    """
    waiting: dict[int, int] = {}
    unwaited: set[int] = set()  # no pidfd for it (an old kernel): judged as it is now
    try:
        for pid in living(pids):
            try:
                waiting[os.pidfd_open(pid)] = pid
            except ProcessLookupError:
                continue  # ended meanwhile
            except OSError:
                unwaited.add(pid)
        deadline = time.monotonic() + timeout
        while waiting and (left := deadline - time.monotonic()) > 0:
            ended, _, _ = select.select(list(waiting), [], [], left)
            for fd in ended:
                os.close(fd)
                del waiting[fd]
    finally:
        for fd in waiting:
            os.close(fd)
    return living({*waiting.values(), *unwaited})


def living(pids: Iterable[int]) -> set[int]:
    """Those of ``pids`` that still run (zombies don't count: they hold nothing but a pid)."""
    return {pid for pid in pids if pid_exists(pid)}
