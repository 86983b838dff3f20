"""Exercise 4: answers sent whole (text, HTML, a CSV download, bytes, a redirect), and one streamed.

No check here times anything: each judges what a client reads in the status
line, the headers and the bytes of the body.
"""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import unquote, urljoin, urlsplit

from grader.checkapi import CheckFailed, NotApplicable, check
from grader.checks._common import excerpt, require_answer, require_status
from grader.exercises.responses.contract import (
    BYTES,
    CSV_FILENAME,
    DEFAULT_COUNT,
    DEFAULT_NAME,
    DEFAULT_ROWS,
    HELLO,
    MEDIA_TYPES,
    OLD_PAGE,
    PAGE,
    PAGE_HEADING,
    REDIRECT_STATUS,
    REDIRECT_TARGET,
    SQUARES,
    SQUARES_STREAM,
    counting_bytes,
    hello_text,
    squares_table,
)
from grader.exercises.responses.recording import Asked, ResponsesRecording
from grader.recording import Crash, Exchange
from grader.results import crash_details

BASE = "http://127.0.0.1:8000"
JSON_HINT = (
    "A route that returns a value has it turned into JSON. Return a response object instead "
    "(`PlainTextResponse(...)`, `HTMLResponse(...)`, `Response(content=..., media_type=...)`), or name the class "
    "in the decorator: `@app.get(..., response_class=PlainTextResponse)`."
)
# The heading, with any attributes and spaces, in any case: what a browser reads as it.
HEADING = re.compile(r"<h1(?:\s[^>]*)?>\s*Responses\s*</h1\s*>", re.IGNORECASE)
DOCTYPE = re.compile(r"<!doctype\s+html\s*>", re.IGNORECASE)
# Bytes of a body shown in hex when it is not the one expected.
HEX_SHOWN = 24


def request_line(path: str, parameter: str, asked: Asked) -> str:
    if asked.value is None:
        return f"GET {path} (no {parameter} parameter)"
    # A name with spaces or quotes is shown quoted; a number as it was sent.
    shown = asked.value if asked.value.isalnum() else repr(asked.value)
    return f"GET {path}?{parameter}={shown}"


def json_string(body: bytes) -> str | None:
    """The text a body holds when it is a JSON string (what returning a str from a route sends), else None."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def json_instead(exchange: Exchange, what: str) -> None:
    """Fail when the answer is JSON (a route that returned a plain value), naming what it should have been."""
    if exchange.media_type != "application/json":
        return
    text = json_string(exchange.body)
    shape = "a JSON string, quotes and all" if text is not None else "JSON"
    raise CheckFailed(
        f"{what} was answered with {shape} (Content-Type: application/json): {excerpt(exchange.body)}. "
        "FastAPI turned the value your route returned into JSON.",
        hint=JSON_HINT,
        evidence={"content_type": exchange.header("content-type"), "body": excerpt(exchange.body)},
    )


def require_media_type(exchange: Exchange, what: str, expected: str, hint: str) -> None:
    """The media type must be ``expected``; a charset, when a text type has one, must be UTF-8."""
    content_type = exchange.header("content-type")
    if content_type is None:
        raise CheckFailed(
            f"{what} came with no Content-Type, so the client has to guess what the bytes are; expected {expected}.",
            hint=hint,
        )
    if exchange.media_type != expected:
        raise CheckFailed(f"{what} came with Content-Type: {content_type}; expected {expected}.", hint=hint)
    charset = re.search(r"charset=\"?([\w-]+)", content_type, re.IGNORECASE)
    if charset and charset.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise CheckFailed(f"{what} came with Content-Type: {content_type}; the text is UTF-8.", hint=hint)


def csv_rows(body: bytes) -> list[list[str]] | None:
    """The rows of a CSV body (either line ending; a UTF-8 byte order mark and blank lines at the end are allowed)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    while rows and not any(rows[-1]):
        rows.pop()
    return rows


def table_problem(body: bytes, rows: int) -> str | None:
    """What is wrong with a CSV body that should hold the squares of 1 to ``rows``, or None."""
    got, expected = csv_rows(body), squares_table(rows)
    if got is None:
        return "the body is not UTF-8 text"
    if got == expected:
        return None
    for number, (want, have) in enumerate(zip(expected, got, strict=False), start=1):
        if want != have:
            return f"line {number} should be {','.join(want)!r}, it is {','.join(have)!r}"
    if len(got) < len(expected):
        return f"it ends after {len(got)} line(s), where {len(expected)} were expected (a header and {rows} rows)"
    return f"it has {len(got)} lines, {len(got) - len(expected)} more than the {len(expected)} expected"


def parameter_of(value: str | None, default: int) -> int:
    return default if value is None else int(value)


