"""Wording shared by the checks of several exercises."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from grader.checkapi import CheckFailed, Inconclusive, seconds
from grader.probes.disconnect import DisconnectRecording
from grader.recording import Crash, Exchange
from grader.results import crash_details
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
        evidence=crash_details(crash),
    )


def require_answer(exchange: Exchange, what: str, crash: Crash | None = None, *, body: bool = True) -> int:
    """The answer's status; fails with a clear message when a request got no HTTP answer at all, or the app raised."""
    require_no_crash(exchange, what, crash, body=body)
    if exchange.status is None:
        raise CheckFailed(f"{what} got no answer: {exchange.error or 'the connection closed'}.")
    return exchange.status


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


Reply = TypeVar("Reply")


@dataclass(frozen=True)
class FirstPiece(Generic[Reply]):
    """One timed reply's first piece, for judge_first_pieces: when it came, and the reference's same reply's."""

    reply: Reply
    first: float | None  # None: nothing came (another check says why)
    reference_first: float | None
    period: float


def judge_first_pieces(replies: list[FirstPiece[Reply]], piece: str, request: Callable[[Reply], str]) -> None:
    """judge_first_at_once on every timed reply, each against the reference's same reply; fail when most are late.

    A wait before the first piece makes most of them late, a stall of the
    loaded machine one: one reply alone failed a correct app at a load
    average of 40 (its first token 150 ms late, bound 114 ms). ``request``
    says which request a late reply answered.
    """
    late = []
    for reply in replies:
        if reply.first is None:
            continue
        try:
            judge_first_at_once(reply.first, reply.reference_first or 0.0, reply.period, piece)
        except CheckFailed as failure:
            late.append((reply, failure))
    if late and 2 * len(late) > len(replies):
        first_late, first_failure = late[0]
        raise CheckFailed(
            f"{request(first_late.reply)}: {first_failure.message} "
            f"({len(late)} of {len(replies)} timed replies were late.)",
            evidence=first_failure.evidence,
        )


def judge_pacing(
    times: list[float], period: float, parameter: str, piece: str, asked: str = "", timed_by: str = "came"
) -> None:
    """Fail unless the median gap between ``times`` is ``period`` within PACING_TOLERANCE.

    ``asked`` says how the period was asked for (by default "Asked for parameter=period");
    ``timed_by`` what ``times`` are ("came": when the pieces arrived).
    """
    typical = median(gaps(times))
    if abs(typical - period) <= period * PACING_TOLERANCE:
        return
    raise CheckFailed(
        f"{asked or f'Asked for {parameter}={period:g}'}, the {piece}s {timed_by} a median {seconds(typical)} apart "
        f"(allowed {seconds(period * (1 - PACING_TOLERANCE))} to {seconds(period * (1 + PACING_TOLERANCE))}).",
        evidence={"gaps": gaps(times)},
    )


BLOCKING_HINT = (
    "Inside an `async def` function, never call `time.sleep()` or other blocking code: use "
    "`await asyncio.sleep(...)`. Or write a plain `def` generator, which Starlette runs in a thread."
)


def judge_loop_health(
    subject_busy: list[float],
    reference_busy: list[float],
    allowance: float,
    what: str,
    subject_idle: list[float],
) -> None:
    """Fail when small requests waited much longer than on the reference under the same load.

    Up to twice the reference's wait, plus ``allowance``: the reference's wait is what the
    machine's load costs now. On a loaded machine (a reference waiting 110 ms where it
    waits 3 ms on a quiet one) a correct app behind middleware that does more per request
    (a BaseHTTPMiddleware) waited 210 ms; a blocked loop holds a request for about half a
    period on a quiet machine, far above twice a few ms.

    Or twice the app's own quickest wait before its streams opened (``subject_idle``;
    empty in a recording made before they were measured), when that is longer: what a
    request costs this app on this machine now, which no stream can have stretched. At
    load averages of 10 to 24 a correct app that does more per request waited 3 to 7
    times the reference's wait while its streams ran.
    The quickest of the idle requests: the first may also wait for FastAPI to build
    its schema.
    """
    learner, reference = median(subject_busy), median(reference_busy)
    own = min(subject_idle) if subject_idle else 0.0
    if learner <= LOOP_LOAD_FACTOR * max(reference, own) + allowance:
        return
    before = f", and your app before its streams opened in {seconds(own)}" if subject_idle else ""
    raise CheckFailed(
        f"While {what} ran, a small request (GET /openapi.json) took {seconds(learner)} to answer "
        f"(median of {len(subject_busy)}); the reference answered in {seconds(reference)}{before}. "
        "Something in your stream blocks the event loop, so every other user waits.",
        hint=BLOCKING_HINT,
        evidence={
            "busy_latencies": subject_busy,
            "reference_busy_latencies": reference_busy,
            **({"idle_latencies": subject_idle} if subject_idle else {}),
        },
    )


