"""docs/CONTRACT.md stays true: quoted lines, check ids and bank apps all exist and agree."""

from __future__ import annotations

import importlib
import re

import pytest
from bank_verdicts import FAULTY, NO_BONUS, WITH_BONUS, expected_misses
from helpers import BANK, ROOT

from grader.exercises import check_modules

TABLE = ROOT / "docs" / "CONTRACT.md"
# The numbered pages are the contract; testing-in-process.md is advice.
PAGES = sorted((ROOT / "exercises").glob("[0-9]*.md"))
CHECK_MODULES = check_modules()


def grader_check_ids() -> set[str]:
    ids = set()
    for name in CHECK_MODULES:
        module = importlib.import_module(name)
        for function in vars(module).values():
            for mark in getattr(function, "pytestmark", []):
                if mark.name == "check":
                    ids.add(mark.args[0])
    return ids


def cells(line: str) -> list[str]:
    """A table row's cells; a pipe escaped as \\| belongs to its cell."""
    parts = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [part.strip().replace("\\|", "|") for part in parts]


def rows() -> list[tuple[str, list[str], list[str]]]:
    """(quoted line, check ids, bank apps) for every row of every table."""
    found = []
    for line in TABLE.read_text().splitlines():
        if not line.startswith("| ``"):
            continue
        quote, checks, apps, _note = cells(line)
        quote = quote.removeprefix("``").removesuffix("``").strip()
        split = lambda text: [item.strip() for item in text.split(",") if item.strip()]  # noqa: E731
        found.append((quote, split(checks), split(apps)))
    return found


def normalized(text: str) -> str:
    return " ".join(text.split())


def test_the_table_has_rows_for_every_page():
    assert len(rows()) >= 40
    pages = TABLE.read_text()
    for page in PAGES:
        assert f"`exercises/{page.name}`" in pages, page.name


@pytest.mark.parametrize("quote", [row[0] for row in rows()])
def test_every_quoted_line_is_in_an_exercise_page(quote):
    text = " ".join(normalized(page.read_text()) for page in PAGES)
    assert normalized(quote) in text


def test_every_check_named_exists_and_every_check_is_named():
    known = grader_check_ids()
    named = {check for _, checks, _ in rows() for check in checks}
    assert named <= known, named - known
    text = TABLE.read_text()
    assert [check for check in sorted(known) if check not in text] == []


def failed_checks(app: str) -> set[str]:
    # What the grader judges: the verdicts where a browser runs.
    failed = {check for check, status in expected_misses(app, browser=True).items() if status == "failed"}
    if app.startswith("bigfile_") and app not in WITH_BONUS:
        failed -= set(NO_BONUS)  # the extra credit it does not attempt
    return failed


@pytest.mark.parametrize("app", sorted({app for _, _, apps in rows() for app in apps}))
def test_every_bank_app_named_fails_its_row_and_nothing_else(app):
    assert (BANK / f"{app}.py").is_file()
    assert app in FAULTY, f"{app} has no expected verdicts in bank_verdicts.py"
    its_rows = [checks for _, checks, apps in rows() if app in apps]
    failed = failed_checks(app)
    for checks in its_rows:
        assert failed & set(checks), f"{app} fails none of {checks}: {sorted(failed)}"
    allowed = {check for checks in its_rows for check in checks}
    assert failed <= allowed, f"{app} also fails {sorted(failed - allowed)}"
