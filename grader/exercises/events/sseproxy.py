"""A tiny HTTP server on 127.0.0.1 between a headless browser and the learner's event stream.

The learner's app sends no CORS headers, so the browser's page must come
from the same origin as the stream: this server serves the page, relays
``events`` requests to the app as they come (no buffering: each chunk is
written to the browser as soon as it arrives, and recorded like any probe's
exchange), and takes the page's findings by POST. Its paths start with a
token drawn per run, so nothing else on the machine (an app that looks for
it) can post findings in the page's name.

The browser waits ``retry`` milliseconds before it reconnects: 3 s unless
the stream says otherwise, a wait that would lie on every grade's critical
path. The relay therefore adds a short ``retry:`` line at the start of each
stream and shortens any the app sends; nothing else of the app's bytes is
touched, and the recording keeps them as the app sent them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from dataclasses import dataclass, field
from http import HTTPStatus

from grader.exercises.events.recording import BrowserStream
from grader.probes.http import local_client, now, record_exchange
from grader.recording import Exchange

# The wait before a reconnection the relay asks the browser for (ms): short,
# so a grade hardly waits, and not 0, so a stream that ends at once can't
# make the browser spin (the relay also stops it after MAX_STREAMS).
RETRY_MS = 20
RETRY_LINE = f"retry: {RETRY_MS}".encode()
BOM = b"\xef\xbb\xbf"
# A browser that keeps reconnecting (an app whose streams end at once) is
# told to stop with a 204, which ends an EventSource for good.
MAX_STREAMS = 4
# What the page may post, and how long a request's head may take to come.
REPORT_CAP = 256 * 1024
HEAD_TIMEOUT = 5.0
# Request headers the browser's EventSource sends that the app may read.
# Never Referer or Origin: they hold this server's token.
FORWARDED = ("accept", "cache-control", "last-event-id", "user-agent", "accept-language", "pragma")
# Hop-by-hop headers, and those the relay makes untrue (it changes the body's length).
NOT_RELAYED = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade", "te", "trailer"}
)


class RetryRewriter:
    """Add ``RETRY_LINE`` at the start of an event stream and shorten every ``retry:`` line in it.

    Works on the bytes as they come: a line is held back only while its
    first bytes could still begin ``retry:`` (or a leading byte order mark),
    so every other byte is passed on at once. Line ends are CR LF, LF or CR,
    as in the browser's parser.
    """

    FIELD = b"retry:"

    def __init__(self) -> None:
        self.started = False
        self.held = b""  # the start of a line (or of the stream) not decided yet
        self.in_line = False  # inside a line already passed on
        self.swallowing = False  # inside a retry line: its value is replaced
        self.after_cr = False  # the last byte seen ended a line with CR (an LF may follow)
        self.shortened = 0  # retry lines of the app's that were shortened

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        if not self.started:
            self.held += data
            if len(self.held) < len(BOM) and BOM.startswith(self.held):
                return b""
            data, self.held = self.held, b""
            if data.startswith(BOM):
                out += BOM
                data = data[len(BOM) :]
            out += RETRY_LINE + b"\n"
            self.started = True
        for byte in data:
            out += self.step(byte)
        return bytes(out)

    def step(self, byte: int) -> bytes:
        char = bytes((byte,))
        if self.after_cr:
            self.after_cr = False
            if char == b"\n":
                return char  # the second half of a CR LF already passed on
        if char in (b"\r", b"\n"):
            ending = self.end_line() + char
            self.after_cr = char == b"\r"
            return ending
        if self.swallowing:
            return b""
        if self.in_line:
            return char
        self.held += char
        if self.held == self.FIELD:
            self.held, self.swallowing = b"", True
            return b""
        if self.FIELD.startswith(self.held):
            return b""
        passed, self.held, self.in_line = self.held, b"", True
        return passed

    def end_line(self) -> bytes:
        """What a line that ends here leaves to pass on before its line end."""
        if self.swallowing:
            self.shortened += 1
            ended = RETRY_LINE
        elif self.held == b"retry":
            ended = RETRY_LINE  # a bare "retry" line: a field with an empty value; harmless either way
        else:
            ended = self.held
        self.held, self.in_line, self.swallowing = b"", False, False
        return ended

    def flush(self) -> bytes:
        """What is still held when the stream ends (a last line with no line end)."""
        if not self.started:  # a body of a byte or two
            self.started, held, self.held = True, self.held, b""
            return RETRY_LINE + b"\n" + held
        held, self.held = (b"" if self.swallowing else self.held), b""
        return held


@dataclass
class BrowserRelay:
    """Pass the app's answer on to the browser's connection."""

    writer: asyncio.StreamWriter
    stream: BrowserStream
    rewriter: RetryRewriter | None = None

    async def head(self, status: int, headers: list[tuple[str, str]]) -> None:
        # Kept on the relay's own record too, in case the relay is cut short and the probe's is lost.
        self.stream.exchange.status, self.stream.exchange.headers = status, headers
        encoded = dict(headers).get("content-encoding", "identity").lower()
        # Only a plain event stream is rewritten: any other answer (an error page, a compressed body) passes as it is.
        if status == 200 and encoded == "identity":
            self.rewriter = RetryRewriter()
        kept = [(name, value) for name, value in headers if name.lower() not in NOT_RELAYED]
        await self.write(response_head(status, kept))

    async def body(self, data: bytes) -> bool:
        self.stream.exchange.received += len(data)
        if self.rewriter is not None:
            data = self.rewriter.feed(data)
            self.stream.shortened_retry = self.rewriter.shortened
        return await self.write(data)

    async def finish(self) -> None:
        if self.rewriter is not None:
            await self.write(self.rewriter.flush())

    async def write(self, data: bytes) -> bool:
        if not data:
            return True
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            self.stream.browser_left = True
            return False
        return True


def response_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"]
    # Values came through an HTTP parser (no CR or LF); anything outside Latin-1 is replaced, never raised on.
    lines += [f"{name}: {value}" for name, value in headers]
    lines += ["Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1", "replace")


def plain(status: int, body: bytes = b"", media_type: str = "text/plain; charset=utf-8") -> bytes:
    headers = [("Content-Type", media_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
    return response_head(status, headers) + body


@dataclass
class EventsProxy:
    """Serve ``page`` at ``url``, relay ``events`` requests to the app, and keep what the page reports."""

    page: str  # HTML; relative URLs in it resolve under the token
    app_url: asyncio.Future[str | None]  # the app's base URL once it runs (None: it did not start)
    stream_timeout: float  # the longest a relayed stream may run
    frames: list[str] = field(default_factory=list)  # other pages shown beside this one (the hub page)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    streams: list[BrowserStream] = field(default_factory=list)
    report: object = None  # what the page posted, parsed from JSON (None until then)
    reported: asyncio.Event = field(default_factory=asyncio.Event)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    page_loaded_at: float | None = None
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task] = field(default_factory=set)

    @property
    def base(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}/{self.token}/"

    @property
    def url(self) -> str:
        return self.base + ("hub" if self.frames else "")

    async def start(self) -> None:
        self._server = await asyncio.start_server(self.handle, "127.0.0.1", 0)

    async def close(self) -> None:
        """Stop serving and end every relay still running (the browser is gone, or about to be)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            pass  # a client that left or spoke no HTTP: nothing to record
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, RuntimeError):
                await writer.wait_closed()

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(HEAD_TIMEOUT):
            head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        headers = {}
        for line in header_lines:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        prefix = f"/{self.token}/"
        if not target.startswith(prefix):
            writer.write(plain(404))
            return
        path = target[len(prefix) :]
        if method == "GET" and path == "":
            if self.page_loaded_at is None:
                self.page_loaded_at = now()
            self.loaded.set()
            writer.write(plain(200, self.page.encode(), "text/html; charset=utf-8"))
        elif method == "GET" and path == "hub":
            frames = "".join(f'<iframe src="{url}"></iframe>' for url in [self.base, *self.frames])
            writer.write(plain(200, f"<!doctype html><title>streamgrade</title>{frames}".encode(), "text/html"))
        elif method == "POST" and path == "report":
            await self.take_report(reader, headers)
            writer.write(plain(204))
        elif method == "GET" and (path == "events" or path.startswith("events?")):
            await self.relay(path, headers, writer)
        else:
            writer.write(plain(404))
        await writer.drain()

    async def take_report(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> None:
        length = int(headers.get("content-length", "0"))
        if not 0 < length <= REPORT_CAP:
            raise ValueError(f"a report of {length} bytes")
        async with asyncio.timeout(HEAD_TIMEOUT):
            body = await reader.readexactly(length)
        self.report = json.loads(body)
        self.reported.set()

    async def relay(self, path: str, headers: dict[str, str], writer: asyncio.StreamWriter) -> None:
        forwarded = {name: value for name, value in headers.items() if name in FORWARDED}
        if len(self.streams) >= MAX_STREAMS:
            writer.write(plain(204))
            return
        stream = BrowserStream(Exchange("GET", "/" + path, forwarded, sent_at=now()))
        self.streams.append(stream)
        base_url = await self.app_url
        if base_url is None:
            stream.exchange.error = "the app's server was not running"
            writer.write(plain(503))
            return
        passing = BrowserRelay(writer, stream)
        try:
            async with local_client(base_url, self.stream_timeout) as client:
                exchange = await record_exchange(
                    client, "/" + path, headers=forwarded, timeout=self.stream_timeout, relay=passing
                )
                stream.exchange = exchange
            if exchange.status is None:
                writer.write(plain(502))
            else:
                await passing.finish()
        except asyncio.CancelledError:
            stream.exchange.error = "still open when the recording ended"
            raise
