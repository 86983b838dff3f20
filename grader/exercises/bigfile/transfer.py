"""Read GET /bigfile in a thread of its own: a plain socket, h11 to parse it, sha256 as it comes.

httpx on the event loop read 256 MiB in 4,000-odd pieces, each through
httpcore's async machinery: 0.6 to 0.8 s of CPU on the thread every probe
shares, for a transfer a grade (and a save in watch mode) waits for. Here
a thread reads and hashes with the interpreter released for the hashing:
about 0.3 s of CPU, beside the loop. The socket is the reader's from the
start, so ``stop`` ends a read at once, even one still waiting for the
answer's first byte.

What a failure says is worded as ``probes.http.describe_http_error`` words
httpx's, and ``broken`` means what ``probes.http.broke_off`` means: the
server closed the connection or broke HTTP mid-answer.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import socket
import threading
from urllib.parse import urlsplit

import h11

from grader.exercises.bigfile.recording import Download

# What the probes' other clients say when the server breaks off (probes.http.describe_http_error).
BROKE_PROTOCOL = "the server broke the HTTP protocol or closed the connection"
READ_FAILED = "the connection failed while reading"
CONNECT_FAILED = "could not connect to the server"


def header_text(value: bytes) -> str:
    """A header's bytes as text, as httpx decodes them: ASCII or UTF-8, else Latin-1."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


class BodyReader:
    """GET ``path`` from ``base_url`` and read the body to its end, hashing it; in a thread (``start``).

    With ``pause_after``, stop reading once that many bytes came, for
    ``pause`` seconds (the slow client), and hang up.
    """

    def __init__(
        self,
        base_url: str,
        path: str = "/bigfile",
        *,
        timeout: float,
        read_size: int = 1024 * 1024,
        pause_after: int | None = None,
        pause: float = 0.0,
    ) -> None:
        address = urlsplit(base_url)
        self.host, self.port, self.netloc = address.hostname or "127.0.0.1", address.port or 80, address.netloc
        self.path = path
        self.timeout = timeout
        self.read_size = read_size
        self.pause_after = pause_after
        self.pause = pause
        # Filled as the bytes come; the caller adds the time taken and the memory trace.
        self.progress = Download(None, [], 0, "", 0.0, 0, 0, None)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None

    def start(self) -> concurrent.futures.Future[Download]:
        """Read in a new thread; the future holds the download when it ends (it never raises)."""
        done: concurrent.futures.Future[Download] = concurrent.futures.Future()

        def run() -> None:
            try:
                self._read()
            except Exception as failure:  # the grader's own bug: said as the download's error, not lost
                self.progress.error = f"{type(failure).__name__}: {failure}"
            finally:
                self._close()
            done.set_result(self.progress)

        threading.Thread(target=run, name="bigfile-download", daemon=True).start()
        return done

    def stop(self) -> None:
        """End the read now, from any thread: what came so far is the download."""
        self._stopping.set()
        with self._lock:
            if self._socket is not None:
                with contextlib.suppress(OSError):
                    self._socket.shutdown(socket.SHUT_RDWR)  # wakes a recv waiting for data

    def _close(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def _read(self) -> None:
        seen = self.progress
        try:
            connection = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as failure:
            seen.error = f"{CONNECT_FAILED}: {failure}"
            return
        with self._lock:
            self._socket = connection
        if self._stopping.is_set():
            return
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        http = h11.Connection(h11.CLIENT)
        headers = [("Host", self.netloc), ("Accept-Encoding", "identity"), ("Connection", "close")]
        request = http.send(h11.Request(method="GET", target=self.path, headers=headers))
        digest = hashlib.sha256()
        buffer = bytearray(self.read_size)
        view = memoryview(buffer)
        try:
            connection.sendall((request or b"") + (http.send(h11.EndOfMessage()) or b""))
            while not self._stopping.is_set():
                event = http.next_event()
                if event is h11.NEED_DATA:
                    size = connection.recv_into(buffer)
                    http.receive_data(bytes(view[:size]))
                elif isinstance(event, h11.Response):
                    seen.status = event.status_code
                    seen.headers = [(name.decode("latin-1"), header_text(value)) for name, value in event.headers]
                elif isinstance(event, h11.Data):
                    data = event.data
                    digest.update(data)  # releases the interpreter for pieces over 2 KiB
                    seen.received += len(data)
                    seen.chunk_count += 1
                    seen.largest_chunk = max(seen.largest_chunk, len(data))
                    if self.pause_after is not None and seen.received >= self.pause_after:
                        self._stopping.wait(self.pause)  # the slow reader stops reading, then hangs up
                        break
                elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                    break
                # an informational (1xx) answer: the real one follows
        except h11.RemoteProtocolError as failure:
            if not self._stopping.is_set():
                seen.error, seen.broken = f"{BROKE_PROTOCOL}: {failure}", True
        except TimeoutError:
            if not self._stopping.is_set():
                seen.error = "ReadTimeout: timed out"
        except OSError as failure:
            if not self._stopping.is_set():
                seen.error, seen.broken = f"{READ_FAILED}: {failure}", True
        finally:
            seen.sha256 = digest.hexdigest()
