"""Find the submissions in a folder and make a scratch copy of each to grade.

Each entry of the folder is one student's submission, named by the entry: a
folder (its app.py, or starter/app.py for a clone of the kit), a .zip of
such a folder, or a single .py file. Grading always runs on a scratch copy,
never in the instructor's folder. A zip is untrusted: entries that would
land outside the copy (absolute paths, ``..``, links), too many files or too
many bytes make it unusable, with a message, never a crash.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import re
import shutil
import stat
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

# A submission is a small web app: these bounds are far above any honest
# one and far below what would fill the grader's disk.
MAX_FILES = 2000
MAX_BYTES = 64 * 1024 * 1024
# Folders nested deeper than this are refused, not walked: an honest project
# is a few levels deep, and a tree a thousand deep (a zip or a git clone can
# hold one) would otherwise exhaust recursion or the length of a path.
MAX_DEPTH = 40
SKIPPED_NAMES = {"__pycache__", ".git", ".venv", "venv", "node_modules", ".pytest_cache"}
SUBMISSION_SUFFIXES = (".py", ".zip")


class SubmissionError(ValueError):
    """This entry can't be graded; the message says why, for the instructor's table."""


@dataclass(frozen=True)
class Submission:
    id: str  # a safe name for files and columns, derived from the entry's name
    source: Path  # the entry in the instructor's folder
    keep_suffix: bool = False  # another entry has the same name without .zip or .py (bob.py beside bob/)

    @property
    def name(self) -> str:
        """The entry's name as the instructor's folder gives it, without .zip or .py: what an LMS matches on.

        With its .zip or .py when that alone tells it from another entry: two
        rows of one name would match one student in a gradebook twice.
        """
        return exact_name(self.source.name, keep_suffix=self.keep_suffix)

    @property
    def kind(self) -> str:
        """folder, zip, file, link or other (a device, a pipe): from the entry itself, links not followed."""
        try:
            mode = self.source.lstat().st_mode
        except OSError:
            return "other"
        if stat.S_ISLNK(mode):
            return "link"
        if stat.S_ISDIR(mode):
            return "folder"
        if not stat.S_ISREG(mode):
            return "other"
        return "zip" if self.source.suffix.lower() == ".zip" else "file"


def exact_name(entry: str, *, keep_suffix: bool = False) -> str:
    """``entry`` without its .zip or .py, as text: jane.doe@uni.edu, 李雷 and zoë stay what they are.

    Two changes only, both for an LMS to match it: the composed Unicode form
    (macOS file systems hand back zoë decomposed, a gradebook holds it
    composed; they look the same), and bytes that are not UTF-8 (possible
    in a Linux file name) become U+FFFD instead of failing every output.
    """
    stem = entry
    if not keep_suffix:
        stem = stem[: -len(".zip")] if stem.lower().endswith(".zip") else stem
        stem = stem[: -len(".py")] if stem.endswith(".py") else stem
    text = os.fsencode(stem).decode("utf-8", "replace")
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class Entry:
    """One entry of a submission's tree, as found: never a link followed."""

    path: Path
    relative: PurePosixPath
    kind: str  # "folder", "file", "link" or "other"


def safe_id(name: str) -> str:
    """A file-system and spreadsheet safe id: letters, digits, dot, dash, underscore."""
    stem = name[: -len(".zip")] if name.lower().endswith(".zip") else name
    stem = stem[: -len(".py")] if stem.endswith(".py") else stem
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()  # zoë -> zoe
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_stem).strip("._") or "submission"
    return cleaned[:80]


def discover(folder: Path) -> list[Submission]:
    """Every entry of ``folder`` (hidden ones aside), with ids made unique, sorted by id.

    A folder, a .py or a .zip is a submission, and so is a link that looks
    like one (it will be refused, with the reason, rather than followed).
    Ids are unique ignoring case, so that no two share a folder on a
    case-insensitive disk.
    """
    submissions: list[Submission] = []
    taken: set[str] = set()
    for entry in sorted(folder.iterdir(), key=lambda path: path.name):
        if entry.name.startswith(".") or entry.name in SKIPPED_NAMES:
            continue
        if not looks_like_submission(entry):
            continue  # a stray README or spreadsheet in the folder is not a submission
        base = identifier = safe_id(entry.name)
        counter = 2
        while identifier.lower() in taken:
            identifier, counter = f"{base}-{counter}", counter + 1
        taken.add(identifier.lower())
        submissions.append(Submission(identifier, entry))
    names = Counter(submission.name for submission in submissions)
    return [dataclasses.replace(item, keep_suffix=True) if names[item.name] > 1 else item for item in submissions]


def looks_like_submission(entry: Path) -> bool:
    if entry.suffix.lower() in SUBMISSION_SUFFIXES:
        return True
    try:
        mode = entry.lstat().st_mode
        # stat, not open: learning that a link points at a folder reads nothing through it.
        return stat.S_ISDIR(mode) or (stat.S_ISLNK(mode) and entry.is_dir())
    except OSError:
        return False


