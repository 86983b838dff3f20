"""What an app is allowed to do: resource limits and isolation, and how to say which held.

Three levels, chosen by whoever starts the grading:

- ``off`` (``streamgrade check`` on a learner's machine): the app runs as the
  learner's own program would. Its process tree is still killed when grading
  ends and its log is still capped.
- ``limits``: resource limits on the app and all it starts (rlimits, and a
  cgroup for memory and processes where one can be made).
- ``isolate``: limits, and new network, PID, mount, IPC and UTS namespaces,
  a file-system view with only what the app needs, and a user of its own.
  Needs root, or (without a user of its own) unprivileged user namespaces;
  a trial launch finds out whether this machine allows it.

This module is plain data and words, the same on every system; the Linux
backend applies the levels (``linux/_launch.py``, ``linux/rlimits.py``) and
finds out which it can (``linux/backend.py``); the portable backend has no
sandbox and says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

MIB = 2**20
SETUP_FAILED = 70  # the launcher's exit code when it could not set up the sandbox (EX_SOFTWARE)
LEVELS = ("off", "limits", "isolate")
# Isolated apps (as root) get user ids from here up, one per server (its
# launcher's pid added), so two servers running at once never share a user
# (and its process count). Far above the ids that distributions give to
# people and services.
UID_BASE = 2_000_000
# Without a cgroup the memory limit falls back to a cap on address space,
# which counts reservations that use no memory: each thread's stack (8 MiB)
# and malloc's per-thread arenas. A correct app with 40 threadpool workers
# reserves about 1 GiB it never touches, so the cap is set that much higher
# than the memory limit (and arenas are capped at 2 in the app's environment).
ADDRESS_SPACE_HEADROOM = 1024 * MIB


# The only variables of the grader's environment an app under limits sees,
# and all that the fork server (which every app is forked from) starts with.
KEPT_VARIABLES = frozenset({"PATH", "LANG", "LANGUAGE", "TZ"})
# What a grading process needs besides: where to cache the sample file and
# put temporary files, and how to find the grader's own Python packages.
GRADING_VARIABLES = frozenset({"HOME", "TMPDIR", "XDG_CACHE_HOME", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"})


def kept_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``environ`` that are no secret (no tokens, no keys): ``KEPT_VARIABLES`` and the locale."""
    return {key: value for key, value in environ.items() if key in KEPT_VARIABLES or key.startswith("LC_")}


def grading_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """What a batch's grading process gets: ``kept_environment``, ``GRADING_VARIABLES`` and streamgrade's own."""
    own = {key: value for key, value in environ.items() if key in GRADING_VARIABLES or key.startswith("STREAMGRADE_")}
    return {**kept_environment(environ), **own}


@dataclass(frozen=True)
class Limits:
    # Bytes, for the app and everything it starts. The hungriest faulty app in
    # the test bank (iterating a 256 MiB file with no newline by lines) peaks
    # at about 930 MiB: at 1 GiB it was sometimes killed and sometimes not, so
    # its verdicts changed from run to run. 2 GiB keeps every such app's
    # verdict what it is without the sandbox, and still stops a runaway.
    memory: int = 2048 * MIB
    cpu_seconds: int = 60  # per process; a grading uses 1 to 3 s
    file_size: int = 64 * MIB  # largest file the app may write
    open_files: int = 512
    processes: int = 256  # processes and threads; a correct app uses about 45

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Limits:
        return cls(**{key: int(value) for key, value in json.loads(text).items()})


@dataclass(frozen=True)
class Policy:
    level: str = "off"
    limits: Limits = field(default_factory=Limits)
    isolation_problem: str = ""  # why a lower level than "isolate" was chosen, for the report

    @property
    def limited(self) -> bool:
        return self.level in ("limits", "isolate")

    @property
    def isolated(self) -> bool:
        return self.level == "isolate"


def size_text(size: int) -> str:
    """1073741824 -> "1 GiB", 536870912 -> "512 MiB"."""
    return f"{size // 1024 // MIB} GiB" if size % (1024 * MIB) == 0 else f"{size // MIB} MiB"


@dataclass
class Protections:
    """Which protections held for an app, in words for the report: plain data."""

    level: str = "off"
    in_force: list[str] = field(default_factory=list)
    not_in_force: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def describe(
    policy: Policy,
    *,
    isolated: bool,
    cgroup: bool,
    cgroup_problem: str,
    isolation_problem: str,
    as_root: bool = False,
    adopted: bool = True,
    own_user: bool = True,
) -> Protections:
    """What held; ``adopted``: whatever the app orphans is adopted by a process that sweeps it.

    ``own_user``: an isolated app got a user of its own (as root); else it was
    isolated through a user namespace, as the grader's user (linux/userns.py).
    """
    limits = policy.limits
    held = Protections(policy.level)
    if isolated:
        held.in_force.append(
            "own network, process and file-system namespaces: no network, "
            "only its own files and the Python it runs on visible"
        )
        if own_user:
            held.in_force.append(
                "a user of its own with no privileges, and no connect(), kernel keyrings or io_uring (a seccomp filter)"
            )
        else:
            held.in_force.append(
                "no privileges: root only inside a user namespace of its own, with every capability given up, "
                "and no connect(), kernel keyrings or io_uring (a seccomp filter)"
            )
            held.not_in_force.append(
                "a user of its own: without root the kernel maps only the grader's user into the app's "
                "namespace, so the app ran as that user (it sees none of that user's processes or other files)"
            )
    elif policy.isolated or policy.limited:
        held.not_in_force.append(
            f"namespaces and an unprivileged user: {isolation_problem or 'not requested'}; "
            "the app ran as the grader's user, with its network and files"
        )
    if policy.limited:
        if cgroup:
            held.in_force.append(
                f"a cgroup: {size_text(limits.memory)} of memory and {limits.processes} processes "
                "for all the submission's servers and everything they start, together"
            )
        else:
            held.not_in_force.append(f"a cgroup for memory and processes: {cgroup_problem}")
            held.in_force.append(
                f"address space capped at {size_text(limits.memory + ADDRESS_SPACE_HEADROOM)} "
                "per process (for the memory limit)"
            )
            if isolated:  # RLIMIT_NPROC counts the server's own user, or its own user namespace
                held.in_force.append(f"{limits.processes} processes and threads for each server")
            if not isolated and as_root:
                held.not_in_force.append("a process-count limit (not enforced for root without a cgroup)")
        held.in_force.append(
            f"per process: {limits.cpu_seconds} s of CPU time, files up to "
            f"{size_text(limits.file_size)}, {limits.open_files} open files"
        )
    else:
        held.not_in_force.append("resource limits and isolation (this is a local check, not a batch)")
    if adopted or policy.limited:
        held.in_force.append("every process the app started is stopped when grading ends")
    else:
        held.not_in_force.append(
            "every process the app started is stopped when grading ends: only those "
            "still below its launcher (it was started without the fork server, and a "
            "learner's check adopts no orphans)"
        )
    held.in_force.append("its output is capped: the first and last 32 KiB are kept")
    return held
