"""index.html for a batch: the class at a glance. A pure function of the results."""

from __future__ import annotations

from dataclasses import dataclass

from grader.render.html import environment
from grader.render.terminal import EXERCISE_TITLES
from grader.results import GradeResult

BINS = 10


@dataclass(frozen=True, kw_only=True)
class Bin:
    """One bar of the class's score chart: the students who scored from ``low`` to ``high``."""

    low: float
    high: float
    count: int
    height: float  # pixels
    x: float


@dataclass(kw_only=True)
class PassRate:
    """How many of the students a check judged passed it."""

    id: str
    title: str
    passed: int = 0
    graded: int = 0

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


@dataclass(frozen=True, kw_only=True)
class StudentRow:
    id: str
    name: str  # as the class folder has it
    report: str  # the student's report.html, relative to index.html
    score: float
    max: float
    extra: float
    exercises: list[tuple[float, float] | None]  # (score, maximum) per exercise, None where none was graded
    note: str


def distribution(scores: list[float], maximum: float) -> list[Bin]:
    """Students per tenth of the maximum score (the top bin includes full marks)."""
    counts = [0] * BINS
    for score in scores:
        share = score / maximum if maximum else 0.0
        counts[min(BINS - 1, max(0, int(share * BINS)))] += 1
    tallest = max(counts) or 1
    return [
        Bin(
            low=maximum * index / BINS,
            high=maximum * (index + 1) / BINS,
            count=count,
            height=120 * count / tallest,
            x=40 + index * 56,
        )
        for index, count in enumerate(counts)
    ]


def pass_rates(results: dict[str, GradeResult]) -> list[PassRate]:
    rows: dict[str, PassRate] = {}
    for result in results.values():
        for check in result.checks:
            row = rows.setdefault(check.id, PassRate(id=check.id, title=check.title))
            if check.counted:
                row.graded += 1
                row.passed += check.status == "passed"
    return sorted(rows.values(), key=lambda row: (row.rate, row.id))


def render_index(
    results: dict[str, GradeResult], notes: dict[str, str], exercises: list[str], title: str, students_folder: str
) -> str:
    """``students_folder``: where each student's folder (with its report.html) is, relative to index.html."""
    students = []
    for student in sorted(results):
        result = results[student]
        subtotals = result.subtotals()
        students.append(
            StudentRow(
                id=student,
                name=result.name or student,
                report=f"{students_folder}/{student}/report.html",
                score=result.base_score,
                max=result.max_score,
                extra=result.extra_credit,
                exercises=[subtotals.get(name) for name in exercises],
                note=notes.get(student, ""),
            )
        )
    maximum = max((result.max_score for result in results.values()), default=0.0)
    return (
        environment()
        .get_template("index.html.j2")
        .render(
            title=title,
            students=students,
            exercises=[EXERCISE_TITLES.get(name, name) for name in exercises],
            bins=distribution([result.base_score for result in results.values()], maximum),
            rates=pass_rates(results),
            maximum=maximum,
        )
    )
