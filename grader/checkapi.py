"""What a check may say: the API check functions are written against.

A check is a pytest test marked with ``@check(...)``. It receives the
recordings of the app under test (``app``) and of the reference
(``reference``) and either returns (passed) or raises one of these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import pytest

F = TypeVar("F", bound=Callable[..., Any])


class CheckFailed(AssertionError):
    """The app broke the contract. Say what was expected, what happened, and why."""

    def __init__(
        self, message: str, *, hint: str = "", evidence: Mapping[str, Any] | None = None, reproduce: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.evidence: dict[str, Any] = dict(evidence or {})
        self.reproduce = reproduce  # the request that failed, when it is not the check's usual one


class Inconclusive(Exception):
    """This run can't tell: the machine or the reference let the measurement down."""


class NotApplicable(Exception):
    """Nothing to judge here, because of something another check already reports."""


class NotRun(Exception):
    """This machine lacks what the check needs (a browser): it was not run, and costs nothing.

    Raised the same way for the reference and the learner's app, it is not
    calibrated: the check is skipped and not counted, and the message says why.
    """


def check(
    check_id: str,
    *,
    points: float,
    hint: str = "",
    depends: Sequence[str] = ("app.starts",),
    bonus: bool = False,
    reproduce: str = "",
    timed: bool = False,
) -> Callable[[F], F]:
    """Declare a check: its stable id, points, the hint shown on failure, and its parents.

    The docstring's first line is the title learners see. ``reproduce`` is a
    command a learner can run by hand against their app on port 8000.
    ``timed``: judged on timing or load, which a busy moment can spoil; a
    failure has its exercise recorded again before any verdict (grader.secondlook).
    """

    def decorate(function: F) -> F:
        function = pytest.mark.check(check_id, depends=tuple(depends), bonus=bonus, reproduce=reproduce, timed=timed)(
            function
        )
        function = pytest.mark.points(points)(function)
        if hint:
            function = pytest.mark.hint(hint)(function)
        return function

    return decorate


def seconds(value: float) -> str:
    """Format a duration for a learner: 0.2 s, 35 ms."""
    return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"


def mebibytes(value: int) -> str:
    return f"{value / 2**20:.1f} MiB"