def bytes_difference(body: bytes, expected: bytes) -> str:
    """Where a body first differs from the bytes expected, and how its length does."""
    said = []
    if len(body) != len(expected):
        said.append(f"{len(body):,} bytes came, where {len(expected):,} were expected")
    first = next((index for index, (a, b) in enumerate(zip(body, expected, strict=False)) if a != b), None)
    if first is not None:
        said.append(
            f"byte {first} is {body[first]}, where {expected[first]} was expected "
            f"(from there: {body[first : first + HEX_SHOWN].hex(' ')})"
        )
    return "; ".join(said)


# -- the checks -------------------------------------------------------------


@check(
    "responses.text",
    points=2,
    hint='Return `PlainTextResponse(f"Hello, {name}!")`: exactly that text, nothing added.',
    reproduce=f"curl -i '{BASE}/hello?name=Ada'",
)
def test_responses_text(app):
    """GET /hello answers exactly `Hello, <name>!`, labelled text/plain"""
    judge_text(app.responses, app.crash("responses"))


def judge_text(recording: ResponsesRecording, crash: Crash | None) -> None:
    for asked in recording.hello:
        exchange, what = asked.exchange, request_line(HELLO, "name", asked)
        require_status(exchange, 200, what, crash)
        expected = hello_text(asked.value)
        json_instead(exchange, what)
        if exchange.body != expected:
            said = f"{what} should answer exactly {excerpt(expected)}; it answered {excerpt(exchange.body)}."
            if asked.value is None:
                said += f" With no name the greeting is for {DEFAULT_NAME!r}."
            elif exchange.body.rstrip(b"\r\n") == expected:
                said += " Nothing may follow the '!', not even a newline."
            raise CheckFailed(
                said,
                hint=f'The default goes in the signature: `name: str = "{DEFAULT_NAME}"`.'
                if asked.value is None
                else "",
                evidence={"expected": excerpt(expected), "body": excerpt(exchange.body)},
            )
        require_media_type(
            exchange,
            what,
            MEDIA_TYPES[HELLO],
            "A bare `Response(...)` says nothing about what it holds: `PlainTextResponse(...)` labels it "
            "text/plain; charset=utf-8.",
        )


@check(
    "responses.html",
    points=1,
    hint="Return `HTMLResponse(page)`, or keep returning the string with `response_class=HTMLResponse`.",
    reproduce=f"curl -i {BASE}/page",
)
def test_responses_html(app):
    """GET /page answers an HTML page with the heading Responses, labelled text/html"""
    judge_html(app.responses, app.crash("responses"))


def judge_html(recording: ResponsesRecording, crash: Crash | None) -> None:
    exchange, what = recording.page, f"GET {PAGE}"
    require_status(exchange, 200, what, crash)
    json_instead(exchange, what)
    require_media_type(
        exchange,
        what,
        MEDIA_TYPES[PAGE],
        "Labelled as anything but text/html, a browser shows the page's source instead of the page.",
    )
    text = exchange.body.decode("utf-8", "replace")
    if DOCTYPE.match(text.lstrip("\ufeff \t\r\n")) is None:
        raise CheckFailed(
            f"{what} should start with <!DOCTYPE html>; it began: {excerpt(exchange.body, 80)}.",
            hint="Put `<!DOCTYPE html>` first: it tells the browser this is a modern HTML page.",
        )
    if HEADING.search(text) is None:
        raise CheckFailed(
            f"{what} should contain the heading {PAGE_HEADING}; it is not in the page: {excerpt(exchange.body)}."
        )


@check(
    "responses.csv",
    points=2,
    hint=(
        'Return `Response(content=text, media_type="text/csv")`, with text the lines "n,square", "1,1", ... '
        "joined by newlines (or written by `csv.writer` into an `io.StringIO()`)."
    ),
    reproduce=f"curl -i '{BASE}/squares.csv?rows=4'",
)
def test_responses_csv(app):
    """GET /squares.csv answers the table of squares, labelled text/csv"""
    judge_csv(app.responses, app.crash("responses"))


def judge_csv(recording: ResponsesRecording, crash: Crash | None) -> None:
    for asked in recording.squares:
        exchange, what = asked.exchange, request_line(SQUARES, "rows", asked)
        require_status(exchange, 200, what, crash)
        json_instead(exchange, what)
        require_media_type(
            exchange,
            what,
            MEDIA_TYPES[SQUARES],
            'Give the response its media type: `Response(..., media_type="text/csv")`.',
        )
        rows = parameter_of(asked.value, DEFAULT_ROWS)
        problem = table_problem(exchange.body, rows)
        if problem:
            said = f"{what} should be the header n,square and the squares of 1 to {rows}; {problem}."
            if asked.value is None:
                said += f" With no rows parameter there are {DEFAULT_ROWS} rows."
            raise CheckFailed(said, evidence={"body": excerpt(exchange.body)})


