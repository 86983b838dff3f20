"""Wording shared by the checks of several exercises."""

from __future__ import annotations

from typing import Protocol

from grader.checkapi import CheckFailed, seconds
from grader.recording import Crash, Exchange
from grader.timing import gaps, median
from grader.tracebacks import describe

EXCERPT = 200
# The timing bounds of chat and events, as shares of the requested period
# (delay or interval, 0.2 s while grading).
# Pacing may be off by 35 %: asyncio.sleep never wakes early and a late
# wake-up on a busy machine costs a few ms; 70 ms is far above that noise and
# far below a doubled or missing wait.
PACING_TOLERANCE = 0.35
# The first piece may come half a period later than the reference's first
# piece: an app that waits before the first piece is a whole period late.
FIRST_ALLOWANCE = 0.5
# A small request may wait a quarter period longer than on the reference
# under the same load; a blocking sleep holds it for about half a period.
LOOP_ALLOWANCE = 0.25
# A loop-health verdict needs streams that ran while the small requests were
# sent: each must last at least half its own waits (a stream that crashed
# after one token, or ignores the delay, proves nothing either way).
STREAM_EVIDENCE = 0.5
# ... and up to this many times the reference's own wait in the same run (see judge_loop_health).
LOOP_LOAD_FACTOR = 2


def excerpt(data: bytes | str, limit: int = EXCERPT) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return repr(text[:limit]) + (" ..." if len(text) > limit else "")


CRASH_HINT = (
    "Start your app with uvicorn, send the request under 'Try it', and read the traceback uvicorn prints: "
    "the line of your own file it names is where the exception was raised."
)


class Answer(Protocol):
    """What an exchange and a download both tell: how the answer went."""

    status: int | None
    received: int
    broken: bool


def require_no_crash(answer: Answer, what: str, crash: Crash | None, *, body: bool = True) -> None:
    """When ``what`` got a 500 or broke off and the server logged an exception, fail naming it.

    ``body=False``: the check judges the status line and headers only, which a
    body that broke off later does not change.

    A break-off alone is only how the crash looked from outside: the
    exception, with the learner's own file and line, is what helps.
    """
    if crash is None:
        return
    if answer.status == 500:
        happened = f"{what} was answered with 500"
    elif answer.broken and body:
        happened = f"{what} broke off after {answer.received:,} bytes of the body"
    else:
        return
    raise CheckFailed(
        f"{happened}: your app raised an error.\n{describe(crash)}",
        hint=CRASH_HINT,
        evidence={"exception": crash.exception, "file": crash.file, "line": crash.line, "traceback": crash.traceback},
    )


def require_answer(exchange: Exchange, what: str, crash: Crash | None = None, *, body: bool = True) -> None:
    """Fail with a clear message when a request got no HTTP answer at all, or the app raised while answering."""
    require_no_crash(exchange, what, crash, body=body)
    if exchange.status is None:
        raise CheckFailed(f"{what} got no answer: {exchange.error or 'the connection closed'}.")


def require_status(
    exchange: Exchange, expected: int, what: str, crash: Crash | None = None, *, body: bool = True
) -> None:
    require_answer(exchange, what, crash, body=body)
    if exchange.status == expected:
        return
    message = f"{what} was answered with status {exchange.status}; expected {expected}."
    if exchange.status == 501:
        message += " 501 is the starter's placeholder: this route is not written yet."
    elif exchange.status == 500:
        message += " 500 means your code raised an exception: the server's log shows the traceback."
    elif exchange.status == 404 and expected != 404:
        message += " 404 means the app has no route at this path: check the path in @app.get(...)."
    elif exchange.status == 405:
        message += " 405 means the route exists but not for this method."
    elif exchange.status == 422:
        message += " 422 means FastAPI rejected the query parameters: check their names and types."
    if exchange.body:
        message += f" The body began: {excerpt(exchange.body)}"
    raise CheckFailed(message)


def judge_first_at_once(first: float, reference_first: float, period: float, piece: str) -> None:
    allowed = reference_first + period * FIRST_ALLOWANCE
    if first <= allowed:
        return
    raise CheckFailed(
        f"The first {piece} arrived {seconds(first)} after the request (the reference's: "
        f"{seconds(reference_first)}; allowed up to {seconds(allowed)}). It should be sent at once, "
        f"before the first {period:g} s wait.",
        evidence={"first": first, "reference_first": reference_first},
    )


def judge_pacing(times: list[float], period: float, parameter: str, piece: str, asked: str = "") -> None:
    """Fail unless the median gap between ``times`` is ``period`` within PACING_TOLERANCE.

    ``asked`` says how the period was asked for (by default "Asked for parameter=period").
    """
    typical = median(gaps(times))
    if abs(typical - period) <= period * PACING_TOLERANCE:
        return
    raise CheckFailed(
        f"{asked or f'Asked for {parameter}={period:g}'}, the {piece}s came a median {seconds(typical)} apart "
        f"(allowed {seconds(period * (1 - PACING_TOLERANCE))} to {seconds(period * (1 + PACING_TOLERANCE))}).",
        evidence={"gaps": gaps(times)},
    )


def judge_loop_health(subject_busy: list[float], reference_busy: list[float], allowance: float, what: str) -> None:
    """Fail when small requests waited much longer than on the reference under the same load.

    Up to twice the reference's wait, plus ``allowance``: the reference's wait is what the
    machine's load costs now. On a loaded machine (a reference waiting 110 ms where it
    waits 3 ms on a quiet one) a correct app behind middleware that does more per request
    (a BaseHTTPMiddleware) waited 210 ms; a blocked loop holds a request for about half a
    period on a quiet machine, far above twice a few ms.
    """
    learner, reference = median(subject_busy), median(reference_busy)
    if learner <= LOOP_LOAD_FACTOR * reference + allowance:
        return
    raise CheckFailed(
        f"While {what} ran, a small request (GET /openapi.json) took {seconds(learner)} to answer "
        f"(median of {len(subject_busy)}); the reference answered in {seconds(reference)}. "
        "Something in your stream blocks the event loop, so every other user waits.",
        hint=(
            "Inside an `async def` function, never call `time.sleep()` or other blocking code: use "
            "`await asyncio.sleep(...)`. Or write a plain `def` generator, which Starlette runs in a thread."
        ),
        evidence={"busy_latencies": subject_busy, "reference_busy_latencies": reference_busy},
    )
