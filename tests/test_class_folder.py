"""Class folders that need no code to break a batch: each entry gets a result that says why, the class goes on.

Every hostile entry is made by the test in tmp_path: a zip and a folder
1,100 levels deep, a link to /proc/self/mem, single files and folders named
like the batch's own outputs.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
from helpers import BANK, REFERENCE_APP, batch, statuses

from grader.batch.submissions import (
    MAX_DEPTH,
    Submission,
    SubmissionError,
    content_hash,
    discover,
    prepare,
)

DEPTH = 1100  # beyond Python's recursion limit and MAX_DEPTH alike
CONFIG = """
exercises = ["chat"]
[limits]
start_timeout = 5
submission_timeout = 60
"""


def make_deep_folder(parent: Path, name: str, depth: int) -> Path:
    """``parent/name/d/d/.../app.py``, ``depth`` folders deep, made without recursion (os.makedirs recurses)."""
    top = parent / name
    top.mkdir()
    descriptor = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=descriptor)
            inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = inner
        app = os.open("app.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=descriptor)
        os.write(app, REFERENCE_APP.read_bytes())
        os.close(app)
    finally:
        os.close(descriptor)
    return top


def remove_deep_folder(top: Path) -> None:
    """Remove what ``make_deep_folder`` made, without recursion (shutil.rmtree recurses on Python 3.11)."""
    descriptors = [os.open(top, os.O_RDONLY | os.O_DIRECTORY)]
    while "d" in os.listdir(descriptors[-1]):
        descriptors.append(os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=descriptors[-1]))
    while descriptors:
        descriptor = descriptors.pop()
        for name in os.listdir(descriptor):
            if name == "d":
                os.rmdir(name, dir_fd=descriptor)
            else:
                os.unlink(name, dir_fd=descriptor)
        os.close(descriptor)
    top.rmdir()


def make_deep_zip(path: Path, depth: int) -> None:
    with zipfile.ZipFile(path, "w") as packed:
        packed.writestr("d/" * depth + "app.py", REFERENCE_APP.read_text())


def make_hostile_class(root: Path) -> Path:
    """A class folder of entries that break a batch with no code at all, beside ordinary ones."""
    submissions = root / "submissions"
    submissions.mkdir()
    make_deep_zip(submissions / "deep_zip.zip", DEPTH)
    make_deep_folder(submissions, "deep_folder", DEPTH)
    (submissions / "mem_link").mkdir()
    shutil.copyfile(REFERENCE_APP, submissions / "mem_link" / "app.py")
    (submissions / "mem_link" / "data.bin").symlink_to("/proc/self/mem")
    (submissions / "link_to_mem.py").symlink_to("/proc/self/mem")
    shutil.copyfile(BANK / "chat_buffered.py", submissions / "grades.csv.py")
    shutil.copyfile(REFERENCE_APP, submissions / "index.html.py")
    (submissions / "gradescope").mkdir()
    shutil.copyfile(REFERENCE_APP, submissions / "gradescope" / "app.py")
    (submissions / "students").mkdir()
    shutil.copyfile(REFERENCE_APP, submissions / "students" / "app.py")
    shutil.copyfile(REFERENCE_APP, submissions / "bob.py")
    shutil.copyfile(BANK / "chat_buffered.py", submissions / "Bob.py")  # the same id but for case
    os.mkfifo(submissions / "pipe.py")  # opening it to read would wait for a writer forever
    return submissions


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("hostile-class")
    submissions = make_hostile_class(root)
    yield submissions
    remove_deep_folder(submissions / "deep_folder")


# What each entry becomes: graded normally (None) or refused with these words in its note.
EXPECTED = {
    "Bob": None,
    "bob-2": None,
    "deep_folder": f"folders nested more than {MAX_DEPTH} deep",
    "deep_zip": f"the zip holds folders nested more than {MAX_DEPTH} deep",
    "gradescope": None,
    "grades.csv": None,
    "index.html": None,
    "link_to_mem": "links are not followed",
    "mem_link": None,
    "pipe": "neither a file nor a folder",
    "students": None,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_taking_in_a_hostile_entry_either_works_or_says_why(hostile_class, tmp_path, name):
    submission = next(found for found in discover(hostile_class) if found.id == name)
    reason = EXPECTED[name]
    try:
        content_hash(submission)
        app = prepare(submission, tmp_path / "files")
    except SubmissionError as error:
        assert reason is not None and reason in str(error), str(error)
    else:
        assert reason is None, f"{name} was taken in"
        assert app.is_file() and not app.is_symlink()
        # Nothing but regular files and folders is copied: a link is never carried into the scratch copy.
        assert all(stat.S_ISREG(path.lstat().st_mode) or path.is_dir() for path in (tmp_path / "files").rglob("*"))


def test_ids_differ_even_ignoring_case(hostile_class):
    ids = [submission.id for submission in discover(hostile_class)]
    assert len({identifier.lower() for identifier in ids}) == len(ids)


def test_a_changed_link_changes_the_hash_without_being_followed(tmp_path):
    folder = tmp_path / "amy"
    folder.mkdir()
    (folder / "app.py").write_text("app = None\n")
    (folder / "data").symlink_to("/proc/self/mem")
    before = content_hash(Submission("amy", folder))
    (folder / "data").unlink()
    (folder / "data").symlink_to("/proc/self/environ")
    assert content_hash(Submission("amy", folder)) != before


@pytest.mark.slow
def test_a_hostile_class_folder_is_graded_whole(hostile_class, tmp_path):
    config = tmp_path / "grading.toml"
    config.write_text(CONFIG)
    out = tmp_path / "out"
    finished = batch(hostile_class, out, config, "-j", "2")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "Traceback" not in finished.stderr

    assert sorted(path.name for path in (out / "students").iterdir()) == sorted(EXPECTED)
    rows = {row["id"]: row for row in csv.DictReader((out / "grades.csv").read_text().splitlines())}
    assert sorted(rows) == sorted(EXPECTED)
    page = (out / "index.html").read_text()
    for name, reason in EXPECTED.items():
        result = json.loads((out / "students" / name / "results.json").read_text())
        assert (out / "gradescope" / f"{name}.json").is_file()
        assert f'href="students/{name}/report.html"' in page
        if reason is None:
            assert statuses(out / "students" / name / "results.json")["app.starts"] == "passed", name
        else:
            assert reason in rows[name]["note"], rows[name]["note"]
            assert reason in result["checks"][0]["message"]
    # The reference's twins score full marks; the class outputs are files, not students' folders.
    assert rows["index.html"]["score"] == rows["index.html"]["max_score"] == rows["students"]["score"]
    assert rows["grades.csv"]["chat.incremental"] == "0"
    assert (out / "grades.csv").is_file() and (out / "index.html").is_file()

    again = batch(hostile_class, out, config)  # and on every later run too
    assert again.returncode == 0, again.stderr
    assert sorted(csv.DictReader((out / "grades.csv").read_text().splitlines()), key=lambda row: row["id"]) == sorted(
        rows.values(), key=lambda row: row["id"]
    )


@pytest.mark.parametrize(
    ("files", "found"),
    [
        pytest.param({"solution.py": "app = 1\n"}, "solution.py", id="one-file-named-freely"),
        pytest.param({"app.py": "app = 1\n", "helpers.py": ""}, "app.py", id="app-py-beside-a-helper"),
        pytest.param({"work/jane_doe.py": "app = 1\n"}, "work/jane_doe.py", id="one-file-in-the-one-folder"),
    ],
)
def test_a_folder_with_one_python_file_is_graded_whatever_the_file_is_called(tmp_path, files, found):
    # Gradescope keeps an upload's own name: a lone solution.py is the app.
    source = tmp_path / "submission"
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    app = prepare(Submission("submission", source), tmp_path / "scratch")
    assert app.name == "app.py" and app.read_text() == files[found]
    assert (source / found).is_file(), "the submission itself is left as it was"


def test_a_folder_with_several_python_files_and_no_app_py_says_so(tmp_path):
    source = tmp_path / "submission"
    source.mkdir()
    (source / "main.py").write_text("app = 1\n")
    (source / "helpers.py").write_text("")
    with pytest.raises(SubmissionError, match=r"no app\.py"):
        prepare(Submission("submission", source), tmp_path / "scratch")