def disposition(value: str) -> tuple[str, dict[str, str]]:
    """The type of a Content-Disposition header and its parameters (names in lower case, quotes removed)."""
    kind, *parts = [part.strip() for part in value.split(";")]
    parameters = {}
    for part in parts:
        name, _, raw = part.partition("=")
        parameters[name.strip().lower()] = raw.strip().strip('"')
    return kind.lower(), parameters


def filename_of(parameters: dict[str, str]) -> str | None:
    """``filename``, or ``filename*`` (RFC 6266: charset''percent-encoded) when it is the only one."""
    if "filename" in parameters:
        return parameters["filename"]
    extended = parameters.get("filename*")
    if extended is None:
        return None
    return unquote(extended.rpartition("'")[2])


@check(
    "responses.attachment",
    points=1,
    hint=('Add the header to the response: `headers={"Content-Disposition": \'attachment; filename="squares.csv"\'}`.'),
    reproduce=f"curl -i '{BASE}/squares.csv?rows=4'",
)
def test_responses_attachment(app):
    """GET /squares.csv asks the browser to save it as squares.csv (Content-Disposition)"""
    judge_attachment(app.responses)


def judge_attachment(recording: ResponsesRecording) -> None:
    answered = [asked for asked in recording.squares if asked.exchange.status == 200]
    if not answered:
        raise NotApplicable(f"GET {SQUARES} was never answered with 200: see responses.csv.")
    for asked in answered:
        exchange, what = asked.exchange, request_line(SQUARES, "rows", asked)
        value = exchange.header("content-disposition")
        expected = f'attachment; filename="{CSV_FILENAME}"'
        if value is None:
            raise CheckFailed(
                f"{what} came with no Content-Disposition header; expected {expected}. Without it a browser "
                "shows the table instead of saving the file."
            )
        kind, parameters = disposition(value)
        if kind != "attachment":
            raise CheckFailed(
                f"{what} came with Content-Disposition: {value}; expected {expected}. "
                f"{kind!r} is not 'attachment', so a browser may show the file instead of saving it."
            )
        name = filename_of(parameters)
        if name != CSV_FILENAME:
            raise CheckFailed(
                f"{what} came with Content-Disposition: {value}; expected {expected}: "
                + ("it names no file." if name is None else f"the browser would save it as {name!r}.")
            )


@check(
    "responses.bytes",
    points=2,
    hint='Wrap the bytes: `Response(content=data, media_type="application/octet-stream")`.',
    reproduce=f"curl -sS '{BASE}/bytes?n=20' | od -An -tu1",
)
def test_responses_bytes(app):
    """GET /bytes answers n bytes counting up from 0, labelled application/octet-stream"""
    judge_bytes(app.responses, app.crash("responses"))


def judge_bytes(recording: ResponsesRecording, crash: Crash | None) -> None:
    for asked in recording.counting:
        exchange, what = asked.exchange, request_line(BYTES, "n", asked)
        if exchange.status == 500 and crash is not None and crash.exception.startswith("UnicodeDecodeError"):
            # The classic: bytes returned bare, which FastAPI decodes as UTF-8 to make JSON text of them.
            raise CheckFailed(
                f"{what} was answered with 500: {crash.exception}. FastAPI turns what a route returns into JSON, "
                "and tried to read your bytes as UTF-8 text; byte 128 and above are not text.",
                hint=JSON_HINT,
                evidence=crash_details(crash),
            )
        require_status(exchange, 200, what, crash)
        json_instead(exchange, what)
        n = parameter_of(asked.value, DEFAULT_COUNT)
        expected = counting_bytes(n)
        if exchange.body != expected:
            said = f"{what} should answer the {n:,} bytes 0, 1, 2, ... (after 255, 0 again): "
            said += bytes_difference(exchange.body, expected) + "."
            if asked.value is None:
                said += f" With no n parameter there are {DEFAULT_COUNT} bytes."
            raise CheckFailed(
                said,
                hint="`bytes(i % 256 for i in range(n))` makes them; send them untouched, not decoded as text.",
            )
        require_media_type(
            exchange,
            what,
            MEDIA_TYPES[BYTES],
            "Bytes that are not text are application/octet-stream: labelled as text, a browser tries to show them.",
        )


@check(
    "responses.redirect",
    points=1,
    hint=f'`RedirectResponse("{REDIRECT_TARGET}", status_code={REDIRECT_STATUS})`: a path, and the status.',
    reproduce=f"curl -i {BASE}/old-page",
)
def test_responses_redirect(app):
    """GET /old-page redirects for good (301 Moved Permanently) to /page"""
    judge_redirect(app.responses, app.crash("responses"))


