"""Exercise 3: GET /events sends Server-Sent Events."""

from __future__ import annotations

import json
from datetime import datetime

from grader import browser, sse
from grader.checkapi import CheckFailed, Inconclusive, NotApplicable, NotRun, check, seconds
from grader.checks._common import (
    CRASH_HINT,
    LOOP_ALLOWANCE,
    STREAM_EVIDENCE,
    excerpt,
    judge_first_at_once,
    judge_leak,
    judge_loop_health,
    judge_pacing,
    judge_side_by_side,
    pace_alone,
    require_answer,
    require_status,
)
from grader.exercises.events import TRY_IT
from grader.exercises.events.contract import EVENTS_DEFAULT_INTERVAL
from grader.exercises.events.recording import BrowserRecording, EventsMore
from grader.recording import Exchange
from grader.results import crash_details
from grader.timing import arrival_at_offsets, clusters, gaps, median
from grader.tracebacks import describe

# A timestamp may differ from the grader's clock at arrival by this much:
# enough for scheduling noise, far too little for local time labelled UTC.
CLOCK_TOLERANCE = 2.0

FRAMING_HINT = (
    "Each event is `id: <n>`, a newline, `data: <json>`, a newline, and one more newline: "
    'yield f"id: {n}\\ndata: {payload}\\n\\n". The empty line is what tells the browser the event is complete.'
)


def parsed(exchange: Exchange) -> sse.ParsedStream:
    return sse.parse(exchange.body)


def event_arrivals(exchange: Exchange) -> list[float]:
    events = parsed(exchange).events
    return arrival_at_offsets(exchange.chunks, [event.end for event in events])


def event_stamps(exchange: Exchange) -> list[float] | None:
    """Each event's own ``time`` as a POSIX timestamp; None where one is missing or not a time with an offset."""
    stamps = []
    for event in parsed(exchange).events:
        try:
            moment = datetime.fromisoformat(json.loads(event.data)["time"])
        except (ValueError, KeyError, TypeError, IndexError):
            return None
        if moment.tzinfo is None:
            return None
        stamps.append(moment.timestamp())
    return stamps


def stamps_move_with_arrivals(stamps: list[float], arrivals: list[float]) -> bool:
    """Whether the events' times were taken event by event: their typical gap is half to twice the arrivals'.

    A time taken once has every gap 0. Noise moves arrivals by a share of a
    gap, not by half of every one: one stall in delivery makes one gap long
    and the next short (arrivals 0.652, 0.067 and 0.373 s apart for times
    0.361 s apart, measured on a loaded machine).
    """
    if len(stamps) < 2 or len(stamps) != len(arrivals):
        return False
    stamp, arrival = median(gaps(stamps)), median(gaps(arrivals))
    return arrival / 2 <= stamp <= arrival * 2


def judge_event_pacing(exchange: Exchange, period: float, asked: str = "") -> None:
    """judge_pacing on when the app made the events: their own times where those were taken event by event.

    An event's time is the app's clock when it made it; its arrival adds
    the grader's own stalls, whose loop every probe shares. Reading a
    stream of two events beside the others, a portable grading on a loaded
    machine found arrivals 0.954 s apart for times 1.000 s apart; one
    stall on the second read of an app whose default interval is 0.5 s
    made its one gap pass as 1 s. Arrivals judge where the times can't
    (events.live-timestamps fails those).
    """
    arrivals = event_arrivals(exchange)
    stamps = event_stamps(exchange)
    if stamps is not None and stamps_move_with_arrivals(stamps, arrivals):
        judge_pacing(stamps, period, "interval", "event", asked, timed_by="were made (by their `time`)")
    else:
        judge_pacing(arrivals, period, "interval", "event", asked)


def second_server(app) -> EventsMore:
    if app.events.more is None:
        raise NotApplicable("The second events server could not be probed in this run.")
    return app.events.more


def ids_of(exchange: Exchange) -> list[str | None]:
    return [event.id_field for event in parsed(exchange).events]


# The gate of every check that reads the stream: a browser's EventSource
# parses nothing but text/event-stream. Caching is judged on its own (events.cache).
@check(
    "events.headers",
    points=1,
    hint='`StreamingResponse(..., media_type="text/event-stream")`.',
    reproduce="curl -i -N 'http://127.0.0.1:8000/events?count=1'",
)
def test_events_headers(app):
    """GET /events answers 200 as text/event-stream"""
    exchange = app.events.solo
    require_status(exchange, 200, "GET /events", app.crash("events"), body=False)
    if exchange.media_type != "text/event-stream":
        raise CheckFailed(
            f"Expected Content-Type text/event-stream, got {exchange.header('content-type') or '(none)'}. "
            "A browser's EventSource refuses any other type."
        )


