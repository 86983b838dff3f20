"""The grading options, declared once.

Each is offered three ways from this one declaration: by the pytest plugin
(``--streamgrade-<name>``, the form a grading run is given), by
``streamgrade check`` (``--<name>``), and by the command line a batch gives
each grading child. A new option is one entry here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from grader.exercises import NAMES
from grader.launch import DEFAULT_START_TIMEOUT

SANDBOX_LEVELS = ("off", "limits", "isolate", "auto")
PLUGIN_PREFIX = "--streamgrade-"


@dataclass(frozen=True)
class GradingOption:
    name: str  # "start-timeout": --start-timeout, --streamgrade-start-timeout
    help: str
    type: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    default: Any = None  # None: not given (the grading run's own default applies)
    metavar: str | None = None
    repeat: bool = False  # may be given several times: a list
    hidden: bool = False  # passed between the grader's own processes: not in `streamgrade check --help`

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    def keywords(self) -> dict[str, Any]:
        found: dict[str, Any] = {"help": self.help, "default": self.default}
        if self.repeat:
            found["action"] = "append"
        if self.type is not str:
            found["type"] = self.type
        if self.choices is not None:
            found["choices"] = self.choices
        if self.metavar is not None:
            found["metavar"] = self.metavar
        return found


OPTIONS: tuple[GradingOption, ...] = (
    GradingOption("exercise", "grade only this exercise (repeatable)", choices=NAMES, repeat=True),
    GradingOption("reference", "the reference app to calibrate against (default: the kit's)", metavar="TARGET"),
    GradingOption("seed", "seed for the prompts and ids picked per run (to repeat a run)", type=int),
    GradingOption(
        "start-timeout",
        f"seconds an app may take to start answering (default {DEFAULT_START_TIMEOUT:g})",
        type=float,
        metavar="SECONDS",
    ),
    GradingOption(
        "sandbox",
        "run the app under resource limits, or also isolated (needs root or user namespaces); "
        "auto: the most this machine allows (default off: your app runs as it would for you)",
        choices=SANDBOX_LEVELS,
        default="off",
    ),
    GradingOption("limits", "the sandbox's limits (grader.launch.Limits as JSON)", metavar="JSON", hidden=True),
    GradingOption("isolation-problem", "why isolation was not used (for the report)", default="", hidden=True),
    GradingOption(
        "reference-dir", "the folder --reference is named from (default: the current one)", metavar="DIR", hidden=True
    ),
    GradingOption(
        "reference-recording",
        "calibrate against this saved recording of the reference instead of probing it (batch grading)",
        metavar="PATH",
        hidden=True,
    ),
    GradingOption(
        "save-reference",
        "save the reference's recording here, for later runs' reference recording (watch mode)",
        metavar="PATH",
        hidden=True,
    ),
)
BY_DEST = {option.dest: option for option in OPTIONS}


def add_to_pytest(group: Any) -> None:
    """The plugin's options (``group`` is a pytest option group)."""
    for option in OPTIONS:
        group.addoption(PLUGIN_PREFIX + option.name, **option.keywords())


def add_to_parser(parser: argparse.ArgumentParser) -> None:
    """``streamgrade check``'s options; the grader's own plumbing is hidden from --help."""
    for option in OPTIONS:
        keywords = option.keywords()
        if option.hidden:
            keywords["help"] = argparse.SUPPRESS
        parser.add_argument("--" + option.name, **keywords)


def values_of(namespace: argparse.Namespace) -> dict[str, Any]:
    """The grading options a parsed command line holds, by ``dest``."""
    return {option.dest: getattr(namespace, option.dest, None) for option in OPTIONS}


def arguments(values: Mapping[str, Any], prefix: str = "--") -> list[str]:
    """``values`` (by ``dest``) as a command line: ``prefix`` "--" for `streamgrade check`, PLUGIN_PREFIX for pytest.

    A value of None is left out (not given); a repeatable option is given once per item.
    """
    unknown = set(values) - set(BY_DEST)
    if unknown:
        raise TypeError(f"not a grading option: {', '.join(sorted(unknown))}")
    line: list[str] = []
    for option in OPTIONS:
        value = values.get(option.dest)
        if value is None:
            continue
        for item in value if option.repeat else [value]:
            line += [prefix + option.name, str(item)]
    return line
