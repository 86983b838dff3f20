"""grades.csv: one row per student, for a spreadsheet or an LMS gradebook import."""

from __future__ import annotations

import csv
import io

from grader.exercises import NAMES as EXERCISES
from grader.results import GradeResult

# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """OWASP's neutralisation: a leading ' on a cell that a spreadsheet would run; every other cell exact."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def render_csv(results: dict[str, GradeResult], check_ids: list[str], notes: dict[str, str] | None = None) -> str:
    """Rows sorted by student id; a check a student was not graded on is left empty.

    ``score`` is never above ``max_score``: extra credit has a column of its own.

    ``name`` is the identity column an LMS matches on: the submission's name
    exactly (an e-mail address, 李雷, zoë). ``id`` is the folder (in
    ``students/``) the student's report is in.
    """
    notes = notes or {}
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\r\n")
    header = [
        "name",
        "id",
        "score",
        "max_score",
        "extra_credit",
        *(f"{name}_score" for name in EXERCISES),
        *check_ids,
        "note",
    ]
    writer.writerow(header)
    for student in sorted(results):
        result = results[student]
        subtotals = result.subtotals()
        by_id = {check.id: check for check in result.checks}
        writer.writerow(
            [
                spreadsheet_safe(result.name or student),
                spreadsheet_safe(student),
                f"{result.base_score:g}",
                f"{result.max_score:g}",
                f"{result.extra_credit:g}",
                *(f"{subtotals[name][0]:g}" if name in subtotals else "" for name in EXERCISES),
                *(f"{by_id[check].score:g}" if check in by_id and by_id[check].counted else "" for check in check_ids),
                spreadsheet_safe(notes.get(student, "")),
            ]
        )
    return output.getvalue()
