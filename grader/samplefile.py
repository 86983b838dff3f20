"""Make large sample files, the files an exercise's route serves (its record's ``sample``).

The bytes are random with every newline byte replaced: a file with no newline
at all is the case that exposes ``for line in open(path, "rb")``, which reads
such a file as one single line as big as the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from grader.files import cache_dir

BLOCK_SIZE = 1024 * 1024
NO_NEWLINES = bytes.maketrans(b"\n", b"\x0b")

SIZE_PATTERN = re.compile(r"(\d+)\s*([KMG]i?B?|B)?", re.IGNORECASE)
SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int:
    """'256M', '64MiB', '1G', '4096' -> bytes. Raises ValueError on anything else."""
    match = SIZE_PATTERN.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a size: {text!r} (try 64M or 1G)")
    number, unit = match.groups()
    return int(number) * SIZE_UNITS[(unit or "")[:1].lower()]


def write_sample_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes with no newline byte to ``path``; return their sha256.

    Written under a name of its own, then renamed: never a half-written file
    under the real name, and two processes making it at once don't mix
    their bytes.
    """
    digest = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            remaining = size
            while remaining > 0:
                block = os.urandom(min(BLOCK_SIZE, remaining)).translate(NO_NEWLINES)
                file.write(block)
                digest.update(block)
                remaining -= len(block)
        os.chmod(partial, 0o644)  # mkstemp's 0600 would hide it from the isolated apps' own users
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
    return digest.hexdigest()


# The cached file is shared by every grading on the machine, and an app that
# runs as the grader's user (the ``limits`` level) can write it. So each use
# checks it against a record of its sha256 and of the file's identity and
# times when it was last hashed; the change time can't be set back, so any
# write to the file shows, and costs a new hash (and, when the bytes differ,
# a new file), never a wrong verdict for the next student.
IDENTITY_FIELDS = ("st_size", "st_ino", "st_dev", "st_mtime_ns", "st_ctime_ns")
# How long to wait for another grading that is making or checking the file.
LOCK_WAIT = 120.0


def identity(status: os.stat_result) -> dict[str, int]:
    return {name: getattr(status, name) for name in IDENTITY_FIELDS}


def verified_sample_file(path: Path, size: int) -> str:
    """The sha256 of the sample file at ``path``, checked before this use; made anew if missing or changed."""
    record_path = path.with_name(path.name + ".verified.json")
    with folder_lock(path.parent):
        record = read_record(record_path)
        try:
            status = os.lstat(path)
        except FileNotFoundError:
            status = None
        if status is not None and stat.S_ISREG(status.st_mode) and status.st_size == size and record is not None:
            if identity(status) == record["identity"]:
                return record["sha256"]
            if hash_regular_file(path) == record["sha256"]:  # touched, not changed
                write_record(record_path, record["sha256"], path)
                return record["sha256"]
        digest = write_sample_file(path, size)
        write_record(record_path, digest, path)
        return digest


def read_record(record_path: Path) -> dict | None:
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if isinstance(record.get("sha256"), str) and isinstance(record.get("identity"), dict):
            return record
    except (OSError, ValueError, AttributeError):
        pass
    return None


def write_record(record_path: Path, digest: str, path: Path) -> None:
    text = json.dumps({"sha256": digest, "identity": identity(os.lstat(path))})
    descriptor, partial = tempfile.mkstemp(prefix=f".{record_path.name}.", suffix=".partial", dir=record_path.parent)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(partial, record_path)


def hash_regular_file(path: Path) -> str | None:
    """The sha256 of ``path``, None if it is not a regular file (a link put in its place is not followed)."""
    try:
        # Not following a link, not blocking on a FIFO: where the system has those flags (Windows has neither).
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None
        digest = hashlib.sha256()
        while block := file.read(BLOCK_SIZE):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """One grading at a time checks or makes the file; past ``LOCK_WAIT`` (a holder that never lets go), go on."""
    with open(folder / ".sample-file.lock", "a") as lock:
        deadline = time.monotonic() + LOCK_WAIT
        while not try_lock(lock) and time.monotonic() <= deadline:
            time.sleep(0.05)
        yield


def try_lock(file: IO[str]) -> bool:
    """Take an exclusive lock on ``file`` without waiting; False if another process holds it."""
    if sys.platform == "win32":
        import msvcrt  # Windows: a lock on the file's first byte

        try:
            msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        import fcntl
    except ImportError:
        return True  # no file locks on this system: go on unlocked
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@dataclass(frozen=True)
class Sample:
    """A large file with no newline byte that an exercise's route serves: the grader's copy and the learner's."""

    name: str  # the grader's copy, made once and kept in a shared folder
    size: int
    kit_path: str  # the learner's copy, relative to the kit's folder: where `streamgrade sample-file` writes it
    variable: str  # the environment variable that names the file to the app

    def cached(self, folder: Path) -> tuple[Path, str]:
        """The grader's copy in ``folder`` and its sha256, made once and kept, and checked before each use."""
        path = folder / self.name
        return path, verified_sample_file(path, self.size)


def sample_folder(workdir: Path) -> Path:
    """Where the grader's sample files live: the cache, or the work folder when the cache can't be written.

    Chosen before the servers start: an isolated app sees this folder (read only) and no other.
    """
    for folder in (cache_dir(), workdir / "sample"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            continue
    raise OSError(f"could not make a folder for the grader's sample file in {workdir}")
