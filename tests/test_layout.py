"""The code's layout: test modules take shared code from helpers.py and mark servers slow; the grader outside an
exercise's folder never names that exercise."""

from __future__ import annotations

import ast
import re

import pytest
from helpers import ROOT

from grader.exercises import FOLDER, NAMES

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


GRADER = ROOT / "grader"
# What only an exercise's own folder may say: its name as a whole string
# ("chat"), a check id ("chat.pacing"), a server's name ("chat-more"), its page.
ANY_NAME = "(?:" + "|".join(NAMES) + ")"
EXERCISE_WORDS = re.compile(rf"^{ANY_NAME}$|(?<![\w.-]){ANY_NAME}(?:\.[a-z]|-more)|exercises/\d\d-")


def outside_the_exercises() -> list:
    """The grader's modules that belong to no exercise: everything but the exercises' folders (the registry is in)."""
    return sorted(path for path in GRADER.rglob("*.py") if FOLDER not in path.parents or path.parent == FOLDER)


def strings_and_imports(path) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The string literals of ``path`` (docstrings left out: they explain) and the modules it imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    strings, imports = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            strings.append((node.lineno, node.value))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imports += [(node.lineno, node.module), *((node.lineno, f"{node.module}.{a.name}") for a in node.names)]
        elif isinstance(node, ast.Import):
            imports += [(node.lineno, alias.name) for alias in node.names]
    return strings, imports


@pytest.mark.parametrize("path", outside_the_exercises(), ids=lambda path: str(path.relative_to(GRADER)))
def test_the_grader_outside_an_exercises_folder_never_names_it(path):
    # Adding an exercise is its kit files and one folder: the rest of the grader goes through the registry.
    strings, imports = strings_and_imports(path)
    named = [f"line {line}: {text!r}" for line, text in strings if EXERCISE_WORDS.search(text)]
    if path.parent == FOLDER:  # the registry's own list of names
        named = [entry for entry in named if not any(entry.endswith(f": {name!r}") for name in NAMES)]
    folders = tuple(f"grader.exercises.{name}" for name in NAMES)
    imported = [f"line {line}: {module}" for line, module in imports if module.startswith(folders)]
    assert not named and not imported, f"grader/{path.relative_to(GRADER)} names an exercise: {named + imported}"
