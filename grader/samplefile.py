"""Make large sample files for the download exercise.

The bytes are random with every newline byte replaced: a file with no newline
at all is the case that exposes ``for line in open(path, "rb")``, which reads
such a file as one single line as big as the file.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

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
    """Write ``size`` random bytes with no newline byte to ``path``; return their sha256."""
    digest = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as file:
        remaining = size
        while remaining > 0:
            block = os.urandom(min(BLOCK_SIZE, remaining)).translate(NO_NEWLINES)
            file.write(block)
            digest.update(block)
            remaining -= len(block)
    partial.replace(path)  # never leave a half-written file under the real name
    return digest.hexdigest()