def pace_alone(alone: Exchange, asked: float) -> float:
    """How many times ``asked`` (the waits a stream was asked for) the app's stream alone took, at least 1.

    From its first piece to its last: an app that waits longer than asked
    (twice the delay) is as slow beside other streams, and those are its own
    waits, not a turn taken. A reply sent in one piece counts as 1.
    """
    if asked <= 0 or len(alone.chunks) < 2:
        return 1.0
    return max(1.0, (alone.chunks[-1].at - alone.chunks[0].at) / asked)


def judge_side_by_side(streams: list[Exchange], period: float, wanted: float, what: str, pace: float = 1.0) -> None:
    """Fail when streams sent together took turns: their pieces arrived one stream at a time, and late.

    Side by side, the streams' pieces leave at the same moments, however the
    app paces or splits them and however many it sends: every group of
    arrivals (pieces less than half a ``period`` apart) holds pieces of
    several streams. A wait that holds the whole server (a blocking sleep)
    lets one stream move at a time: after the first pieces, every group
    holds one stream's piece alone (six of seven groups for three streams
    of three pieces). Most groups alone is taking turns. Unlike the small
    requests' wait, this needs no reference, whose timing (a batch's saved
    one, taken on a loaded machine) can be slow enough to hide a blocked
    loop; a piece read late on a busy machine makes one lone group.

    Taking turns also adds the streams' waits up: ``wanted`` (each stream's
    own waits) per stream, from the first piece to the last of them all,
    where side by side it is ``wanted`` once. Lone groups alone are not
    enough: on a loaded machine, the threads of a correct app's sync
    generators can start its streams a tenth of a second apart, and each
    piece then arrives alone, the streams still side by side. So it fails
    only past the middle: (1 + streams) / 2 times ``wanted``, twice for
    three streams, which take three times when they take turns. ``wanted``
    is what was asked, times ``pace`` (``pace_alone``) for an app slower than
    asked: at twice the delay, its streams alone reach twice ``wanted``, and
    then only the groups would tell; those split when a loaded machine starts
    the streams a tenth of a second apart.
    """
    if len(streams) < 2 or period <= 0:
        return
    arrivals = sorted(
        (stream.sent_at + chunk.at, index) for index, stream in enumerate(streams) for chunk in stream.chunks
    )
    if not arrivals or arrivals[-1][0] - arrivals[0][0] < (1 + len(streams)) / 2 * wanted * pace:
        return
    groups: list[set[int]] = []
    previous = None
    for at, index in arrivals:
        if previous is None or at - previous >= period / 2:
            groups.append(set())
        groups[-1].add(index)
        previous = at
    alone = sum(1 for group in groups if len(group) == 1)
    if len(groups) < 3 or 2 * alone <= len(groups):
        return
    raise CheckFailed(
        f"{len(streams)} {what} were sent at the same moment. Side by side, their pieces arrive together; "
        f"yours arrived one stream at a time ({alone} of {len(groups)} moments brought a piece of one stream "
        "only): the streams took turns. While one stream waits, your whole server waits with it, and every "
        "other user too.",
        hint=BLOCKING_HINT,
        evidence={
            "arrivals": [
                [round(stream.sent_at + chunk.at - arrivals[0][0], 4) for chunk in stream.chunks] for stream in streams
            ],
            "groups": len(groups),
            "alone": alone,
        },
    )


