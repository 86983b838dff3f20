"""Start, contain, measure and stop an app: the one surface the rest of the grader uses.

Probes, the pytest plugin, the command line and the batch import from here,
never from the modules below. Two backends offer the same few functions:

- ``linux/`` (``linux/backend.py``): launchers forked from a fork server, the
  sandbox (rlimits, cgroup, namespaces, jail, seccomp), the process sweep
  and exact readings from ``/proc``;
- ``portable.py``: a plain child process in its own process group,
  measured and stopped through psutil, with no sandbox.

``features.py`` finds out once which this system can run, and
``STREAMGRADE_BACKEND`` can ask for one. What they share is in
``server.py`` (targets, the log, the wait until an app answers),
``sandbox.py`` (levels, limits, and their words for the report),
``measure.py`` (what a probe may read) and ``spec.py`` (what a launcher is
asked to start).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from grader.launch.features import BACKEND_VARIABLE, BACKENDS, BackendError, backend_name
from grader.launch.groups import new_group, stop_group

if TYPE_CHECKING:
    from grader.launch.measure import MemorySample, Meter
    from grader.launch.sandbox import MIB, Limits, Policy, Protections, grading_environment
    from grader.launch.server import (
        DEFAULT_START_TIMEOUT,
        AppStartError,
        AppTarget,
        RunningApp,
        TargetError,
        resolve_target,
    )

__all__ = [
    "BACKENDS",
    "BACKEND_VARIABLE",
    "DEFAULT_START_TIMEOUT",
    "MIB",
    "AppStartError",
    "AppTarget",
    "BackendError",
    "Limits",
    "MemorySample",
    "Meter",
    "Policy",
    "Protections",
    "RunningApp",
    "TargetError",
    "adopt_orphans",
    "backend_name",
    "child_environment",
    "end_with_parent",
    "grading_environment",
    "keep_secrets",
    "new_group",
    "own_helpers",
    "prepare",
    "resolve_level",
    "resolve_target",
    "running_app",
    "shutdown",
    "start_app",
    "stop_group",
    "stop_orphans",
]

# Loaded on first use, not with the package: the launcher and the fork server
# import modules of this package, and must not pay for (or carry into every
# app they fork) the HTTP client and the rest that the grader's side needs.
_LAZY = {
    "grader.launch.measure": ("MemorySample", "Meter"),
    "grader.launch.sandbox": ("MIB", "Limits", "Policy", "Protections", "grading_environment"),
    "grader.launch.server": (
        "DEFAULT_START_TIMEOUT",
        "AppStartError",
        "AppTarget",
        "RunningApp",
        "TargetError",
        "resolve_target",
    ),
}
_BACKENDS = {"linux": "grader.launch.linux.backend", "portable": "grader.launch.portable"}


def __getattr__(name: str) -> Any:
    for module, names in _LAZY.items():
        if name in names:
            value = getattr(importlib.import_module(module), name)
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def backend() -> ModuleType:
    """The module of the backend this process uses (see features.backend_name)."""
    return importlib.import_module(_BACKENDS[backend_name()])


def start_app(
    target: AppTarget,
    env: Mapping[str, str | None] | None = None,
    start_timeout: float | None = None,
    policy: Policy | None = None,
    readonly: list[Path] | None = None,
    workdir: Path | None = None,
) -> RunningApp:
    """Start ``target`` and return once it answers HTTP; raise AppStartError otherwise.

    ``env``: variables to set, or to remove (None). ``readonly``: folders the app must read
    besides its own (isolation hides everything else). ``workdir``: the folder the server
    starts in, the app's own by default; under isolation, inside one of ``readonly``.
    """
    module = backend()
    timeout = module.DEFAULT_START_TIMEOUT if start_timeout is None else start_timeout
    return module.start_app(target, env, timeout, policy, readonly, workdir)


@contextmanager
def running_app(
    target: AppTarget,
    env: Mapping[str, str] | None = None,
    start_timeout: float | None = None,
    policy: Policy | None = None,
) -> Iterator[RunningApp]:
    app = start_app(target, env, start_timeout, policy)
    try:
        yield app
    finally:
        app.stop()


def resolve_level(requested: str) -> tuple[str, str]:
    """The sandbox level to use for ``requested`` ("auto": the strongest available) and, if lower, why."""
    return backend().resolve_level(requested)


def prepare(*, share: bool = False, floor: str = "off", trusted: Iterable[str] = ()) -> None:
    """Start what launching needs now, so its cost overlaps the caller's own start-up.

    ``share``: the gradings this process starts (a batch's) launch through it
    too, at level ``floor`` or stronger (``off`` only for apps in ``trusted``
    folders: the reference's).
    """
    backend().prepare(share=share, floor=floor, trusted=trusted)


def shutdown() -> None:
    """Stop what ``prepare`` started."""
    backend().shutdown()


def child_environment() -> dict[str, str]:
    """Variables a grading process started by this one needs to launch the way this one does."""
    return {BACKEND_VARIABLE: backend_name(), **backend().child_environment()}


def own_helpers() -> list[int]:
    """Processes the backend started that are not apps (not to be swept as strays)."""
    return backend().own_helpers()


def keep_secrets() -> None:
    """Let no app of this user read this process's environment or memory (it holds the instructor's)."""
    backend().keep_secrets()


def end_with_parent(parent: int) -> None:
    """End when ``parent``, this process's parent, ends (a grading process with its batch)."""
    backend().end_with_parent(parent)


def adopt_orphans() -> None:
    """Become the parent of whatever an app orphans (by killing its launcher), so it can be swept."""
    backend().adopt_orphans()


def stop_orphans(known: Iterable[int] = ()) -> None:
    """Kill every adopted process tree except those of ``known`` children."""
    backend().stop_orphans(known)
