"""Code inside the grader's own words: `backticked` spans, shown as code and never as raw backticks.

Check titles, hints and "where to look" texts mark code the way Markdown
does. The HTML report draws each span as <code> (still escaped text: see
``spans``); the terminal has no such thing, so there the backticks go and the
code stays (``terminal_text``). Gradescope renders Markdown itself and keeps
them. Only the grader's words go through here: what an app sent is never
parsed for backticks, it is shown as it came.
"""

from __future__ import annotations

import re

# One line's span between two backticks; a lone backtick is left as it is.
CODE_SPAN = re.compile(r"`([^`\n]+)`")


def spans(text: str) -> list[tuple[bool, str]]:
    """``text`` cut into (is_code, part) pairs, in order; parts are plain strings for the template to escape."""
    parts: list[tuple[bool, str]] = []
    position = 0
    for match in CODE_SPAN.finditer(text):
        if match.start() > position:
            parts.append((False, text[position : match.start()]))
        parts.append((True, match.group(1)))
        position = match.end()
    if position < len(text) or not parts:
        parts.append((False, text[position:]))
    return parts


def terminal_text(text: str) -> str:
    """``text`` with each code span's backticks taken away: a terminal shows the code itself."""
    return CODE_SPAN.sub(lambda match: match.group(1), text)
