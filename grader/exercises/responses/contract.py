"""Exercise 4's contract as data: the routes, their defaults, and the answers they must give."""

from __future__ import annotations

HELLO = "/hello"
PAGE = "/page"
SQUARES = "/squares.csv"
SQUARES_STREAM = "/squares-stream.csv"
BYTES = "/bytes"
OLD_PAGE = "/old-page"

DEFAULT_NAME = "world"
DEFAULT_ROWS = 3
DEFAULT_COUNT = 256  # /bytes?n=

# What the page must hold (tags compared without regard to case, as browsers do).
PAGE_HEADING = "<h1>Responses</h1>"
CSV_FILENAME = "squares.csv"
REDIRECT_STATUS = 301
REDIRECT_TARGET = PAGE

# The media type of each route's answer, and whether it must carry Content-Length (sent whole).
MEDIA_TYPES = {
    HELLO: "text/plain",
    PAGE: "text/html",
    SQUARES: "text/csv",
    BYTES: "application/octet-stream",
}
COMPLETE = (HELLO, PAGE, SQUARES, BYTES)


def hello_text(name: str | None) -> bytes:
    return f"Hello, {DEFAULT_NAME if name is None else name}!".encode()


def squares_table(rows: int | None) -> list[list[str]]:
    """The CSV's rows as cells, the header row first."""
    count = DEFAULT_ROWS if rows is None else rows
    return [["n", "square"], *([str(n), str(n * n)] for n in range(1, count + 1))]


def counting_bytes(n: int | None) -> bytes:
    return bytes(i % 256 for i in range(DEFAULT_COUNT if n is None else n))
