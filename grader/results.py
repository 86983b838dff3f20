"""The result model: plain data, independent of pytest and of any renderer.

Renderers (terminal, JSON, and later HTML, Gradescope, CSV) are pure
functions of a ``GradeResult``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from math import isfinite
from typing import TYPE_CHECKING, Any, Literal, TypedDict

# Which protections held for the app, in words (the sandbox's own plain data): typed on the result too.
from grader.launch.sandbox import Protections

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from grader.recording import Crash

Status = Literal["passed", "failed", "error", "skipped", "inconclusive"]

# error: the grader itself broke; inconclusive: the reference failed the same
# check in this run, so the machine can't be trusted for it. Neither may cost
# the learner points, so neither counts toward the maximum either.
UNCOUNTED: frozenset[str] = frozenset({"error", "inconclusive"})


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """How the app was measured (grader.evidence.measurement): which figures are exact, which sampled, in words."""

    backend: str  # "linux" or "portable"
    exact: list[str]
    sampled: list[str]


class CrashDetails(TypedDict):
    """A failed check's evidence when the learner's app raised: the one shape of it a renderer reads.

    Other evidence is each check's own numbers, kept in results.json as they
    are; the report reads this one to know the message already names the
    exception (else it shows the server's log).
    """

    exception: str  # its last line: "NameError: name 'time' is not defined"
    file: str  # the learner's file it was raised in ("" when no frame is theirs)
    line: int
    traceback: list[str]


def crash_details(crash: Crash) -> CrashDetails:
    return CrashDetails(exception=crash.exception, file=crash.file, line=crash.line, traceback=crash.traceback)


def names_a_crash(evidence: Mapping[str, Any]) -> bool:
    """Whether a check's evidence is ``CrashDetails``: it named the exception the learner's app raised."""
    return isinstance(evidence.get("exception"), str)


@dataclass
class CheckResult:
    id: str
    exercise: str
    title: str
    status: Status
    max_score: float
    bonus: bool = False
    message: str = ""
    hint: str = ""
    reproduce: str = ""
    reference_status: Status | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    traceback: str = ""
    duration: float = 0.0  # seconds the check itself ran (the recordings are made before)
    hidden: bool = False  # an instructor's hidden check: graded, shown to students after release
    # Skipped because a parent was not judged (inconclusive, a grader error,
    # or itself skipped under one): no verdict on the app, so no points lost.
    parent_unjudged: bool = False
    # Not run: this machine lacks what the check needs (a browser; see checkapi.NotRun). The message says why.
    not_run: bool = False

    def __post_init__(self) -> None:
        # Points are never negative or endless, whatever a results.json read back says.
        self.max_score = float(self.max_score) if isfinite(float(self.max_score)) and self.max_score > 0 else 0.0

    @property
    def score(self) -> float:
        """All of the check's points when it passed, else none: never above its maximum, by construction."""
        return self.max_score if self.status == "passed" else 0.0

    @property
    def counted(self) -> bool:
        return self.status not in UNCOUNTED and not self.parent_unjudged and not self.not_run

    @property
    def why_not_counted(self) -> str:
        """For reports: why this check is worth nothing either way in this run ("" when it counts)."""
        if self.status == "inconclusive":
            return "the reference solution could not be judged by it in this run"
        if self.status == "error":
            return "the grader itself failed on it"
        if self.parent_unjudged:
            return "a check it depends on could not be judged in this run"
        if self.not_run:
            return "it could not be run on this machine"
        return ""


@dataclass
class GradeResult:
    target: str
    reference: str
    grader_version: str
    started_at: str
    duration: float
    exercises: list[str]
    checks: list[CheckResult]
    notes: list[str] = field(default_factory=list)
    # What both apps did, for reports: per exercise its evidence dataclass, and
    # grader.evidence.AppEvidence under "app" (results.json holds them as JSON).
    evidence: dict[str, Any] = field(default_factory=dict)
    # Which protections held while the app ran (None when no app was started).
    protections: Protections | None = None
    # How the app was measured (None when nothing was recorded).
    measurement: Measurement | None = None
    # A batch's submission name, exactly as the class folder has it (grades.csv's identity column).
    name: str = ""
    # Exercises whose route still answers 501, the starter's placeholder: their checks say nothing yet.
    unwritten: list[str] = field(default_factory=list)
    # Seconds from the start of the grade's recording to the end of each exercise's probes.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """All points earned, extra credit included (Gradescope's total); ``base_score`` is the score."""
        return round(self.base_score + self.extra_credit, 2)

    @property
    def base_score(self) -> float:
        """Points earned without extra credit: at most ``max_score``, since each check's score is at most its own."""
        return round(sum(check.score for check in self.checks if check.counted and not check.bonus), 2)

    @property
    def extra_credit(self) -> float:
        return round(sum(check.score for check in self.checks if check.counted and check.bonus), 2)

    @property
    def extra_credit_max(self) -> float:
        return round(sum(check.max_score for check in self.checks if check.counted and check.bonus), 2)

    @property
    def max_score(self) -> float:
        """Points available without extra credit; bonus points come on top."""
        return round(
            sum(check.max_score for check in self.checks if check.counted and not check.bonus),
            2,
        )

    def subtotals(self) -> dict[str, tuple[float, float]]:
        totals: dict[str, tuple[float, float]] = {}
        for check in self.checks:
            if not check.counted:
                continue
            score, maximum = totals.get(check.exercise, (0.0, 0.0))
            # Extra credit is on neither side: a subtotal is never above its maximum.
            totals[check.exercise] = (
                score + (0 if check.bonus else check.score),
                maximum + (0 if check.bonus else check.max_score),
            )
        return totals

    def to_dict(self) -> dict[str, Any]:
        data = _adapter().dump_python(self, mode="json")
        for check, saved in zip(self.checks, data["checks"], strict=True):
            saved["score"] = check.score
        # "score" means what it means in every output (the report, grades.csv, the
        # terminal): without extra credit, so never above max_score; "total" adds it.
        data["score"] = self.base_score
        data["base_score"] = self.base_score
        data["total"] = self.total
        data["extra_credit"] = self.extra_credit
        data["max_score"] = self.max_score
        data["subtotals"] = {name: {"score": s, "max_score": m} for name, (s, m) in self.subtotals().items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradeResult:
        """A result read back (results.json), every field checked against its type; ValueError if it is none.

        Fields added later have defaults, so results saved by an earlier
        version still load; what it computed (scores, subtotals) is ignored
        and computed again. The evidence is read back as each exercise's
        dataclass (``grader.evidence.typed``).
        """
        from grader.evidence import typed  # the registry's evidence types, loaded when a result is read

        if isinstance(data, dict):
            # What a result with no recording at all held before: {}, none.
            data = {**data, **{name: None for name in ("measurement", "protections") if data.get(name) == {}}}
        result = _adapter().validate_python(data)
        result.evidence = typed(result.evidence)
        return result


@cache
def _adapter() -> TypeAdapter[GradeResult]:
    from pydantic import TypeAdapter  # imported when a result is written or read, not by every renderer

    return TypeAdapter(GradeResult)
