"""The test suite's own habits: shared code comes from helpers.py, servers are marked slow."""

from __future__ import annotations

import ast

import pytest
from helpers import ROOT

TESTS = ROOT / "tests"


def imported_modules(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted(TESTS.glob("*.py")), ids=lambda path: path.name)
def test_a_test_module_imports_no_fixture_file_and_no_other_test_module(path):
    # conftest.py is pytest's, loaded once as a plugin; a test module imported by
    # another runs its module code twice and ties the two together.
    wrong = {name for name in imported_modules(path) if name == "conftest" or name.startswith("test_")}
    assert not wrong, f"{path.name} imports {sorted(wrong)}: shared test code belongs in tests/helpers.py"


@pytest.mark.parametrize("path", sorted(TESTS.glob("test_*.py")), ids=lambda path: path.name)
def test_a_test_module_sets_its_marks_once(path):
    # A second `pytestmark = ...` replaces the first: a module's slow marker was lost that way.
    assigned = [
        node
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "pytestmark" for target in node.targets)
    ]
    assert len(assigned) <= 1, f"{path.name} sets pytestmark {len(assigned)} times: the last one wins; make it a list"