# After the clients left, the server may still burn this share of the CPU it
# used while streaming to them (on top of what the reference burns then).
LEAK_SHARE = 0.3
# CPU shrinks with cheap leaked work; wake-ups do not. A producer left
# running for a client that left wakes the server at least once per interval
# (the timers of several coalesce into one wake-up): window / interval times,
# 25 in 0.5 s at the probe's 0.02 s. Up to 0.4 of that above the baseline is
# allowed: 10, above a correct server's noise (0 to 3 above the baseline,
# measured) and below a cheap leak's 23 to 44 (docs/PERFORMANCE.md).
LEAK_WAKEUP_SHARE = 0.4


def judge_leak(gone: DisconnectRecording, reference_gone: DisconnectRecording, pieces: str, streams: str) -> None:
    """Fail when the server kept working after its clients left: it stopped answering, woke up, or burnt CPU.

    ``pieces`` names what the streams send ("events", "tokens"); ``streams`` what they were ("endless streams").
    """
    if not gone.answers_after:
        raise CheckFailed(
            f"After clients disconnected from {streams}, the server stopped answering requests: "
            "something blocked its event loop for good."
        )
    leaked_wakeups, allowed_wakeups, baseline = wakeups_after(gone, reference_gone)
    if leaked_wakeups > allowed_wakeups:
        raise CheckFailed(
            f"After {gone.streams} clients left their streams, your server still woke up {gone.quiet_wakeups} times "
            f"in {gone.window:g} s (the reference after they left, or your server before the streams opened: "
            f"{baseline}), about once every {seconds(gone.window / max(gone.quiet_wakeups, 1))}; the streams asked for "
            f"one of their {pieces} every {seconds(gone.interval)}. Something is still producing {pieces} for nobody, "
            "even if each one costs little CPU.",
            evidence={
                "quiet_wakeups": gone.quiet_wakeups,
                "baseline_wakeups": baseline,
                "allowed_extra_wakeups": allowed_wakeups,
                "quiet_cpu": gone.quiet_cpu,
            },
        )
    allowed = reference_gone.quiet_cpu + LEAK_SHARE * max(gone.streaming_cpu, reference_gone.streaming_cpu)
    if gone.quiet_cpu <= allowed:
        return
    uncertainty = gone.cpu_uncertainty + reference_gone.cpu_uncertainty
    if gone.quiet_cpu - allowed <= uncertainty:
        if woke_counted(gone):
            # CPU counted in clock ticks (the portable backend: 10 ms) can't
            # tell one tick from its bound (0.3 x about 30 ms of streaming CPU
            # is 9 ms: a correct server's lone tick after the clients left was
            # over it in 1 grading of 40). The wake-ups, counted exactly, found
            # nothing left running above: they decide.
            return
        raise Inconclusive(
            f"After the clients left, the server used {seconds(gone.quiet_cpu)} of CPU, just over the "
            f"{seconds(allowed)} allowed; this system counts CPU time in steps that make the readings up to "
            f"{seconds(uncertainty)} off, too coarse to tell."
        )
    raise CheckFailed(
        f"After {gone.streams} clients left their streams, the server still used {seconds(gone.quiet_cpu)} of CPU "
        f"in {gone.window:g} s (while streaming to them: {seconds(gone.streaming_cpu)}; the reference after they "
        f"left: {seconds(reference_gone.quiet_cpu)}). It is still producing {pieces} for nobody.",
        evidence={"quiet_cpu": gone.quiet_cpu, "streaming_cpu": gone.streaming_cpu},
    )


def woke_counted(gone: DisconnectRecording) -> bool:
    """Whether the recording holds wake-up counts (not one recorded before they were measured)."""
    return bool(gone.interval and gone.idle_window)


def wakeups_after(gone: DisconnectRecording, reference_gone: DisconnectRecording) -> tuple[int, float, int]:
    """Wake-ups after the clients left beyond the baseline, how many are allowed, and the baseline.

    The baseline is the larger of the reference's wake-ups after its clients
    left and the app's own before the streams opened (a heartbeat task of its
    own is no leak), both over the same window in the same run.
    """
    if not woke_counted(gone):
        return 0, 0.0, 0  # recorded without wake-ups: the CPU verdict alone
    idle = round(gone.idle_wakeups * gone.window / gone.idle_window)
    baseline = max(reference_gone.quiet_wakeups, idle)
    return gone.quiet_wakeups - baseline, LEAK_WAKEUP_SHARE * gone.window / gone.interval, baseline