@check(
    "events.cache",
    points=1,
    hint='Pass `headers={"Cache-Control": "no-cache"}` to the response.',
    reproduce="curl -i -N 'http://127.0.0.1:8000/events?count=1'",
)
def test_events_cache(app):
    """The stream is marked not to be cached (Cache-Control: no-cache)"""
    exchange = app.events.solo
    require_status(exchange, 200, "GET /events", app.crash("events"), body=False)
    cache_control = (exchange.header("cache-control") or "").lower()
    if "no-cache" not in cache_control and "no-store" not in cache_control:
        raise CheckFailed(
            f"Expected a Cache-Control header with no-cache (or no-store), got {cache_control or '(none)'}. "
            "Without it a proxy or the browser may cache the stream and replay stale events."
        )


@check(
    "events.framing",
    points=3,
    depends=("events.headers",),
    hint=FRAMING_HINT,
    reproduce="curl -sN 'http://127.0.0.1:8000/events?interval=0.1&count=2' | od -c | head",
)
def test_events_framing(app):
    """Every line is one a browser understands and every event ends with a blank line"""
    exchange = app.events.solo
    require_answer(exchange, "GET /events", app.crash("events"))
    stream = parsed(exchange)
    problem = stream.first_problem
    if problem is None and stream.unfinished is not None and exchange.error is None:
        problem = stream.unfinished  # the stream ended on purpose, mid-event
    if problem is None:
        if not stream.events:
            raise CheckFailed(
                f"No event could be read from the stream. It began: {excerpt(exchange.body)}",
                evidence={"transcript": exchange.body.decode("utf-8", "replace")},
            )
        return
    around = exchange.body[max(0, problem.offset - 40) : problem.offset + 60]
    raise CheckFailed(
        f"At byte {problem.offset} of the stream: {problem.message}. Around it: {excerpt(around)}",
        evidence={"offset": problem.offset, "transcript": exchange.body.decode("utf-8", "replace")},
    )


def payload_problem(event: sse.Event, position: int) -> str | None:
    if event.type != "message":
        return f"event {position} has `event: {event.type}`; leave the event field out"
    try:
        payload = json.loads(event.data)
    except ValueError:
        return f"event {position}'s data is not JSON: {excerpt(event.data, 80)}"
    if not isinstance(payload, dict) or not isinstance(payload.get("seq"), int):
        return f"event {position}'s data should be an object with an integer seq: {excerpt(event.data, 80)}"
    try:
        stamp = datetime.fromisoformat(str(payload.get("time")))
    except ValueError:
        return f"event {position}'s time is not an ISO-8601 timestamp: {payload.get('time')!r}"
    offset = stamp.utcoffset()
    if offset is None:
        return f"event {position}'s time {payload['time']!r} has no time zone; use datetime.now(timezone.utc)"
    if offset.total_seconds() != 0:
        # The right instant in another zone is still not what the contract asks for.
        return (
            f"event {position}'s time {payload['time']!r} is not UTC (its offset is not +00:00 or Z); "
            "use datetime.now(timezone.utc)"
        )
    if event.id_field != str(payload["seq"]):
        return f"event {position} has id {event.id_field!r} but seq {payload['seq']}; give each event `id: <seq>`"
    return None


@check(
    "events.payload",
    points=2,
    depends=("events.framing",),
    hint='Build the data line with `json.dumps({"seq": n, "time": datetime.now(timezone.utc).isoformat()})`.',
    reproduce=TRY_IT,
)
def test_events_payload(app):
    """Each event has id n and JSON data with seq n and a UTC timestamp"""
    require_answer(app.events.solo, "GET /events", app.crash("events"))
    events = parsed(app.events.solo).events
    if not events:
        raise CheckFailed("The stream held no complete event to read.")
    for position, event in enumerate(events, start=1):
        problem = payload_problem(event, position)
        if problem:
            raise CheckFailed(problem[0].upper() + problem[1:] + ".", evidence={"data": event.data})


