"""Numbers and rules from the contract in exercises/, shared by probes, checks and reports."""

from __future__ import annotations

import re

# Exercise 1: a token is a word with the whitespace after it, or a leading run of whitespace.
TOKEN_PATTERN = re.compile(r"\S+\s*|\s+")
# Exercise 1: what GET /chat-stream uses when a parameter is absent, and the delays it accepts.
CHAT_DEFAULT_PROMPT = "Hello from FastAPI!"
CHAT_DEFAULT_DELAY = 0.2
CHAT_DELAY_LIMITS = ("0", "5")
# Exercise 2: serving a 256 MiB file may raise the server's resident memory by at most this.
BIGFILE_SIZE = 256 * 1024 * 1024
MEMORY_BOUND = 32 * 1024 * 1024
# Exercise 2: the file served when BIGFILE_PATH is not set, relative to the folder the server starts in.
BIGFILE_DEFAULT_PATH = "sample-data/bigfile.bin"
# How much of the reference's download is timed again beside a slow download
# in a batch: a quarter of the file gives its speed for a quarter of the CPU.
REMEASURE_BYTES = 64 * 1024 * 1024
# Exercise 3: the interval GET /events uses when it is absent, and the limits it accepts.
EVENTS_DEFAULT_INTERVAL = 1.0
EVENTS_INTERVAL_LIMITS = ("0.01", "60")
EVENTS_COUNT_MINIMUM = "1"


def token_ends(text: str) -> list[int]:
    """The byte offset (UTF-8) just after each contract token of ``text``."""
    ends, position = [], 0
    for token in TOKEN_PATTERN.findall(text):
        position += len(token.encode("utf-8"))
        ends.append(position)
    return ends
