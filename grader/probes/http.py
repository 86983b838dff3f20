"""Record HTTP exchanges chunk by chunk, with arrival times, over a real socket."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol
from urllib.parse import urlencode

import httpx

from grader.recording import BODY_CAP, Chunk, Exchange


def now() -> float:
    return time.perf_counter_ns() / 1e9


# Every request asks for the body as the app has it. A compressed body can
# unpack to a thousand times its size (a gzip bomb), nothing in the contract
# is about compression, and an app behind GZipMiddleware then answers as it
# would any client that does not ask for gzip. Bodies are read with
# ``aiter_raw`` all the same: never decoded, whatever the app sends.
IDENTITY = {"Accept-Encoding": "identity"}
# What a probe that only needs an answer reads of its body, at most.
ANSWER_CAP = 64 * 1024


def local_client(base_url: str, timeout: float) -> httpx.AsyncClient:
    """A client for plain HTTP on 127.0.0.1.

    No TLS context (building one costs ~25 ms of blocked event loop, which
    would show up as noise in a concurrent probe's timing) and no proxy from
    the environment (a proxy would sit between the grader and the app).
    """
    return httpx.AsyncClient(base_url=base_url, timeout=timeout, verify=False, trust_env=False, headers=IDENTITY)


# The probes take their deadline as a parameter (ASYNC109) instead of running
# under the caller's asyncio.timeout: a cancelled probe would lose what it
# recorded so far, and "no answer in time" is a result to record, not an error.
async def answer(client: httpx.AsyncClient, path: str, *, timeout: float) -> int | None:  # noqa: ASYNC109
    """GET ``path`` for its status: None when no answer came within ``timeout`` s (one deadline for it all).

    The body is read raw, to its end or to ``ANSWER_CAP`` bytes, whichever
    comes first, and kept nowhere.
    """
    try:
        async with asyncio.timeout(timeout):
            async with client.stream("GET", path) as response:
                read = 0
                async for data in response.aiter_raw():
                    read += len(data)
                    if read >= ANSWER_CAP:
                        break
                return response.status_code
    except (TimeoutError, httpx.HTTPError):
        return None


class Relay(Protocol):
    """Someone the response is passed on to as it arrives (a proxy in front of a browser)."""

    async def head(self, status: int, headers: list[tuple[str, str]]) -> None: ...

    async def body(self, data: bytes) -> bool:
        """Pass ``data`` on; False when it can't be (the other side left): stop reading."""
        ...


def path_with_query(path: str, params: dict[str, str] | None) -> str:
    return f"{path}?{urlencode(params)}" if params else path


async def record_exchange(
    client: httpx.AsyncClient,
    path: str,
    *,
    method: str = "GET",
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float,  # noqa: ASYNC109 (see answer)
    stop_after_bytes: int | None = None,
    relay: Relay | None = None,
) -> Exchange:
    """Send one request (any method, with headers and a body) and record every chunk of the response as it arrives.

    Never raises for anything the server does: a timeout, a reset or a
    malformed response ends up in ``Exchange.error``. With ``relay``, the
    status, the headers and each chunk are passed on as they come (whole,
    even past ``BODY_CAP``).
    """
    exchange = Exchange(method, path_with_query(path, params), dict(headers or {}), request_body=body or b"")
    exchange.sent_at, exchange.sent_wall = now(), time.time()
    try:
        async with asyncio.timeout(timeout):
            async with client.stream(method, path, params=params, headers=headers, content=body) as response:
                exchange.status = response.status_code
                exchange.headers = list(response.headers.multi_items())
                if relay is not None:
                    await relay.head(exchange.status, exchange.headers)
                kept = 0  # counted as we go: summing the chunks each time is quadratic in their number
                async for data in response.aiter_raw():
                    at = now() - exchange.sent_at
                    exchange.received += len(data)
                    passed_on = relay is None or await relay.body(data)
                    if kept + len(data) > BODY_CAP:
                        exchange.truncated = True
                        data = data[: max(0, BODY_CAP - kept)]
                    if data:
                        exchange.chunks.append(Chunk(at, data))
                        kept += len(data)
                    if not passed_on:
                        break
                    if stop_after_bytes is not None and exchange.received >= stop_after_bytes:
                        break
                exchange.ended_at = now() - exchange.sent_at
    except TimeoutError:
        exchange.error = f"no complete answer within {timeout:g} s"
    except httpx.HTTPError as error:
        exchange.error = describe_http_error(error)
        exchange.broken = broke_off(error)
    return exchange


def broke_off(error: BaseException) -> bool:
    """Whether the server closed the connection or broke HTTP mid-answer: what a crash in a route looks like."""
    return isinstance(error, (httpx.RemoteProtocolError, httpx.ReadError))


def describe_http_error(error: httpx.HTTPError) -> str:
    kinds: dict[type[httpx.HTTPError], str] = {
        httpx.RemoteProtocolError: "the server broke the HTTP protocol or closed the connection",
        httpx.ReadError: "the connection failed while reading",
        httpx.ConnectError: "could not connect to the server",
    }
    kind = kinds.get(type(error), type(error).__name__)
    detail = str(error)
    return f"{kind}: {detail}" if detail else kind


async def probe_latencies(client: httpx.AsyncClient, *, count: int, window: float, timeout: float) -> list[float]:  # noqa: ASYNC109
    """Time ``count`` small requests, sent at evenly spaced moments over ``window`` seconds.

    Each request is sent at its own moment whatever happened to the others,
    so a server that stalls holds up every probe that falls in the stall
    (probes sent one after another would mostly land after it). The path is
    /openapi.json, served by FastAPI itself: its time measures the event
    loop, not the learner's code. Any answer counts, a 404 included (an app
    may turn the schema off); a probe with no answer counts as ``timeout``.
    """

    async def one(delay: float) -> float:
        await asyncio.sleep(delay)  # this probe's moment in the window
        started = now()
        await answer(client, "/openapi.json", timeout=timeout)
        return now() - started

    return list(await asyncio.gather(*(one(window * index / count) for index in range(count))))