def walk(root: Path) -> Iterator[Entry]:
    """The tree under ``root`` in name order, depth first, without recursion and without following links.

    Skips the folders a project keeps out of version control. Raises
    SubmissionError past ``MAX_DEPTH`` levels or ``MAX_FILES`` entries.
    """
    count = 0

    def listing(folder: Path, relative: PurePosixPath) -> Iterator[Entry]:
        nonlocal count
        with os.scandir(folder) as found:
            items = sorted(found, key=lambda item: item.name)
        entries = []
        for item in items:
            if item.name in SKIPPED_NAMES:
                continue
            mode = item.stat(follow_symlinks=False).st_mode
            kind = (
                "link"
                if stat.S_ISLNK(mode)
                else "folder"
                if stat.S_ISDIR(mode)
                else "file"
                if stat.S_ISREG(mode)
                else "other"
            )
            count += 1
            if count > MAX_FILES:
                raise SubmissionError(f"too large: more than {MAX_FILES} files and folders")
            entries.append(Entry(Path(item.path), relative / item.name, kind))
        return iter(entries)

    pending = [listing(root, PurePosixPath())]  # one iterator per open folder: the path from the root
    while pending:
        entry = next(pending[-1], None)
        if entry is None:
            pending.pop()
            continue
        yield entry
        if entry.kind == "folder":
            if len(entry.relative.parts) >= MAX_DEPTH:
                raise SubmissionError(f"folders nested more than {MAX_DEPTH} deep ({str(entry.relative)[:60]}...)")
            pending.append(listing(entry.path, entry.relative))


def open_regular(path: Path) -> BinaryIO | None:
    """``path`` opened for reading if it is a regular file, without following a link; else None.

    O_NONBLOCK: a pipe swapped in after the walk must not block the open.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        if error.errno == errno.ELOOP:  # a link: not followed
            return None
        raise
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        return None
    return os.fdopen(descriptor, "rb")


def content_hash(submission: Submission) -> str:
    """A hash of the submission's bytes: grading is redone only when it changes.

    Links are hashed by where they point, never followed; anything not a
    file, folder or link is left out. Raises SubmissionError for a tree that
    can't be read or is refused.
    """
    digest = hashlib.sha256()
    source = submission.source
    try:
        if submission.kind == "link":
            digest.update(b"link\0" + os.fsencode(os.readlink(source)))
        elif submission.kind in ("file", "zip"):
            hash_file(digest, source, PurePosixPath(source.name), MAX_BYTES * 2)
        elif submission.kind == "folder":
            size = 0
            for entry in walk(source):
                name = PurePosixPath(source.name) / entry.relative
                if entry.kind == "file":
                    size += hash_file(digest, entry.path, name, MAX_BYTES - size)
                elif entry.kind == "link":
                    digest.update(os.fsencode(str(name)) + b"\0link\0" + os.fsencode(os.readlink(entry.path)) + b"\0")
    except OSError as error:
        raise SubmissionError(f"could not be read ({error.strerror or error})") from None
    return digest.hexdigest()


def hash_file(digest: Any, path: Path, name: PurePosixPath, allowed: int) -> int:
    """Add ``name`` and the bytes of ``path`` to ``digest``; the number of bytes read."""
    file = open_regular(path)
    if file is None:
        return 0
    read = 0
    digest.update(os.fsencode(str(name)) + b"\0")
    with file:
        while block := file.read(1 << 20):
            read += len(block)
            if read > allowed:
                raise SubmissionError(f"too large: more than {MAX_BYTES // 2**20} MiB")
            digest.update(block)
    return read


def find_app(root: Path) -> Path:
    folder = root
    for _ in range(MAX_DEPTH):
        for candidate in (folder / "app.py", folder / "starter" / "app.py"):
            if candidate.is_file():
                return candidate
        # A student who uploads one file names it as they like (Gradescope
        # keeps the name: solution.py, jane_doe.py): a lone Python file is the app.
        sources = [path for path in folder.iterdir() if path.suffix == ".py" and path.is_file()]
        if len(sources) == 1:
            return as_app_file(sources[0])
        # A zip of a folder usually holds that folder: look one level down.
        folders = [path for path in folder.iterdir() if path.is_dir() and path.name not in SKIPPED_NAMES]
        if len(folders) != 1:
            break
        folder = folders[0]
    raise SubmissionError("no app.py found (looked for app.py and starter/app.py, or one .py file on its own)")


def as_app_file(source: Path) -> Path:
    """``source`` under the name every grade uses (its folder is a scratch copy, so renaming loses nothing)."""
    return source.rename(source.with_name("app.py"))


def copy_folder(source: Path, destination: Path) -> None:
    """Copy the files and folders of ``source``; links and anything else are left out, never followed."""
    size = 0
    destination.mkdir(parents=True, exist_ok=True)
    for entry in walk(source):
        target = destination.joinpath(*entry.relative.parts)
        if entry.kind == "folder":
            target.mkdir()
            continue
        if entry.kind != "file":
            continue
        file = open_regular(entry.path)
        if file is None:
            continue
        with file, target.open("xb") as copy:
            while block := file.read(1 << 20):
                size += len(block)
                if size > MAX_BYTES:
                    raise SubmissionError(f"too large: more than {MAX_FILES} files or {MAX_BYTES // 2**20} MiB")
                copy.write(block)


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
            if len(name.parts) > MAX_DEPTH:
                raise SubmissionError(f"the zip holds folders nested more than {MAX_DEPTH} deep")
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
    kind = submission.kind
    if kind == "link":
        raise SubmissionError("it is a link, and links are not followed: put the files themselves in the class folder")
    if kind == "other":
        raise SubmissionError("it is neither a file nor a folder")
    try:
        if kind == "file":
            file = open_regular(source)
            if file is None:
                raise SubmissionError("it is not a regular file")
            with file, (scratch / "app.py").open("xb") as copy:
                shutil.copyfileobj(file, copy)
            return scratch / "app.py"
        if kind == "zip":
            extract_zip(source, scratch)
        else:
            copy_folder(source, scratch)
    except OSError as error:
        raise SubmissionError(f"could not be copied ({error.strerror or error})") from None
    return find_app(scratch)