@check(
    "events.count",
    points=1,
    depends=("events.framing",),
    hint="Count the events you send and stop the generator (return) after `count` of them; start at seq 1.",
    reproduce=TRY_IT,
)
def test_events_count(app):
    """With count=N, exactly N events are sent (1..N, or after Last-Event-ID), then the stream ends"""
    events_rec = app.events
    exchange = events_rec.solo
    require_answer(exchange, "GET /events?count=...", app.crash("events"))
    if exchange.error:
        raise CheckFailed(f"Asked for count={events_rec.count}, the stream did not end: {exchange.error}.")
    ids = ids_of(exchange)
    expected = [str(n) for n in range(1, events_rec.count + 1)]
    if ids != expected:
        raise CheckFailed(f"Asked for count={events_rec.count}, expected ids {expected}; got {ids}.")
    # count counts the events sent in this response, also after a Last-Event-ID.
    resume, first = events_rec.resume, events_rec.resume_from + 1
    what = f"GET /events?count={events_rec.resume_count} with Last-Event-ID: {events_rec.resume_from}"
    require_status(resume, 200, what, app.crash("events"))
    sent = len(parsed(resume).events)
    if resume.error or sent != events_rec.resume_count:
        ended = f"the stream did not end: {resume.error}" if resume.error else "then the stream ended"
        raise CheckFailed(
            f"{what}: expected {events_rec.resume_count} events ({first} to {first + events_rec.resume_count - 1}) "
            f"and the end of the stream; {sent} came, {ended}. count is the number of events in this response, "
            "wherever they start.",
            hint="Count the events sent in this response (`sent += 1`), not the sequence number: stop when "
            "`sent == count`.",
        )


@check(
    "events.incremental",
    timed=True,
    points=2,
    depends=("events.framing",),
    hint="Yield each event as it is made; don't build a list of events and send it at the end.",
    reproduce=TRY_IT,
)
def test_events_incremental(app):
    """Events arrive one by one as they are produced"""
    events_rec = app.events
    require_answer(events_rec.solo, "GET /events", app.crash("events"))
    arrivals = event_arrivals(events_rec.solo)
    # Events less than a quarter interval apart count as one burst: a buffered stream
    # arrives within ms, and a stream sent every 0.2 s at interval=0.36 is still sent one by one.
    # Separate bursts are the whole verdict: how far apart they are is events.pacing's. A bound
    # on the total spread judged a fixed 0.2 s sleep by 0.6 s against 0.54 s, and a first event
    # read 60 ms late on a loaded machine flipped it (this check failed 1 run in 5).
    distinct = len(clusters(arrivals, events_rec.interval / 4))
    spread = arrivals[-1] - arrivals[0] if arrivals else 0.0
    wanted = (events_rec.count - 1) * events_rec.interval
    if distinct >= max(2, events_rec.count - 1):
        return
    raise CheckFailed(
        f"Asked for {events_rec.count} events {events_rec.interval:g} s apart, so about {wanted:g} s from first "
        f"to last; they arrived in {distinct} burst(s) over {seconds(spread)}.",
        evidence={"arrivals": arrivals},
    )


@check(
    "events.pacing",
    timed=True,
    points=2,
    depends=("events.incremental",),
    hint="Send the first event at once, then `await asyncio.sleep(interval)` before each next one.",
    reproduce=TRY_IT,
)
def test_events_pacing(app, reference):
    """The first event comes at once, then one every `interval` seconds (1 s when it is absent)"""
    events_rec = app.events
    arrivals = event_arrivals(events_rec.solo)
    reference_first = (event_arrivals(reference.events.solo) or [0.0])[0]
    judge_first_at_once(arrivals[0], reference_first, events_rec.interval, "event")
    judge_event_pacing(events_rec.solo, events_rec.interval)
    default = second_server(app).default
    require_status(default, 200, "GET /events?count=2 (no interval)", app.crash("events"))
    default_arrivals = event_arrivals(default)
    if len(default_arrivals) < 2:
        raise CheckFailed(
            f"GET /events?count=2 (no interval) sent {len(default_arrivals)} event(s), so the default interval "
            "could not be timed.",
            evidence={"arrivals": default_arrivals},
        )
    judge_event_pacing(
        default, EVENTS_DEFAULT_INTERVAL, f"With no interval parameter (the default is {EVENTS_DEFAULT_INTERVAL:g} s)"
    )


