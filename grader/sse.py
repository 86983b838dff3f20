"""A Server-Sent Events parser that follows the WHATWG algorithm and keeps evidence.

It reads a whole recorded body (bytes) the way a browser's EventSource would
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation)
and returns the events the browser would dispatch, each with the byte offsets
it came from. Beside that it lists *problems*: lines the browser silently
ignores or an event it never dispatches. The spec forgives them, so they are
not errors to a browser, but to a learner they are almost always a bug (a
misspelt field, a missing blank line), and the offset points at the first one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

BOM = b"\xef\xbb\xbf"
KNOWN_FIELDS = ("event", "data", "id", "retry")


@dataclass(frozen=True)
class Event:
    """One dispatched event, as ``MessageEvent`` would show it."""

    data: str
    type: str
    last_event_id: str
    id_field: str | None  # the id given in this event's own lines, if any
    start: int  # offset of the event's first line
    end: int  # offset just after the blank line that dispatched it


@dataclass(frozen=True)
class Problem:
    """Something a browser ignores that was almost certainly meant otherwise."""

    offset: int
    line: str
    message: str


@dataclass
class ParsedStream:
    events: list[Event] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: int | None = None
    problems: list[Problem] = field(default_factory=list)
    # Where the body stopped inside an event or a line. A browser drops that
    # event; whether it is a fault depends on whether the stream was meant to
    # end there (count reached) or was cut by the client.
    unfinished: Problem | None = None

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None


# CRLF first: a CR followed by LF is one line ending, not two.
LINE_ENDING = re.compile(rb"\r\n|\r|\n")


def iter_lines(body: bytes, start: int) -> Iterator[tuple[int, bytes, bool]]:
    """Split on CRLF, LF or CR: (offset, line, terminated) for each line.

    The last line is ``terminated=False`` when the body ends in mid-line.
    One pass of one regular expression: searching for the next LF and the
    next CR separately from each line rescans the rest of the body when one
    of them is absent, which made a body of bare CRs quadratic.
    """
    position = start
    for ending in LINE_ENDING.finditer(body, start):
        yield position, body[position : ending.start()], True
        position = ending.end()
    if position < len(body):
        yield position, body[position:], False


def parse(body: bytes) -> ParsedStream:
    """Interpret a complete event stream the way a browser would."""
    result = ParsedStream()
    start = len(BOM) if body.startswith(BOM) else 0

    data_buffer: list[str] = []
    event_type = ""
    last_event_id = ""
    event_id_field: str | None = None
    event_start: int | None = None

    def note(offset: int, raw: bytes, message: str) -> None:
        result.problems.append(Problem(offset, raw.decode("utf-8", "replace"), message))

    for offset, raw, terminated in iter_lines(body, start):
        if not terminated:
            result.unfinished = Problem(
                offset,
                raw.decode("utf-8", "replace"),
                "the stream ended in the middle of a line, so the browser never reads it",
            )
            break
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("utf-8", "replace")
            note(offset, raw, "this line is not valid UTF-8; the browser shows U+FFFD in its place")

        if line == "":
            if event_start is not None and data_buffer:
                data = "\n".join(data_buffer)
                end = offset + (2 if body[offset : offset + 2] == b"\r\n" else 1)
                result.events.append(
                    Event(data, event_type or "message", last_event_id, event_id_field, event_start, end)
                )
            data_buffer, event_type, event_id_field, event_start = [], "", None, None
            continue
        if line.startswith(":"):
            result.comments.append(line[1:].removeprefix(" "))
            continue

        name, colon, value = line.partition(":")
        value = value.removeprefix(" ") if colon else ""
        if event_start is None:
            event_start = offset
        if name == "data":
            data_buffer.append(value)
        elif name == "event":
            event_type = value
        elif name == "id":
            if "\0" in value:
                note(offset, raw, "an id containing a NUL character is ignored by the browser")
            else:
                last_event_id = value
                event_id_field = value
        elif name == "retry":
            if value.isascii() and value.isdigit():
                result.retry = int(value)
            else:
                note(offset, raw, "retry must be a whole number of milliseconds; the browser ignores this line")
        else:
            hint = next((known for known in KNOWN_FIELDS if name.strip().lower().startswith(known)), None)
            message = f"unknown field name {name!r}; the browser ignores this line"
            if hint:
                message += f" (did you mean '{hint}: ...'?)"
            note(offset, raw, message)

    if event_start is not None and result.unfinished is None:
        result.unfinished = Problem(
            event_start,
            "",
            "the stream ended before the blank line that ends this event, so the browser drops it",
        )
    return result
