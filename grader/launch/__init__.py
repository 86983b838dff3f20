"""Start, contain, measure and stop an app: the one surface the rest of the grader uses.

Probes, the pytest plugin, the command line and the batch import from here,
never from the modules below: ``server.py`` starts and stops an app,
``sandbox.py`` says what it may do, and ``linux/`` holds what only Linux has
(the fork server, the launcher with its namespaces, jail, seccomp filter and
cgroup, the process sweep, and the ``/proc`` readings).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.launch.linux.procmem import MemorySample, cpu_seconds, read_memory, reset_peak_memory
    from grader.launch.sandbox import MIB, Limits, Policy, Protections
    from grader.launch.sandbox import resolve as resolve_level
    from grader.launch.server import (
        DEFAULT_START_TIMEOUT,
        AppStartError,
        AppTarget,
        RunningApp,
        TargetError,
        resolve_target,
        running_app,
        start_app,
    )

# Loaded on first use, not with the package: the launcher and the fork server
# import modules of this package, and must not pay for (or carry into every
# app they fork) the HTTP client and the rest that the grader's side needs.
_LAZY = {
    "grader.launch.linux.procmem": ("MemorySample", "cpu_seconds", "read_memory", "reset_peak_memory"),
    "grader.launch.sandbox": ("MIB", "Limits", "Policy", "Protections", "resolve_level"),
    "grader.launch.server": ("DEFAULT_START_TIMEOUT", "AppStartError", "AppTarget", "RunningApp", "TargetError",
                             "resolve_target", "running_app", "start_app"),
}  # fmt: skip
_RENAMED = {"resolve_level": "resolve"}


def __getattr__(name: str) -> Any:
    for module, names in _LAZY.items():
        if name in names:
            value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_START_TIMEOUT",
    "MIB",
    "AppStartError",
    "AppTarget",
    "Limits",
    "MemorySample",
    "Policy",
    "Protections",
    "RunningApp",
    "TargetError",
    "adopt_orphans",
    "child_environment",
    "cpu_seconds",
    "own_helpers",
    "prepare",
    "read_memory",
    "reset_peak_memory",
    "resolve_level",
    "resolve_target",
    "running_app",
    "shutdown",
    "start_app",
    "stop_orphans",
]


def _forkserver():  # noqa: ANN202
    from grader.launch.linux import forkserver

    return forkserver


def prepare(*, share: bool = False) -> None:
    """Start what launching needs now, so its cost overlaps the caller's own start-up.

    ``share``: the gradings this process starts (a batch's) launch through it too.
    """
    _forkserver().shared().start(share=share)


def shutdown() -> None:
    """Stop what ``prepare`` started."""
    _forkserver().shared().stop()


def child_environment() -> dict[str, str]:
    """Variables a grading process started by this one needs to launch the way this one does."""
    forkserver = _forkserver()
    address = forkserver.shared().address()
    return {forkserver.ADDRESS_VARIABLE: address} if address else {}


def own_helpers() -> list[int]:
    """Processes this module started that are not apps (not to be swept as strays)."""
    return [_forkserver().shared().pid or 0]


def adopt_orphans() -> None:
    """Become the parent of whatever an app orphans (by killing its launcher), so it can be swept."""
    from grader.launch.linux import reaper

    reaper.become_subreaper()


def stop_orphans(known: Iterable[int] = ()) -> None:
    """Kill and reap every adopted process tree except those of ``known`` children."""
    from grader.launch.linux import reaper

    reaper.reap(reaper.kill_trees(reaper.stray_children(list(known))))
