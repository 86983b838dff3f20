"""What the probe of exercise 4 observed: one exchange per request, with what it asked."""

from __future__ import annotations

from dataclasses import dataclass

from grader.exercises.responses.contract import BYTES, HELLO, PAGE, SQUARES
from grader.recording import Exchange


@dataclass
class Asked:
    """A request and its answer; ``value`` is the query parameter sent, None when it was left to its default."""

    value: str | None
    exchange: Exchange


@dataclass
class ResponsesRecording:
    origin: str  # scheme, host and port the requests went to: what a relative Location resolves against
    hello: list[Asked]  # GET /hello?name=...
    page: Exchange
    squares: list[Asked]  # GET /squares.csv?rows=...
    squares_stream: list[Asked]  # GET /squares-stream.csv?rows=... (the same values)
    counting: list[Asked]  # GET /bytes?n=...
    old_page: Exchange  # not followed

    def complete(self) -> list[tuple[str, Exchange]]:
        """Every answer that must be sent whole, with its route."""
        return [
            *((HELLO, asked.exchange) for asked in self.hello),
            (PAGE, self.page),
            *((SQUARES, asked.exchange) for asked in self.squares),
            *((BYTES, asked.exchange) for asked in self.counting),
        ]

    def exchanges(self) -> list[Exchange]:
        """Every exchange, in the order they were sent."""
        return [
            *(asked.exchange for asked in self.hello),
            self.page,
            *(asked.exchange for asked in self.squares),
            *(asked.exchange for asked in self.squares_stream),
            *(asked.exchange for asked in self.counting),
            self.old_page,
        ]
