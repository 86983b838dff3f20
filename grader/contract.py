"""The contract's rules that several exercises share: the fake model's token.

What one exercise alone uses is in its folder (``grader/exercises/<name>/contract.py``).
"""

from __future__ import annotations

import re

# A token is a word with the whitespace after it, or a leading run of
# whitespace: what the exercises that stream a fake model's reply send one by one.
TOKEN_PATTERN = re.compile(r"\S+\s*|\s+")


def token_ends(text: str) -> list[int]:
    """The byte offset (UTF-8) just after each contract token of ``text``."""
    ends, position = [], 0
    for token in TOKEN_PATTERN.findall(text):
        position += len(token.encode("utf-8"))
        ends.append(position)
    return ends
