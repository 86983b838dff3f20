"""Numbers and rules from the contract in exercises/, shared by probes, checks and reports."""

from __future__ import annotations

import re

# Exercise 1: a token is a word with the whitespace after it, or a leading run of whitespace.
TOKEN_PATTERN = re.compile(r"\S+\s*|\s+")
# Exercise 2: serving a 256 MiB file may raise the server's resident memory by at most this.
BIGFILE_SIZE = 256 * 1024 * 1024
MEMORY_BOUND = 32 * 1024 * 1024
# How much of the reference's download is timed again beside a slow download
# in a batch: a quarter of the file gives its speed for a quarter of the CPU.
REMEASURE_BYTES = 64 * 1024 * 1024
