"""The instructor's grading.toml: points, hidden checks, exercises, time limits.

Validated whole before anything is graded: an error names the key, what was
expected and what was found, so a typo never silently grades a class wrong.

    exercises = ["chat", "events"]      # which exercises count (default: all)
    hidden = ["events.disconnect"]      # graded, shown to students only after release
    [points]
    "chat.nonblocking" = 5              # points for a check (default: the check's own)
    [limits]
    start_timeout = 20                  # seconds an app may take to start
    submission_timeout = 180            # seconds for a whole submission, then it is stopped
    [sandbox]
    level = "auto"                      # "isolate" (root or user namespaces), "limits", "off"; auto: the most allowed
    memory_mib = 2048                   # for each app and everything it starts
    cpu_seconds = 60                    # per process
    processes = 256                     # processes and threads at once
    open_files = 512
    file_size_mib = 64                  # largest file an app may write
"""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from grader.exercises import NAMES as EXERCISES
from grader.exercises import check_modules
from grader.launch import DEFAULT_START_TIMEOUT, MIB, Limits

DEFAULT_SUBMISSION_TIMEOUT = 180.0
TOP_LEVEL_KEYS = {"exercises", "hidden", "points", "limits", "sandbox"}
LIMIT_KEYS = {"start_timeout", "submission_timeout"}
SANDBOX_LEVELS = ("auto", "isolate", "limits", "off")
# [sandbox] key -> (Limits field, unit in bytes or 1, smallest, largest): bounds that keep a correct app working.
SANDBOX_LIMITS = {
    "memory_mib": ("memory", MIB, 256, 65536),
    "cpu_seconds": ("cpu_seconds", 1, 10, 3600),
    "processes": ("processes", 1, 64, 65536),
    "open_files": ("open_files", 1, 64, 65536),
    "file_size_mib": ("file_size", MIB, 1, 65536),
}


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class GradingConfig:
    exercises: tuple[str, ...] = EXERCISES
    hidden: frozenset[str] = frozenset()
    points: dict[str, float] = field(default_factory=dict)
    start_timeout: float = DEFAULT_START_TIMEOUT
    submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT
    sandbox: str = "auto"
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class CheckInfo:
    points: float
    bonus: bool
    title: str
    # Judged on timing or load: a failure has its exercise recorded again
    # beside the live reference before the verdict (grader.secondlook).
    timed: bool = False


def known_checks() -> dict[str, CheckInfo]:
    """Every built-in check id with its points, bonus flag and title, read from the check modules."""
    found: dict[str, CheckInfo] = {}
    for module in map(importlib.import_module, check_modules()):
        for value in vars(module).values():
            marks = {mark.name: mark for mark in getattr(value, "pytestmark", [])}
            if "check" in marks:
                found[marks["check"].args[0]] = CheckInfo(
                    points=float(marks["points"].args[0]) if "points" in marks else 1.0,
                    bonus=bool(marks["check"].kwargs.get("bonus", False)),
                    title=(value.__doc__ or marks["check"].args[0]).strip().splitlines()[0],
                    timed=bool(marks["check"].kwargs.get("timed", False)),
                )
    return found


def load_config(path: Path | None) -> GradingConfig:
    if path is None:
        return GradingConfig()
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{where}: can't be read ({error.strerror or error})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{where}: not valid TOML: {error}") from None

    unknown = set(data) - TOP_LEVEL_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}; expected one of {sorted(TOP_LEVEL_KEYS)}")
    check_ids = known_checks()

    exercises = data.get("exercises", list(EXERCISES))
    if not isinstance(exercises, list) or not exercises or not all(name in EXERCISES for name in exercises):
        raise ConfigError(
            f"{where}: exercises must be a non-empty list drawn from {list(EXERCISES)}; got {exercises!r}"
        )

    hidden = data.get("hidden", [])
    if not isinstance(hidden, list):
        raise ConfigError(f"{where}: hidden must be a list of check ids; got {hidden!r}")
    for check_id in hidden:
        if check_id not in check_ids:
            raise ConfigError(
                f"{where}: hidden: {check_id!r} is not a check id (known: {', '.join(sorted(check_ids))})"
            )

    points = data.get("points", {})
    if not isinstance(points, dict):
        raise ConfigError(f"{where}: [points] must be a table of check id = points")
    for check_id, value in points.items():
        if check_id not in check_ids:
            raise ConfigError(f"{where}: points.{check_id}: not a check id (known: {', '.join(sorted(check_ids))})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"{where}: points.{check_id}: expected a number of points >= 0; got {value!r}")

    limits = data.get("limits", {})
    if not isinstance(limits, dict):
        raise ConfigError(f"{where}: [limits] must be a table")
    for key, value in limits.items():
        if key not in LIMIT_KEYS:
            raise ConfigError(f"{where}: limits.{key}: unknown; expected one of {sorted(LIMIT_KEYS)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
            raise ConfigError(f"{where}: limits.{key}: expected seconds between 0 and 3600; got {value!r}")

    level, sandbox_limits = read_sandbox(data.get("sandbox", {}), where)
    return GradingConfig(
        sandbox=level,
        limits=sandbox_limits,
        exercises=tuple(name for name in EXERCISES if name in exercises),
        hidden=frozenset(hidden),
        points={key: float(value) for key, value in points.items()},
        start_timeout=float(limits.get("start_timeout", DEFAULT_START_TIMEOUT)),
        submission_timeout=float(limits.get("submission_timeout", DEFAULT_SUBMISSION_TIMEOUT)),
    )


def read_sandbox(table: object, where: str) -> tuple[str, Limits]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [sandbox] must be a table")
    level = table.get("level", "auto")
    if level not in SANDBOX_LEVELS:
        raise ConfigError(f"{where}: sandbox.level: expected one of {list(SANDBOX_LEVELS)}; got {level!r}")
    values = {}
    for key, value in table.items():
        if key == "level":
            continue
        if key not in SANDBOX_LIMITS:
            raise ConfigError(f"{where}: sandbox.{key}: unknown; expected one of {['level', *SANDBOX_LIMITS]}")
        name, unit, low, high = SANDBOX_LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{where}: sandbox.{key}: expected a whole number from {low} to {high}; got {value!r}")
        values[name] = value * unit
    return level, Limits(**values)
