"""Find the submissions in a folder and make a scratch copy of each to grade.

Each entry of the folder is one student's submission, named by the entry: a
folder (its app.py, or starter/app.py for a clone of the kit), a .zip of
such a folder, or a single .py file. Grading always runs on a scratch copy,
never in the instructor's folder. A zip is untrusted: entries that would
land outside the copy (absolute paths, ``..``, links), too many files or too
many bytes make it unusable, with a message, never a crash.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# A submission is a small web app: these bounds are far above any honest
# one and far below what would fill the grader's disk.
MAX_FILES = 2000
MAX_BYTES = 64 * 1024 * 1024
SKIPPED_NAMES = {"__pycache__", ".git", ".venv", "venv", "node_modules", ".pytest_cache"}


class SubmissionError(ValueError):
    """This entry can't be graded; the message says why, for the instructor's table."""


@dataclass(frozen=True)
class Submission:
    id: str  # a safe name for files and columns, derived from the entry's name
    source: Path  # the entry in the instructor's folder

    @property
    def name(self) -> str:
        """The entry's name as the instructor's folder gives it, without .zip or .py: what an LMS matches on."""
        return exact_name(self.source.name)

    @property
    def kind(self) -> str:
        if self.source.is_dir():
            return "folder"
        return "zip" if self.source.suffix.lower() == ".zip" else "file"


def exact_name(entry: str) -> str:
    """``entry`` without its .zip or .py, as text: jane.doe@uni.edu, 李雷 and zoë stay what they are.

    Two changes only, both for an LMS to match it: the composed Unicode form
    (macOS file systems hand back zoë decomposed, a gradebook holds it
    composed; they look the same), and bytes that are not UTF-8 (possible
    in a Linux file name) become U+FFFD instead of failing every output.
    """
    stem = entry[: -len(".zip")] if entry.lower().endswith(".zip") else entry
    stem = stem[: -len(".py")] if stem.endswith(".py") else stem
    text = os.fsencode(stem).decode("utf-8", "replace")
    return unicodedata.normalize("NFC", text)


def safe_id(name: str) -> str:
    """A file-system and spreadsheet safe id: letters, digits, dot, dash, underscore."""
    stem = name[: -len(".zip")] if name.lower().endswith(".zip") else name
    stem = stem[: -len(".py")] if stem.endswith(".py") else stem
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()  # zoë -> zoe
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_stem).strip("._") or "submission"
    return cleaned[:80]


def discover(folder: Path) -> list[Submission]:
    """Every entry of ``folder`` (hidden ones aside), with ids made unique, sorted by id."""
    submissions: list[Submission] = []
    taken: set[str] = set()
    for entry in sorted(folder.iterdir(), key=lambda path: path.name):
        if entry.name.startswith(".") or entry.name in SKIPPED_NAMES:
            continue
        if entry.is_file() and entry.suffix.lower() not in (".py", ".zip"):
            continue  # a stray README or spreadsheet in the folder is not a submission
        base = identifier = safe_id(entry.name)
        counter = 2
        while identifier in taken:
            identifier, counter = f"{base}-{counter}", counter + 1
        taken.add(identifier)
        submissions.append(Submission(identifier, entry))
    return submissions


def content_hash(submission: Submission) -> str:
    """A hash of the submission's bytes: grading is redone only when it changes."""
    digest = hashlib.sha256()
    source = submission.source
    files = [source] if source.is_file() else sorted(path for path in source.rglob("*") if path.is_file())
    for path in files:
        if any(part in SKIPPED_NAMES for part in path.parts):
            continue
        digest.update(str(path.relative_to(source.parent)).encode() + b"\0")
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def find_app(root: Path) -> Path:
    for candidate in (root / "app.py", root / "starter" / "app.py"):
        if candidate.is_file():
            return candidate
    # A zip of a folder usually holds that folder: look one level down.
    folders = [path for path in root.iterdir() if path.is_dir() and path.name not in SKIPPED_NAMES]
    if len(folders) == 1:
        return find_app(folders[0])
    raise SubmissionError("no app.py found (looked for app.py and starter/app.py)")


def copy_folder(source: Path, destination: Path) -> None:
    files = 0
    size = 0
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part in SKIPPED_NAMES for part in relative.parts) or path.is_symlink():
            continue
        if path.is_dir():
            (destination / relative).mkdir(parents=True, exist_ok=True)
            continue
        files += 1
        size += path.stat().st_size
        if files > MAX_FILES or size > MAX_BYTES:
            raise SubmissionError(f"too large: more than {MAX_FILES} files or {MAX_BYTES // 2**20} MiB")
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination / relative)


def extract_zip(source: Path, destination: Path) -> None:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as error:
        raise SubmissionError(f"not a readable zip file ({error})") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_FILES:
            raise SubmissionError(f"the zip holds {len(members)} entries; at most {MAX_FILES} are accepted")
        if sum(member.file_size for member in members) > MAX_BYTES:
            raise SubmissionError(f"the zip unpacks to more than {MAX_BYTES // 2**20} MiB")
        written = 0
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or (member.external_attr >> 16) & 0o170000 == stat.S_IFLNK:
                raise SubmissionError(f"the zip entry {member.filename!r} would be written outside the submission")
            if any(part in SKIPPED_NAMES for part in name.parts) or member.is_dir():
                continue
            target = destination.joinpath(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as packed, target.open("wb") as unpacked:
                # Count what really comes out: the sizes in a zip's directory can lie.
                while block := packed.read(1 << 20):
                    written += len(block)
                    if written > MAX_BYTES:
                        raise SubmissionError(f"the zip unpacks to more than {MAX_BYTES // 2**20} MiB")
                    unpacked.write(block)


def prepare(submission: Submission, scratch: Path) -> Path:
    """Copy the submission into ``scratch`` and return the path of its app.py there."""
    scratch.mkdir(parents=True, exist_ok=True)
    source = submission.source
    try:
        if submission.kind == "file":
            shutil.copyfile(source, scratch / "app.py")
            return scratch / "app.py"
        if submission.kind == "zip":
            extract_zip(source, scratch)
        else:
            copy_folder(source, scratch)
    except OSError as error:
        raise SubmissionError(f"could not be copied ({error.strerror or error})") from None
    return find_app(scratch)
