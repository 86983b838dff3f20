"""Per-process resource limits (``setrlimit``) for the app's server, set in the server's process."""

from __future__ import annotations

import os
import resource

from grader.launch.sandbox import ADDRESS_SPACE_HEADROOM, Limits


def apply_rlimits(limits: Limits, *, cgroup_memory: bool, own_user: bool) -> None:
    """Set the app process's limits (inherited by everything it starts).

    ``own_user``: the app is about to get a user id of its own, so
    ``RLIMIT_NPROC`` (counted per user over the whole machine) starts from
    zero; for root it is not enforced at all, otherwise the user's other
    processes count too.
    """

    def cap(kind: int, value: int, hard: int | None = None) -> None:
        _, current_hard = resource.getrlimit(kind)
        hard = value if hard is None else hard
        if current_hard != resource.RLIM_INFINITY:
            value, hard = min(value, current_hard), min(hard, current_hard)
        resource.setrlimit(kind, (value, hard))

    cap(resource.RLIMIT_CORE, 0)
    # SIGXCPU at the soft limit (the report can say why), SIGKILL a little later.
    cap(resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 5)
    cap(resource.RLIMIT_FSIZE, limits.file_size)
    cap(resource.RLIMIT_NOFILE, limits.open_files)
    if not cgroup_memory:
        cap(resource.RLIMIT_AS, limits.memory + ADDRESS_SPACE_HEADROOM)
    if own_user:
        cap(resource.RLIMIT_NPROC, limits.processes)
    elif os.getuid() != 0:
        cap(resource.RLIMIT_NPROC, limits.processes + user_tasks(os.getuid()))


def user_tasks(uid: int) -> int:
    """Processes and threads the user runs now (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            continue
    return count
