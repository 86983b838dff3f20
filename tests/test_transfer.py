"""The download's reader (grader/exercises/bigfile/transfer.py) against servers that answer canned bytes."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from grader.exercises.bigfile.transfer import BodyReader


@contextmanager
def canned_server(answer: bytes, *, close_after: bool = True, hold: threading.Event | None = None) -> Iterator[str]:
    """A server on 127.0.0.1 that reads one request and sends ``answer`` (after ``hold`` is set, if given)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(4096)
            if hold is not None:
                hold.wait(10)
            connection.sendall(answer)
            if not close_after:
                hold_open = threading.Event()
                hold_open.wait(10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        listener.close()


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def test_a_chunked_body_is_read_whole_and_hashed():
    pieces = [b"a" * 70_000, b"b" * 10, b"c" * 200_000]
    body = b"".join(pieces)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
    with canned_server(head + chunked(*pieces)) as url:
        got = BodyReader(url, timeout=10).start().result(10)
    assert (got.status, got.received, got.error, got.broken) == (200, len(body), None, False)
    assert got.sha256 == hashlib.sha256(body).hexdigest()
    assert ("content-type", "text/csv") in got.headers


def test_a_body_cut_short_is_broken_and_said_like_the_other_clients_say_it():
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
    with canned_server(head + b"x" * 400) as url:
        got = BodyReader(url, timeout=10).start().result(10)
    assert got.received == 400 and got.broken
    assert got.error is not None and got.error.startswith("the server broke the HTTP protocol or closed the connection")


def test_a_server_that_is_not_there_could_not_be_reached():
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()
    got = BodyReader(url, timeout=5).start().result(10)
    assert got.status is None and not got.broken
    assert got.error is not None and got.error.startswith("could not connect to the server")


def test_stop_ends_a_read_still_waiting_for_the_first_byte():
    hold = threading.Event()
    try:
        with canned_server(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", hold=hold) as url:
            reader = BodyReader(url, timeout=30)
            done = reader.start()
            reader.stop()
            got = done.result(5)  # without the socket shut, this would wait for the answer (30 s)
    finally:
        hold.set()
    assert got.status is None and got.error is None


def test_the_slow_reader_stops_after_its_share_and_hangs_up():
    body = b"z" * (512 * 1024)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
    with canned_server(head + body, close_after=False) as url:
        got = BodyReader(url, timeout=10, read_size=64 * 1024, pause_after=100_000, pause=0.0).start().result(10)
    assert 100_000 <= got.received < len(body) and got.error is None