@check(
    "events.live-timestamps",
    timed=True,
    points=1,
    depends=("events.payload", "events.incremental"),
    hint="Call `datetime.now(timezone.utc)` inside the loop, for each event, not once before it.",
    reproduce=TRY_IT,
)
def test_events_live_timestamps(app):
    """Each event's time is when it was produced"""
    exchange = app.events.solo
    events = parsed(exchange).events
    arrivals = event_arrivals(exchange)
    stamps = [datetime.fromisoformat(json.loads(event.data)["time"]).timestamp() for event in events]
    offsets = [stamp - (exchange.sent_wall + at) for stamp, at in zip(stamps, arrivals, strict=True)]
    worst = max(offsets, key=abs)
    if abs(worst) > CLOCK_TOLERANCE:
        raise CheckFailed(
            f"An event's time was {worst:+.1f} s away from the moment it arrived. Is it really UTC "
            "(not local time labelled UTC), and taken when the event is made?",
            evidence={"offsets": offsets},
        )
    # Typical gap against typical gap, half to twice: events.pacing judges the
    # gaps themselves, and a time taken once has every gap 0.
    if len(stamps) >= 2 and not stamps_move_with_arrivals(stamps, arrivals):
        raise CheckFailed(
            f"The times in the events are {[round(gap, 3) for gap in gaps(stamps)]} s apart, but the events "
            f"arrived {[round(gap, 3) for gap in gaps(arrivals)]} s apart: the time is not taken per event.",
            evidence={"stamp_gaps": gaps(stamps), "arrival_gaps": gaps(arrivals)},
        )


@check("events.nonblocking", timed=True, points=2, depends=("events.headers",), reproduce=TRY_IT)
def test_events_nonblocking(app, reference):
    """Other requests are answered promptly while event streams run"""
    events_rec = app.events
    # Evidence first: the streams must have run while the small requests were sent.
    wanted = (events_rec.concurrent_count - 1) * events_rec.concurrent_interval
    for exchange in events_rec.concurrent:
        require_answer(exchange, "A concurrent GET /events", app.crash("events"))
        if exchange.broken:
            raise CheckFailed(
                f"A concurrent GET /events broke off after {exchange.received:,} bytes: {exchange.error}."
            )
        # ended_at is None for a stream still running when the grader stopped waiting: it ran long enough.
        if exchange.ended_at is not None and exchange.ended_at < wanted * STREAM_EVIDENCE:
            raise NotApplicable(
                f"The concurrent event streams ended after {seconds(exchange.ended_at)}, before the "
                f"{events_rec.concurrent_interval:g} s waits between their events could run "
                f"({seconds(wanted)} expected): "
                "whether other requests wait while streams run could not be seen. See events.pacing."
            )
    judge_loop_health(
        events_rec.busy_latencies,
        reference.events.busy_latencies,
        events_rec.concurrent_interval * LOOP_ALLOWANCE,
        f"{len(events_rec.concurrent)} event streams",
        events_rec.idle_latencies,
    )
    pace = pace_alone(events_rec.solo, (events_rec.count - 1) * events_rec.interval)
    judge_side_by_side(events_rec.concurrent, events_rec.concurrent_interval, wanted, "event streams", pace)


@check(
    "events.resume",
    points=2,
    depends=("events.framing",),
    hint="Read the header with `last_event_id: Annotated[str | None, Header()] = None` and start at int(it) + 1.",
    reproduce="curl -N -H 'Last-Event-ID: 41' 'http://127.0.0.1:8000/events?count=2'",
)
def test_events_resume(app):
    """A Last-Event-ID header makes the stream continue after that event"""
    events_rec = app.events
    exchange = events_rec.resume
    require_status(exchange, 200, f"GET /events with Last-Event-ID: {events_rec.resume_from}", app.crash("events"))
    # The first events only: whether the stream stops after count is events.count's concern.
    ids = [event.id_field for event in parsed(exchange).events][: events_rec.resume_count]
    expected = [str(events_rec.resume_from + n) for n in range(1, events_rec.resume_count + 1)]
    if ids != expected:
        raise CheckFailed(
            f"With Last-Event-ID: {events_rec.resume_from} and count={events_rec.resume_count}, expected ids "
            f"{expected}; got {ids}. A browser that reconnects would see those events again or miss some."
        )


# What the browser does, by hand: the stream, then the same request with the last id it saw.
BROWSER_TRY_IT = (
    "curl -N 'http://127.0.0.1:8000/events?interval=0.5&count=2' && "
    "curl -N -H 'Last-Event-ID: 2' 'http://127.0.0.1:8000/events?interval=0.5&count=2'"
    "  # or in a browser: the page's EventSource snippet, in the console of http://127.0.0.1:8000/docs"
)


