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
import textwrap

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


def wrapped(text: str, width: int, initial_indent: str = "", subsequent_indent: str = "") -> list[str]:
    """``text`` in lines of at most ``width`` where it can be: never cut inside a word or at a hyphen.

    A path (exercises/01-chat-stream.md), a URL or a command stays on one
    line, so it can be copied as it is; a word longer than a line overflows it.
    """
    return textwrap.wrap(
        text,
        width,
        initial_indent=initial_indent,
        subsequent_indent=subsequent_indent,
        break_on_hyphens=False,
        break_long_words=False,
    )


# Holds a code span's spaces while its text is wrapped: a character no grader text uses.
KEEP_TOGETHER = "\ue000"


def terminal_lines(text: str, width: int, initial_indent: str = "", subsequent_indent: str = "") -> list[str]:
    """The grader's words for a terminal: code spans without backticks, each kept on one line."""
    whole = CODE_SPAN.sub(lambda match: match.group(1).replace(" ", KEEP_TOGETHER), text)
    return [line.replace(KEEP_TOGETHER, " ") for line in wrapped(whole, width, initial_indent, subsequent_indent)]