def judge_redirect(recording: ResponsesRecording, crash: Crash | None) -> None:
    exchange, what = recording.old_page, f"GET {OLD_PAGE}"
    require_answer(exchange, what, crash)
    location = exchange.header("location")
    if exchange.status != REDIRECT_STATUS:
        said = f"{what} was answered with {exchange.status}; expected {REDIRECT_STATUS} Moved Permanently."
        if exchange.status in (302, 303, 307):
            said += (
                f" {exchange.status} is a temporary redirect: browsers and search engines keep asking for the old "
                "address. (307 is what RedirectResponse sends when you give it no status_code.)"
            )
        elif exchange.status == 308:
            said += " 308 is permanent too, but the contract asks for 301, the one every client knows."
        elif exchange.status == 501:
            said += " 501 is the starter's placeholder: this route is not written yet."
        elif exchange.status == 200:
            said += " A 200 serves a page at the old address instead of sending the browser to the new one."
        raise CheckFailed(said, evidence={"status": exchange.status, "location": location})
    if location is None:
        raise CheckFailed(
            f"{what} answered {REDIRECT_STATUS} with no Location header: the browser can't know where to go."
        )
    target = urlsplit(urljoin(recording.origin + exchange.path, location))
    origin = urlsplit(recording.origin)
    if (target.scheme, target.netloc) != (origin.scheme, origin.netloc):
        raise CheckFailed(
            f"{what} sent Location: {location}, which leads to {target.scheme}://{target.netloc}, not to this "
            f"server ({origin.netloc} in this run). Send the path alone, {REDIRECT_TARGET}: the browser keeps the "
            "address it used.",
            evidence={"location": location},
        )
    if target.path != REDIRECT_TARGET or target.query:
        raise CheckFailed(
            f"{what} sent Location: {location}; expected {REDIRECT_TARGET}.", evidence={"location": location}
        )


@check(
    "responses.length",
    points=2,
    hint=(
        "`Response` (and PlainTextResponse, HTMLResponse, FileResponse) knows its whole body and sets "
        "Content-Length; `StreamingResponse` over a generator sends what is yielded as it comes, chunked."
    ),
    reproduce=f"curl -i '{BASE}/squares.csv?rows=4' && curl -i '{BASE}/squares-stream.csv?rows=4'",
)
def test_responses_length(app):
    """Complete answers carry their Content-Length; the streamed CSV is chunked, with no length"""
    judge_length(app.responses, app.crash("responses"))


def chunked(exchange: Exchange) -> bool:
    return "chunked" in (exchange.header("transfer-encoding") or "").lower()


def judge_length(recording: ResponsesRecording, crash: Crash | None) -> None:
    # The complete answers that came: a route that failed is its own check's concern.
    complete = [(path, exchange) for path, exchange in recording.complete() if exchange.status == 200]
    if not complete:
        raise NotApplicable(
            f"None of {', '.join(MEDIA_TYPES)} was answered with 200: there is no complete answer to compare "
            "with the streamed one."
        )
    for path, exchange in complete:
        length = exchange.header("content-length")
        if length is None or chunked(exchange):
            raise CheckFailed(
                f"GET {exchange.path} came without Content-Length"
                + (", chunked" if chunked(exchange) else "")
                + f": it was streamed. A short answer like {path}'s is sent whole, so the client knows its size "
                "before the first byte.",
                evidence={"headers": [list(pair) for pair in exchange.headers]},
            )
        if length.strip() != str(exchange.received):
            raise CheckFailed(
                f"GET {exchange.path} came with Content-Length: {length}, but the body had {exchange.received:,} bytes."
            )
    for asked in recording.squares_stream:
        exchange, what = asked.exchange, request_line(SQUARES_STREAM, "rows", asked)
        require_status(exchange, 200, what, crash)
        rows = parameter_of(asked.value, DEFAULT_ROWS)
        problem = table_problem(exchange.body, rows)
        if problem:
            raise CheckFailed(
                f"{what} should send the same table as {SQUARES}, the squares of 1 to {rows}; {problem}.",
                evidence={"body": excerpt(exchange.body)},
            )
        length = exchange.header("content-length")
        if length is not None or not chunked(exchange):
            raise CheckFailed(
                f"{what} came with Content-Length: {length}: it was sent whole. The streamed CSV goes out a line "
                "at a time, from a generator, as `Transfer-Encoding: chunked` with no length."
                if length is not None
                else f"{what} came with neither Content-Length nor Transfer-Encoding: chunked.",
                hint='Yield each line from a generator: `StreamingResponse(lines(), media_type="text/csv")`.',
            )
