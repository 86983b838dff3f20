"""The cached sample file is checked before each use: a rewritten cache is made anew, never served.

Every grading on a machine shares the file, and an app under ``limits``
runs as the grader's user, so it can write it. A changed file must cost a
new hash (and a new file), never a wrong bigfile.integrity verdict for the
next student.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from grader.samplefile import verified_sample_file

SIZE = 3 * 1024 * 1024 + 17  # a few blocks and a partial one


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def cached(tmp_path) -> tuple[Path, str]:
    path = tmp_path / "sample.bin"
    return path, verified_sample_file(path, SIZE)


def test_the_file_is_made_once_and_then_reused_unhashed(cached, monkeypatch):
    path, digest = cached
    assert sha256(path) == digest and path.stat().st_size == SIZE and b"\n" not in path.read_bytes()
    made = path.stat().st_ino
    # Unchanged since it was hashed: its record answers, the bytes are not read again.
    monkeypatch.setattr("grader.samplefile.hash_regular_file", lambda _: pytest.fail("hashed again"))
    assert verified_sample_file(path, SIZE) == digest
    assert path.stat().st_ino == made


def test_a_rewritten_file_is_made_anew_even_with_its_times_put_back(cached):
    path, _ = cached
    before = path.stat()
    tampered = b"\n" * SIZE  # the same size, and every byte a newline
    path.write_bytes(tampered)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the change time can't be put back
    again = verified_sample_file(path, SIZE)
    assert path.read_bytes() != tampered
    assert sha256(path) == again


def test_a_file_touched_but_unchanged_is_hashed_again_and_kept(cached):
    path, digest = cached
    made = path.stat().st_ino
    os.utime(path)
    assert verified_sample_file(path, SIZE) == digest
    assert path.stat().st_ino == made


@pytest.mark.parametrize("damage", ["link", "record", "truncated"])
def test_a_file_replaced_or_a_record_spoiled_is_made_anew(cached, damage):
    path, _ = cached
    record = path.with_name(path.name + ".verified.json")
    if damage == "link":
        target = path.with_name("elsewhere.bin")
        os.replace(path, target)
        path.symlink_to(target)
    elif damage == "record":
        record.write_text('{"sha256": "0", "identity": 7}')
    else:
        with path.open("r+b") as file:
            file.truncate(SIZE - 1)
    digest = verified_sample_file(path, SIZE)
    assert not path.is_symlink() and path.stat().st_size == SIZE
    assert sha256(path) == digest