def browser_seen(app) -> BrowserRecording:
    """The browser's recording, once it is one a verdict can rest on."""
    seen = app.events.browser
    if seen is None:
        raise NotApplicable("The browser probe could not run in this run.")
    if seen.not_run:
        raise NotRun(
            f"Not run: {seen.not_run}. This check opens your stream in a headless Chromium, as a web page "
            "would; with Chromium installed (for example `apt-get install chromium`) it runs. It costs no points."
        )
    if seen.problem:
        raise Inconclusive(
            f"The browser could not do its part in this run: {seen.problem}. If that Chromium never works here, "
            f"set {browser.CHROMIUM_VARIABLE}=none to skip this check (or name a working one there)."
        )
    if not seen.streams:
        raise Inconclusive("The browser loaded the test page but never asked for /events.")
    return seen


@check(
    "events.browser",
    points=2,
    depends=("events.framing",),
    hint=(
        "Give every event its `id: n` line, and read the Last-Event-ID header the browser sends when it "
        "reconnects (`last_event_id: Annotated[str | None, Header()] = None`): carry on at int(it) + 1."
    ),
    reproduce=BROWSER_TRY_IT,
)
def test_events_browser(app):
    """A browser's EventSource gets the events with their ids, reconnects when the stream ends, and resumes"""
    seen = browser_seen(app)
    count, crash = seen.count, app.crash("events")
    asked = f"The browser's GET /events?interval={seen.interval:g}&count={count}"
    first = seen.streams[0].exchange
    on = {n: [event.id for event in seen.events if event.connection == n] for n in (1, 2)}
    expected = [str(n) for n in range(1, count + 1)]

    def unless_cut_short(missing: bool) -> None:
        """Evidence that stops short is no verdict when the page never reported: the grader's wait ran out."""
        if missing and not seen.ended:
            raise Inconclusive(
                f"The browser had not finished when the grader's wait ran out (it received ids {on[1] + on[2]} "
                "so far): this machine is too busy to tell whether it reconnects and resumes. Not counted."
            )

    unless_cut_short(first.status is None)
    require_status(first, 200, asked, crash)
    if not seen.events:
        sent = parsed(first).events
        typed = next((event.type for event in sent if event.type != "message"), None)
        if typed is not None:
            raise CheckFailed(
                f"Your stream sent {len(sent)} event(s), but the browser's `onmessage` received none: they have "
                f"`event: {typed}`, and an EventSource passes events with an event field only to listeners of "
                "that name. Leave the event field out.",
                hint="Write only `id:` and `data:` lines for each event.",
            )
        unless_cut_short(True)
        raise CheckFailed(
            f"{asked} received no event: the stream it got began {excerpt(first.body)}.",
            evidence={"transcript": first.body.decode("utf-8", "replace")},
        )
    if on[1] and not any(on[1]):
        raise CheckFailed(
            f"The browser received {len(on[1])} event(s) without an id (its `event.lastEventId` is empty): with no "
            "`id:` line the browser can't tell your server where it stopped, so after a reconnection the page "
            "gets every event again.",
            evidence={"ids": on[1]},
        )
    if on[1][:count] != expected:
        unless_cut_short(on[1] == expected[: len(on[1])])
        raise CheckFailed(f"{asked} received events with ids {on[1]}; expected {expected}.", evidence={"ids": on[1]})
    if len(on[1]) > count:
        raise NotApplicable(
            f"The stream asked for count={count} did not end after {count} events, so the browser had no reason to "
            "reconnect: its resuming could not be seen. See events.count."
        )
    unless_cut_short(len(seen.streams) < 2)
    if len(seen.streams) < 2:
        why = (
            "its EventSource closed itself, as a browser does when an answer is not a 200 text/event-stream"
            if seen.ended == "closed"
            else f"the page ended with {seen.ended!r}"
        )
        raise CheckFailed(
            f"After the stream of {count} events ended, the browser did not reconnect: {why}. "
            f"The events it received: {on[1]}.",
            evidence={"ids": on[1]},
        )
    again = seen.streams[1].exchange
    sent_back = again.request_headers.get("last-event-id")
    resumed = f"After the stream ended the browser reconnected with Last-Event-ID: {sent_back}, and"
    unless_cut_short(again.status is None)
    require_status(again, 200, resumed.removesuffix(", and"), crash)
    if not on[2]:
        unless_cut_short(True)
        raise CheckFailed(
            f"{resumed} received no event: the stream it got began {excerpt(again.body)}.",
            evidence={"ids": on[1] + on[2]},
        )
    if on[2][0] != str(count + 1):
        raise CheckFailed(
            f"{resumed} your app sent event {on[2][0]} next (ids {on[2]}); expected {count + 1}. The page would show "
            "events it already has again, or miss some: continue right after the id the browser sends back.",
            evidence={"ids": on[1] + on[2]},
        )


