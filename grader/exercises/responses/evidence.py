"""Evidence for reports: each request of exercise 4 and what each app answered, side by side.

Small and capped: the headers this exercise is about and the start of each
body (text as text, anything else as hex). Whatever came from an app is
text here; renderers escape it.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.exercises.responses.recording import ResponsesRecording
from grader.recording import AppRecording, Exchange

# The headers the checks of this exercise read, in the order a reader wants them.
SHOWN_HEADERS = ("content-type", "content-length", "transfer-encoding", "content-disposition", "location")
BODY_SHOWN = 160  # characters of a text body, or bytes of another shown in hex
VALUE_SHOWN = 200  # characters of one header value


@dataclass(frozen=True)
class Answer:
    """What one app answered to one request, as a reader needs to see it."""

    status: int | None
    headers: list[tuple[str, str]]  # SHOWN_HEADERS that came, as they came
    body: str  # the start of the body: text, or bytes in hex when it is not UTF-8 text
    hex: bool
    size: int  # body bytes received
    more: bool  # the body is longer than what is shown
    error: str | None


@dataclass(frozen=True)
class Row:
    request: str  # "GET /hello?name=Ada"
    learner: Answer | None
    reference: Answer | None


@dataclass(frozen=True)
class ResponsesEvidence:
    rows: list[Row]

    @property
    def answered(self) -> int | None:
        """The status of the route the report names (GET /hello): a 501 there is the starter's."""
        first = self.rows[0].learner if self.rows else None
        return first.status if first else None


def readable_text(body: bytes) -> str | None:
    """The body as text when it is UTF-8 with no control characters but line breaks and tabs, else None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if all(char.isprintable() or char in "\r\n\t" for char in text) else None


def answer(exchange: Exchange) -> Answer:
    body = exchange.body
    text = readable_text(body)
    if text is None:
        shown, length = body[:BODY_SHOWN].hex(" "), len(body)
    else:
        shown, length = text[:BODY_SHOWN], len(text)
    headers = [
        (name, value[:VALUE_SHOWN]) for name in SHOWN_HEADERS for key, value in exchange.headers if key.lower() == name
    ]
    more = length > BODY_SHOWN or exchange.truncated
    return Answer(exchange.status, headers, shown, text is None, exchange.received, more, exchange.error)


def rows(learner: ResponsesRecording | None, reference: ResponsesRecording | None) -> list[Row]:
    """One row per request, in the order sent; a side that has no recording shows nothing."""
    sides = [side.exchanges() if side is not None else None for side in (learner, reference)]
    model = next((exchanges for exchanges in sides if exchanges is not None), [])
    found = []
    for index, exchange in enumerate(model):
        mine, theirs = (
            answer(exchanges[index]) if exchanges is not None and index < len(exchanges) else None
            for exchanges in sides
        )
        found.append(Row(f"{exchange.method} {exchange.path}", mine, theirs))
    return found


def collect(learner: ResponsesRecording | None, reference: ResponsesRecording | None) -> ResponsesEvidence | None:
    if learner is None and reference is None:
        return None
    return ResponsesEvidence(rows(learner, reference))


def evidence(app: AppRecording, reference: AppRecording) -> ResponsesEvidence | None:
    return collect(app.responses, reference.responses)