@check(
    "events.unexpected-id",
    points=1,
    depends=("events.framing",),
    hint=(
        "Continue after the id only when the header is a whole number (`value.isascii() and value.isdigit()`); "
        "otherwise start from event 1. `int(value)` on anything else raises, and the browser gets a 500."
    ),
    reproduce="curl -i -N -H 'Last-Event-ID: not-a-number' 'http://127.0.0.1:8000/events?count=1'",
)
def test_events_unexpected_id(app):
    """A Last-Event-ID the server never sent (not a number, negative, huge) starts from event 1, never a 500"""
    for value, exchange in second_server(app).unexpected_ids:
        what = f"GET /events?count=2 with Last-Event-ID: {value}"
        require_status(exchange, 200, what, app.crash("events"))
        ids = ids_of(exchange)
        # A huge whole number is still a number: carrying on after it is as sensible as starting over.
        allowed = ["1", str(int(value) + 1)] if value.isdigit() else ["1"]
        if not ids or ids[0] not in allowed:
            raise CheckFailed(
                f"{what}: expected the stream to start at event {' or '.join(allowed)}; the ids were {ids}. "
                "An id the server never sent can't be continued from: start again at 1.",
                evidence={"ids": ids},
            )


@check(
    "events.validation",
    points=1,
    hint="Declare the limits: `Query(ge=0.01, le=60)` for interval, `Query(ge=1)` for count "
    "(ge and le include the ends).",
    reproduce="curl -i 'http://127.0.0.1:8000/events?interval=0'",
)
def test_events_validation(app):
    """interval from 0.01 to 60 and count from 1 are accepted (ends included), anything else gets 422"""
    for params, exchange in second_server(app).accepted:
        query = "&".join(f"{key}={value}" for key, value in params.items())
        require_answer(exchange, f"GET /events?{query}", app.crash("events"))
        if exchange.status != 200:
            raise CheckFailed(
                f"GET /events?{query} was answered with {exchange.status}; expected 200: the allowed ranges "
                "include their ends (interval 0.01 and 60, count 1)."
            )
    for params, exchange in app.events.validation:
        query = "&".join(f"{key}={value}" for key, value in params.items())
        require_answer(exchange, f"GET /events?{query}", app.crash("events"))
        if exchange.status != 422:
            raise CheckFailed(
                f"GET /events?{query} was answered with {exchange.status}; expected 422.",
                reproduce=f"curl -i 'http://127.0.0.1:8000/events?{query}'",
            )


@check(
    "events.disconnect",
    timed=True,
    points=2,
    depends=("events.headers",),
    hint=(
        "Let the stream's generator end when the client leaves: don't catch asyncio.CancelledError or "
        "GeneratorExit and carry on, and don't produce events in a background task nobody stops."
    ),
    reproduce="curl -N 'http://127.0.0.1:8000/events?interval=0.02'  # then press Ctrl-C and watch the server's CPU",
)
def test_events_disconnect(app, reference):
    """After the client disconnects, the server stops working for it"""
    gone = app.events.disconnect
    reference_gone = reference.events.disconnect
    if gone is None or reference_gone is None:
        raise NotApplicable("The disconnect probe could not run in this run.")
    endless = f"GET /events?interval={gone.interval:g}"
    if gone.refused is not None and gone.refused != 500:
        raise NotApplicable(
            f"{endless} was answered with {gone.refused}, so no endless stream ran and what happens after a "
            "client leaves could not be seen. See events.validation."
        )
    if gone.error or gone.ended_early:
        # Nothing was left for a disconnect to stop: this verdict has no evidence to pass on.
        crash = app.crash("events")
        if (gone.broken or gone.refused == 500) and crash is not None:
            raise CheckFailed(
                f"The endless streams ({endless}, no count) broke off before the client left: your app raised an "
                f"error.\n{describe(crash)}",
                hint=CRASH_HINT,
                evidence=crash_details(crash),
            )
        how = gone.error or f"{len(gone.ended_early)} of {gone.streams} ended by themselves ({gone.ended_early[0]})"
        raise CheckFailed(
            f"Without count a stream should go on until the client disconnects, but the endless streams "
            f"({endless}) did not: {how}. So what your server does after a client leaves could not be seen."
        )
    judge_leak(gone, reference_gone, "events", "endless streams")
